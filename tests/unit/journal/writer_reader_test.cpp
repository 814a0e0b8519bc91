// Writer and reader behaviour on healthy journals: round trip, rotation,
// reopen-and-continue, limits at their edges, group commit and durability
// reporting, write/sync failure, the directory lock, and following a live
// journal.
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "journal/journal.h"
#include "journal_test_util.h"

namespace ta::journal {
namespace {

using testing::payload_for;
using testing::segment_files;
using testing::TempDir;
using testing::ts_for;
using testing::type_for;

std::unique_ptr<Writer> open_writer(const std::filesystem::path& dir, Options o = {}) {
  auto w = Writer::open(dir, std::move(o));
  if (!w) ADD_FAILURE() << w.error().message;
  return w ? std::move(w).value() : nullptr;
}

void append_range(Writer& w, std::uint64_t from, std::uint64_t to) {
  for (std::uint64_t seq = from; seq <= to; ++seq) {
    auto r = w.append(ts_for(seq), type_for(seq), payload_for(seq));
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r.value(), seq);
  }
}

// Reads the whole journal and checks it holds exactly seqs 1..n with the
// generator's content; returns the number of records read.
std::uint64_t expect_records(const std::filesystem::path& dir, std::uint64_t n) {
  auto reader = Reader::open(dir);
  EXPECT_TRUE(reader.ok());
  if (!reader) return 0;
  std::uint64_t seq = 0;
  Hash prev = genesis_hash();
  for (;;) {
    auto r = reader.value()->next();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r || !r.value()) break;
    const Record& rec = *r.value();
    ++seq;
    EXPECT_EQ(rec.seq, seq);
    EXPECT_EQ(rec.ts_ns, ts_for(seq));
    EXPECT_EQ(rec.type, type_for(seq));
    EXPECT_EQ(std::string(rec.payload), payload_for(seq));
    EXPECT_NE(rec.hash, prev);
    prev = rec.hash;
  }
  EXPECT_EQ(seq, n);
  const Summary s = verify(dir);
  EXPECT_TRUE(s.ok()) << s.problem->message();
  EXPECT_EQ(s.records, n);
  EXPECT_EQ(s.last_seq, n);
  EXPECT_EQ(s.last_hash, prev);
  EXPECT_FALSE(s.torn_tail.has_value());
  return seq;
}

TEST(Journal, NewJournalHasOneEmptySegment) {
  TempDir tmp;
  const auto dir = tmp.path() / "j";
  {
    auto w = open_writer(dir);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->last_sequence(), 0u);
    EXPECT_EQ(w->durable_sequence(), 0u);
    EXPECT_FALSE(w->recovery().cut);
  }
  const auto files = segment_files(dir);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename(), segment_file_name(1));
  EXPECT_EQ(std::filesystem::file_size(files[0]), kSegmentHeaderBytes);
  const Summary s = verify(dir);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.records, 0u);
  EXPECT_EQ(s.segments, 1u);
  EXPECT_EQ(s.last_hash, genesis_hash());
}

TEST(Journal, SegmentNamesSortBySequence) {
  EXPECT_EQ(segment_file_name(1), "journal-00000000000000000001.seg");
  EXPECT_LT(segment_file_name(99), segment_file_name(100));
  EXPECT_EQ(segment_file_name(UINT64_MAX), "journal-18446744073709551615.seg");
}

TEST(Journal, RoundTripPerRecord) {
  TempDir tmp;
  std::vector<std::uint64_t> reported;
  Options o;
  o.on_durable = [&](std::uint64_t seq) { reported.push_back(seq); };
  {
    auto w = open_writer(tmp.path(), o);
    ASSERT_TRUE(w);
    append_range(*w, 1, 50);
    EXPECT_EQ(w->durable_sequence(), 50u);
    EXPECT_EQ(w->last_sequence(), 50u);
    EXPECT_TRUE(w->wait_durable(50).ok());
    EXPECT_FALSE(w->wait_durable(51).ok());
  }
  ASSERT_EQ(reported.size(), 50u);
  for (std::size_t i = 0; i < reported.size(); ++i) EXPECT_EQ(reported[i], i + 1);
  expect_records(tmp.path(), 50);
}

