// The journal writer and recovery.
//
// Locks: `mu_` guards the sequence, the chain, the pending group and the
// durable/failed state; `io_mu_` guards the open segment and is held by
// whoever does file I/O (the appending thread in per-record mode, the
// flusher thread in group mode). In per-record mode the appender encodes
// and hashes each record under `mu_`. In group mode the appender only places
// the record (header fields and payload, in sequence order under `mu_`); the
// flusher seals each group (checksums and the hash chain, continuing from
// the last record written) just before writing it, so the hashing is done
// off the appending thread, once per record, in order.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "format.h"

namespace ta::journal {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

FileOps& default_file_ops() {
  static FileOps ops;
  return ops;
}

// Opens and exclusively locks the journal directory; -1 with `error` set.
int lock_directory(const fs::path& dir, std::string& error) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = "journal " + dir.string() + ": open directory: " + errno_text(errno);
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    error = err == EWOULDBLOCK ? "journal " + dir.string() + " is locked by another writer"
                               : "journal " + dir.string() + ": flock: " + errno_text(err);
    return -1;
  }
  return fd;
}

// Recovery with the directory lock already held.
Result<Recovery> recover_locked(const fs::path& dir, int dir_fd) {
  Recovery rec;
  rec.summary = detail::scan(dir);
  if (rec.summary.problem) {
    return make_error("journal " + dir.string() + ": " + rec.summary.problem->message());
  }
  if (!rec.summary.torn_tail) return rec;
  const TornTail torn = *rec.summary.torn_tail;
  const fs::path path = dir / torn.segment;
  if (torn.whole_segment) {
    if (::unlink(path.c_str()) != 0) {
      return make_error("journal " + path.string() + ": removing torn segment: " + errno_text(errno));
    }
  } else {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return make_error("journal " + path.string() + ": open for truncation: " + errno_text(errno));
    const bool ok = ::ftruncate(fd, static_cast<off_t>(torn.offset)) == 0 && ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!ok) return make_error("journal " + path.string() + ": cutting torn tail: " + errno_text(err));
  }
  if (::fsync(dir_fd) != 0) return make_error("journal " + dir.string() + ": fsync directory: " + errno_text(errno));
  rec.cut = true;
  rec.torn_tail = torn;
  rec.summary.torn_tail.reset();
  return rec;
}

// One group of encoded records waiting for (or undergoing) a sync.
struct Batch {
  std::string bytes;
  std::vector<std::uint32_t> sizes;  // per record, header + payload
  std::uint64_t first_seq = 0;
  std::chrono::steady_clock::time_point first_enqueued;

  std::size_t count() const { return sizes.size(); }
  void clear() {
    bytes.clear();
    sizes.clear();
    first_seq = 0;
  }
};

}  // namespace

int FileOps::pwrite_all(int fd, const void* data, std::size_t size, std::uint64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    p += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return 0;
}

int FileOps::fdatasync(int fd) { return ::fdatasync(fd) == 0 ? 0 : errno; }
int FileOps::fsync(int fd) { return ::fsync(fd) == 0 ? 0 : errno; }

Status validate(const Options& o) {
  if (o.segment_bytes_max < kSegmentBytesMaxMin || o.segment_bytes_max > kSegmentBytesMaxCeiling) {
    return make_error("segment_bytes_max " + std::to_string(o.segment_bytes_max) + " outside [" +
                      std::to_string(kSegmentBytesMaxMin) + ", " + std::to_string(kSegmentBytesMaxCeiling) + "]");
  }
  if (o.payload_bytes_max > kPayloadBytesMax) {
    return make_error("payload_bytes_max " + std::to_string(o.payload_bytes_max) + " above " +
                      std::to_string(kPayloadBytesMax));
  }
  if (o.group_commit_window_us > kGroupCommitWindowUsMax) {
    return make_error("group_commit_window_us " + std::to_string(o.group_commit_window_us) + " above " +
                      std::to_string(kGroupCommitWindowUsMax));
  }
  if (o.group_commit_records_max < 1 || o.group_commit_records_max > kGroupCommitRecordsMaxCeiling) {
    return make_error("group_commit_records_max " + std::to_string(o.group_commit_records_max) + " outside [1, " +
                      std::to_string(kGroupCommitRecordsMaxCeiling) + "]");
  }
  if (o.group_commit_bytes_max < 1 || o.group_commit_bytes_max > kGroupCommitBytesMaxCeiling) {
    return make_error("group_commit_bytes_max " + std::to_string(o.group_commit_bytes_max) + " outside [1, " +
                      std::to_string(kGroupCommitBytesMaxCeiling) + "]");
  }
  return {};
}

