// Proposals end to end: the real trading-gate binary (SIM) in a temporary
// directory, a raw agent on gate.sock submitting, and the real tradectl on
// admin.sock listing, showing, approving and rejecting. Compile errors come
// back with positions in the proposal's text; an approved rule is installed
// in rules/active and decides the next intent; every state change is in the
// journal before anyone hears of it; the book survives restarts (clean and
// SIGKILL); proposals expire in market time; the agent's socket cannot
// approve; approved parameter changes reach the agent, also one that
// connects later, until it acknowledges them.
#include <pwd.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>

#include "gate_daemon_support.h"
#include "proto/ipc_socket.h"

namespace ta::test {
namespace {

using ipc::Envelope;

// What the gate calls the operator on admin.sock: the test's own uid.
std::string operator_name() {
  const std::string uid = "uid:" + std::to_string(::getuid());
  const passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr ? uid + ":" + pw->pw_name : uid;
}

ipc::ProposalSubmit add_rule(const std::string& id, const std::string& text,
                             ipc::ProposalSource source = ipc::PROPOSAL_SOURCE_LOOP3) {
  ipc::ProposalSubmit p;
  p.set_proposal_id(id);
  p.set_kind(ipc::PROPOSAL_KIND_ADD_RULE);
  p.set_payload(text);
  p.set_rationale("losses cluster on large orders");
  ipc::Metric* m = p.add_evidence();
  m->set_name("trades");
  m->set_value("42");
  m = p.add_evidence();
  m->set_name("sharpe_delta");
  m->set_value("0.31");
  p.set_source(source);
  return p;
}

ipc::ProposalSubmit parameter(const std::string& id, const std::string& payload) {
  ipc::ProposalSubmit p = add_rule(id, payload, ipc::PROPOSAL_SOURCE_LOOP2);
  p.set_kind(ipc::PROPOSAL_KIND_STRATEGY_PARAMETER);
  return p;
}

// A rule that denies any order above 0.005 BTC: the test's 0.01 BTC intent
// passes every core rule and hard limit without it.
std::string small_orders_rule(const std::string& proposal_id, int version = 1) {
  return "rule small_orders_only v" + std::to_string(version) +
         " \"Keep orders small while the strategy is new\" {\n"
         "  from proposal \"" + proposal_id + "\"\n"
         "  when order.quantity > 0.005\n"
         "  then deny \"orders above 0.005 are paused\"\n"
         "}\n";
}

class ProposalsTest : public ::testing::Test {
 protected:
  void start(const GateTestConfig& config = {}) {
    write_gate_config(dir_.path(), config);
    gate_ = std::make_unique<GateProcess>(dir_.path());
    ASSERT_TRUE(gate_->start()) << gate_->log();
  }
  void restart() {
    gate_->signal(SIGTERM);
    ASSERT_EQ(gate_->wait_exit(), 0) << gate_->log();
    ASSERT_TRUE(gate_->start()) << gate_->log();
  }
  void connect(AgentPeer& agent) { ASSERT_TRUE(agent.connect(gate_->gate_socket())) << gate_->log(); }
  void bar(AgentPeer& agent, const ipc::Bar& b) {
    const std::uint64_t id = agent.send_bar(b);
    Envelope reply;
    ASSERT_TRUE(agent.reply_to(id, reply)) << gate_->log();
    ASSERT_TRUE(reply.has_position_snapshot()) << reply.DebugString();
  }
  ipc::ProposalResult submit(AgentPeer& agent, const ipc::ProposalSubmit& p) {
    Envelope e;
    *e.mutable_proposal_submit() = p;
    const std::uint64_t id = agent.send(e);
    Envelope reply;
    EXPECT_TRUE(agent.reply_to(id, reply)) << gate_->log();
    EXPECT_TRUE(reply.has_proposal_result()) << reply.DebugString();
    return reply.proposal_result();
  }
  CommandResult ctl(std::vector<std::string> args) { return tradectl(gate_->admin_socket(), std::move(args)); }
  boost::json::value ctl_json(std::vector<std::string> args) {
    args.push_back("--json");
    CommandResult r = ctl(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return v;
  }
  // proposal id -> state name, from `tradectl proposals list --json`.
  std::map<std::string, std::string> states() {
    std::map<std::string, std::string> out;
    const boost::json::value v = ctl_json({"proposals", "list"});
    if (!v.is_object() || !v.as_object().contains("proposals")) return out;
    for (const auto& p : v.at("proposals").as_array()) {
      out[std::string(p.at("proposal_id").as_string())] = std::string(p.at("state").as_string());
    }
    return out;
  }
  std::vector<ipc::ProposalStateChanged> journaled_proposals() {
    std::vector<ipc::ProposalStateChanged> out;
    for (const auto& r : read_gate_records(gate_->journal_dir())) {
      if (r.has_proposal_state_changed()) out.push_back(r.proposal_state_changed());
    }
    return out;
  }
  std::vector<ipc::ParameterChangeAck> journaled_acks() {
    std::vector<ipc::ParameterChangeAck> out;
    for (const auto& r : read_gate_records(gate_->journal_dir())) {
      if (r.has_parameter_change_ack()) out.push_back(r.parameter_change_ack());
    }
    return out;
  }
  std::string active_dir() const { return dir_.path() + "/rules-active"; }

  TempDir dir_;
  std::unique_ptr<GateProcess> gate_;
  std::vector<ipc::Bar> bars_ = sample_bars(80);
};

bool is_proposal_result(const Envelope& m, const std::string& id, ipc::ProposalState state) {
  return m.has_proposal_result() && m.proposal_result().proposal_id() == id && m.proposal_result().state() == state;
}

// ------------------------------------------------------------------ submit

TEST_F(ProposalsTest, SubmissionsAreCheckedAndCompileErrorsPointIntoTheProposalText) {
  start();
  AgentPeer agent;
  connect(agent);
  // No market time yet (SIM): no expiry can be set.
  const ipc::ProposalResult early = submit(agent, parameter("x-0", "mr.entry_z=2"));
  EXPECT_EQ(early.state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_NE(early.detail().find("no market time yet"), std::string::npos) << early.detail();
  bar(agent, bars_[0]);

  // Line 3, column 8 of the proposal's own text.
  const std::string typo = "rule small_orders_only v1 \"d\" {\n  from proposal \"p-1\"\n  when order.quantty > 0.005\n"
                           "  then deny \"x\"\n}\n";
  const ipc::ProposalResult bad = submit(agent, add_rule("p-1", typo));
  EXPECT_EQ(bad.proposal_id(), "p-1");
  EXPECT_EQ(bad.state(), ipc::PROPOSAL_STATE_REJECTED);
  ASSERT_EQ(bad.errors_size(), 1) << bad.DebugString();
  EXPECT_EQ(bad.errors(0).file(), "proposal:p-1");
  EXPECT_EQ(bad.errors(0).line(), 3u);
  EXPECT_EQ(bad.errors(0).column(), 8u);
  EXPECT_NE(bad.errors(0).message().find("unknown fact 'order.quantty'"), std::string::npos)
      << bad.errors(0).message();
  // Refused submissions enter neither the book nor the journal; the id
  // stays free for the corrected text.
  EXPECT_TRUE(states().empty());
  EXPECT_TRUE(journaled_proposals().empty());
  const ipc::ProposalResult good = submit(agent, add_rule("p-1", small_orders_rule("p-1")));
  EXPECT_EQ(good.state(), ipc::PROPOSAL_STATE_PENDING) << good.detail();
  EXPECT_EQ(good.errors_size(), 0);
  // The answer came after the PENDING record was durable.
  const auto journaled = journaled_proposals();
  ASSERT_EQ(journaled.size(), 1u);
  EXPECT_EQ(journaled[0].state(), ipc::PROPOSAL_STATE_PENDING);
  EXPECT_EQ(journaled[0].proposal().proposal_id(), "p-1");
  EXPECT_EQ(journaled[0].ts_ns(), (bars_[0].open_ts_s() + 60) * 1'000'000'000LL);  // market time
  EXPECT_EQ(journaled[0].expires_ts_ns(), journaled[0].ts_ns() + 7 * 24 * 3600 * 1'000'000'000LL);

  // Hard limits are not rules: a proposal cannot name safety.yaml or a core rule.
  const ipc::ProposalResult core = submit(
      agent, add_rule("p-2", "rule spread_stress_no_entries v9 \"mine now\" {\n  from proposal \"p-2\"\n"
                             "  when false\n  then warn \"off\"\n}\n"));
  EXPECT_EQ(core.state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_NE(core.detail().find("is a core rule"), std::string::npos) << core.detail();
  const ipc::ProposalResult retire_core = [&] {
    ipc::ProposalSubmit p = add_rule("p-3", "spread_stress_no_entries");
    p.set_kind(ipc::PROPOSAL_KIND_RETIRE_RULE);
    return submit(agent, p);
  }();
  EXPECT_EQ(retire_core.state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_NE(retire_core.detail().find("core rules cannot be retired"), std::string::npos) << retire_core.detail();

  // Size limits, at and above.
  ipc::ProposalSubmit big = parameter("x-big", "mr.entry_z=2");
  big.set_rationale(std::string(4 * 1024, 'r'));
  EXPECT_EQ(submit(agent, big).state(), ipc::PROPOSAL_STATE_PENDING);
  big.set_proposal_id("x-bigger");
  big.set_rationale(std::string(4 * 1024 + 1, 'r'));
  const ipc::ProposalResult bigger = submit(agent, big);
  EXPECT_EQ(bigger.state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_EQ(bigger.detail(), "rationale of 4097 bytes; the limit is 4096");

  // Pending limit: 32 (kProposalsPendingMax); two are pending already.
  for (int i = 0; i < 30; ++i) {
    const ipc::ProposalResult r = submit(agent, parameter("x-" + std::to_string(i), "s" + std::to_string(i) + ".x=1"));
    ASSERT_EQ(r.state(), ipc::PROPOSAL_STATE_PENDING) << i << ": " << r.detail();
  }
  const ipc::ProposalResult full = submit(agent, parameter("x-over", "over.x=1"));
  EXPECT_EQ(full.state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_EQ(full.detail(), "32 proposals are pending, the limit; decide some first");
  // A newer proposal about the same parameter still replaces the older one.
  const ipc::ProposalResult newer = submit(agent, parameter("x-0-new", "s0.x=2"));
  EXPECT_EQ(newer.state(), ipc::PROPOSAL_STATE_PENDING) << newer.detail();
  EXPECT_NE(newer.detail().find("supersedes x-0"), std::string::npos) << newer.detail();
  EXPECT_EQ(states()["x-0"], "PROPOSAL_STATE_SUPERSEDED");
  EXPECT_TRUE(gate_->alive());
}

// ----------------------------------------------------- list, show, reject

TEST_F(ProposalsTest, ListShowAndRejectWithAReason) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  // History for the what-if: one order the rule would deny, one it would not.
  for (const auto& [id, quantity] : {std::pair{"i-big", "0.01"}, std::pair{"i-small", "0.004"}}) {
    agent.send_intent(limit_intent(id, ipc::SIDE_BUY, quantity, "7400", "7300"));
    ipc::Decision d;
    ASSERT_TRUE(agent.decision_for(id, d));
    ASSERT_TRUE(d.accepted()) << d.DebugString();
  }
  ASSERT_EQ(submit(agent, add_rule("p-1", small_orders_rule("p-1"))).state(), ipc::PROPOSAL_STATE_PENDING);
  ASSERT_EQ(submit(agent, parameter("x-1", "mr.entry_z=2.25")).state(), ipc::PROPOSAL_STATE_PENDING);

  CommandResult list = ctl({"proposals", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("PROPOSAL"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("add rule small_orders_only v1"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("set mr.entry_z=2.25"), std::string::npos) << list.out;

  // show: the rule text, the change against the active rules ("new rule"),
  // the evidence and the what-if over the journal of this gate.
  CommandResult show = ctl({"proposals", "show", "p-1", "--config", dir_.path() + "/gate.yaml"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("rule text:\n  rule small_orders_only v1"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("against the active rules:\n  new rule 'small_orders_only'"), std::string::npos)
      << show.out;
  EXPECT_NE(show.out.find("sharpe_delta  0.31"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("what-if over the intents journaled in the last 7 days"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("2 decisions, 2 re-evaluated"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("rule small_orders_only would have fired 1 time(s)"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("1 decision(s) would change"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("i-big   allow 0.01  deny: rule 'small_orders_only' v1 denied"), std::string::npos)
      << show.out;
  const boost::json::value what_if =
      ctl_json({"proposals", "show", "p-1", "--config", dir_.path() + "/gate.yaml"}).at("what_if");
  EXPECT_EQ(what_if.at("changes_total").to_number<std::uint64_t>(), 1u) << what_if;
  EXPECT_EQ(what_if.at("changes").at(0).at("intent_id").as_string(), "i-big");
  EXPECT_EQ(what_if.at("changes").at(0).at("after").at("verdict").as_string(), "deny");
  // Without a readable gate.yaml the rest is still shown, and the what-if says why not.
  CommandResult no_config = ctl({"proposals", "show", "p-1", "--config", dir_.path() + "/missing.yaml"});
  EXPECT_EQ(no_config.exit_code, 0) << no_config.err;
  EXPECT_NE(no_config.out.find("what-if: unavailable: cannot read " + dir_.path() + "/missing.yaml"),
            std::string::npos)
      << no_config.out;
  const boost::json::value shown =
      ctl_json({"proposals", "show", "x-1", "--config", dir_.path() + "/gate.yaml"});
  EXPECT_EQ(shown.at("proposal").at("change").as_string(), "set parameter entry_z of strategy mr to 2.25\n");
  EXPECT_TRUE(shown.at("what_if").is_null()) << "a parameter does not change the rules";
  // Unknown id and an unreachable gate: exit 1 with one line.
  CommandResult unknown = ctl({"proposals", "show", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no proposal nope"), std::string::npos) << unknown.err;
  CommandResult away = tradectl(dir_.path() + "/nothing.sock", {"proposals", "list"});
  EXPECT_EQ(away.exit_code, 1);
  EXPECT_NE(away.err.find("tradectl: "), std::string::npos) << away.err;

  // reject: the reason is required (usage error without it, refusal when blank).
  EXPECT_EQ(ctl({"proposals", "reject", "x-1"}).exit_code, 2);
  CommandResult blank = ctl({"proposals", "reject", "x-1", "--reason", " "});
  EXPECT_EQ(blank.exit_code, 1);
  EXPECT_NE(blank.err.find("a rejection needs a reason"), std::string::npos) << blank.err;
  CommandResult rejected = ctl({"proposals", "reject", "x-1", "--reason", "evidence too thin"});
  ASSERT_EQ(rejected.exit_code, 0) << rejected.err;
  EXPECT_EQ(rejected.out, "proposal x-1 rejected\n");
  CommandResult again = ctl({"proposals", "reject", "x-1", "--reason", "twice"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("is PROPOSAL_STATE_REJECTED, not pending"), std::string::npos) << again.err;

  // The agent hears of the decision; the journal names the operator by uid.
  Envelope pushed;
  EXPECT_TRUE(agent.wait_for(
      [](const Envelope& m) { return is_proposal_result(m, "x-1", ipc::PROPOSAL_STATE_REJECTED); }, pushed));
  const auto journaled = journaled_proposals();
  ASSERT_EQ(journaled.size(), 3u);
  EXPECT_EQ(journaled[2].state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_EQ(journaled[2].actor(), operator_name());
  EXPECT_EQ(journaled[2].reason(), "evidence too thin");
  const boost::json::value v = ctl_json({"proposals", "list"});
  bool found = false;
  for (const auto& p : v.at("proposals").as_array()) {
    if (p.at("proposal_id").as_string() != "x-1") continue;
    found = true;
    EXPECT_EQ(p.at("state").as_string(), "PROPOSAL_STATE_REJECTED");
    EXPECT_EQ(p.at("decided_by").as_string(), operator_name());
    EXPECT_EQ(p.at("reason").as_string(), "evidence too thin");
  }
  EXPECT_TRUE(found) << v;
  // Unknown ids are refused.
  CommandResult nobody = ctl({"proposals", "approve", "nobody"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("trading-gate refused proposals approve: no proposal nobody"), std::string::npos)
      << nobody.err;
}

// ----------------------------------------------------- approving rules

TEST_F(ProposalsTest, AnApprovedRuleIsInstalledAndDecidesTheNextIntent) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  ipc::Decision before;
  agent.send_intent(limit_intent("i-before", ipc::SIDE_BUY, "0.01", "7400", "7300"));
  ASSERT_TRUE(agent.decision_for("i-before", before));
  ASSERT_TRUE(before.accepted()) << before.DebugString();

  // The submitted text has a comment and loose layout; the canonical form is installed.
  const std::string text = "# from loop 3\n" + small_orders_rule("p-1");
  ASSERT_EQ(submit(agent, add_rule("p-1", text)).state(), ipc::PROPOSAL_STATE_PENDING);
  EXPECT_EQ(states()["p-1"], "PROPOSAL_STATE_PENDING");
  CommandResult show = ctl({"proposals", "show", "p-1", "--config", dir_.path() + "/gate.yaml"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("new rule 'small_orders_only'"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("i-before  allow 0.01  deny: rule"), std::string::npos) << show.out;

  CommandResult approved = ctl({"proposals", "approve", "p-1", "--reason", "fits the drawdown review"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_NE(approved.out.find("proposal p-1 approved; rules reloaded ("), std::string::npos) << approved.out;
  // rules/active/<rule id>.rule, atomically written: no temporary left.
  const std::string file = active_dir() + "/small_orders_only.rule";
  ASSERT_TRUE(std::filesystem::exists(file));
  std::ifstream in(file);
  const std::string installed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(installed.rfind("# From proposal p-1, approved by " + operator_name() + ".\nrule small_orders_only v1", 0),
            0u)
      << installed;
  for (const auto& e : std::filesystem::directory_iterator(active_dir())) {
    EXPECT_EQ(e.path().filename(), "small_orders_only.rule");
  }
  // The very next intent is decided with the new rule.
  ipc::Decision after;
  agent.send_intent(limit_intent("i-after", ipc::SIDE_BUY, "0.01", "7400", "7300"));
  ASSERT_TRUE(agent.decision_for("i-after", after));
  EXPECT_FALSE(after.accepted());
  EXPECT_EQ(after.reason(), ipc::DENY_REASON_RULE);
  EXPECT_NE(std::find(after.rules_fired().begin(), after.rules_fired().end(), "small_orders_only"),
            after.rules_fired().end())
      << after.DebugString();
  agent.send_intent(limit_intent("i-small", ipc::SIDE_BUY, "0.004", "7400", "7300"));
  ipc::Decision small;
  ASSERT_TRUE(agent.decision_for("i-small", small));
  EXPECT_TRUE(small.accepted()) << small.DebugString();

  // Journal: APPROVED (by the operator), then RulesLoaded naming the cause.
  const auto records = read_gate_records(gate_->journal_dir());
  int approved_at = -1, loaded_at = -1;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (r.has_proposal_state_changed() && r.proposal_state_changed().state() == ipc::PROPOSAL_STATE_APPROVED) {
      approved_at = static_cast<int>(i);
      EXPECT_EQ(r.proposal_state_changed().actor(), operator_name());
      EXPECT_EQ(r.proposal_state_changed().reason(), "fits the drawdown review");
    }
    if (r.has_rules_loaded() && r.rules_loaded().cause().find("proposal p-1 approved") != std::string::npos) {
      loaded_at = static_cast<int>(i);
      bool listed = false;
      for (const auto& f : r.rules_loaded().files()) listed = listed || f.path() == file;
      EXPECT_TRUE(listed);
    }
  }
  EXPECT_GE(approved_at, 0);
  EXPECT_GT(loaded_at, approved_at);
  // The push came before the decisions read above.
  EXPECT_TRUE(std::any_of(agent.seen.begin(), agent.seen.end(), [](const Envelope& m) {
    return is_proposal_result(m, "p-1", ipc::PROPOSAL_STATE_APPROVED);
  }));

  // After a restart the rule is still in force and the proposal approved;
  // the hard limits are untouched (the same safety.yaml, byte for byte).
  restart();
  std::vector<std::string> safety_hashes;
  for (const auto& r : read_gate_records(gate_->journal_dir())) {
    if (r.has_started()) safety_hashes.push_back(r.started().safety_sha256());
  }
  ASSERT_EQ(safety_hashes.size(), 2u);
  EXPECT_EQ(safety_hashes[0], safety_hashes[1]);
  AgentPeer again;
  connect(again);
  ipc::Decision restarted;
  again.send_intent(limit_intent("i-restarted", ipc::SIDE_BUY, "0.01", "7400", "7300"));
  ASSERT_TRUE(again.decision_for("i-restarted", restarted));
  EXPECT_FALSE(restarted.accepted());
  EXPECT_EQ(states()["p-1"], "PROPOSAL_STATE_APPROVED");

  // Retiring it by proposal removes the file, and the intent passes again.
  ipc::ProposalSubmit retire = add_rule("r-1", "small_orders_only");
  retire.set_kind(ipc::PROPOSAL_KIND_RETIRE_RULE);
  ASSERT_EQ(submit(again, retire).state(), ipc::PROPOSAL_STATE_PENDING);
  CommandResult shown = ctl({"proposals", "show", "r-1", "--config", dir_.path() + "/gate.yaml"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("retire rule 'small_orders_only'"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("i-restarted  deny: rule 'small_orders_only' v1 denied: orders above 0.005 are paused"
                           "  allow 0.01"),
            std::string::npos)
      << shown.out;
  ASSERT_EQ(ctl({"proposals", "approve", "r-1"}).exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(file));
  ipc::Decision retired;
  again.send_intent(limit_intent("i-retired", ipc::SIDE_BUY, "0.01", "7400", "7300"));
  ASSERT_TRUE(again.decision_for("i-retired", retired));
  EXPECT_TRUE(retired.accepted()) << retired.DebugString();
}

TEST_F(ProposalsTest, AnApprovalWhoseReloadFailsChangesNothing) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  ASSERT_EQ(submit(agent, add_rule("p-1", small_orders_rule("p-1"))).state(), ipc::PROPOSAL_STATE_PENDING);
  // Someone left a broken file in rules/active.
  std::filesystem::create_directories(active_dir());
  std::ofstream(active_dir() + "/zz_by_hand.rule") << "rule oops v1 {\n";
  CommandResult refused = ctl({"proposals", "approve", "p-1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("rules/active unchanged; the reload failed"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("zz_by_hand.rule"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(active_dir() + "/small_orders_only.rule"));
  EXPECT_EQ(states()["p-1"], "PROPOSAL_STATE_PENDING");
  // Fixed: the approval goes through.
  std::filesystem::remove(active_dir() + "/zz_by_hand.rule");
  EXPECT_EQ(ctl({"proposals", "approve", "p-1"}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(active_dir() + "/small_orders_only.rule"));
}

TEST_F(ProposalsTest, ARuleInstalledBeforeACrashCompletesItsApprovalAtStart) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  ASSERT_EQ(submit(agent, add_rule("p-1", small_orders_rule("p-1"))).state(), ipc::PROPOSAL_STATE_PENDING);
  gate_->signal(SIGKILL);
  gate_->wait_exit();
  // What approve_proposal() writes, in place before the APPROVED record
  // could be journaled.
  std::filesystem::create_directories(active_dir());
  std::ofstream(active_dir() + "/small_orders_only.rule") << "# From proposal p-1.\n" << small_orders_rule("p-1");
  ASSERT_TRUE(gate_->start()) << gate_->log();
  EXPECT_EQ(states()["p-1"], "PROPOSAL_STATE_APPROVED");
  const auto journaled = journaled_proposals();
  ASSERT_EQ(journaled.size(), 2u);
  EXPECT_EQ(journaled[1].actor(), "gate");
  EXPECT_NE(journaled[1].reason().find("found installed in"), std::string::npos) << journaled[1].reason();
}

TEST_F(ProposalsTest, ListAndShowRepliesFitOneFrame) {
  GateTestConfig config;
  config.gate_socket_extra = "  frame_size_max_bytes: 4096\n";  // sockets.frame_size_max_bytes
  start(config);
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  // Twenty decided proposals with long reasons are more than one 4 KiB frame.
  for (int i = 0; i < 20; ++i) {
    const std::string id = "x-" + std::to_string(i);
    ASSERT_EQ(submit(agent, parameter(id, "s" + std::to_string(i) + ".x=1")).state(), ipc::PROPOSAL_STATE_PENDING);
    ASSERT_EQ(ctl({"proposals", "reject", id, "--reason", std::string(190, 'r')}).exit_code, 0);
  }
  ASSERT_EQ(submit(agent, parameter("pending", "p.x=1")).state(), ipc::PROPOSAL_STATE_PENDING);
  const boost::json::value list = ctl_json({"proposals", "list"});
  const auto& shown = list.at("proposals").as_array();
  ASSERT_FALSE(shown.empty());
  EXPECT_EQ(shown[0].at("proposal_id").as_string(), "pending") << "pending ones first";
  EXPECT_EQ(shown[1].at("proposal_id").as_string(), "x-19") << "then the newest decided";
  EXPECT_GT(list.at("omitted").to_number<std::uint64_t>(), 0u);
  EXPECT_EQ(shown.size() + list.at("omitted").to_number<std::uint64_t>(), 21u);
  CommandResult text = ctl({"proposals", "list"});
  EXPECT_NE(text.out.find("older decided proposal(s) not shown: one reply frame is full"), std::string::npos)
      << text.out;

  // A rule whose diff, text and rationale together exceed the frame: the
  // diff is cut first, saying so.
  std::string products;
  for (int i = 0; i < 24; ++i) products += (i ? ", \"" : "\"") + std::string(40, 'A' + i % 26) + "\"";
  const std::string rule = "rule many_products v1 \"d\" {\n  from proposal \"p-big\"\n  when order.product in [" +
                           products + "]\n  then deny \"no\"\n}\n";
  ipc::ProposalSubmit big = add_rule("p-big", rule);
  big.set_rationale(std::string(1'800, 'w'));
  ASSERT_EQ(submit(agent, big).state(), ipc::PROPOSAL_STATE_PENDING);
  const boost::json::value one = ctl_json({"proposals", "show", "p-big"});
  const std::string change(one.at("proposal").at("change").as_string());
  EXPECT_NE(change.find("[cut to fit one frame; the journal holds the whole text]"), std::string::npos) << change;
  EXPECT_EQ(one.at("proposal").at("payload").as_string(), rule) << "the text itself fits";
}

// ------------------------------------------------------------------ expiry

TEST_F(ProposalsTest, PendingProposalsExpireInMarketTime) {
  GateTestConfig config;
  config.gate_extra = "proposals:\n  expiry: 1h\n";
  start(config);
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);  // market time: bar 0's close
  ASSERT_EQ(submit(agent, parameter("x-1", "mr.entry_z=2")).state(), ipc::PROPOSAL_STATE_PENDING);
  // Bar k closes (k + 1) minutes after bar 0 opened: the proposal, submitted
  // at minute 1, expires at minute 61, the close of bar 60.
  for (std::size_t k = 1; k < 60; ++k) bar(agent, bars_[k]);
  EXPECT_EQ(states()["x-1"], "PROPOSAL_STATE_PENDING") << "one bar before the expiry";
  bar(agent, bars_[60]);
  // Expired before the bar's answer went out: the push came first.
  bool pushed = false;
  for (const Envelope& m : agent.seen) pushed = pushed || is_proposal_result(m, "x-1", ipc::PROPOSAL_STATE_EXPIRED);
  EXPECT_TRUE(pushed);
  EXPECT_EQ(states()["x-1"], "PROPOSAL_STATE_EXPIRED");
  const auto journaled = journaled_proposals();
  ASSERT_EQ(journaled.size(), 2u);
  EXPECT_EQ(journaled[1].state(), ipc::PROPOSAL_STATE_EXPIRED);
  EXPECT_EQ(journaled[1].actor(), "gate");
  EXPECT_EQ(journaled[1].ts_ns(), journaled[1].expires_ts_ns());
  CommandResult late = ctl({"proposals", "approve", "x-1"});
  EXPECT_EQ(late.exit_code, 1);
  EXPECT_NE(late.err.find("not pending"), std::string::npos) << late.err;
}

// ------------------------------------------------------------------ restart

TEST_F(ProposalsTest, TheBookIsRestoredFromTheJournalAfterStopAndAfterSigkill) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  ASSERT_EQ(submit(agent, add_rule("p-1", small_orders_rule("p-1"))).state(), ipc::PROPOSAL_STATE_PENDING);
  ASSERT_EQ(submit(agent, parameter("x-1", "mr.entry_z=2")).state(), ipc::PROPOSAL_STATE_PENDING);
  ASSERT_EQ(submit(agent, parameter("x-2", "mo.fast_period=7")).state(), ipc::PROPOSAL_STATE_PENDING);
  ASSERT_EQ(ctl({"proposals", "reject", "x-2", "--reason", "no"}).exit_code, 0);
  const std::string before = ctl({"proposals", "list", "--json"}).out;
  ASSERT_NE(before.find("x-2"), std::string::npos);

  restart();
  EXPECT_EQ(ctl({"proposals", "list", "--json"}).out, before);
  gate_->signal(SIGKILL);
  gate_->wait_exit();
  ASSERT_TRUE(gate_->start()) << gate_->log();
  EXPECT_EQ(ctl({"proposals", "list", "--json"}).out, before);
  // Still decidable after the restarts, and the id is still taken.
  AgentPeer again;
  connect(again);
  const ipc::ProposalResult dup = submit(again, parameter("x-1", "mr.entry_z=3"));
  EXPECT_EQ(dup.state(), ipc::PROPOSAL_STATE_REJECTED);
  EXPECT_NE(dup.detail().find("already used"), std::string::npos) << dup.detail();
  ASSERT_EQ(ctl({"proposals", "reject", "x-1", "--reason", "later"}).exit_code, 0);
  EXPECT_EQ(states()["x-1"], "PROPOSAL_STATE_REJECTED");
}

// -------------------------------------------------------- the agent's socket

TEST_F(ProposalsTest, TheAgentsSocketCannotApprove) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);

  // 1. gate.proto has no message that decides a proposal: everything the
  // agent may send is one of these, and none of them approves.
  std::set<std::string> agent_may_send;
  const auto* envelope = Envelope::descriptor();
  for (int i = 0; i < envelope->field_count(); ++i) {
    const auto* field = envelope->field(i);
    if (field->containing_oneof() == nullptr) continue;
    if (proto::envelope_body_allowed(static_cast<Envelope::BodyCase>(field->number()), proto::Sender::kAgent)) {
      agent_may_send.insert(field->name());
    }
  }
  EXPECT_EQ(agent_may_send, (std::set<std::string>{"hello", "order_intent", "cancel_intent", "heartbeat", "bar",
                                                     "proposal_submit", "parameter_change_ack"}));

  // 2. A proposal the agent labels HUMAN is still only a proposal.
  const ipc::ProposalResult human = submit(agent, add_rule("p-1", small_orders_rule("p-1"), ipc::PROPOSAL_SOURCE_HUMAN));
  EXPECT_EQ(human.state(), ipc::PROPOSAL_STATE_PENDING);
  EXPECT_EQ(states()["p-1"], "PROPOSAL_STATE_PENDING");
  ASSERT_EQ(journaled_proposals().size(), 1u);
  EXPECT_EQ(journaled_proposals()[0].actor(), "agent:human") << "recorded as the agent's, whatever it claims";

  // 3. The admin decision sent on gate.sock: its bytes do not decode as a
  // request the agent may make, so the gate refuses the frame and closes
  // the connection.
  ipc::AdminEnvelope decision;
  decision.set_request_id(99);
  decision.mutable_proposal_decision_request()->set_proposal_id("p-1");
  decision.mutable_proposal_decision_request()->set_approve(true);
  decision.mutable_proposal_decision_request()->set_reason("self-approved");
  ASSERT_TRUE(agent.raw().write_message(decision));
  Envelope refused;
  ASSERT_TRUE(agent.wait_for([](const Envelope& m) { return m.has_protocol_error(); }, refused)) << gate_->log();
  Envelope nothing;
  EXPECT_FALSE(agent.next(nothing, 2'000)) << "the gate closed the connection";
  EXPECT_TRUE(agent.raw().poll_closed());

  // 4. The same as the first frame of a connection, before any Hello.
  RawPeer raw = RawPeer::connect(gate_->gate_socket());
  ASSERT_TRUE(raw.valid());
  ASSERT_TRUE(raw.write_message(decision));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string payload;
  while (!raw.poll_closed() && std::chrono::steady_clock::now() < deadline) {
    raw.poll_frame(payload);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(raw.poll_closed());

  // Nothing was approved, nothing installed, and the gate still runs.
  EXPECT_EQ(states()["p-1"], "PROPOSAL_STATE_PENDING");
  EXPECT_FALSE(std::filesystem::exists(active_dir() + "/small_orders_only.rule"));
  for (const auto& r : journaled_proposals()) EXPECT_EQ(r.state(), ipc::PROPOSAL_STATE_PENDING);
  EXPECT_TRUE(gate_->alive());
}

// ------------------------------------------------------- parameter relays

TEST_F(ProposalsTest, ApprovedParameterChangesReachTheAgentUntilAcknowledged) {
  start();
  AgentPeer agent;
  connect(agent);
  bar(agent, bars_[0]);
  ASSERT_EQ(submit(agent, parameter("x-1", "mr.entry_z=2.25")).state(), ipc::PROPOSAL_STATE_PENDING);
  CommandResult approved = ctl({"proposals", "approve", "x-1", "--reason", "backtest agrees"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_EQ(approved.out, "proposal x-1 approved; parameter change sent to the agent\n");
  Envelope change;
  ASSERT_TRUE(agent.wait_for([](const Envelope& m) { return m.has_parameter_change(); }, change)) << gate_->log();
  EXPECT_EQ(change.parameter_change().proposal_id(), "x-1");
  EXPECT_EQ(change.parameter_change().strategy(), "mr");
  EXPECT_EQ(change.parameter_change().parameter(), "entry_z");
  EXPECT_EQ(change.parameter_change().value(), "2.25");
  const auto journaled = journaled_proposals();
  ASSERT_EQ(journaled.size(), 2u);
  EXPECT_EQ(journaled[1].state(), ipc::PROPOSAL_STATE_APPROVED);
  EXPECT_EQ(journaled[1].actor(), operator_name());
  EXPECT_EQ(journaled[1].reason(), "backtest agrees");

  // Unacknowledged: a reconnecting agent gets it again, after its snapshot.
  AgentPeer second;
  connect(second);
  Envelope resent;
  ASSERT_TRUE(second.wait_for([](const Envelope& m) { return m.has_parameter_change(); }, resent));
  EXPECT_EQ(resent.parameter_change().proposal_id(), "x-1");
  EXPECT_EQ(ctl_json({"proposals", "show", "x-1"}).at("proposal").at("relay").as_string(), "waiting for the agent");

  // The acknowledgement is journaled once; a second one is ignored.
  Envelope ack;
  ack.mutable_parameter_change_ack()->set_proposal_id("x-1");
  ack.mutable_parameter_change_ack()->set_applied(true);
  ack.mutable_parameter_change_ack()->set_detail("entry_z=2.25 (indicators warm up again)");
  second.send(ack);
  second.send(ack);
  // Heartbeats are echoed in order: once the echo is back, both acks were handled.
  const std::uint64_t hb = second.send_heartbeat();
  Envelope echo;
  ASSERT_TRUE(second.reply_to(hb, echo));
  // An admin reply waits for every record before it to be durable.
  EXPECT_EQ(ctl_json({"proposals", "show", "x-1"}).at("proposal").at("relay").as_string(),
            "applied: entry_z=2.25 (indicators warm up again)");
  ASSERT_EQ(journaled_acks().size(), 1u) << gate_->log();
  EXPECT_EQ(journaled_acks()[0].detail(), "entry_z=2.25 (indicators warm up again)");
  AgentPeer third;
  connect(third);
  Envelope none;
  EXPECT_FALSE(third.wait_for([](const Envelope& m) { return m.has_parameter_change(); }, none, 1'000));
}

TEST_F(ProposalsTest, AChangeApprovedWithNoAgentIsDeliveredWhenItConnectsAlsoAfterARestart) {
  start();
  {
    AgentPeer agent;
    connect(agent);
    bar(agent, bars_[0]);
    ASSERT_EQ(submit(agent, parameter("x-1", "mr.entry_z=2")).state(), ipc::PROPOSAL_STATE_PENDING);
  }
  // The agent has gone; wait until the gate has noticed.
  for (int i = 0; i < 200; ++i) {
    if (!ctl_json({"status"}).at("agent_connected").as_bool()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CommandResult approved = ctl({"proposals", "approve", "x-1"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_NE(approved.out.find("no agent is connected: the parameter change goes to the agent when it connects"),
            std::string::npos)
      << approved.out;
  restart();
  AgentPeer agent;
  connect(agent);
  Envelope change;
  ASSERT_TRUE(agent.wait_for([](const Envelope& m) { return m.has_parameter_change(); }, change)) << gate_->log();
  EXPECT_EQ(change.parameter_change().proposal_id(), "x-1");
  Envelope ack;
  ack.mutable_parameter_change_ack()->set_proposal_id("x-1");
  ack.mutable_parameter_change_ack()->set_applied(false);
  ack.mutable_parameter_change_ack()->set_detail("strategy 'mr' is not configured");
  agent.send(ack);
  const std::uint64_t hb = agent.send_heartbeat();
  Envelope echo;
  ASSERT_TRUE(agent.reply_to(hb, echo));
  restart();
  EXPECT_EQ(ctl_json({"proposals", "show", "x-1"}).at("proposal").at("relay").as_string(),
            "refused: strategy 'mr' is not configured");
  AgentPeer later;
  connect(later);
  Envelope none;
  EXPECT_FALSE(later.wait_for([](const Envelope& m) { return m.has_parameter_change(); }, none, 1'000));
}

// ------------------------------------------------- with the real agent

// trading-agent (SIM, the shipped demo bars) against this gate.
std::string agent_yaml(const std::string& dir, const std::string& gate_socket, int bars_max) {
  const std::string demo = source_dir() + "/data/demo";
  return "mode: SIM\nstate_dir: " + dir + "/agent-state\njournal_dir: " + dir + "/agent-journal\n"
         "gate: {socket: " + gate_socket + ", reply_timeout: 20s}\n"
         "feed:\n  source: replay_csv\n  speed: max\n  bars_max: " + std::to_string(bars_max) + "\n"
         "  csv:\n    BTC-USD: {file: " + demo + "/BTC-USD_1m_demo.csv}\n"
         "    ETH-USD: {file: " + demo + "/ETH-USD_1m_demo.csv}\n"
         "products:\n"
         "  BTC-USD: {base_min_size: \"0.0001\", base_max_size: \"1\"}\n"
         "  ETH-USD: {base_min_size: \"0.001\", base_max_size: \"20\"}\n"
         "sizing: {order_notional_max_usd: \"900\"}\n"
         "strategies:\n"
         "  mr: {builtin: mean_reversion, params: {period: 20, entry_z: 2, max_holding_bars: 30}}\n"
         "  mo: {builtin: momentum, params: {fast_period: 8, slow_period: 30}}\n";
}

std::vector<ipc::AgentParameterApplied> agent_parameter_records(const std::string& dir) {
  std::vector<ipc::AgentParameterApplied> out;
  auto reader = journal::Reader::open(dir);
  if (!reader) return out;
  for (;;) {
    auto next = (*reader)->next();
    if (!next || !next->has_value()) return out;
    ipc::AgentRecord r;
    if (r.ParseFromArray((*next)->payload.data(), static_cast<int>((*next)->payload.size())) &&
        r.has_parameter_applied()) {
      out.push_back(r.parameter_applied());
    }
  }
}

TEST_F(ProposalsTest, TheRealAgentAppliesAnApprovedParameterWhenItNextConnects) {
  start();
  const std::string yaml = dir_.path() + "/agent.yaml";
  const auto run_agent = [&](int bars_max) {
    std::ofstream(yaml) << agent_yaml(dir_.path(), gate_->gate_socket(), bars_max);
    return run_command({TRADING_AGENT_BIN, "--config", yaml});
  };
  // A first run sets the gate's market time.
  CommandResult first = run_agent(20);
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  {
    AgentPeer loop2;  // the proposal comes in over gate.sock, as loop 2's would
    connect(loop2);
    ASSERT_EQ(submit(loop2, parameter("x-1", "mr.entry_z=2.5")).state(), ipc::PROPOSAL_STATE_PENDING);
  }
  for (int i = 0; i < 200 && ctl_json({"status"}).at("agent_connected").as_bool(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CommandResult approved = ctl({"proposals", "approve", "x-1", "--reason", "walk-forward agrees"});
  ASSERT_EQ(approved.exit_code, 0) << approved.err;
  EXPECT_NE(approved.out.find("no agent is connected"), std::string::npos) << approved.out;

  // The agent resumes its run: the gate hands it the change on connect; it
  // applies, journals and acknowledges it.
  CommandResult second = run_agent(40);
  ASSERT_EQ(second.exit_code, 0) << second.err << second.out;
  const auto applied = agent_parameter_records(dir_.path() + "/agent-journal");
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].change().proposal_id(), "x-1");
  EXPECT_EQ(applied[0].change().strategy(), "mr");
  EXPECT_EQ(applied[0].change().value(), "2.5");
  EXPECT_TRUE(applied[0].applied()) << applied[0].detail();
  EXPECT_EQ(ctl_json({"proposals", "show", "x-1"}).at("proposal").at("relay").as_string(),
            "applied: " + applied[0].detail());
  const auto acks = journaled_acks();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_TRUE(acks[0].applied());

  // Acknowledged: a third run is not sent the change again.
  CommandResult third = run_agent(50);
  ASSERT_EQ(third.exit_code, 0) << third.err << third.out;
  EXPECT_EQ(agent_parameter_records(dir_.path() + "/agent-journal").size(), 1u);
  EXPECT_EQ(journaled_acks().size(), 1u);
}

}  // namespace
}  // namespace ta::test
