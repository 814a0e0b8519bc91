// Runs the built trading-journal binary on journals written here with the
// library, and checks its output and exit codes: verify, dump --jsonl
// (decoded payloads must round-trip to the messages written), stats,
// tail and tail -f, damage, and usage errors.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "journal/journal.h"
#include "journal_records.pb.h"
#include "../unit/journal/journal_test_util.h"

namespace ta::journal {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::TempDir;

struct Exec {
  int rc = -1;
  std::string out;
  std::string err;
};

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> v;
  for (auto& a : args) v.push_back(a.data());
  v.push_back(nullptr);
  return v;
}

// Runs trading-journal with `args` to completion.
Exec exec_cli(std::vector<std::string> args, const fs::path& scratch) {
  args.insert(args.begin(), TRADING_JOURNAL_BIN);
  const fs::path out_path = scratch / "stdout";
  const fs::path err_path = scratch / "stderr";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    auto argv = argv_of(args);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Exec r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  unsigned acc = 0;
  for (const char c : in) {
    const int v = value(c);
    if (v < 0) break;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// The records this test writes: a mix of gate bodies, agent records and an
// unknown type, so every branch of dump and stats is exercised.
struct Written {
  std::uint16_t type;
  std::string payload;
  std::int64_t ts_ns;
};

std::vector<Written> make_records() {
  std::vector<Written> out;
  std::int64_t ts = 1'712'000'000'000'000'000;
  for (int i = 0; i < 12; ++i) {
    ta::ipc::GateRecord g;
    g.set_ts_ns(ts);
    switch (i % 4) {
      case 0: {
        auto* d = g.mutable_intent_decided();
        d->mutable_intent()->set_intent_id("mr-" + std::to_string(i));
        d->mutable_intent()->set_product("BTC-USD");
        d->mutable_intent()->set_quantity("0.0012");
        d->mutable_decision()->set_accepted(i % 8 == 0);
        d->mutable_decision()->set_reason(ta::ipc::DENY_REASON_PRICE_BAND);
        break;
      }
      case 1: {
        auto* f = g.mutable_fill();
        f->set_fill_id("f-" + std::to_string(i));
        f->set_price("60000.01");
        f->set_quantity("0.0012");
        break;
      }
      case 2: {
        auto* m = g.mutable_mark();
        m->set_product("ETH-USD");
        m->set_price("3000.5");
        break;
      }
      case 3:
        g.mutable_halt_state_changed();
        break;
    }
    out.push_back({1, g.SerializeAsString(), ts});
    ts += 1'000'000;
  }
  for (int i = 0; i < 3; ++i) {
    ta::ipc::AgentRecord a;
    a.set_ts_ns(ts);
    a.mutable_intent_sent()->mutable_intent()->set_intent_id("agent-" + std::to_string(i));
    out.push_back({2, a.SerializeAsString(), ts});
    ts += 1'000'000;
  }
  out.push_back({77, std::string("\x00\x01\xfe\xffopaque", 10), ts});
  out.push_back({1, std::string("\xff\xff\xff", 3), ts + 1});  // not a GateRecord
  return out;
}

class JournalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() / "journal";
    records_ = make_records();
    Options o;
    o.segment_bytes_max = kSegmentBytesMaxMin;
    auto w = Writer::open(dir_, o);
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (const auto& r : records_) ASSERT_TRUE(w.value()->append(r.ts_ns, r.type, r.payload).ok());
    ASSERT_TRUE(w.value()->close().ok());
  }

  TempDir tmp_;
  fs::path dir_;
  std::vector<Written> records_;
};

