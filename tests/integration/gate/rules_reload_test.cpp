// Rule reloads in the real trading-gate: over admin.sock
// (RulesReloadRequest) and on SIGHUP a new file in rules/active comes into
// force; a file that does not compile leaves the old rules in force and
// the reply names it at file:line:column; every attempt is journaled as
// RulesLoaded (with each file's SHA-256, or the errors), durably before
// the first decision that uses the new set; the journal still replays
// after a restart; hit counters count fires per rule version; tradectl's
// rules verbs (list, show, reload, check, test) print and exit as
// documented.
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

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

  ipc::AdminEnvelope admin(const ipc::AdminEnvelope& request) { return test::admin(gate_->admin_socket(), request); }
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

TEST_F(RulesReloadTest, HitCountersCountFiresAndSurviveReloadsAndRestartsForTheSameVersion) {
  write_active("test_deny_large.rule", kDenyLarge);
  ASSERT_TRUE(reload().ok());
  const auto hits = [&] {
    const ipc::RulesListReply l = list();
    for (const auto& r : l.rules()) {
      if (r.id() == "test_deny_large") return static_cast<int>(r.hits());
    }
    return -1;
  };
  EXPECT_EQ(hits(), 0);
  EXPECT_FALSE(decide("h-1").accepted());
  EXPECT_FALSE(decide("h-2").accepted());
  EXPECT_EQ(hits(), 2);
  // A retry is answered from memory and counts nothing.
  EXPECT_FALSE(decide("h-2").accepted());
  EXPECT_EQ(hits(), 2);

  // The same file again: same id and version, the count stays.
  ASSERT_TRUE(reload().ok());
  EXPECT_EQ(hits(), 2);
  // A restart replays the decisions and the reloads to the same counts.
  gate_->signal(SIGTERM);
  ASSERT_EQ(gate_->wait_exit(), 0) << gate_->log();
  ASSERT_TRUE(gate_->start()) << gate_->log();
  EXPECT_EQ(hits(), 2);
  ASSERT_TRUE(agent_.connect(gate_->gate_socket()));
  EXPECT_FALSE(decide("h-3").accepted());
  EXPECT_EQ(hits(), 3);

  // Version 2 of the rule counts from zero.
  std::string v2 = kDenyLarge;
  v2.replace(v2.find(" v1 "), 4, " v2 ");
  write_active("test_deny_large.rule", v2);
  ASSERT_TRUE(reload().ok());
  EXPECT_EQ(hits(), 0);
  EXPECT_FALSE(decide("h-4").accepted());
  EXPECT_EQ(hits(), 1);
}