TEST(Journal, EmptyPayloadAndExtremeTimestamps) {
  TempDir tmp;
  {
    auto w = open_writer(tmp.path());
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->append(INT64_MIN, 1, "").ok());
    ASSERT_TRUE(w->append(INT64_MAX, UINT16_MAX, std::string(1, '\0')).ok());
  }
  auto reader = Reader::open(tmp.path());
  ASSERT_TRUE(reader.ok());
  auto a = reader.value()->next();
  ASSERT_TRUE(a.ok() && a.value());
  EXPECT_EQ(a.value()->ts_ns, INT64_MIN);
  EXPECT_EQ(a.value()->payload.size(), 0u);
  auto b = reader.value()->next();
  ASSERT_TRUE(b.ok() && b.value());
  EXPECT_EQ(b.value()->ts_ns, INT64_MAX);
  EXPECT_EQ(b.value()->type, UINT16_MAX);
  EXPECT_EQ(b.value()->payload, std::string(1, '\0'));
}

TEST(Journal, TypeZeroIsRefusedWithoutFailingTheWriter) {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  ASSERT_TRUE(w);
  EXPECT_FALSE(w->append(1, 0, "x").ok());
  EXPECT_FALSE(w->failed());
  auto r = w->append(1, 1, "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 1u);
}

TEST(Journal, RotationKeepsSequenceAndChain) {
  TempDir tmp;
  Options o;
  o.segment_bytes_max = kSegmentBytesMaxMin;
  {
    auto w = open_writer(tmp.path(), o);
    ASSERT_TRUE(w);
    append_range(*w, 1, 300);
  }
  const auto files = segment_files(tmp.path());
  ASSERT_GT(files.size(), 5u);
  for (const auto& f : files) EXPECT_LE(std::filesystem::file_size(f), kSegmentBytesMaxMin) << f;
  // Each segment's name is its first record's sequence number.
  std::uint64_t expected_first = 1;
  for (const auto& f : files) {
    EXPECT_EQ(f.filename(), segment_file_name(expected_first));
    expected_first += testing::record_offsets(testing::read_file(f)).size();
  }
  EXPECT_EQ(expected_first, 301u);
  expect_records(tmp.path(), 300);
  EXPECT_EQ(verify(tmp.path()).segments, files.size());
}

TEST(Journal, RotationBoundaryExactFitStaysOneByteMoreRotates) {
  // Segment limit 4096: header 64 + records. Fill with records of known
  // size, then one record that exactly reaches the limit, then one byte more.
  for (const std::size_t extra : {0, 1}) {
    TempDir tmp;
    Options o;
    o.segment_bytes_max = 4096;
    auto w = open_writer(tmp.path(), o);
    ASSERT_TRUE(w);
    // 64 + 3 * (64 + 1000) = 3256; the fourth record gets 4096 - 3256 - 64
    // = 776 bytes of payload to land exactly on the limit.
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w->append(i, 1, std::string(1000, 'a')).ok());
    ASSERT_TRUE(w->append(3, 1, std::string(776 + extra, 'b')).ok());
    ASSERT_TRUE(w->close().ok());
    const auto files = segment_files(tmp.path());
    ASSERT_EQ(files.size(), extra == 0 ? 1u : 2u);
    if (extra == 0) {
      EXPECT_EQ(std::filesystem::file_size(files[0]), 4096u);
    }
    EXPECT_TRUE(verify(tmp.path()).ok());
    EXPECT_EQ(verify(tmp.path()).records, 4u);
  }
}

TEST(Journal, RecordLargerThanSegmentGetsASegmentOfItsOwn) {
  TempDir tmp;
  Options o;
  o.segment_bytes_max = kSegmentBytesMaxMin;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(1, 1, "small").ok());
  ASSERT_TRUE(w->append(2, 1, std::string(3 * kSegmentBytesMaxMin, 'x')).ok());
  ASSERT_TRUE(w->append(3, 1, "after").ok());
  ASSERT_TRUE(w->close().ok());
  const auto files = segment_files(tmp.path());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[1].filename(), segment_file_name(2));
  EXPECT_EQ(files[2].filename(), segment_file_name(3));
  EXPECT_EQ(verify(tmp.path()).records, 3u);
}