TEST_F(JournalCli, VerifySucceeds) {
  const Exec r = exec_cli({"verify", dir_.string()}, tmp_.path());
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("ok: " + std::to_string(records_.size()) + " records"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(JournalCli, DumpDecodesEveryRecord) {
  const Exec r = exec_cli({"dump", dir_.string(), "--jsonl"}, tmp_.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), records_.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    const auto obj = boost::json::parse(lines[i]).as_object();
    const Written& w = records_[i];
    EXPECT_EQ(obj.at("seq").to_number<std::uint64_t>(), i + 1);
    EXPECT_EQ(obj.at("ts_ns").to_number<std::int64_t>(), w.ts_ns);
    EXPECT_EQ(obj.at("type").to_number<std::uint64_t>(), w.type);
    EXPECT_EQ(obj.at("hash").as_string().size(), 64u);
    if (w.type == 1 && obj.contains("payload")) {
      EXPECT_EQ(obj.at("type_name").as_string(), "GateRecord");
      ta::ipc::GateRecord back;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(boost::json::serialize(obj.at("payload")), &back).ok());
      ta::ipc::GateRecord original;
      ASSERT_TRUE(original.ParseFromString(w.payload));
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, original));
    } else if (w.type == 2) {
      EXPECT_EQ(obj.at("type_name").as_string(), "AgentRecord");
      ta::ipc::AgentRecord back;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(boost::json::serialize(obj.at("payload")), &back).ok());
      ta::ipc::AgentRecord original;
      ASSERT_TRUE(original.ParseFromString(w.payload));
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, original));
    } else {
      // Unknown type, or a payload that does not parse: base64 of the bytes.
      EXPECT_EQ(base64_decode(std::string(obj.at("payload_base64").as_string())), w.payload);
      EXPECT_EQ(obj.contains("payload_error"), w.type == 1);
    }
  }
  // The hashes are the journal's own.
  auto reader = Reader::open(dir_);
  ASSERT_TRUE(reader.ok());
  for (const auto& line : lines) {
    auto rec = reader.value()->next();
    ASSERT_TRUE(rec.ok() && rec.value());
    EXPECT_EQ(boost::json::parse(line).at("hash").as_string(), to_hex(rec.value()->hash));
  }
}

