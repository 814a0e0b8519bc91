// OpenSSL 3 marks the one-shot SHA256_* functions deprecated in favour of
// EVP. For records of a few hundred bytes the EVP dispatch (provider lookup
// per init, three indirect updates) costs about a quarter of the hash
// itself, and replay hashes every record, so this file alone uses the
// direct functions. Both run the same SHA-NI code on this hardware.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "format.h"

#include <cstdio>
#include <cstdlib>

namespace ta::journal {
namespace detail {

Hash Sha256::digest(std::string_view a, std::string_view b, std::string_view c) {
  Hash out{};
  SHA256_CTX ctx;
  // These cannot fail for in-memory input; a failure is a bug.
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, a.data(), a.size()) != 1 ||
      SHA256_Update(&ctx, b.data(), b.size()) != 1 || SHA256_Update(&ctx, c.data(), c.size()) != 1 ||
      SHA256_Final(out.data(), &ctx) != 1) {
    std::fputs("ta.journal: SHA-256 failed\n", stderr);
    std::abort();
  }
  return out;
}

void encode_segment_header(const SegmentHeader& header, char* out) {
  std::memset(out, 0, kSegmentHeaderBytes);
  std::memcpy(out, kSegmentMagic, sizeof(kSegmentMagic));
  put_u32(out + 8, kFormatVersion);
  put_u32(out + 12, static_cast<std::uint32_t>(kSegmentHeaderBytes));
  put_u64(out + kSegFirstSeqAt, header.first_seq);
  std::memcpy(out + kSegPrevHashAt, header.prev_hash.data(), header.prev_hash.size());
  put_u32(out + kSegCrcAt, crc32c(out, kSegCrcAt));
}

std::string decode_segment_header(const char* p, SegmentHeader& out) {
  if (std::memcmp(p, kSegmentMagic, sizeof(kSegmentMagic)) != 0) return "bad magic (not a journal segment)";
  const std::uint32_t crc = get_u32(p + kSegCrcAt);
  if (crc32c(p, kSegCrcAt) != crc) return "segment header checksum mismatch";
  const std::uint32_t version = get_u32(p + 8);
  if (version != kFormatVersion) {
    return "format version " + std::to_string(version) + " not supported (expected " +
           std::to_string(kFormatVersion) + ")";
  }
  const std::uint32_t header_bytes = get_u32(p + 12);
  if (header_bytes != kSegmentHeaderBytes) return "header size " + std::to_string(header_bytes) + " not supported";
  if (get_u32(p + kSegReservedAt) != 0) return "reserved header field is not zero";
  out.first_seq = get_u64(p + kSegFirstSeqAt);
  if (out.first_seq == 0) return "first sequence number is 0";
  out.prev_hash = get_hash(p + kSegPrevHashAt);
  return {};
}

void place_record(std::uint64_t seq, std::int64_t ts_ns, std::uint16_t type, std::string_view payload,
                  std::string& out) {
  const std::size_t at = out.size();
  out.resize(at + kRecordHeaderBytes);
  out.append(payload.data(), payload.size());
  char* h = out.data() + at;
  put_u32(h, 0);
  put_u32(h + kRecPayloadBytesAt, static_cast<std::uint32_t>(payload.size()));
  put_u64(h + kRecSeqAt, seq);
  put_u64(h + kRecTsAt, static_cast<std::uint64_t>(ts_ns));
  put_u16(h + kRecTypeAt, type);
  put_u16(h + kRecFlagsAt, 0);
  put_u32(h + kRecPayloadCrcAt, 0);
  std::memset(h + kRecHashAt, 0, sizeof(Hash));
}

Hash seal_record(Sha256& sha, const Hash& prev, char* h) {
  const std::string_view payload(h + kRecordHeaderBytes, get_u32(h + kRecPayloadBytesAt));
  put_u32(h + kRecPayloadCrcAt, crc32c(payload.data(), payload.size()));
  const Hash hash = sha.digest({reinterpret_cast<const char*>(prev.data()), prev.size()},
                               {h + kRecPayloadBytesAt, kRecHashAt - kRecPayloadBytesAt}, payload);
  std::memcpy(h + kRecHashAt, hash.data(), hash.size());
  put_u32(h, crc32c(h + 4, kRecordHeaderBytes - 4));
  return hash;
}

Hash encode_record(Sha256& sha, const Hash& prev, std::uint64_t seq, std::int64_t ts_ns, std::uint16_t type,
                   std::string_view payload, std::string& out) {
  const std::size_t at = out.size();
  place_record(seq, ts_ns, type, payload, out);
  return seal_record(sha, prev, out.data() + at);
}

bool parse_segment_file_name(std::string_view name, std::uint64_t& first_seq) {
  constexpr std::size_t kDigits = 20;
  if (name.size() != kSegmentPrefix.size() + kDigits + kSegmentSuffix.size()) return false;
  if (name.substr(0, kSegmentPrefix.size()) != kSegmentPrefix) return false;
  if (name.substr(name.size() - kSegmentSuffix.size()) != kSegmentSuffix) return false;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kDigits; ++i) {
    const char c = name[kSegmentPrefix.size() + i];
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v == 0) return false;
  first_seq = v;
  return true;
}

}  // namespace detail

const Hash& genesis_hash() {
  static const Hash h = [] {
    detail::Sha256 sha;
    return sha.digest("ta.journal genesis v1", {}, {});
  }();
  return h;
}

std::string to_hex(const Hash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(hash.size() * 2, '0');
  for (std::size_t i = 0; i < hash.size(); ++i) {
    s[2 * i] = kDigits[hash[i] >> 4];
    s[2 * i + 1] = kDigits[hash[i] & 0xF];
  }
  return s;
}

std::string segment_file_name(std::uint64_t first_seq) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "journal-%020llu.seg", static_cast<unsigned long long>(first_seq));
  return buf;
}

std::string_view to_string(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kIo: return "i/o error";
    case ProblemKind::kBadSegmentName: return "bad segment file name";
    case ProblemKind::kBadSegmentHeader: return "bad segment header";
    case ProblemKind::kSegmentNameMismatch: return "segment name does not match its header";
    case ProblemKind::kSequenceGap: return "sequence gap";
    case ProblemKind::kChainBreak: return "hash chain broken";
    case ProblemKind::kHeaderChecksum: return "record header checksum mismatch";
    case ProblemKind::kPayloadChecksum: return "payload checksum mismatch";
    case ProblemKind::kBadRecordHeader: return "bad record header";
    case ProblemKind::kTruncatedSegment: return "truncated segment";
  }
  return "unknown problem";
}

std::string Problem::message() const {
  std::string m = segment.empty() ? std::string() : segment + " offset " + std::to_string(offset) + ": ";
  m += to_string(kind);
  if (!detail.empty()) m += ": " + detail;
  return m;
}

}  // namespace ta::journal