TEST(Journal, ReopenContinuesSequenceAndChain) {
  TempDir tmp;
  Options o;
  o.segment_bytes_max = kSegmentBytesMaxMin;
  for (std::uint64_t round = 0; round < 4; ++round) {
    auto w = open_writer(tmp.path(), o);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->last_sequence(), round * 25);
    EXPECT_EQ(w->durable_sequence(), round * 25);
    EXPECT_EQ(w->recovery().summary.records, round * 25);
    EXPECT_FALSE(w->recovery().cut);
    append_range(*w, round * 25 + 1, round * 25 + 25);
  }
  expect_records(tmp.path(), 100);
}

TEST(Journal, ReopenInGroupModeContinues) {
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.segment_bytes_max = kSegmentBytesMaxMin;
  for (std::uint64_t round = 0; round < 3; ++round) {
    auto w = open_writer(tmp.path(), o);
    ASSERT_TRUE(w);
    append_range(*w, round * 40 + 1, round * 40 + 40);
    ASSERT_TRUE(w->close().ok());
    EXPECT_EQ(w->durable_sequence(), round * 40 + 40);
  }
  expect_records(tmp.path(), 120);
}

TEST(Journal, PayloadLimitAtEdge) {
  TempDir tmp;
  Options o;
  o.payload_bytes_max = 1000;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->append(1, 1, std::string(999, 'a')).ok());
  EXPECT_TRUE(w->append(2, 1, std::string(1000, 'b')).ok());
  auto over = w->append(3, 1, std::string(1001, 'c'));
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("exceeds the limit 1000"), std::string::npos) << over.error().message;
  EXPECT_FALSE(w->failed());
  auto next = w->append(4, 1, "d");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next.value(), 3u);
}

TEST(Journal, FormatPayloadMaximumExactlyAndOneAbove) {
  TempDir tmp;
  {
    auto w = open_writer(tmp.path());
    ASSERT_TRUE(w);
    EXPECT_TRUE(w->append(1, 1, std::string(kPayloadBytesMax, 'm')).ok());
    EXPECT_FALSE(w->append(2, 1, std::string(kPayloadBytesMax + 1, 'm')).ok());
    EXPECT_FALSE(w->failed());
  }
  auto reader = Reader::open(tmp.path());
  ASSERT_TRUE(reader.ok());
  auto r = reader.value()->next();
  ASSERT_TRUE(r.ok() && r.value());
  EXPECT_EQ(r.value()->payload.size(), kPayloadBytesMax);
}

TEST(Journal, OptionsValidatedAtTheirLimits) {
  auto ok = [](auto mutate) {
    Options o;
    mutate(o);
    return validate(o).ok();
  };
  EXPECT_TRUE(ok([](Options&) {}));
  EXPECT_FALSE(ok([](Options& o) { o.segment_bytes_max = kSegmentBytesMaxMin - 1; }));
  EXPECT_TRUE(ok([](Options& o) { o.segment_bytes_max = kSegmentBytesMaxMin; }));
  EXPECT_TRUE(ok([](Options& o) { o.segment_bytes_max = kSegmentBytesMaxMin + 1; }));
  EXPECT_TRUE(ok([](Options& o) { o.segment_bytes_max = kSegmentBytesMaxCeiling; }));
  EXPECT_FALSE(ok([](Options& o) { o.segment_bytes_max = kSegmentBytesMaxCeiling + 1; }));
  EXPECT_TRUE(ok([](Options& o) { o.payload_bytes_max = kPayloadBytesMax; }));
  EXPECT_FALSE(ok([](Options& o) { o.payload_bytes_max = kPayloadBytesMax + 1; }));
  EXPECT_TRUE(ok([](Options& o) { o.group_commit_window_us = 0; }));
  EXPECT_TRUE(ok([](Options& o) { o.group_commit_window_us = kGroupCommitWindowUsMax; }));
  EXPECT_FALSE(ok([](Options& o) { o.group_commit_window_us = kGroupCommitWindowUsMax + 1; }));
  EXPECT_FALSE(ok([](Options& o) { o.group_commit_records_max = 0; }));
  EXPECT_TRUE(ok([](Options& o) { o.group_commit_records_max = 1; }));
  EXPECT_TRUE(ok([](Options& o) { o.group_commit_records_max = kGroupCommitRecordsMaxCeiling; }));
  EXPECT_FALSE(ok([](Options& o) { o.group_commit_records_max = kGroupCommitRecordsMaxCeiling + 1; }));
  EXPECT_FALSE(ok([](Options& o) { o.group_commit_bytes_max = 0; }));
  EXPECT_TRUE(ok([](Options& o) { o.group_commit_bytes_max = kGroupCommitBytesMaxCeiling; }));
  EXPECT_FALSE(ok([](Options& o) { o.group_commit_bytes_max = kGroupCommitBytesMaxCeiling + 1; }));
  TempDir tmp;
  Options bad;
  bad.segment_bytes_max = 1;
  auto w = Writer::open(tmp.path(), bad);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("segment_bytes_max"), std::string::npos);
}

