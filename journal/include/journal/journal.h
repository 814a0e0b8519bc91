// The append-only event journal: a write-ahead log of sequence-numbered,
// timestamped, checksummed and hash-chained records in rotating segment files.
//
// The gate journals every state change durably before acting on it; the
// agent journals its own decisions. This library stores opaque payload bytes
// with a 16-bit record type (proto/journal_records.proto lists the types the
// daemons use); it never interprets the payload.
//
// On-disk format, durability modes and recovery rules: docs/journal.md.
//
// Summary of the guarantees:
//  * Sequence numbers start at 1 and are contiguous across segments.
//  * Every record stores SHA-256(previous hash || its header fields || its
//    payload); the first record chains from genesis_hash(). Editing,
//    removing or reordering any record breaks the chain at that point.
//  * A torn tail (the last record of the last segment only partly written,
//    as after a crash in the middle of a write) is cut back to the last whole
//    record when the journal is opened for append, and the cut is reported.
//  * Anything else that does not check out (bad checksum on a complete
//    record, sequence gap, chain break, a short or missing segment that is
//    not the last, a garbage file) is corruption: it is reported with the
//    segment file and byte offset and is never skipped or repaired.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proto/result.h"

namespace ta::journal {

// ---------------------------------------------------------------------------
// Limits and format constants.

// Format version written in every segment header; a reader refuses others.
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 64;
inline constexpr std::size_t kRecordHeaderBytes = 64;

// Largest payload of one record: 16 MiB. A record carries one daemon event,
// at most one IPC message plus a few bytes of wrapper, and IPC frames are
// 64 KiB by default (proto/framing.h); 16 MiB matches the frame ceiling so
// anything the daemons can receive can be journaled. The reader checks a
// header's length against this before it allocates anything.
inline constexpr std::uint32_t kPayloadBytesMax = 16u * 1024 * 1024;

// Segment rotation: a segment that already holds a record is closed before
// an append that would take it past segment_bytes_max. Default 64 MiB:
// big enough that rotation (file create + two fsyncs) is rare, small enough
// to copy, archive or inspect one file comfortably. A segment exceeds the
// limit only when it holds a single record larger than the limit.
inline constexpr std::uint64_t kSegmentBytesMaxDefault = 64ull * 1024 * 1024;
// Below 4 KiB every record would get its own file; tests use small values.
inline constexpr std::uint64_t kSegmentBytesMaxMin = 4 * 1024;
// Above 1 GiB a single segment becomes unwieldy to verify or copy.
inline constexpr std::uint64_t kSegmentBytesMaxCeiling = 1024ull * 1024 * 1024;
static_assert(kSegmentBytesMaxDefault >= kSegmentHeaderBytes + kRecordHeaderBytes + kPayloadBytesMax,
              "a maximal record must fit in a default segment");

// Group commit window: how long the first record of a group may wait for
// others before the flusher syncs. Default 1 ms: far below an exchange round
// trip, long enough to batch a burst. Ceiling 100 ms: a longer wait would
// make an acceptance visibly late.
inline constexpr std::uint32_t kGroupCommitWindowUsDefault = 1000;
inline constexpr std::uint32_t kGroupCommitWindowUsMax = 100'000;
// Records that may be pending (appended, not yet durable) at once; an append
// beyond that blocks until the flusher has made room (backpressure). 4096
// records per sync keeps the sync cost per record small at any realistic
// rate while bounding memory.
inline constexpr std::uint32_t kGroupCommitRecordsMaxDefault = 4096;
inline constexpr std::uint32_t kGroupCommitRecordsMaxCeiling = 1u << 20;
// Bytes that may be pending at once (payloads plus record headers). A single
// record larger than this is still accepted when nothing else is pending.
inline constexpr std::uint64_t kGroupCommitBytesMaxDefault = 16ull * 1024 * 1024;
inline constexpr std::uint64_t kGroupCommitBytesMaxCeiling = 1024ull * 1024 * 1024;

using Hash = std::array<std::uint8_t, 32>;

// The value the first record chains from: SHA-256 of the ASCII string
// "ta.journal genesis v1".
const Hash& genesis_hash();
std::string to_hex(const Hash& hash);

// CRC-32C (Castagnoli, reflected, init and final xor 0xFFFFFFFF), as used by
// iSCSI and ext4: crc32c("123456789") == 0xE3069283. Uses the SSE4.2 crc32
// instruction when the CPU has it (detected once at run time), a table
// otherwise. `crc` is a previous result to continue from (0 to start).
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);
// The table-driven path alone, exposed so tests can check both paths agree.
std::uint32_t crc32c_portable(const void* data, std::size_t size, std::uint32_t crc = 0);
bool crc32c_hardware_available();

// Segment file name for a segment whose first record is `first_seq`:
// "journal-" + 20 zero-padded decimal digits + ".seg", so names sort in
// sequence order.
std::string segment_file_name(std::uint64_t first_seq);

// ---------------------------------------------------------------------------
// Reading, verification and recovery.

