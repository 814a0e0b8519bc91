// Rule reloads in the real trading-gate: over admin.sock
// (RulesReloadRequest) and on SIGHUP a new file in rules/active comes into
// force; a file that does not compile leaves the old rules in force and
// the reply names it at file:line:column; every attempt is journaled as
// RulesLoaded (with each file's SHA-256, or the errors), durably before
// the first decision that uses the new set; the journal still replays
// after a restart.
#include <openssl/evp.h>

#include <gtest/gtest.h>

#include "gate_daemon_support.h"

namespace ta::test {
namespace {

using ipc::Decision;
using ipc::Envelope;

std::string sha256_hex(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

// Denies every order above 0.005 BTC: the intents below are 0.01.
constexpr const char* kDenyLarge =
    "# test rule\n"
    "rule test_deny_large v1 \"Deny orders above 0.005\" {\n"
    "  from proposal \"p-test-1\"\n"
    "  when order.quantity > 0.005\n"
    "  then deny \"test: quantity above 0.005\"\n"
    "}\n";

// Line 4, column 8: an unknown fact.
constexpr const char* kBroken =
    "rule test_broken v1 \"Broken\" {\n"
    "  from proposal \"p-test-2\"\n"
    "\n"
    "  when market.sprad > 25bps\n"
    "  then deny \"x\"\n"
    "}\n";

class RulesReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_gate_config(dir_.path());
    std::filesystem::create_directories(active_dir());
    gate_ = std::make_unique<GateProcess>(dir_.path());
    ASSERT_TRUE(gate_->start()) << gate_->log();
    ASSERT_TRUE(agent_.connect(gate_->gate_socket()));
    bar(bars_[0]);
  }

  std::string active_dir() const { return dir_.file("rules-active"); }
  void write_active(const std::string& name, const std::string& text) {
    std::ofstream(active_dir() + "/" + name) << text;
  }

  ipc::AdminEnvelope admin(ipc::AdminEnvelope request) {
    gate::AdminClientOptions o;
    o.socket_path = gate_->admin_socket();
    auto r = gate::admin_request(o, std::move(request));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : ipc::AdminEnvelope();
  }
  ipc::RulesReloadReply reload() {
    ipc::AdminEnvelope req;
    req.mutable_rules_reload_request();
    ipc::AdminEnvelope reply = admin(req);
    EXPECT_TRUE(reply.has_rules_reload_reply()) << reply.DebugString();
    return reply.rules_reload_reply();
  }
  ipc::RulesListReply list() {
    ipc::AdminEnvelope req;
    req.mutable_rules_list_request();
    ipc::AdminEnvelope reply = admin(req);
    EXPECT_TRUE(reply.has_rules_list_reply()) << reply.DebugString();
    return reply.rules_list_reply();
  }
  void bar(const ipc::Bar& b) {
    const std::uint64_t id = agent_.send_bar(b);
    Envelope reply;
    ASSERT_TRUE(agent_.reply_to(id, reply)) << gate_->log();
  }
  Decision decide(const std::string& id) {
    agent_.send_intent(limit_intent(id, ipc::SIDE_BUY, "0.01", "7400", "7300"));
    Decision d;
    EXPECT_TRUE(agent_.decision_for(id, d)) << gate_->log();
    return d;
  }
  std::vector<ipc::RulesLoaded> rules_loaded_records() {
    std::vector<ipc::RulesLoaded> out;
    for (const auto& r : read_gate_records(gate_->journal_dir())) {
      if (r.has_rules_loaded()) out.push_back(r.rules_loaded());
    }
    return out;
  }
  // Polls rules list until loaded_sequence moves past `after`.
  bool wait_loaded_after(std::uint64_t after, int timeout_ms = 10'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (list().loaded_sequence() > after) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::size_t core_rule_count() {
    std::size_t n = 0;
    const ipc::RulesListReply all = list();
    for (const auto& r : all.rules()) n += r.provenance() == "core" ? 1 : 0;
    return n;
  }