// A gate configured with frames larger than tradectl reads (64 KiB) still
// pages "rules list" in frames tradectl can read: 240 rules with 200-character
// descriptions make about 90 KB of rule infos.
TEST(RulesListPaging, PagesFitTheAdminClientWhenTheGateAllowsLargerFrames) {
  TempDir dir;
  GateTestConfig config;
  config.gate_socket_extra = "  frame_size_max_bytes: 1048576\n";  // sockets.frame_size_max_bytes
  write_gate_config(dir.path(), config);
  std::filesystem::create_directories(dir.file("rules-active"));
  const std::string description(200, 'd');
  constexpr int kFiles = 4;
  constexpr int kRulesPerFile = 60;
  for (int f = 0; f < kFiles; ++f) {
    std::ofstream out(dir.file("rules-active/many_" + std::to_string(f) + ".rule"));
    for (int r = 0; r < kRulesPerFile; ++r) {
      out << "rule many_" << f << "_" << r << "_" << std::string(40, 'x') << " v1 \"" << description << "\" {\n"
          << "  from proposal \"p-many\"\n  when order.quantity > 1000\n  then warn \"never\"\n}\n";
    }
  }
  GateProcess gate(dir.path());
  ASSERT_TRUE(gate.start()) << gate.log();
  CommandResult r = tradectl(gate.admin_socket(), {"rules", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), 64u * 1024u) << "the listing must need more than one client frame";
  const boost::json::value v = boost::json::parse(r.out);
  std::size_t many = 0;
  for (const auto& rule : v.at("rules").as_array()) {
    many += std::string(rule.at("id").as_string()).rfind("many_", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(many, static_cast<std::size_t>(kFiles * kRulesPerFile));
}

// ------------------------------------------------------------------ tradectl

class TradectlRulesTest : public RulesReloadTest {
 protected:
  CommandResult ctl(std::vector<std::string> args) { return tradectl(gate_->admin_socket(), std::move(args)); }
  // The offline verbs read gate.yaml.
  CommandResult offline(std::vector<std::string> args) {
    args.push_back("--config");
    args.push_back(dir_.file("gate.yaml"));
    return ctl(std::move(args));
  }
  std::string draft(const std::string& name, const std::string& text) {
    std::ofstream(dir_.file(name)) << text;
    return dir_.file(name);
  }
};

TEST_F(TradectlRulesTest, ListShowAndReload) {
  write_active("test_deny_large.rule", kDenyLarge);
  const CommandResult reloaded = ctl({"rules", "reload"});
  EXPECT_EQ(reloaded.exit_code, 0) << reloaded.err;
  EXPECT_NE(reloaded.out.find("rules reloaded: "), std::string::npos) << reloaded.out;
  EXPECT_FALSE(decide("l-1").accepted());

  const CommandResult listed = ctl({"rules", "list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("ID ", 0), 0u) << listed.out;
  EXPECT_NE(listed.out.find("spread_stress_no_entries"), std::string::npos) << listed.out;
  std::string line;
  std::stringstream lines(listed.out);
  while (std::getline(lines, line) && line.rfind("test_deny_large ", 0) != 0) {
  }
  EXPECT_NE(line.find("proposal p-test-1"), std::string::npos) << listed.out;
  EXPECT_NE(line.find(" deny "), std::string::npos) << line;
  EXPECT_NE(line.find(" 1 "), std::string::npos) << line;  // one hit
  EXPECT_NE(line.find("test_deny_large.rule:2"), std::string::npos) << line;
  EXPECT_NE(listed.out.find("(admin uid="), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("hits by action: deny 1"), std::string::npos) << listed.out;

  const CommandResult json = ctl({"rules", "list", "--json"});
  EXPECT_EQ(json.exit_code, 0);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json.out, ec);
  ASSERT_FALSE(ec) << json.out;
  const auto& rules = v.at("rules").as_array();
  EXPECT_EQ(static_cast<std::int64_t>(rules.size()), v.at("total").as_int64());
  EXPECT_EQ(rules.back().at("id").as_string(), "test_deny_large");
  EXPECT_EQ(rules.back().at("hits").as_string(), "1");  // uint64 in proto JSON is a string
  EXPECT_EQ(rules.back().at("source").as_string(), "");  // list leaves the source out

  const CommandResult shown = ctl({"rules", "show", "test_deny_large"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("rule         test_deny_large v1"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("Deny orders above 0.005"), std::string::npos);
  EXPECT_NE(shown.out.find("proposal p-test-1"), std::string::npos);
  EXPECT_NE(shown.out.find("hits         1"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("then deny \"test: quantity above 0.005\""), std::string::npos) << shown.out;
  const CommandResult shown_json = ctl({"rules", "show", "test_deny_large", "--json"});
  const boost::json::value sj = boost::json::parse(shown_json.out, ec);
  ASSERT_FALSE(ec) << shown_json.out;
  EXPECT_NE(std::string(sj.at("source").as_string()).find("rule test_deny_large v1"), std::string::npos);
  const CommandResult missing = ctl({"rules", "show", "no_such_rule"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "tradectl: no rule 'no_such_rule' is loaded in trading-gate (tradectl rules list shows them)\n");

  // A broken file: the errors with source line and caret, exit 1, the old
  // rules still in force.
  write_active("test_broken.rule", kBroken);
  const CommandResult broken = ctl({"rules", "reload"});
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find(active_dir() + "/test_broken.rule:4:8: error: unknown fact 'market.sprad'"),
            std::string::npos) << broken.out;
  EXPECT_NE(broken.out.find("\n    when market.sprad > 25bps\n         ^\n"), std::string::npos) << broken.out;
  EXPECT_EQ(broken.err.rfind("tradectl: trading-gate refused rules reload: 1 error; the ", 0), 0u) << broken.err;
  EXPECT_EQ(std::count(broken.err.begin(), broken.err.end(), '\n'), 1);
  const CommandResult broken_json = ctl({"rules", "reload", "--json"});
  EXPECT_EQ(broken_json.exit_code, 1);
  const boost::json::value bj = boost::json::parse(broken_json.out, ec);
  ASSERT_FALSE(ec) << broken_json.out;
  EXPECT_FALSE(bj.at("ok").as_bool());
  EXPECT_EQ(bj.at("errors").as_array().at(0).at("line").as_int64(), 4);
  EXPECT_FALSE(decide("l-2").accepted());

  // The gate unreachable: one line, exit 1. Usage errors: exit 2.
  const CommandResult gone = tradectl(dir_.file("nothing.sock"), {"rules", "list"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_EQ(gone.err.rfind("tradectl: ", 0), 0u);
  EXPECT_NE(gone.err.find("nothing.sock"), std::string::npos) << gone.err;
  EXPECT_EQ(ctl({"rules"}).exit_code, 2);
  EXPECT_EQ(ctl({"rules", "show"}).exit_code, 2);
  EXPECT_EQ(ctl({"rules", "bogus"}).exit_code, 2);
  const CommandResult help = ctl({"rules", "test", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--since"), std::string::npos);
}

TEST_F(TradectlRulesTest, CheckCompilesAFileWithTheRulesInPlace) {
  const CommandResult good = offline({"rules", "check", draft("draft.rule", kDenyLarge)});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_NE(good.out.find("draft.rule: OK: rule test_deny_large v1 (deny)"), std::string::npos) << good.out;
  const CommandResult good_json = offline({"rules", "check", dir_.file("draft.rule"), "--json"});
  boost::system::error_code ec;
  const boost::json::value gj = boost::json::parse(good_json.out, ec);
  ASSERT_FALSE(ec) << good_json.out;
  EXPECT_TRUE(gj.at("ok").as_bool());
  EXPECT_EQ(gj.at("rules").as_array().at(0).at("id").as_string(), "test_deny_large");

  const CommandResult bad = offline({"rules", "check", draft("bad.rule", kBroken)});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out, dir_.file("bad.rule") +
                         ":4:8: error: unknown fact 'market.sprad' (did you mean 'market.spread'?)\n"
                         "    when market.sprad > 25bps\n"
                         "         ^\n");
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;

  // Together with the loaded rules: an id the core already defines.
  std::string clash = kDenyLarge;
  clash.replace(clash.find("test_deny_large"), 15, "spread_stress_no_entries");
  const CommandResult dup = offline({"rules", "check", draft("clash.rule", clash)});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.out.find("rule id 'spread_stress_no_entries' is already defined at "), std::string::npos)
      << dup.out;

  // A file in rules/active is checked in place, and must say 'from proposal'.
  write_active("inplace.rule", kDenyLarge);
  EXPECT_EQ(offline({"rules", "check", active_dir() + "/inplace.rule"}).exit_code, 0);
  EXPECT_EQ(offline({"rules", "check", dir_.file("missing.rule")}).exit_code, 1);
  const CommandResult no_config = ctl({"rules", "check", dir_.file("draft.rule"), "--config", dir_.file("none.yaml")});
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_NE(no_config.err.find("none.yaml"), std::string::npos) << no_config.err;
}

TEST_F(TradectlRulesTest, TestReplaysTheJournaledIntentsThroughTheRulesPlusTheFile) {
  for (const char* id : {"t-1", "t-2", "t-3"}) EXPECT_TRUE(decide(id).accepted());
  const std::string file = draft("deny_large.rule", kDenyLarge);

  const CommandResult text = offline({"rules", "test", file, "--since", "1h"});
  EXPECT_EQ(text.exit_code, 0) << text.out << text.err;
  EXPECT_NE(text.out.find("3 intents journaled since "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("rule test_deny_large fired 3 times"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("3 decisions would change:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("allow 0.01"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("deny: rule 'test_deny_large' v1 denied: test: quantity above 0.005"), std::string::npos)
      << text.out;
  for (const char* id : {"t-1", "t-2", "t-3"}) EXPECT_NE(text.out.find(std::string("\n") + id + " "), std::string::npos);

  const CommandResult json = offline({"rules", "test", file, "--since", "1h", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json.out, ec);
  ASSERT_FALSE(ec) << json.out;
  EXPECT_EQ(v.at("changes_total").as_int64(), 3);
  EXPECT_EQ(v.at("changes").as_array().at(0).at("intent_id").as_string(), "t-1");
  EXPECT_EQ(v.at("changes").as_array().at(0).at("after").at("verdict").as_string(), "deny");
  EXPECT_FALSE(v.at("rules_differ_from_gate").as_bool());

  // A period with no intents.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const CommandResult empty = offline({"rules", "test", file, "--since", "1s"});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_NE(empty.out.find("0 intents journaled"), std::string::npos) << empty.out;
  EXPECT_NE(empty.out.find("nothing to compare"), std::string::npos) << empty.out;

  // While the gate keeps deciding: the journal is read up to its end.
  std::thread traffic([&] {
    for (int i = 0; i < 40; ++i) decide("c-" + std::to_string(i));
  });
  for (int i = 0; i < 3; ++i) {
    const CommandResult during = offline({"rules", "test", file, "--since", "1h", "--json"});
    EXPECT_EQ(during.exit_code, 0) << during.err;
    EXPECT_GE(boost::json::parse(during.out, ec).at("changes_total").as_int64(), 3);
  }
  traffic.join();

  // Bad input.
  EXPECT_EQ(offline({"rules", "test", file}).exit_code, 2);  // no --since
  const CommandResult weeks = offline({"rules", "test", file, "--since", "2w"});
  EXPECT_EQ(weeks.exit_code, 2);
  EXPECT_NE(weeks.err.find("--since 2w"), std::string::npos) << weeks.err;
  const CommandResult bad = offline({"rules", "test", draft("bad.rule", kBroken), "--since", "1h"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("bad.rule:4:8: error:"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace ta::test