TEST(Journal, GroupCommitCallbackIsOrderedAndCoversEverything) {
  TempDir tmp;
  std::mutex mu;
  std::vector<std::uint64_t> reported;
  std::atomic<bool> concurrent{false};
  std::atomic<int> inside{0};
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = 200;
  o.group_commit_records_max = 64;
  o.segment_bytes_max = 64 * 1024;
  o.on_durable = [&](std::uint64_t seq) {
    if (inside.fetch_add(1) != 0) concurrent = true;
    {
      std::lock_guard lk(mu);
      reported.push_back(seq);
    }
    inside.fetch_sub(1);
  };
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  std::atomic<bool> append_failed{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = w->append(i, 1, std::string(50, 'g'));
        if (!r) append_failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(append_failed);
  const std::uint64_t total = kThreads * kPerThread;
  EXPECT_EQ(w->last_sequence(), total);
  ASSERT_TRUE(w->wait_durable(total).ok());
  EXPECT_EQ(w->durable_sequence(), total);
  ASSERT_TRUE(w->close().ok());
  EXPECT_FALSE(concurrent);
  std::lock_guard lk(mu);
  ASSERT_FALSE(reported.empty());
  for (std::size_t i = 1; i < reported.size(); ++i) EXPECT_LT(reported[i - 1], reported[i]);
  EXPECT_EQ(reported.back(), total);
  // Groups are bounded: at most records_max records become durable per sync.
  std::uint64_t before = 0;
  for (const std::uint64_t r : reported) {
    EXPECT_LE(r - before, 64u);
    before = r;
  }
  EXPECT_EQ(verify(tmp.path()).records, total);
}

TEST(Journal, GroupCommitReportsOnlyWhatIsOnDisk) {
  TempDir tmp;
  std::vector<std::uint64_t> seen_on_disk;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = 0;
  const auto dir = tmp.path();
  o.on_durable = [&](std::uint64_t seq) {
    // Everything reported must already be readable from the files.
    if (seen_on_disk.size() < 5) {
      const Summary s = verify(dir);
      EXPECT_GE(s.last_seq, seq);
      seen_on_disk.push_back(seq);
    }
  };
  auto w = open_writer(dir, o);
  ASSERT_TRUE(w);
  for (int i = 1; i <= 20; ++i) {
    auto r = w->append(i, 1, "x");
    ASSERT_TRUE(r.ok());
    if (i % 4 == 0) {
      ASSERT_TRUE(w->wait_durable(r.value()).ok());
    }
  }
  ASSERT_TRUE(w->flush().ok());
  EXPECT_EQ(w->durable_sequence(), 20u);
  // on_durable runs on the flusher thread, possibly still after flush()
  // returned; close() joins that thread, so seen_on_disk is then settled.
  ASSERT_TRUE(w->close().ok());
  EXPECT_FALSE(seen_on_disk.empty());
}

TEST(Journal, GroupCommitWindowBoundsTheWait) {
  // With a long window and a large group, a lone record still becomes
  // durable once the window has passed, without flush().
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = 20'000;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  auto r = w->append(1, 1, "alone");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(w->wait_durable(r.value()).ok());
  EXPECT_EQ(w->durable_sequence(), 1u);
}

TEST(Journal, RequestFlushSyncsBeforeTheWindowEnds) {
  // The window is the maximum (100 ms); a requested flush makes the record
  // durable without waiting for it, and request_flush() itself never blocks.
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = kGroupCommitWindowUsMax;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  w->request_flush();  // nothing pending: nothing happens
  const auto t0 = std::chrono::steady_clock::now();
  auto r = w->append(1, 1, "urgent");
  ASSERT_TRUE(r.ok());
  w->request_flush();
  w->request_flush();  // a second request while one is pending is harmless
  ASSERT_TRUE(w->wait_durable(r.value()).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(kGroupCommitWindowUsMax));
  // Without a request the next record waits for the window.
  const auto t1 = std::chrono::steady_clock::now();
  auto r2 = w->append(2, 1, "patient");
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(w->wait_durable(r2.value()).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t1, std::chrono::microseconds(kGroupCommitWindowUsMax));
}

TEST(Journal, WithoutWakeOnFirstAppendTheWindowStartsWhenAsked) {
  // wake_on_first_append off: a record waits (here far longer than the
  // window) until start_window() is called, and then the window bounds the
  // wait as usual.
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = 1000;
  o.wake_on_first_append = false;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  w->start_window();  // nothing pending: nothing happens
  auto r = w->append(1, 1, "waits");
  ASSERT_TRUE(r.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(w->durable_sequence(), 0u) << "nothing started the window";
  w->start_window();
  w->start_window();  // a second call while it runs is harmless
  ASSERT_TRUE(w->wait_durable(r.value()).ok());
  EXPECT_EQ(w->durable_sequence(), 1u);
  // request_flush() serves as well.
  auto r2 = w->append(2, 1, "flushed");
  ASSERT_TRUE(r2.ok());
  w->request_flush();
  ASSERT_TRUE(w->wait_durable(r2.value()).ok());
  // A full group wakes the flusher by itself.
  ASSERT_TRUE(w->close().ok());
  Options full = o;
  full.group_commit_records_max = 3;
  auto w2 = open_writer(tmp.path(), full);
  ASSERT_TRUE(w2);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w2->append(10 + i, 1, "fills").ok());
  ASSERT_TRUE(w2->wait_durable(5).ok());
  // close() writes whatever is still pending.
  ASSERT_TRUE(w2->append(20, 1, "at close").ok());
  ASSERT_TRUE(w2->close().ok());
  EXPECT_EQ(verify(tmp.path()).records, 6u);
}

TEST(Journal, SyncWritesOnTheCallingThread) {
  // sync() makes everything appended durable before it returns, without
  // the flusher (the window is the maximum and nothing starts it), and says
  // up to where; on_durable is not called for what it wrote.
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = kGroupCommitWindowUsMax;
  o.wake_on_first_append = false;
  std::atomic<int> reports{0};
  o.on_durable = [&](std::uint64_t) { ++reports; };
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  auto none = w->sync();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.value(), 0u) << "nothing appended yet";
  append_range(*w, 1, 5);
  const auto t0 = std::chrono::steady_clock::now();
  auto synced = w->sync();
  ASSERT_TRUE(synced.ok()) << synced.error().message;
  EXPECT_EQ(synced.value(), 5u);
  EXPECT_EQ(w->durable_sequence(), 5u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(kGroupCommitWindowUsMax));
  EXPECT_EQ(reports, 0);
  auto again = w->sync();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), 5u);
  ASSERT_TRUE(w->close().ok());
  expect_records(tmp.path(), 5);
}