struct Record {
  std::uint64_t seq = 0;
  std::int64_t ts_ns = 0;
  std::uint16_t type = 0;
  // Points into the reader's buffer; valid until the next call on the reader.
  std::string_view payload;
  Hash hash{};
};

enum class ProblemKind {
  kIo,                 // a file or the directory could not be read
  kBadSegmentName,     // a "journal-*" file whose name does not parse
  kBadSegmentHeader,   // wrong magic, version, size or header checksum
  kSegmentNameMismatch,// header first_seq differs from the name
  kSequenceGap,        // a record or segment does not continue the sequence
  kChainBreak,         // a hash does not match its recomputation
  kHeaderChecksum,     // a complete record header fails its CRC
  kPayloadChecksum,    // a complete payload fails its CRC
  kBadRecordHeader,    // checksummed header with impossible fields
  kTruncatedSegment,   // a segment that is not the last ends inside a record
};
std::string_view to_string(ProblemKind kind);

// The first place where the journal does not check out.
struct Problem {
  ProblemKind kind = ProblemKind::kIo;
  std::string segment;        // file name inside the journal directory
  std::uint64_t offset = 0;   // byte offset in that file of the bad record/header
  std::string detail;         // what exactly, for people
  // "journal-...seg offset 1234: payload checksum mismatch (seq 57)"
  std::string message() const;
};

// Trailing bytes of the last segment that do not form a whole record.
struct TornTail {
  std::string segment;
  std::uint64_t offset = 0;   // where the last whole record ends
  std::uint64_t bytes = 0;    // how many bytes follow it
  // The segment's own header is incomplete, so recovery removes the file.
  bool whole_segment = false;
};

struct Summary {
  std::uint64_t records = 0;
  std::uint64_t segments = 0;
  std::uint64_t bytes = 0;          // whole records and segment headers
  std::uint64_t first_seq = 0;      // 0 when there are no records
  std::uint64_t last_seq = 0;
  std::int64_t first_ts_ns = 0;
  std::int64_t last_ts_ns = 0;
  Hash last_hash{};                 // genesis_hash() when there are no records
  std::string last_segment;         // last segment with a valid header ("" if none)
  std::uint64_t last_segment_bytes = 0;  // its length up to the last whole record
  std::optional<TornTail> torn_tail;
  std::optional<Problem> problem;   // set: the scan stopped here
  bool ok() const { return !problem.has_value(); }
};

// Reads every segment in order and checks every checksum, the sequence and
// the chain. Read-only; never changes the directory. A torn tail is reported
// in Summary::torn_tail and is not a problem. Safe to run while a writer
// appends (it sees a prefix). A missing directory is a kIo problem.
Summary verify(const std::filesystem::path& dir);

struct Recovery {
  Summary summary;           // the journal as it is after the cut
  bool cut = false;          // a torn tail was removed
  TornTail torn_tail;        // what was removed, when cut
};

// Makes the directory safe to append to: verifies it and cuts a torn tail
// (truncating the last segment to its last whole record, or removing a last
// segment whose own header is incomplete), with fsync of the file and the
// directory. Fails, changing nothing, when verify() finds a problem; the
// error message names the segment and offset. Takes the directory lock, so
// it fails while a writer has the journal open.
Result<Recovery> recover(const std::filesystem::path& dir);

// Sequential reader over all segments, checking as it goes (the same checks
// as verify()). Not thread-safe; one per thread. Can follow a journal that a
// writer in another process is appending to: at the current end next()
// returns no record, and a later call picks up what has been written since.
class Reader {
 public:
  static Result<std::unique_ptr<Reader>> open(const std::filesystem::path& dir);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // A record, std::nullopt at the current end, or an error (the problem's
  // message) at corruption; after an error every call returns it again.
  Result<std::optional<Record>> next();

  // At the current end: trailing bytes after the last whole record of the
  // last segment (a torn tail, or a record still being written).
  std::optional<TornTail> tail() const;
  // The first problem found, if any.
  const std::optional<Problem>& problem() const;
  // Whole records returned so far.
  std::uint64_t records_read() const;

  struct Impl;  // opaque; verify() shares it