Result<Recovery> recover(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("journal " + dir.string() + ": not a directory");
  std::string error;
  const int dir_fd = lock_directory(dir, error);
  if (dir_fd < 0) return make_error(error);
  auto r = recover_locked(dir, dir_fd);
  ::close(dir_fd);
  return r;
}

struct Writer::Impl {
  fs::path dir;
  Options options;
  FileOps* ops = nullptr;
  int dir_fd = -1;
  Recovery recovery;

  // Guarded by io_mu: the open segment and the chain value on disk.
  std::mutex io_mu;
  int seg_fd = -1;
  std::uint64_t seg_bytes = 0;  // bytes written to the open segment
  Hash io_last_hash{};          // hash of the last record written
  detail::Sha256 io_sha;        // group mode: seals records before writing

  // Guarded by mu.
  mutable std::mutex mu;
  std::condition_variable cv_flusher;
  std::condition_variable cv_space;
  mutable std::condition_variable cv_durable;
  std::condition_variable cv_role;
  detail::Sha256 sha;
  std::uint64_t next_seq = 1;
  Hash chain{};  // per-record mode: hash of the last record encoded
  std::uint64_t durable_seq = 0;
  bool failed = false;
  bool closed = false;
  bool stop = false;
  bool flush_requested = false;
  bool window_started = false;  // the flusher attends to the pending group
  // Group mode: a thread (the flusher, or one in sync()) is writing a group.
  // Only the holder writes, so groups reach the disk in sequence order.
  bool writing_active = false;
  std::string error;
  Batch pending;
  std::string scratch;  // per-record mode encode buffer (under io_mu)

  Batch writing;  // the holder of the writer role only
  std::thread flusher;

  ~Impl() {
    if (seg_fd >= 0) ::close(seg_fd);
    if (dir_fd >= 0) ::close(dir_fd);
  }

  bool group() const { return options.durability == Durability::kGroupCommit; }

  void set_failed_locked(std::string why) {
    if (!failed) {
      failed = true;
      error = std::move(why);
    }
    cv_durable.notify_all();
    cv_space.notify_all();
    cv_flusher.notify_all();
    cv_role.notify_all();
  }

  std::string refusal_locked() const {
    if (failed) return "journal writer failed: " + error;
    return "journal writer is closed";
  }