  TempDir dir_;
  std::unique_ptr<GateProcess> gate_;
  AgentPeer agent_;
  std::vector<ipc::Bar> bars_ = sample_bars(10);
};

TEST_F(RulesReloadTest, AdminReloadPutsANewActiveRuleInForceAfterItsRecord) {
  EXPECT_TRUE(decide("before").accepted());
  const ipc::RulesListReply at_start = list();
  EXPECT_EQ(at_start.loaded_cause(), "start");
  const std::size_t core = core_rule_count();
  ASSERT_GT(core, 0u);

  write_active("test_deny_large.rule", kDenyLarge);
  const ipc::RulesReloadReply r = reload();
  EXPECT_TRUE(r.ok()) << r.DebugString();
  EXPECT_EQ(r.errors_size(), 0);
  EXPECT_EQ(r.rule_count(), core + 1);
  EXPECT_GT(r.loaded_sequence(), at_start.loaded_sequence());

  const Decision d = decide("after");
  EXPECT_FALSE(d.accepted());
  EXPECT_EQ(d.reason(), ipc::DENY_REASON_RULE);
  EXPECT_NE(std::find(d.rules_fired().begin(), d.rules_fired().end(), "test_deny_large"), d.rules_fired().end());
  EXPECT_NE(d.detail().find("test: quantity above 0.005"), std::string::npos) << d.detail();

  const ipc::RulesListReply now = list();
  EXPECT_EQ(now.loaded_sequence(), r.loaded_sequence());
  EXPECT_EQ(now.loaded_cause().rfind("admin uid=", 0), 0u) << now.loaded_cause();
  ASSERT_EQ(now.rules_size(), static_cast<int>(core + 1));
  const ipc::RuleInfo& added = now.rules(now.rules_size() - 1);  // active rules follow the core ones
  EXPECT_EQ(added.id(), "test_deny_large");
  EXPECT_EQ(added.version(), 1u);
  EXPECT_EQ(added.provenance(), "proposal p-test-1");
  EXPECT_EQ(added.action(), "deny");
  EXPECT_EQ(added.line(), 2u);
  EXPECT_EQ(added.file_sha256(), sha256_hex(active_dir() + "/test_deny_large.rule"));

  // The journal: the reload's RulesLoaded carries every file's SHA-256 and
  // every rule, and comes before the decision that used it.
  const auto records = read_gate_records(gate_->journal_dir());
  int loaded_at = -1;
  int decided_at = -1;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].has_rules_loaded() && records[i].rules_loaded().rule_count() == core + 1) {
      loaded_at = static_cast<int>(i);
    }
    if (records[i].has_intent_decided() && records[i].intent_decided().intent().intent_id() == "after") {
      decided_at = static_cast<int>(i);
    }
  }
  ASSERT_GE(loaded_at, 0);
  EXPECT_LT(loaded_at, decided_at);
  const ipc::RulesLoaded& rec = records[loaded_at].rules_loaded();
  EXPECT_FALSE(rec.failed());
  EXPECT_EQ(rec.cause(), now.loaded_cause());
  EXPECT_EQ(rec.rules_size(), static_cast<int>(core + 1));
  EXPECT_EQ(rec.rules(rec.rules_size() - 1).id(), "test_deny_large");
  EXPECT_EQ(rec.rules(rec.rules_size() - 1).version(), 1u);
  ASSERT_GE(rec.files_size(), 2);
  for (const auto& f : rec.files()) EXPECT_EQ(f.sha256(), sha256_hex(f.path())) << f.path();
  EXPECT_EQ(rec.files(rec.files_size() - 1).path(), active_dir() + "/test_deny_large.rule");
}