TEST_F(JournalCli, StatsCountsTypesAndBodies) {
  const Exec r = exec_cli({"stats", dir_.string()}, tmp_.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("records: 17\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first_seq: 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("last_seq: 17\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first_ts_ns: " + std::to_string(records_.front().ts_ns) + "\n"), std::string::npos);
  EXPECT_NE(r.out.find("type 1 (GateRecord): 13\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("type 2 (AgentRecord): 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("type 77 (unknown): 1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate body intent_decided: 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate body fill: 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate body mark: 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("gate body halt_state_changed: 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("agent body intent_sent: 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("undecodable payloads: 1\n"), std::string::npos) << r.out;

  const Exec j = exec_cli({"stats", dir_.string(), "--json"}, tmp_.path());
  ASSERT_EQ(j.rc, 0) << j.err;
  const auto obj = boost::json::parse(j.out).as_object();
  EXPECT_EQ(obj.at("records").to_number<int>(), 17);
  EXPECT_GE(obj.at("segments").to_number<int>(), 1);
  std::uint64_t bytes = 0;
  for (const auto& f : testing::segment_files(dir_)) bytes += fs::file_size(f);
  EXPECT_EQ(obj.at("bytes").to_number<std::uint64_t>(), bytes);
  EXPECT_EQ(obj.at("types").at("1").to_number<int>(), 13);
  EXPECT_EQ(obj.at("gate_bodies").at("fill").to_number<int>(), 3);
}

TEST_F(JournalCli, TailPrintsTheLastRecords) {
  const Exec r = exec_cli({"tail", dir_.string(), "-n", "3"}, tmp_.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(boost::json::parse(lines[0]).at("seq").to_number<int>(), 15);
  EXPECT_EQ(boost::json::parse(lines[2]).at("seq").to_number<int>(), 17);
}

TEST_F(JournalCli, TailFollowsNewRecordsUntilTerminated) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  std::vector<std::string> args{TRADING_JOURNAL_BIN, "tail", "-f", "-n", "1", "--poll-ms", "20", dir_.string()};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::close(pipe_fds[0]);
    auto argv = argv_of(args);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string got;
  // Reads until `want` complete lines arrived or 20 s passed.
  auto read_lines = [&](std::size_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    // Only newline-terminated lines count: a read may end inside a line.
    auto complete = [&] { return static_cast<std::size_t>(std::count(got.begin(), got.end(), '\n')); };
    while (complete() < want && std::chrono::steady_clock::now() < deadline) {
      pollfd p{pipe_fds[0], POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char buf[4096];
        const ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
    }
  };
  read_lines(1);
  ASSERT_EQ(lines_of(got).size(), 1u) << got;
  EXPECT_EQ(boost::json::parse(lines_of(got)[0]).at("seq").to_number<int>(), 17);
  {
    Options o;
    o.segment_bytes_max = kSegmentBytesMaxMin;
    auto w = Writer::open(dir_, o);
    ASSERT_TRUE(w.ok()) << w.error().message;
    // Enough to rotate at least once while the follower watches.
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(w.value()->append(i, 77, std::string(200, 'n')).ok());
  }
  read_lines(41);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(pipe_fds[0]);
  const auto lines = lines_of(got);
  ASSERT_EQ(lines.size(), 41u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(boost::json::parse(lines[i]).at("seq").to_number<std::size_t>(), 17 + i);
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(JournalCli, DamageFailsWithOneLineNamingSegmentAndOffset) {
  const auto files = testing::segment_files(dir_);
  const auto offsets = testing::record_offsets(read_file(files[0]));
  ASSERT_GE(offsets.size(), 2u);
  testing::flip_bit(files[0], offsets[1] + 10, 1);
  const std::string where = files[0].filename().string() + " offset " + std::to_string(offsets[1]);
  for (const std::string verb : {"verify", "dump", "stats"}) {
    SCOPED_TRACE(verb);
    std::vector<std::string> args{verb, dir_.string()};
    if (verb == "dump") args.push_back("--jsonl");
    const Exec r = exec_cli(args, tmp_.path());
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(where), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("record header checksum mismatch"), std::string::npos) << r.err;
    if (verb == "dump") {
      EXPECT_EQ(lines_of(r.out).size(), 1u);  // the good record before it
    }
  }
}

TEST_F(JournalCli, TornTailIsReportedNotFatal) {
  const auto last = testing::segment_files(dir_).back();
  fs::resize_file(last, fs::file_size(last) - 1);
  const Exec r = exec_cli({"verify", dir_.string()}, tmp_.path());
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("torn tail: " + last.filename().string()), std::string::npos) << r.out;
  const Exec d = exec_cli({"dump", dir_.string(), "--jsonl"}, tmp_.path());
  EXPECT_EQ(d.rc, 0);
  EXPECT_EQ(lines_of(d.out).size(), records_.size() - 1);
  EXPECT_NE(d.err.find("torn tail"), std::string::npos);
}

TEST_F(JournalCli, MissingDirectoryFails) {
  for (const std::string verb : {"verify", "stats", "tail"}) {
    const Exec r = exec_cli({verb, (tmp_.path() / "absent").string()}, tmp_.path());
    EXPECT_EQ(r.rc, 1) << verb;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  }
}

TEST_F(JournalCli, UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(exec_cli({}, tmp_.path()).rc, 2);
  EXPECT_EQ(exec_cli({"frobnicate", dir_.string()}, tmp_.path()).rc, 2);
  EXPECT_EQ(exec_cli({"verify"}, tmp_.path()).rc, 2);
  EXPECT_EQ(exec_cli({"dump", dir_.string()}, tmp_.path()).rc, 2);  // --jsonl is required
  EXPECT_EQ(exec_cli({"tail", dir_.string(), "--poll-ms", "5"}, tmp_.path()).rc, 2);
  EXPECT_EQ(exec_cli({"tail", dir_.string(), "--poll-ms", "10001"}, tmp_.path()).rc, 2);
  EXPECT_EQ(exec_cli({"tail", dir_.string(), "--poll-ms", "10"}, tmp_.path()).rc, 0);
  EXPECT_EQ(exec_cli({"tail", dir_.string(), "-n", "100001"}, tmp_.path()).rc, 2);
  EXPECT_EQ(exec_cli({"tail", dir_.string(), "-n", "100000"}, tmp_.path()).rc, 0);
  const Exec help = exec_cli({"--help"}, tmp_.path());
  EXPECT_EQ(help.rc, 0);
  EXPECT_NE(help.out.find("verify"), std::string::npos);
  for (const std::string verb : {"verify", "dump", "stats", "tail"}) {
    const Exec r = exec_cli({verb, "--help"}, tmp_.path());
    EXPECT_EQ(r.rc, 0) << verb;
    EXPECT_NE(r.out.find("DIR"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace ta::journal