  // Creates the segment whose first record is `first_seq`, chained from
  // `prev`, and makes the file and its directory entry durable. io_mu held.
  Status create_segment(std::uint64_t first_seq, const Hash& prev) {
    const std::string name = segment_file_name(first_seq);
    const fs::path path = dir / name;
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0640);
    if (fd < 0) return make_error("create " + path.string() + ": " + errno_text(errno));
    char header[kSegmentHeaderBytes];
    detail::encode_segment_header(detail::SegmentHeader{first_seq, prev}, header);
    int err = ops->pwrite_all(fd, header, sizeof(header), 0);
    if (err == 0) err = ops->fdatasync(fd);
    if (err != 0) {
      ::close(fd);
      return make_error("write header of " + path.string() + ": " + errno_text(err));
    }
    err = ops->fsync(dir_fd);
    if (err != 0) {
      ::close(fd);
      return make_error("fsync directory " + dir.string() + ": " + errno_text(err));
    }
    if (seg_fd >= 0) ::close(seg_fd);
    seg_fd = fd;
    seg_bytes = kSegmentHeaderBytes;
    return {};
  }

  // Writes consecutive encoded records (sizes[i] bytes each, the first with
  // sequence number first_seq), rotating segments where needed, and syncs.
  // io_mu held.
  Status write_records(const char* data, const std::vector<std::uint32_t>& sizes, std::uint64_t first_seq) {
    std::size_t chunk_at = 0;
    std::size_t chunk_len = 0;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::uint64_t size = sizes[i];
      const bool has_records = seg_bytes + chunk_len > kSegmentHeaderBytes;
      if (has_records && seg_bytes + chunk_len + size > options.segment_bytes_max) {
        if (auto st = write_chunk(data + chunk_at, chunk_len); !st) return st;
        if (int err = ops->fdatasync(seg_fd); err != 0) return make_error("fdatasync: " + errno_text(err));
        const Hash prev = i == 0 ? io_last_hash : detail::get_hash(data + offset - sizes[i - 1] + detail::kRecHashAt);
        if (auto st = create_segment(first_seq + i, prev); !st) return st;
        chunk_at = offset;
        chunk_len = 0;
      }
      chunk_len += size;
      offset += size;
    }
    if (auto st = write_chunk(data + chunk_at, chunk_len); !st) return st;
    if (int err = ops->fdatasync(seg_fd); err != 0) return make_error("fdatasync: " + errno_text(err));
    if (!sizes.empty()) io_last_hash = detail::get_hash(data + offset - sizes.back() + detail::kRecHashAt);
    return {};
  }

  Status write_chunk(const char* data, std::size_t len) {
    if (len == 0) return {};
    if (int err = ops->pwrite_all(seg_fd, data, len, seg_bytes); err != 0) {
      return make_error("write: " + errno_text(err));
    }
    seg_bytes += len;
    return {};
  }

  Result<std::uint64_t> append_per_record(std::int64_t ts_ns, std::uint16_t type, std::string_view payload) {
    std::lock_guard io(io_mu);
    std::uint64_t seq = 0;
    {
      std::lock_guard lk(mu);
      if (failed || closed) return make_error(refusal_locked());
      seq = next_seq;
      scratch.clear();
      chain = detail::encode_record(sha, chain, seq, ts_ns, type, payload, scratch);
      ++next_seq;
    }
    const std::vector<std::uint32_t> sizes{static_cast<std::uint32_t>(scratch.size())};
    if (auto st = write_records(scratch.data(), sizes, seq); !st) {
      std::lock_guard lk(mu);
      set_failed_locked("seq " + std::to_string(seq) + ": " + st.error().message);
      return make_error(refusal_locked());
    }
    {
      std::lock_guard lk(mu);
      durable_seq = seq;
      cv_durable.notify_all();
    }
    if (options.on_durable) options.on_durable(seq);
    return seq;
  }

  Result<std::uint64_t> append_group(std::int64_t ts_ns, std::uint16_t type, std::string_view payload) {
    const std::uint64_t size = kRecordHeaderBytes + payload.size();
    std::unique_lock lk(mu);
    cv_space.wait(lk, [&] {
      return failed || closed || pending.count() == 0 ||
             (pending.count() < options.group_commit_records_max &&
              pending.bytes.size() + size <= options.group_commit_bytes_max);
    });
    if (failed || closed) return make_error(refusal_locked());
    const std::uint64_t seq = next_seq++;
    detail::place_record(seq, ts_ns, type, payload, pending.bytes);
    pending.sizes.push_back(static_cast<std::uint32_t>(size));
    bool wake = false;
    if (pending.count() == 1) {
      pending.first_seq = seq;
      pending.first_enqueued = std::chrono::steady_clock::now();
      if (options.wake_on_first_append) {
        window_started = true;
        wake = true;
      }
    }
    if (pending.count() >= options.group_commit_records_max ||
        pending.bytes.size() >= options.group_commit_bytes_max) {
      wake = true;
    }
    // Woken after the lock is released, so the flusher does not wake only
    // to block on it (on a single CPU that is two extra context switches).
    lk.unlock();
    if (wake) cv_flusher.notify_one();
    return seq;
  }

  bool group_ready_locked() const {
    return stop || flush_requested || pending.count() >= options.group_commit_records_max ||
           pending.bytes.size() >= options.group_commit_bytes_max;
  }

  // Seals the placed records of a group in order, chaining from the last
  // record written. io_mu held.
  void seal(Batch& batch) {
    Hash prev = io_last_hash;
    std::size_t at = 0;
    for (const std::uint32_t size : batch.sizes) {
      prev = detail::seal_record(io_sha, prev, batch.bytes.data() + at);
      at += size;
    }
  }

  // Writes and syncs the pending group on the calling thread, which holds
  // the writer role (writing_active) and `lk`. Returns with `lk` locked.
  Status write_pending_locked(std::unique_lock<std::mutex>& lk) {
    std::swap(pending, writing);
    pending.clear();
    flush_requested = false;
    window_started = false;
    cv_space.notify_all();
    lk.unlock();
    Status st;
    {
      std::lock_guard io(io_mu);
      seal(writing);
      st = write_records(writing.bytes.data(), writing.sizes, writing.first_seq);
    }
    const std::uint64_t first = writing.first_seq;
    const std::uint64_t last = first + writing.count() - 1;
    writing.clear();
    lk.lock();
    if (!st) {
      set_failed_locked("seqs " + std::to_string(first) + ".." + std::to_string(last) + ": " + st.error().message);
      return st;
    }
    durable_seq = last;
    cv_durable.notify_all();
    return {};
  }

  void flusher_loop() {
    std::unique_lock lk(mu);
    for (;;) {
      cv_flusher.wait(lk, [&] {
        return stop || failed || (pending.count() > 0 && (window_started || group_ready_locked()));
      });
      if (failed) return;
      if (pending.count() == 0) return;  // stop with nothing pending
      const auto deadline = pending.first_enqueued + std::chrono::microseconds(options.group_commit_window_us);
      cv_flusher.wait_until(lk, deadline, [&] { return group_ready_locked() || pending.count() == 0; });
      cv_role.wait(lk, [&] { return !writing_active || failed; });
      if (failed) return;
      if (pending.count() == 0) continue;  // a sync() wrote the group
      writing_active = true;
      const std::uint64_t last = pending.first_seq + pending.count() - 1;
      const Status st = write_pending_locked(lk);
      if (st && options.on_durable) {
        lk.unlock();
        options.on_durable(last);
        lk.lock();
      }
      writing_active = false;
      cv_role.notify_all();
      if (!st) return;
    }
  }
};

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Writer::~Writer() { static_cast<void>(close()); }