TEST(Journal, SyncAndTheFlusherKeepGroupsInOrder) {
  // One thread appends and syncs now and then while the flusher writes the
  // other groups on its window: every record reaches the disk once, in
  // order, and the chain verifies.
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = 50;
  o.group_commit_records_max = 16;
  o.segment_bytes_max = 16 * 1024;  // rotations too
  std::vector<std::uint64_t> reported;
  o.on_durable = [&](std::uint64_t seq) { reported.push_back(seq); };
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  constexpr std::uint64_t kRecords = 2000;
  for (std::uint64_t seq = 1; seq <= kRecords; ++seq) {
    auto r = w->append(ts_for(seq), type_for(seq), payload_for(seq));
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (seq % 7 == 0) {
      auto d = w->sync();
      ASSERT_TRUE(d.ok()) << d.error().message;
      EXPECT_GE(d.value(), seq);
    }
  }
  ASSERT_TRUE(w->close().ok());
  for (std::size_t i = 1; i < reported.size(); ++i) EXPECT_LT(reported[i - 1], reported[i]);
  expect_records(tmp.path(), kRecords);
}

TEST(Journal, GroupCommitBackpressureAtBytesLimit) {
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_bytes_max = 1000;
  o.group_commit_window_us = 100;
  std::vector<std::uint64_t> reported;
  o.on_durable = [&](std::uint64_t seq) { reported.push_back(seq); };
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  // Each record is 64 + 400 bytes: at most two fit a 1000-byte group; a
  // 5000-byte record is accepted alone.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w->append(i, 1, std::string(400, 'p')).ok());
  ASSERT_TRUE(w->append(10, 1, std::string(5000, 'q')).ok());
  ASSERT_TRUE(w->close().ok());
  std::uint64_t before = 0;
  for (const std::uint64_t r : reported) {
    EXPECT_LE(r - before, 2u);
    before = r;
  }
  EXPECT_EQ(before, 11u);
  EXPECT_EQ(verify(tmp.path()).records, 11u);
}

