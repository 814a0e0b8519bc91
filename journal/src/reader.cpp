// Sequential reading and checking of a journal directory.
//
// The scanner walks segments in sequence order and classifies what it finds
// at each record position:
//  * a whole record that checks out: returned;
//  * the end of a segment: move to the next one;
//  * bytes that do not form a whole record (too short for a header, or a
//    checksummed header announcing more payload than there is, or nothing but
//    zero bytes): a tail. In the last segment that is a torn tail (or a
//    record still being written, for a follower); in any other segment it is
//    corruption, because a writer finishes a segment before creating the next;
//  * anything else (a complete header or payload that fails its checksum,
//    impossible fields, a sequence gap, a chain break): corruption.
// "Last segment" is decided by re-listing the directory, so a follower sees
// a rotation that happened since it started.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <variant>
#include <vector>

#include "format.h"

namespace ta::journal {
namespace fs = std::filesystem;
using detail::get_u16;
using detail::get_u32;
using detail::get_u64;

namespace {

// Read-ahead per pread: 1 MiB keeps syscalls rare during replay while the
// buffer stays small; a larger record grows the buffer to fit it (at most
// kRecordHeaderBytes + kPayloadBytesMax).
constexpr std::size_t kReadChunkBytes = 1 << 20;

struct SegmentEntry {
  std::string name;
  std::uint64_t first_seq = 0;
};

Problem make_problem(ProblemKind kind, std::string segment, std::uint64_t offset, std::string detail) {
  return Problem{kind, std::move(segment), offset, std::move(detail)};
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

std::variant<std::vector<SegmentEntry>, Problem> list_segments(const fs::path& dir) {
  std::vector<SegmentEntry> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return make_problem(ProblemKind::kIo, "", 0, "cannot list " + dir.string() + ": " + ec.message());
  for (const fs::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(detail::kSegmentPrefix, 0) != 0) continue;
    SegmentEntry seg;
    seg.name = name;
    if (!detail::parse_segment_file_name(name, seg.first_seq)) {
      return make_problem(ProblemKind::kBadSegmentName, name, 0,
                          "expected journal-<20 digits, first sequence number>.seg");
    }
    out.push_back(std::move(seg));
  }
  std::sort(out.begin(), out.end(),
            [](const SegmentEntry& a, const SegmentEntry& b) { return a.first_seq < b.first_seq; });
  return out;
}

bool all_zero(const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

}  // namespace

struct Reader::Impl {
  explicit Impl(fs::path d) : dir(std::move(d)) { prev = genesis_hash(); }
  ~Impl() { close_segment(); }

  // Outcome of one step of the scanner.
  enum class Step { kRecord, kSegmentEnd, kTail, kProblem, kRetry };
  // Why the bytes at pos are a tail candidate.
  enum class TailKind { kIncomplete, kZeroFill };

  fs::path dir;
  std::vector<SegmentEntry> segments;
  bool listed = false;
  std::size_t index = 0;  // segments[index] is (or is next to be) open
  int fd = -1;
  std::uint64_t file_size = 0;
  std::uint64_t pos = 0;
  std::vector<char> buf;
  std::uint64_t buf_off = 0;
  std::size_t buf_len = 0;

  std::uint64_t expected_seq = 1;
  Hash prev{};
  detail::Sha256 sha;
  Record current;

  std::optional<Problem> problem;
  std::optional<TornTail> tail;

  std::uint64_t records = 0;
  std::uint64_t segments_opened = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::int64_t first_ts_ns = 0;
  std::int64_t last_ts_ns = 0;
  std::string last_segment;
  std::uint64_t last_segment_bytes = 0;

  bool fail(ProblemKind kind, std::uint64_t offset, std::string detail_text) {
    const std::string name = index < segments.size() ? segments[index].name : std::string();
    problem = make_problem(kind, name, offset, std::move(detail_text));
    close_segment();
    return false;
  }

  void close_segment() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    buf_len = 0;
  }

  // Re-reads the directory listing; false (with a problem) on failure or
  // when the open segment has disappeared.
  bool relist() {
    auto listing = list_segments(dir);
    if (auto* p = std::get_if<Problem>(&listing)) {
      problem = *p;
      close_segment();
      return false;
    }
    auto fresh = std::get<std::vector<SegmentEntry>>(std::move(listing));
    if (listed && index < segments.size()) {
      const std::string& name = segments[index].name;
      auto it = std::find_if(fresh.begin(), fresh.end(), [&](const SegmentEntry& e) { return e.name == name; });
      if (it == fresh.end()) {
        segments = std::move(fresh);
        index = segments.size();
        problem = make_problem(ProblemKind::kIo, name, pos, "segment file disappeared while reading");
        close_segment();
        return false;
      }
      index = static_cast<std::size_t>(it - fresh.begin());
    }
    // Otherwise no segment was known yet (an empty directory): start at 0.
    segments = std::move(fresh);
    listed = true;
    return true;
  }