Result<std::unique_ptr<Writer>> Writer::open(const fs::path& dir, Options options) {
  if (auto st = validate(options); !st) return make_error("journal options: " + st.error().message);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("journal " + dir.string() + ": create directory: " + ec.message());
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = std::move(options);
  impl->ops = impl->options.file_ops != nullptr ? impl->options.file_ops : &default_file_ops();
  std::string error;
  impl->dir_fd = lock_directory(dir, error);
  if (impl->dir_fd < 0) return make_error(error);
  auto rec = recover_locked(dir, impl->dir_fd);
  if (!rec) return rec.error();
  impl->recovery = std::move(rec).value();
  const Summary& s = impl->recovery.summary;
  impl->next_seq = s.last_seq + 1;
  impl->chain = s.last_hash;
  impl->io_last_hash = s.last_hash;
  impl->durable_seq = s.last_seq;
  if (s.last_segment.empty()) {
    if (auto st = impl->create_segment(1, genesis_hash()); !st) return make_error("journal " + st.error().message);
  } else {
    const fs::path path = dir / s.last_segment;
    impl->seg_fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (impl->seg_fd < 0) return make_error("journal " + path.string() + ": open for append: " + errno_text(errno));
    impl->seg_bytes = s.last_segment_bytes;
    // Records recovered from the page cache of a crashed writer may not have
    // reached the disk yet; sync them before calling them durable.
    if (int err = impl->ops->fdatasync(impl->seg_fd); err != 0) {
      return make_error("journal " + path.string() + ": fdatasync: " + errno_text(err));
    }
  }
  Impl* raw = impl.get();
  if (raw->group()) raw->flusher = std::thread([raw] { raw->flusher_loop(); });
  return std::unique_ptr<Writer>(new Writer(std::move(impl)));
}