// Fails every call of one kind after `allowed` successful ones.
class FailingOps : public FileOps {
 public:
  enum class What { kWrite, kDatasync, kDirSync };
  FailingOps(What what, int allowed) : what_(what), allowed_(allowed) {}
  int pwrite_all(int fd, const void* data, std::size_t size, std::uint64_t offset) override {
    if (what_ == What::kWrite && allowed_-- <= 0) {
      // A short write first, as a full disk would leave.
      FileOps::pwrite_all(fd, data, size / 2, offset);
      return ENOSPC;
    }
    return FileOps::pwrite_all(fd, data, size, offset);
  }
  int fdatasync(int fd) override {
    if (what_ == What::kDatasync && allowed_-- <= 0) return EIO;
    return FileOps::fdatasync(fd);
  }
  int fsync(int fd) override {
    if (what_ == What::kDirSync && allowed_-- <= 0) return EIO;
    return FileOps::fsync(fd);
  }

 private:
  What what_;
  int allowed_;
};

void check_failure_then_recovery(Durability mode, FailingOps::What what, int allowed, std::uint64_t segment_bytes) {
  TempDir tmp;
  FailingOps ops(what, allowed);
  std::vector<std::uint64_t> reported;
  std::uint64_t acknowledged = 0;
  {
    Options o;
    o.durability = mode;
    o.file_ops = &ops;
    o.segment_bytes_max = segment_bytes;
    o.group_commit_window_us = 0;
    o.on_durable = [&](std::uint64_t seq) { reported.push_back(seq); };
    auto w = open_writer(tmp.path(), o);
    ASSERT_TRUE(w);
    bool saw_error = false;
    for (std::uint64_t seq = 1; seq <= 200 && !saw_error; ++seq) {
      auto r = w->append(ts_for(seq), type_for(seq), payload_for(seq));
      if (r.ok() && mode == Durability::kGroupCommit) {
        if (auto st = w->wait_durable(r.value()); !st) saw_error = true;
      }
      if (!r.ok()) saw_error = true;
    }
    ASSERT_TRUE(saw_error) << "the injected failure never happened";
    EXPECT_TRUE(w->failed());
    EXPECT_FALSE(w->error().empty());
    acknowledged = w->durable_sequence();
    // Every later operation refuses, naming the original error.
    auto again = w->append(1, 1, "after failure");
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message.find("failed"), std::string::npos) << again.error().message;
    EXPECT_FALSE(w->flush().ok());
    EXPECT_FALSE(w->close().ok());
  }
  if (acknowledged > 0) {
    ASSERT_FALSE(reported.empty());
    EXPECT_EQ(reported.back(), acknowledged);
  }
  // Reopening with a healthy disk recovers: everything acknowledged is there,
  // and the sequence continues after whatever whole records reached the files.
  auto w = open_writer(tmp.path());
  ASSERT_TRUE(w);
  const std::uint64_t recovered = w->last_sequence();
  EXPECT_GE(recovered, acknowledged);
  auto next = w->append(ts_for(recovered + 1), type_for(recovered + 1), payload_for(recovered + 1));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next.value(), recovered + 1);
  ASSERT_TRUE(w->close().ok());
  expect_records(tmp.path(), recovered + 1);
}