  // fstat the open segment; true when it grew since the last look.
  bool refresh_size(bool& grew) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return fail(ProblemKind::kIo, pos, "fstat: " + errno_text(errno));
    const auto size = static_cast<std::uint64_t>(st.st_size);
    grew = size > file_size;
    if (size < file_size) {
      return fail(ProblemKind::kIo, pos, "segment shrank while reading (" + std::to_string(file_size) + " -> " +
                                             std::to_string(size) + " bytes)");
    }
    file_size = size;
    return true;
  }

  // Makes bytes [at, at + n) of the open segment available; nullptr after a
  // problem. Precondition: at + n <= file_size.
  const char* ensure(std::uint64_t at, std::size_t n) {
    if (at >= buf_off && at + n <= buf_off + buf_len) return buf.data() + (at - buf_off);
    std::size_t want = std::max(n, kReadChunkBytes);
    want = static_cast<std::size_t>(std::min<std::uint64_t>(want, file_size - at));
    if (want < n) want = n;
    if (buf.size() < want) buf.resize(want);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t r = ::pread(fd, buf.data() + got, want - got, static_cast<off_t>(at + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        fail(ProblemKind::kIo, at, "read: " + errno_text(errno));
        return nullptr;
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    if (got < n) {
      fail(ProblemKind::kIo, at, "short read: file shrank while reading");
      return nullptr;
    }
    buf_off = at;
    buf_len = got;
    return buf.data();
  }

  // Whether [from, file_size) holds only zero bytes.
  bool zero_to_end(std::uint64_t from, bool& zero) {
    zero = true;
    for (std::uint64_t at = from; at < file_size;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunkBytes, file_size - at));
      const char* p = ensure(at, n);
      if (p == nullptr) return false;
      if (!all_zero(p, n)) {
        zero = false;
        return true;
      }
      at += n;
    }
    return true;
  }

  // Whether segments[index] is the last segment, looking at the directory
  // again when it is the last one known.
  bool is_last(bool& last) {
    if (index + 1 < segments.size()) {
      last = false;
      return true;
    }
    if (!relist()) return false;
    last = index + 1 >= segments.size();
    return true;
  }