 private:
  explicit Reader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------
// Writing.

enum class Durability {
  // append() returns after the record has been written and fdatasync'd.
  kPerRecord,
  // append() returns once the record is queued; a flusher thread writes and
  // fdatasyncs groups of records and then reports the new durable sequence.
  kGroupCommit,
};

// Test seam for the writer's system calls on the segment files and the
// directory, so tests can make the disk fail on purpose. The default
// implementation calls the OS. Each returns 0 or an errno value.
class FileOps {
 public:
  virtual ~FileOps() = default;
  // Writes all `size` bytes at `offset` (a short write is retried).
  virtual int pwrite_all(int fd, const void* data, std::size_t size, std::uint64_t offset);
  virtual int fdatasync(int fd);
  virtual int fsync(int fd);
};

struct Options {
  Durability durability = Durability::kPerRecord;
  std::uint64_t segment_bytes_max = kSegmentBytesMaxDefault;
  // Writer-side payload limit, at most kPayloadBytesMax.
  std::uint32_t payload_bytes_max = kPayloadBytesMax;
  // Group commit only: the flusher syncs when the oldest pending record has
  // waited group_commit_window_us, or when group_commit_records_max records
  // or group_commit_bytes_max bytes are pending, whichever comes first.
  std::uint32_t group_commit_window_us = kGroupCommitWindowUsDefault;
  std::uint32_t group_commit_records_max = kGroupCommitRecordsMaxDefault;
  std::uint64_t group_commit_bytes_max = kGroupCommitBytesMaxDefault;
  // Group commit only. true: the first record of a group wakes the flusher,
  // which then waits out the window. false: an append wakes it only when
  // the group is full; the caller starts the window with start_window(), or
  // asks for a sync with request_flush(), after its appends (an event loop
  // does it once per turn). That saves a thread wake-up, and on a busy CPU
  // two context switches, for a group the caller is about to flush anyway.
  bool wake_on_first_append = true;
  // Called with the highest durable sequence number each time it advances,
  // with strictly increasing values and never concurrently with itself. In
  // group mode it runs on the flusher thread, for the groups the flusher
  // writes (not for those sync() writes); in per-record mode inside
  // append() on the caller's thread, after the sync and before append()
  // returns. It must be short (post to an event loop) and must not call
  // back into the Writer (append, wait_durable, flush, close: deadlock).
  std::function<void(std::uint64_t last_durable_seq)> on_durable;
  // Not owned; must outlive the Writer. nullptr: the OS.
  FileOps* file_ops = nullptr;
};

// Checks option ranges; Writer::open calls it.
Status validate(const Options& options);

// Appends records to one journal directory. At most one Writer per directory
// (an exclusive flock on the directory; a second open fails). Thread-safe:
// append, wait_durable, flush, durable_sequence, last_sequence, failed and
// error may be called concurrently from any threads. Sequence numbers are
// assigned in the order appends take the internal lock.
//
// Failure: when a write or sync fails the writer enters a failed state for
// good (a failed fsync may have dropped data, and retrying can report
// success falsely): every later append, wait_durable and flush returns an
// error, and records not yet reported durable must be treated as lost. The
// gate halts on this ("never trade without an audit trail"). Reopening the
// directory recovers it.
class Writer {
 public:
  // Creates the directory if missing, recovers it (see recover(); corruption
  // fails the open), and continues the sequence and the chain. A new journal
  // gets its first segment at once.
  static Result<std::unique_ptr<Writer>> open(const std::filesystem::path& dir, Options options);
  // close(), ignoring its result.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends one record; returns its sequence number. kPerRecord: durable on
  // return. kGroupCommit: durable once durable_sequence() >= seq, i.e. after
  // on_durable reports it or wait_durable(seq) returns. Blocks while the
  // group commit queue is full. Fails without side effects when type is 0
  // (reserved) or the payload exceeds payload_bytes_max; fails with the
  // writer's error when it has failed or is closed.
  Result<std::uint64_t> append(std::int64_t ts_ns, std::uint16_t type, std::string_view payload);

  // Blocks until every record up to `seq` is durable. Fails when the writer
  // has failed before that, or when seq was never appended.
  Status wait_durable(std::uint64_t seq);
  // Makes everything appended so far durable now (group mode: without
  // waiting for the window) and waits for it.
  Status flush();
  // Group mode: asks the flusher to sync what is pending now instead of at
  // the end of the window, and returns at once (durability is reported by
  // on_durable as usual). For a caller on an event loop that has someone
  // waiting for a record: records nobody waits for still share the window.
  // Per-record mode: nothing to do.
  void request_flush();
  // Group mode: writes and syncs everything appended so far on the calling
  // thread, now, and returns the durable sequence number (everything
  // appended before the call is durable). For an event loop that needs a
  // record durable before it can answer: it skips the hand-off to the
  // flusher thread and back. Waits while the flusher is writing a group
  // (groups reach the disk in order). Does not call on_durable: the result
  // says it. Fails when the writer has failed (or fails now).
  // Per-record mode: returns durable_sequence().
  Result<std::uint64_t> sync();
  // Group mode: makes sure the window of the pending group is running
  // (wakes the flusher for it unless it already is), and returns at once.
  // Needed after appends only with Options::wake_on_first_append = false;
  // harmless otherwise. Per-record mode: nothing to do.
  void start_window();
  // Flushes, stops the flusher thread and closes the files. Later appends
  // fail. Idempotent; returns the writer's error if it had failed.
  Status close();

  std::uint64_t durable_sequence() const;  // 0 before the first record
  std::uint64_t last_sequence() const;     // last assigned
  bool failed() const;
  std::string error() const;               // empty unless failed
  // What opening found and cut.
  const Recovery& recovery() const;

  struct Impl;  // opaque

 private:
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ta::journal