TEST(Journal, WriteFailureFailsTheWriterPerRecord) {
  check_failure_then_recovery(Durability::kPerRecord, FailingOps::What::kWrite, 30, kSegmentBytesMaxDefault);
}
TEST(Journal, SyncFailureFailsTheWriterPerRecord) {
  check_failure_then_recovery(Durability::kPerRecord, FailingOps::What::kDatasync, 30, kSegmentBytesMaxDefault);
}
TEST(Journal, DirectorySyncFailureAtRotationFailsTheWriter) {
  // The first directory sync creates segment 1; the second is a rotation.
  check_failure_then_recovery(Durability::kPerRecord, FailingOps::What::kDirSync, 1, kSegmentBytesMaxMin);
}
TEST(Journal, WriteFailureFailsTheWriterGroup) {
  check_failure_then_recovery(Durability::kGroupCommit, FailingOps::What::kWrite, 10, kSegmentBytesMaxDefault);
}
TEST(Journal, SyncFailureFailsTheWriterGroup) {
  check_failure_then_recovery(Durability::kGroupCommit, FailingOps::What::kDatasync, 10, kSegmentBytesMaxDefault);
}

TEST(Journal, SyncOnTheCallingThreadFailsTheWriter) {
  // The new segment's header takes the one fdatasync allowed; the sync()
  // of the first record fails, and the writer with it.
  TempDir tmp;
  FailingOps ops(FailingOps::What::kDatasync, 1);
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = kGroupCommitWindowUsMax;
  o.wake_on_first_append = false;
  o.file_ops = &ops;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(1, 1, "lost").ok());
  auto d = w->sync();
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("failed"), std::string::npos) << d.error().message;
  EXPECT_TRUE(w->failed());
  EXPECT_EQ(w->durable_sequence(), 0u);
  EXPECT_FALSE(w->sync().ok());
  EXPECT_FALSE(w->append(2, 1, "after").ok());
}

TEST(Journal, FailureOnFirstSegmentFailsOpen) {
  TempDir tmp;
  FailingOps ops(FailingOps::What::kDirSync, 0);
  Options o;
  o.file_ops = &ops;
  auto w = Writer::open(tmp.path(), o);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("fsync directory"), std::string::npos) << w.error().message;
}

TEST(Journal, OneWriterPerDirectory) {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  ASSERT_TRUE(w);
  auto second = Writer::open(tmp.path(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("locked"), std::string::npos) << second.error().message;
  auto rec = recover(tmp.path());
  EXPECT_FALSE(rec.ok());
  ASSERT_TRUE(w->close().ok());
  EXPECT_TRUE(Writer::open(tmp.path(), {}).ok());
}

TEST(Journal, AppendAfterCloseFails) {
  TempDir tmp;
  auto w = open_writer(tmp.path());
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->close().ok());
  ASSERT_TRUE(w->close().ok());
  auto r = w->append(1, 1, "late");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("closed"), std::string::npos);
}