  // Opens segments[index] and checks its header. kRecord: opened.
  Step open_segment() {
    const SegmentEntry entry = segments[index];  // a copy: is_last() may relist
    if (entry.first_seq != expected_seq) {
      fail(ProblemKind::kSequenceGap, 0,
           "segment starts at seq " + std::to_string(entry.first_seq) + ", expected " + std::to_string(expected_seq) +
               (expected_seq == 1 ? " (the first segment is missing)"
                                  : " (records are missing: a segment was removed or cut short)"));
      return Step::kProblem;
    }
    fd = ::open((dir / entry.name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fail(ProblemKind::kIo, 0, "open: " + errno_text(errno));
      return Step::kProblem;
    }
    file_size = 0;
    pos = 0;
    buf_len = 0;
    bool grew = false;
    if (!refresh_size(grew)) return Step::kProblem;
    bool zero = false;
    if (file_size >= kSegmentHeaderBytes) {
      const char* p = ensure(0, kSegmentHeaderBytes);
      if (p == nullptr) return Step::kProblem;
      if (!all_zero(p, kSegmentHeaderBytes)) {
        detail::SegmentHeader header;
        const std::string why = detail::decode_segment_header(p, header);
        if (!why.empty()) {
          fail(ProblemKind::kBadSegmentHeader, 0, why);
          return Step::kProblem;
        }
        if (header.first_seq != entry.first_seq) {
          fail(ProblemKind::kSegmentNameMismatch, 0, "header says first seq " + std::to_string(header.first_seq));
          return Step::kProblem;
        }
        if (header.prev_hash != prev) {
          fail(ProblemKind::kChainBreak, 0,
               "segment header's previous hash " + to_hex(header.prev_hash) + " does not match " +
                   (expected_seq == 1 ? std::string("the genesis hash") : "record " + std::to_string(expected_seq - 1)));
          return Step::kProblem;
        }
        pos = kSegmentHeaderBytes;
        ++segments_opened;
        bytes += kSegmentHeaderBytes;
        last_segment = entry.name;
        last_segment_bytes = pos;
        return Step::kRecord;
      }
      if (!zero_to_end(kSegmentHeaderBytes, zero)) return Step::kProblem;
      if (!zero) {
        fail(ProblemKind::kBadSegmentHeader, 0, "segment header is all zero bytes but the file is not");
        return Step::kProblem;
      }
    }
    // The header itself is incomplete (or zero-filled): only acceptable in
    // the last segment, as a crash while the segment was being created.
    bool last = false;
    if (!is_last(last)) return Step::kProblem;
    if (!last) {
      fail(ProblemKind::kTruncatedSegment, 0,
           "segment header incomplete (" + std::to_string(file_size) + " of " + std::to_string(kSegmentHeaderBytes) +
               " bytes) and a later segment exists");
      return Step::kProblem;
    }
    tail = TornTail{entry.name, 0, file_size, true};
    close_segment();
    return Step::kTail;
  }

  // Reads the record at pos. kRecord: `current` holds it.
  Step read_record(TailKind& tail_kind) {
    const std::uint64_t avail = file_size - pos;
    if (avail == 0) return Step::kSegmentEnd;
    if (avail < kRecordHeaderBytes) {
      tail_kind = TailKind::kIncomplete;
      return Step::kTail;
    }
    const char* h = ensure(pos, kRecordHeaderBytes);
    if (h == nullptr) return Step::kProblem;
    const std::uint32_t header_crc = get_u32(h);
    if (crc32c(h + 4, kRecordHeaderBytes - 4) != header_crc) {
      bool zero = false;
      if (!zero_to_end(pos, zero)) return Step::kProblem;
      if (zero) {
        tail_kind = TailKind::kZeroFill;
        return Step::kTail;
      }
      fail(ProblemKind::kHeaderChecksum, pos, "expected record seq " + std::to_string(expected_seq));
      return Step::kProblem;
    }
    const std::uint32_t payload_bytes = get_u32(h + detail::kRecPayloadBytesAt);
    const std::uint64_t seq = get_u64(h + detail::kRecSeqAt);
    const auto ts_ns = static_cast<std::int64_t>(get_u64(h + detail::kRecTsAt));
    const std::uint16_t type = get_u16(h + detail::kRecTypeAt);
    const std::uint16_t flags = get_u16(h + detail::kRecFlagsAt);
    const std::uint32_t payload_crc = get_u32(h + detail::kRecPayloadCrcAt);
    if (flags != 0) {
      fail(ProblemKind::kBadRecordHeader, pos, "unknown flags " + std::to_string(flags));
      return Step::kProblem;
    }
    if (type == 0) {
      fail(ProblemKind::kBadRecordHeader, pos, "record type 0 is reserved");
      return Step::kProblem;
    }
    if (payload_bytes > kPayloadBytesMax) {
      fail(ProblemKind::kBadRecordHeader, pos,
           "payload length " + std::to_string(payload_bytes) + " exceeds the limit " + std::to_string(kPayloadBytesMax));
      return Step::kProblem;
    }
    if (seq != expected_seq) {
      fail(ProblemKind::kSequenceGap, pos, "record seq " + std::to_string(seq) + ", expected " +
                                               std::to_string(expected_seq));
      return Step::kProblem;
    }
    const std::uint64_t need = kRecordHeaderBytes + payload_bytes;
    if (avail < need) {
      tail_kind = TailKind::kIncomplete;
      return Step::kTail;
    }
    const char* r = ensure(pos, static_cast<std::size_t>(need));
    if (r == nullptr) return Step::kProblem;
    const std::string_view payload(r + kRecordHeaderBytes, payload_bytes);
    if (crc32c(payload.data(), payload.size()) != payload_crc) {
      fail(ProblemKind::kPayloadChecksum, pos, "seq " + std::to_string(seq));
      return Step::kProblem;
    }
    const Hash hash = sha.digest({reinterpret_cast<const char*>(prev.data()), prev.size()},
                                 {r + detail::kRecPayloadBytesAt, detail::kRecHashAt - detail::kRecPayloadBytesAt},
                                 payload);
    if (std::memcmp(hash.data(), r + detail::kRecHashAt, hash.size()) != 0) {
      fail(ProblemKind::kChainBreak, pos,
           "seq " + std::to_string(seq) + ": stored hash does not match the hash of the previous record and this one");
      return Step::kProblem;
    }
    current.seq = seq;
    current.ts_ns = ts_ns;
    current.type = type;
    current.payload = payload;
    current.hash = hash;
    if (records == 0) {
      first_seq = seq;
      first_ts_ns = ts_ns;
    }
    last_ts_ns = ts_ns;
    ++records;
    ++expected_seq;
    prev = hash;
    pos += need;
    bytes += need;
    last_segment_bytes = pos;
    return Step::kRecord;
  }

  // Handles a tail candidate at pos: a torn tail if this is the last
  // segment and it has not grown, corruption otherwise. kRetry: more bytes
  // arrived, read again.
  Step handle_tail(TailKind kind) {
    bool last = false;
    if (!is_last(last)) return Step::kProblem;
    bool grew = false;
    if (!refresh_size(grew)) return Step::kProblem;
    if (grew) return Step::kRetry;
    if (!last) {
      if (kind == TailKind::kZeroFill) {
        fail(ProblemKind::kHeaderChecksum, pos, "zero bytes to the end of a segment that is not the last");
      } else {
        fail(ProblemKind::kTruncatedSegment, pos,
             "segment ends inside a record (" + std::to_string(file_size - pos) +
                 " trailing bytes) and a later segment exists");
      }
      return Step::kProblem;
    }
    tail = TornTail{segments[index].name, pos, file_size - pos, false};
    return Step::kTail;
  }

  // At the end of the open segment: move on, or report the current end.
  // kRetry: continue reading (the segment grew or the next one is open).
  Step handle_segment_end() {
    bool last = false;
    if (!is_last(last)) return Step::kProblem;
    bool grew = false;
    if (!refresh_size(grew)) return Step::kProblem;
    if (grew) return Step::kRetry;
    if (last) return Step::kSegmentEnd;
    close_segment();
    ++index;
    return Step::kRetry;
  }

  Result<std::optional<Record>> next() {
    if (problem) return make_error(problem->message());
    tail.reset();
    if (!listed && !relist()) return make_error(problem->message());
    for (;;) {
      if (fd < 0) {
        if (index >= segments.size()) {
          if (!relist()) return make_error(problem->message());
          if (index >= segments.size()) return std::optional<Record>();
        }
        const Step s = open_segment();
        if (s == Step::kProblem) return make_error(problem->message());
        if (s == Step::kTail) return std::optional<Record>();
      }
      TailKind tail_kind = TailKind::kIncomplete;
      Step s = read_record(tail_kind);
      if (s == Step::kTail) s = handle_tail(tail_kind);
      if (s == Step::kSegmentEnd) s = handle_segment_end();
      switch (s) {
        case Step::kRecord: return std::optional<Record>(current);
        case Step::kProblem: return make_error(problem->message());
        case Step::kTail: return std::optional<Record>();
        case Step::kSegmentEnd: return std::optional<Record>();
        case Step::kRetry: break;
      }
    }
  }
};

Reader::Reader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Reader::~Reader() = default;

Result<std::unique_ptr<Reader>> Reader::open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("journal " + dir.string() + ": not a directory");
  auto impl = std::make_unique<Impl>(dir);
  if (!impl->relist()) return make_error("journal " + dir.string() + ": " + impl->problem->message());
  return std::unique_ptr<Reader>(new Reader(std::move(impl)));
}

