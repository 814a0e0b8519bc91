// Private: byte layout of segment and record headers, and the hasher.
// docs/journal.md describes the same layout for people.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "journal/journal.h"

namespace ta::journal::detail {

// Segment header (64 bytes, little-endian):
//   0  magic "TAJOURNL"        8
//   8  format_version u32      4
//  12  header_bytes u32 (64)   4
//  16  first_seq u64           8
//  24  prev_hash [32]          32   chain value before the first record
//  56  reserved u32 (0)        4
//  60  header_crc u32          4    crc32c of bytes 0..60
inline constexpr char kSegmentMagic[8] = {'T', 'A', 'J', 'O', 'U', 'R', 'N', 'L'};
inline constexpr std::size_t kSegFirstSeqAt = 16;
inline constexpr std::size_t kSegPrevHashAt = 24;
inline constexpr std::size_t kSegReservedAt = 56;
inline constexpr std::size_t kSegCrcAt = 60;

// Record header (64 bytes, little-endian), followed by the payload:
//   0  header_crc u32          crc32c of bytes 4..64
//   4  payload_bytes u32
//   8  seq u64
//  16  ts_ns i64
//  24  type u16
//  26  flags u16 (0)
//  28  payload_crc u32         crc32c of the payload
//  32  hash [32]               SHA-256(prev hash || bytes 4..32 || payload)
inline constexpr std::size_t kRecPayloadBytesAt = 4;
inline constexpr std::size_t kRecSeqAt = 8;
inline constexpr std::size_t kRecTsAt = 16;
inline constexpr std::size_t kRecTypeAt = 24;
inline constexpr std::size_t kRecFlagsAt = 26;
inline constexpr std::size_t kRecPayloadCrcAt = 28;
inline constexpr std::size_t kRecHashAt = 32;
static_assert(kRecHashAt + sizeof(Hash) == kRecordHeaderBytes);
static_assert(kSegCrcAt + 4 == kSegmentHeaderBytes);

inline void put_u16(char* p, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline std::uint16_t get_u16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint16_t>(u[0] | (u[1] << 8));
}
inline std::uint32_t get_u32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
inline std::uint64_t get_u64(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | u[i];
  return v;
}
inline Hash get_hash(const char* p) {
  Hash h;
  std::memcpy(h.data(), p, h.size());
  return h;
}

// SHA-256 of one record (OpenSSL; see format.cpp for why not EVP).
class Sha256 {
 public:
  // SHA-256(a || b || c).
  Hash digest(std::string_view a, std::string_view b, std::string_view c);
};

struct SegmentHeader {
  std::uint64_t first_seq = 0;
  Hash prev_hash{};
};
void encode_segment_header(const SegmentHeader& header, char* out);
// Empty string when the 64 bytes at `p` are a valid header; else why not.
std::string decode_segment_header(const char* p, SegmentHeader& out);

// Appends one encoded record (header + payload) to `out`; returns its hash.
// The same as place_record() followed by seal_record().
Hash encode_record(Sha256& sha, const Hash& prev, std::uint64_t seq, std::int64_t ts_ns,
                   std::uint16_t type, std::string_view payload, std::string& out);
// Appends a record's header fields and payload to `out`, leaving its
// checksums and hash zero: the group-commit appender does only this, and
// the flusher seals the records later, in order.
void place_record(std::uint64_t seq, std::int64_t ts_ns, std::uint16_t type, std::string_view payload,
                  std::string& out);
// Fills in the payload checksum, the hash chained from `prev` and the header
// checksum of the placed record at `record`; returns its hash.
Hash seal_record(Sha256& sha, const Hash& prev, char* record);

// Parses a "journal-<20 digits>.seg" name; false when it is not one.
bool parse_segment_file_name(std::string_view name, std::uint64_t& first_seq);
inline constexpr std::string_view kSegmentPrefix = "journal-";
inline constexpr std::string_view kSegmentSuffix = ".seg";

// Internal form of verify() shared with recovery.
Summary scan(const std::filesystem::path& dir);

}  // namespace ta::journal::detail
