// Crash test: a child process (journal_crash_child) appends deterministic
// records in a loop and reports every durable sequence number over a pipe;
// the parent SIGKILLs it at a random moment, in both durability modes,
// often mid-write or mid-rotation, sometimes during start-up recovery.
// After every kill the journal must hold exactly a prefix of the records
// the generator produces (contiguous seq from 1, a valid chain recomputed
// here independently, every payload as generated), and every sequence
// number the child reported durable must be in it. The journal directory is
// reused across kills, so each child recovers what the previous one left.
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "journal/journal.h"
#include "../unit/journal/journal_test_util.h"

namespace ta::journal {
namespace {

namespace fs = std::filesystem;
namespace t = ta::journal::testing;

constexpr int kRunsPerMode = 110;   // 220 kills in all
constexpr int kRunsPerDirectory = 22;
constexpr char kSegmentBytes[] = "16384";

struct Child {
  pid_t pid = -1;
  int report_fd = -1;
};

Child spawn(const fs::path& dir, const char* mode) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const std::string fd = std::to_string(fds[1]);
    const std::string d = dir.string();
    ::execl(JOURNAL_CRASH_CHILD_BIN, JOURNAL_CRASH_CHILD_BIN, d.c_str(), mode, kSegmentBytes, fd.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads reports until `deadline` (or until `bytes_min` bytes are buffered);
// returns false on end of stream.
bool read_reports(int fd, std::string& buf, std::chrono::steady_clock::time_point deadline,
                  std::size_t bytes_min = SIZE_MAX) {
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline || buf.size() >= bytes_min) return true;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(ms) + 1);
    if (n <= 0) continue;
    char tmp[4096];
    const ssize_t got = ::read(fd, tmp, sizeof(tmp));
    if (got <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(got));
  }
}

std::vector<std::uint64_t> decode_reports(const std::string& buf) {
  std::vector<std::uint64_t> out;
  for (std::size_t at = 0; at + 8 <= buf.size(); at += 8) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(buf[at + static_cast<std::size_t>(i)]);
    out.push_back(v);
  }
  return out;
}

// SHA-256(prev || payload_bytes u32 || seq u64 || ts i64 || type u16 ||
// flags u16 || payload_crc u32 || payload), per docs/journal.md.
Hash expected_hash(const Hash& prev, std::uint64_t seq, std::int64_t ts, std::uint16_t type,
                   const std::string& payload) {
  std::string m(reinterpret_cast<const char*>(prev.data()), prev.size());
  auto put = [&](std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) m.push_back(static_cast<char>(v >> (8 * i)));
  };
  put(payload.size(), 4);
  put(seq, 8);
  put(static_cast<std::uint64_t>(ts), 8);
  put(type, 2);
  put(0, 2);
  put(crc32c(payload.data(), payload.size()), 4);
  m += payload;
  Hash h{};
  unsigned int len = 0;
  EVP_Digest(m.data(), m.size(), h.data(), &len, EVP_sha256(), nullptr);
  return h;
}

// Checks the journal is exactly generator records 1..N; returns N.
std::uint64_t check_prefix(const fs::path& dir) {
  auto reader = Reader::open(dir);
  EXPECT_TRUE(reader.ok());
  if (!reader) return 0;
  Hash prev = genesis_hash();
  std::uint64_t seq = 0;
  for (;;) {
    auto r = reader.value()->next();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r || !r.value()) break;
    const Record& rec = *r.value();
    ++seq;
    const std::string payload = t::payload_for(seq);
    EXPECT_EQ(rec.seq, seq);
    EXPECT_EQ(rec.ts_ns, t::ts_for(seq));
    EXPECT_EQ(rec.type, t::type_for(seq));
    EXPECT_EQ(std::string(rec.payload), payload) << "seq " << seq;
    const Hash h = expected_hash(prev, seq, t::ts_for(seq), t::type_for(seq), payload);
    EXPECT_EQ(rec.hash, h) << "chain differs at seq " << seq;
    if (::testing::Test::HasFailure()) return seq;
    prev = h;
  }
  return seq;
}

struct Totals {
  int runs = 0;
  int killed_before_ready = 0;
  int torn_tails = 0;
  std::uint64_t durable_reported = 0;
};

void crash_runs(const char* mode, std::mt19937& rng, Totals& totals) {
  t::TempDir tmp;
  fs::path dir;
  std::uint64_t last = 0;
  for (int run = 0; run < kRunsPerMode; ++run) {
    if (run % kRunsPerDirectory == 0) {
      dir = tmp.path() / ("j" + std::to_string(run));
      last = 0;
    }
    SCOPED_TRACE(std::string(mode) + " run " + std::to_string(run));
    const Child child = spawn(dir, mode);
    ASSERT_GT(child.pid, 0);
    std::string buf;
    // One run in five is killed at a random moment from exec on, so some
    // land inside start-up recovery; the rest after the child is appending.
    const bool early = rng() % 5 == 0;
    const auto delay = std::chrono::microseconds(rng() % (early ? 60'000 : 25'000));
    if (!early) {
      // Wait for the "ready" report (start-up under ASan takes a while).
      read_reports(child.report_fd, buf, std::chrono::steady_clock::now() + std::chrono::seconds(30), 8);
    }
    bool alive = read_reports(child.report_fd, buf, std::chrono::steady_clock::now() + delay);
    ::kill(child.pid, SIGKILL);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    while (alive) alive = read_reports(child.report_fd, buf, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    ::close(child.report_fd);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child exited on its own with status " << status;

    const auto reports = decode_reports(buf);
    if (reports.empty()) ++totals.killed_before_ready;
    std::uint64_t durable_max = 0;
    for (std::size_t i = 1; i < reports.size(); ++i) {
      EXPECT_GT(reports[i], last) << "reported a seq the previous run already had";
      EXPECT_GT(reports[i], reports[i - 1]) << "reports not increasing";
      durable_max = std::max(durable_max, reports[i]);
    }
    totals.durable_reported += reports.size() > 1 ? reports.size() - 1 : 0;

    const Summary s = verify(dir);
    ASSERT_TRUE(s.ok() || !fs::exists(dir)) << s.problem->message();
    if (s.torn_tail) ++totals.torn_tails;
    // Half the time the parent recovers; otherwise the next child's open does.
    if (run % 2 == 0 && fs::exists(dir)) {
      auto rec = recover(dir);
      ASSERT_TRUE(rec.ok()) << rec.error().message;
      EXPECT_EQ(rec.value().cut, s.torn_tail.has_value());
      const Summary after = verify(dir);
      EXPECT_TRUE(after.ok() && !after.torn_tail.has_value());
    }
    const std::uint64_t n = fs::exists(dir) ? check_prefix(dir) : 0;
    ASSERT_FALSE(::testing::Test::HasFailure());
    EXPECT_GE(n, durable_max) << "a record reported durable is missing";
    EXPECT_GE(n, last) << "records from an earlier run disappeared";
    last = n;
    ++totals.runs;
  }
}

TEST(JournalCrash, KillAtRandomPointsLeavesAValidPrefix) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::fflush(stdout);
  std::mt19937 rng(seed);
  Totals totals;
  crash_runs("per-record", rng, totals);
  crash_runs("group", rng, totals);
  std::printf("runs=%d killed_before_ready=%d torn_tails=%d durable_reports=%llu\n", totals.runs,
              totals.killed_before_ready, totals.torn_tails, static_cast<unsigned long long>(totals.durable_reported));
  EXPECT_EQ(totals.runs, 2 * kRunsPerMode);
}

}  // namespace
}  // namespace ta::journal