Result<std::uint64_t> Writer::append(std::int64_t ts_ns, std::uint16_t type, std::string_view payload) {
  if (type == 0) return make_error("journal append: record type 0 is reserved");
  if (payload.size() > impl_->options.payload_bytes_max) {
    return make_error("journal append: payload of " + std::to_string(payload.size()) + " bytes exceeds the limit " +
                      std::to_string(impl_->options.payload_bytes_max));
  }
  return impl_->group() ? impl_->append_group(ts_ns, type, payload)
                        : impl_->append_per_record(ts_ns, type, payload);
}

Status Writer::wait_durable(std::uint64_t seq) {
  std::unique_lock lk(impl_->mu);
  if (seq >= impl_->next_seq) return make_error("journal wait_durable: seq " + std::to_string(seq) + " was never appended");
  impl_->cv_durable.wait(lk, [&] { return impl_->durable_seq >= seq || impl_->failed; });
  if (impl_->durable_seq >= seq) return {};
  return make_error(impl_->refusal_locked());
}

Status Writer::flush() {
  std::unique_lock lk(impl_->mu);
  const std::uint64_t target = impl_->next_seq - 1;
  if (impl_->group() && impl_->durable_seq < target) {
    impl_->flush_requested = true;
    impl_->cv_flusher.notify_one();
  }
  impl_->cv_durable.wait(lk, [&] { return impl_->durable_seq >= target || impl_->failed; });
  if (impl_->durable_seq >= target) return {};
  return make_error(impl_->refusal_locked());
}

void Writer::request_flush() {
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->group() || impl_->pending.count() == 0 || impl_->flush_requested) return;
    impl_->flush_requested = true;
  }
  impl_->cv_flusher.notify_one();
}

Result<std::uint64_t> Writer::sync() {
  std::unique_lock lk(impl_->mu);
  if (!impl_->group()) {
    if (impl_->failed) return make_error(impl_->refusal_locked());
    return impl_->durable_seq;
  }
  impl_->cv_role.wait(lk, [&] { return !impl_->writing_active || impl_->failed; });
  if (impl_->failed) return make_error(impl_->refusal_locked());
  if (impl_->pending.count() == 0) return impl_->durable_seq;
  impl_->writing_active = true;
  const Status st = impl_->write_pending_locked(lk);
  impl_->writing_active = false;
  impl_->cv_role.notify_all();
  if (!st) return make_error(impl_->refusal_locked());
  return impl_->durable_seq;
}

void Writer::start_window() {
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->group() || impl_->pending.count() == 0 || impl_->window_started) return;
    impl_->window_started = true;
  }
  impl_->cv_flusher.notify_one();
}

Status Writer::close() {
  {
    std::lock_guard lk(impl_->mu);
    if (!impl_->closed) {
      impl_->closed = true;
      impl_->stop = true;
      impl_->cv_flusher.notify_all();
      impl_->cv_space.notify_all();
    }
  }
  if (impl_->flusher.joinable()) impl_->flusher.join();
  {
    std::lock_guard io(impl_->io_mu);
    if (impl_->seg_fd >= 0) ::close(impl_->seg_fd);
    impl_->seg_fd = -1;
  }
  std::lock_guard lk(impl_->mu);
  if (impl_->dir_fd >= 0) {
    ::close(impl_->dir_fd);  // releases the directory lock
    impl_->dir_fd = -1;
  }
  if (impl_->failed) return make_error("journal writer failed: " + impl_->error);
  return {};
}

std::uint64_t Writer::durable_sequence() const {
  std::lock_guard lk(impl_->mu);
  return impl_->durable_seq;
}

std::uint64_t Writer::last_sequence() const {
  std::lock_guard lk(impl_->mu);
  return impl_->next_seq - 1;
}

bool Writer::failed() const {
  std::lock_guard lk(impl_->mu);
  return impl_->failed;
}

std::string Writer::error() const {
  std::lock_guard lk(impl_->mu);
  return impl_->error;
}

const Recovery& Writer::recovery() const { return impl_->recovery; }

}  // namespace ta::journal