TEST_F(RulesReloadTest, ABrokenFileLeavesTheOldRulesInForceAndTheReplyNamesIt) {
  const ipc::RulesListReply before = list();
  write_active("test_deny_large.rule", kDenyLarge);
  write_active("test_broken.rule", kBroken);
  const ipc::RulesReloadReply r = reload();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.rule_count(), static_cast<std::uint32_t>(before.rules_size()));  // still in force
  EXPECT_EQ(r.loaded_sequence(), before.loaded_sequence());
  ASSERT_EQ(r.errors_size(), 1) << r.DebugString();
  EXPECT_EQ(r.errors(0).file(), active_dir() + "/test_broken.rule");
  EXPECT_EQ(r.errors(0).line(), 4u);
  EXPECT_EQ(r.errors(0).column(), 8u);
  EXPECT_NE(r.errors(0).message().find("market.sprad"), std::string::npos) << r.errors(0).message();
  EXPECT_EQ(r.errors(0).source_line(), "  when market.sprad > 25bps");

  // Nothing changed: the good new file is not in force either.
  EXPECT_TRUE(decide("still-old").accepted());
  const ipc::RulesListReply after = list();
  EXPECT_EQ(after.loaded_sequence(), before.loaded_sequence());
  EXPECT_EQ(after.rules_size(), before.rules_size());

  // The attempt is journaled, with the error.
  const auto loaded = rules_loaded_records();
  ASSERT_GE(loaded.size(), 2u);
  const ipc::RulesLoaded& failed = loaded.back();
  EXPECT_TRUE(failed.failed());
  EXPECT_EQ(failed.rule_count(), 0u);
  EXPECT_EQ(failed.files_size(), 0);
  ASSERT_EQ(failed.errors_size(), 1);
  EXPECT_EQ(failed.errors(0).line(), 4u);
  EXPECT_EQ(failed.errors(0).column(), 8u);
  EXPECT_NE(gate_->log().find("rules reload failed"), std::string::npos);

  // Fixed, it loads; the journal (with the failed attempt in it) replays.
  std::filesystem::remove(active_dir() + "/test_broken.rule");
  EXPECT_TRUE(reload().ok());
  EXPECT_FALSE(decide("new-rules").accepted());
  gate_->signal(SIGTERM);
  ASSERT_EQ(gate_->wait_exit(), 0) << gate_->log();
  ASSERT_TRUE(gate_->start()) << gate_->log();
  EXPECT_EQ(list().rules_size(), before.rules_size() + 1);
}

TEST_F(RulesReloadTest, SighupReloadsAndABrokenFileOnSighupKeepsTheGateRunning) {
  const std::uint64_t start_seq = list().loaded_sequence();
  write_active("test_deny_large.rule", kDenyLarge);
  gate_->signal(SIGHUP);
  ASSERT_TRUE(wait_loaded_after(start_seq)) << gate_->log();
  const ipc::RulesListReply now = list();
  EXPECT_EQ(now.loaded_cause(), "SIGHUP");
  EXPECT_EQ(now.rules(now.rules_size() - 1).id(), "test_deny_large");
  EXPECT_FALSE(decide("after-hup").accepted());
  const auto loaded = rules_loaded_records();
  EXPECT_EQ(loaded.back().cause(), "SIGHUP");
  EXPECT_FALSE(loaded.back().failed());

  // A broken file on SIGHUP: logged and journaled; the gate keeps running
  // with the rules it had.
  write_active("test_broken.rule", kBroken);
  const std::size_t records_before = rules_loaded_records().size();
  gate_->signal(SIGHUP);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rules_loaded_records().size() == records_before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto after = rules_loaded_records();
  ASSERT_EQ(after.size(), records_before + 1);
  EXPECT_TRUE(after.back().failed());
  EXPECT_EQ(after.back().cause(), "SIGHUP");
  EXPECT_TRUE(gate_->alive());
  EXPECT_EQ(list().loaded_sequence(), now.loaded_sequence());
  EXPECT_FALSE(decide("still-denied").accepted());
  const std::string log = gate_->log();
  EXPECT_NE(log.find("test_broken.rule:4:8"), std::string::npos) << log;
}

}  // namespace
}  // namespace ta::test