TEST(Journal, ReaderFollowsAppendsAndRotation) {
  TempDir tmp;
  Options o;
  o.segment_bytes_max = kSegmentBytesMaxMin;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  auto reader_r = Reader::open(tmp.path());
  ASSERT_TRUE(reader_r.ok());
  Reader& reader = *reader_r.value();
  std::uint64_t seen = 0;
  auto drain = [&] {
    for (;;) {
      auto r = reader.next();
      ASSERT_TRUE(r.ok()) << r.error().message;
      if (!r.value()) return;
      ++seen;
      EXPECT_EQ(r.value()->seq, seen);
      EXPECT_EQ(std::string(r.value()->payload), payload_for(seen));
    }
  };
  drain();
  EXPECT_EQ(seen, 0u);
  for (std::uint64_t round = 0; round < 5; ++round) {
    append_range(*w, round * 30 + 1, round * 30 + 30);
    drain();
    EXPECT_EQ(seen, round * 30 + 30);
    EXPECT_FALSE(reader.tail().has_value());
  }
  EXPECT_GT(segment_files(tmp.path()).size(), 2u);
}

TEST(Journal, ReaderFollowsAConcurrentWriterWithoutFalseAlarms) {
  // A follower reading while another thread appends and rotates must see
  // every record once, in order, and never report the record being written
  // as corruption.
  TempDir tmp;
  Options o;
  o.durability = Durability::kGroupCommit;
  o.group_commit_window_us = 50;
  o.group_commit_records_max = 16;
  o.segment_bytes_max = kSegmentBytesMaxMin;
  auto w = open_writer(tmp.path(), o);
  ASSERT_TRUE(w);
  constexpr std::uint64_t kTotal = 1500;
  std::thread writer([&] {
    for (std::uint64_t seq = 1; seq <= kTotal; ++seq) {
      if (!w->append(ts_for(seq), type_for(seq), payload_for(seq))) return;
    }
  });
  auto reader_r = Reader::open(tmp.path());
  ASSERT_TRUE(reader_r.ok());
  std::uint64_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen < kTotal && std::chrono::steady_clock::now() < deadline) {
    auto r = reader_r.value()->next();
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (!r.value()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    ++seen;
    ASSERT_EQ(r.value()->seq, seen);
    ASSERT_EQ(std::string(r.value()->payload), payload_for(seen));
  }
  writer.join();
  EXPECT_EQ(seen, kTotal);
  EXPECT_GT(segment_files(tmp.path()).size(), 10u);
}

TEST(Journal, ReaderSeesAPartlyWrittenRecordAsTailThenTheRecord) {
  TempDir tmp;
  {
    auto w = open_writer(tmp.path());
    ASSERT_TRUE(w);
    append_range(*w, 1, 3);
  }
  const auto seg = segment_files(tmp.path()).at(0);
  const std::string full = testing::read_file(seg);
  const auto offsets = testing::record_offsets(full);
  const std::size_t cut = offsets[2] + 10;
  testing::write_file(seg, full.substr(0, cut));
  auto reader_r = Reader::open(tmp.path());
  ASSERT_TRUE(reader_r.ok());
  Reader& reader = *reader_r.value();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(reader.next().value().has_value());
  auto end = reader.next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end.value().has_value());
  ASSERT_TRUE(reader.tail().has_value());
  EXPECT_EQ(reader.tail()->offset, offsets[2]);
  EXPECT_EQ(reader.tail()->bytes, 10u);
  // The rest of the record arrives (as a follower would see it).
  testing::write_file(seg, full);
  auto third = reader.next();
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(third.value().has_value());
  EXPECT_EQ(third.value()->seq, 3u);
}

TEST(Journal, ReaderOpenFailsOnMissingDirectory) {
  TempDir tmp;
  EXPECT_FALSE(Reader::open(tmp.path() / "nope").ok());
  const Summary s = verify(tmp.path() / "nope");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem->kind, ProblemKind::kIo);
}

TEST(Journal, GenesisHashIsTheDocumentedValue) {
  // docs/journal.md: SHA-256 of "ta.journal genesis v1" (as `sha256sum` prints it).
  EXPECT_EQ(to_hex(genesis_hash()), "f6d76e952832e82dd9205828b8c0dd9e327ae149bacdc82e71c5309898c34bb9");
}

}  // namespace
}  // namespace ta::journal