Result<std::optional<Record>> Reader::next() { return impl_->next(); }
std::optional<TornTail> Reader::tail() const { return impl_->tail; }
const std::optional<Problem>& Reader::problem() const { return impl_->problem; }
std::uint64_t Reader::records_read() const { return impl_->records; }

namespace detail {

Summary scan(const fs::path& dir) {
  Summary s;
  s.last_hash = genesis_hash();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    s.problem = Problem{ProblemKind::kIo, "", 0, dir.string() + " is not a directory"};
    return s;
  }
  Reader::Impl impl(dir);
  for (;;) {
    auto r = impl.next();
    if (!r.ok() || !r.value().has_value()) break;
  }
  s.records = impl.records;
  s.segments = impl.segments_opened;
  s.bytes = impl.bytes;
  s.first_seq = impl.first_seq;
  s.last_seq = impl.records == 0 ? 0 : impl.expected_seq - 1;
  s.first_ts_ns = impl.first_ts_ns;
  s.last_ts_ns = impl.last_ts_ns;
  s.last_hash = impl.prev;
  s.last_segment = impl.last_segment;
  s.last_segment_bytes = impl.last_segment_bytes;
  s.torn_tail = impl.tail;
  s.problem = impl.problem;
  return s;
}

}  // namespace detail

Summary verify(const fs::path& dir) { return detail::scan(dir); }

}  // namespace ta::journal
