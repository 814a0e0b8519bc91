// The real trading-gate binary in a temporary directory (SIM mode), driven
// by a raw agent client on gate.sock and by the real tradectl on
// admin.sock: decisions and their reasons, durability before acceptance,
// idempotency across reconnects and restarts, fills and lockstep snapshots,
// tradectl's verbs, halts that survive restarts, bad input, start-up
// failures and systemd notification.
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <functional>
#include <set>

#include "gate_daemon_support.h"
#include "proto/decimal.h"

namespace ta::test {
namespace {

using ipc::Decision;
using ipc::Envelope;

class GateDaemonTest : public ::testing::Test {
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
  // Sends a bar and waits for its lockstep snapshot.
  ipc::PositionSnapshot bar(AgentPeer& agent, const ipc::Bar& b) {
    const std::uint64_t id = agent.send_bar(b);
    Envelope reply;
    EXPECT_TRUE(agent.reply_to(id, reply)) << gate_->log();
    EXPECT_TRUE(reply.has_position_snapshot()) << reply.DebugString();
    return reply.position_snapshot();
  }
  Decision decide(AgentPeer& agent, const ipc::OrderIntent& intent) {
    agent.send_intent(intent);
    Decision d;
    EXPECT_TRUE(agent.decision_for(intent.intent_id(), d)) << gate_->log();
    return d;
  }
  boost::json::value ctl_json(std::vector<std::string> args) {
    args.push_back("--json");
    CommandResult r = tradectl(gate_->admin_socket(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.out;
    return v;
  }

  TempDir dir_;
  std::unique_ptr<GateProcess> gate_;
  std::vector<ipc::Bar> bars_ = sample_bars(40);
};

std::string str(const boost::json::value& v, const char* key) {
  const auto* p = v.as_object().if_contains(key);
  return p != nullptr && p->is_string() ? std::string(p->as_string()) : std::string();
}

TEST_F(GateDaemonTest, IntentsAcceptedOrDeniedWithTheirReasons) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  EXPECT_EQ(agent.ack().mode(), ipc::MODE_SIM);
  EXPECT_EQ(agent.ack().halt_state(), ipc::HALT_STATE_ACTIVE);
  EXPECT_EQ(agent.ack().heartbeat_timeout_ms(), 600'000);

  // No bar yet: the gate has no reference price of its own.
  EXPECT_EQ(decide(agent, limit_intent("i-noref", ipc::SIDE_BUY, "0.01", "7400", "7300")).reason(),
            ipc::DENY_REASON_NO_REFERENCE_PRICE);
  bar(agent, bars_[0]);  // close 7422

  const Decision ok = decide(agent, limit_intent("i-ok", ipc::SIDE_BUY, "0.01", "7400", "7300"));
  EXPECT_TRUE(ok.accepted()) << ok.DebugString();
  EXPECT_EQ(ok.order_id(), "o-1");
  EXPECT_FALSE(ok.replayed());
  EXPECT_EQ(ok.decided_ts_ns(), (bars_[0].open_ts_s() + 60) * 1'000'000'000LL);  // market time

  struct Case {
    ipc::OrderIntent intent;
    ipc::DenyReason reason;
  };
  std::vector<Case> cases;
  auto product = limit_intent("i-product", ipc::SIDE_BUY, "0.01", "7400", "7300");
  product.set_product("XRP-USD");
  cases.push_back({product, ipc::DENY_REASON_PRODUCT_NOT_ALLOWED});
  cases.push_back({limit_intent("i-absurd", ipc::SIDE_BUY, "5000000000", "7400", "7300"), ipc::DENY_REASON_FIELD_RANGE});
  cases.push_back({limit_intent("i-junk", ipc::SIDE_BUY, "12abc", "7400", "7300"), ipc::DENY_REASON_MALFORMED});
  cases.push_back({limit_intent("i-nostop", ipc::SIDE_BUY, "0.01", "7400", ""), ipc::DENY_REASON_STOP_REQUIRED});
  cases.push_back({limit_intent("i-band", ipc::SIDE_BUY, "0.01", "9000", "7300"), ipc::DENY_REASON_PRICE_BAND});
  cases.push_back({limit_intent("i-notional", ipc::SIDE_BUY, "0.2", "7400", "7300"), ipc::DENY_REASON_NOTIONAL_ABOVE_MAX});
  cases.push_back({limit_intent("i-small", ipc::SIDE_BUY, "0.00001", "7400", "7300"), ipc::DENY_REASON_SIZE_BELOW_MIN});
  for (const Case& c : cases) {
    const Decision d = decide(agent, c.intent);
    EXPECT_FALSE(d.accepted()) << c.intent.intent_id();
    EXPECT_EQ(d.reason(), c.reason) << c.intent.intent_id() << ": " << d.DebugString();
    EXPECT_FALSE(d.detail().empty());
  }

  // Every decision is journaled. A denial is answered without waiting for
  // the disk, an acceptance only once its record is durable, and records
  // become durable in order: after this acceptance every record before it
  // is on disk.
  ASSERT_TRUE(decide(agent, limit_intent("i-last", ipc::SIDE_BUY, "0.01", "7390", "7300")).accepted());
  std::string error;
  const auto records = read_gate_records(gate_->journal_dir(), &error);
  EXPECT_TRUE(error.empty()) << error;
  std::map<std::string, Decision> journaled;
  for (const auto& r : records) {
    if (r.has_intent_decided()) journaled[r.intent_decided().intent().intent_id()] = r.intent_decided().decision();
  }
  ASSERT_TRUE(journaled.count("i-ok"));
  EXPECT_TRUE(journaled["i-ok"].accepted());
  EXPECT_EQ(journaled["i-ok"].order_id(), "o-1");
  for (const Case& c : cases) EXPECT_TRUE(journaled.count(c.intent.intent_id())) << c.intent.intent_id();
  EXPECT_TRUE(records.front().has_started());
  EXPECT_EQ(records.front().started().config_sha256().size(), 64u);
  EXPECT_EQ(records.front().started().safety_sha256().size(), 64u);
  EXPECT_EQ(records.front().started().starting_cash(), "10000");
  // The rules loaded at start, each file with its SHA-256.
  ASSERT_GE(records.size(), 2u);
  ASSERT_TRUE(records[1].has_rules_loaded());
  int rule_files = 0;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/rules/core")) {
    if (e.path().extension() == ".rule") ++rule_files;
  }
  EXPECT_EQ(records[1].rules_loaded().files_size(), rule_files);
  EXPECT_GT(records[1].rules_loaded().rule_count(), 0u);
  for (const auto& f : records[1].rules_loaded().files()) {
    EXPECT_EQ(f.sha256().size(), 64u) << f.path();
    EXPECT_NE(f.path().find(".rule"), std::string::npos);
  }
  // Start-up reconciled before anything else happened.
  EXPECT_TRUE(records[2].has_reconcile());

  // One info line per decision, key=value.
  const std::string log = gate_->log();
  EXPECT_NE(log.find("decision intent_id=\"i-ok\""), std::string::npos) << log;
  EXPECT_NE(log.find("reason=PRODUCT_NOT_ALLOWED"), std::string::npos);
}

TEST_F(GateDaemonTest, BarsFillOrdersAndEveryBarIsAnsweredWithASnapshot) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  const ipc::PositionSnapshot first = bar(agent, bars_[0]);
  EXPECT_EQ(first.account().equity(), "10000");
  EXPECT_EQ(first.ts_ns(), (bars_[0].open_ts_s() + 60) * 1'000'000'000LL);

  const Decision d = decide(agent, market_intent("m-1", ipc::SIDE_BUY, "0.01", "7300"));
  ASSERT_TRUE(d.accepted()) << d.DebugString();
  const std::size_t before = agent.seen.size();  // just after the Decision
  const ipc::PositionSnapshot after = bar(agent, bars_[1]);
  ASSERT_EQ(after.positions_size(), 1);
  EXPECT_EQ(after.positions(0).product(), "BTC-USD");
  EXPECT_EQ(after.positions(0).quantity(), "0.01");
  EXPECT_EQ(after.positions(0).mark_price(), bars_[1].close());

  // Before the snapshot: the ack, the fill and the filled order update.
  std::vector<std::string> pushes;
  ipc::Fill fill;
  for (std::size_t i = before; i < agent.seen.size(); ++i) {
    const Envelope& e = agent.seen[i];
    if (e.has_order_update()) pushes.push_back(ipc::OrderState_Name(e.order_update().state()));
    if (e.has_fill()) {
      pushes.push_back("FILL");
      fill = e.fill();
    }
  }
  EXPECT_EQ(pushes, (std::vector<std::string>{"ORDER_STATE_SUBMITTED", "ORDER_STATE_OPEN", "FILL",
                                              "ORDER_STATE_FILLED"}));
  EXPECT_EQ(fill.order_id(), "o-1");
  EXPECT_EQ(fill.intent_id(), "m-1");
  EXPECT_EQ(fill.quantity(), "0.01");
  EXPECT_EQ(fill.ts_ns(), bars_[1].open_ts_s() * 1'000'000'000LL);  // at the next bar's open
  EXPECT_EQ(fill.liquidity(), ipc::LIQUIDITY_TAKER);

  // The same bar again (a resend) is answered, not processed twice.
  const ipc::PositionSnapshot again = bar(agent, bars_[1]);
  EXPECT_EQ(again.positions(0).quantity(), "0.01");
  // An older bar is a protocol error.
  const std::uint64_t old = agent.send_bar(bars_[0]);
  Envelope reply;
  ASSERT_TRUE(agent.reply_to(old, reply));
  EXPECT_TRUE(reply.has_protocol_error());

  const auto positions = ctl_json({"positions"});
  EXPECT_EQ(str(positions.at("positions").at(0), "quantity"), "0.01");
}

// SIM BarBatch (protocol 2): the bars in order, the pushes they cause, one
// snapshot after the last; repeats skipped; the batch limits; a refused
// batch changes nothing.
TEST_F(GateDaemonTest, BarBatchIsProcessedInOrderAndAnsweredOnce) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  EXPECT_FALSE(agent.ack().daily_loss_fraction_max().empty());
  auto batch = [&](std::size_t from, std::size_t to) {
    Envelope e;
    for (std::size_t i = from; i < to; ++i) *e.mutable_bar_batch()->add_bars() = bars_[i];
    return agent.send(std::move(e));
  };
  auto snapshot_for = [&](std::uint64_t id) {
    Envelope reply;
    EXPECT_TRUE(agent.reply_to(id, reply)) << gate_->log();
    EXPECT_TRUE(reply.has_position_snapshot()) << reply.DebugString();
    return reply.position_snapshot();
  };
  const std::uint64_t first_id = batch(0, 10);
  const ipc::PositionSnapshot first = snapshot_for(first_id);
  EXPECT_EQ(first.ts_ns(), (bars_[9].open_ts_s() + 60) * 1'000'000'000LL);
  EXPECT_EQ(first.positions(0).mark_price(), bars_[9].close());
  EXPECT_EQ(first.account().day_peak_equity(), "10000");

  // An order accepted after bar 9 fills at bar 10's open, pushed before the
  // answer to the batch that carries bar 10.
  ASSERT_TRUE(decide(agent, market_intent("bb-1", ipc::SIDE_BUY, "0.01", "7300")).accepted());
  const std::size_t before = agent.seen.size();
  const ipc::PositionSnapshot second = snapshot_for(batch(10, 15));
  EXPECT_EQ(second.positions(0).quantity(), "0.01");
  EXPECT_EQ(second.ts_ns(), (bars_[14].open_ts_s() + 60) * 1'000'000'000LL);
  bool fill_first = false;
  for (std::size_t i = before; i < agent.seen.size(); ++i) {
    if (agent.seen[i].has_fill()) fill_first = true;
    if (agent.seen[i].has_position_snapshot()) break;
  }
  EXPECT_TRUE(fill_first);

  // The last bar processed again is skipped (a resend after a reconnect
  // starts there): 14 again, then 15 and 16.
  const ipc::PositionSnapshot third = snapshot_for(batch(14, 17));
  EXPECT_EQ(third.ts_ns(), (bars_[16].open_ts_s() + 60) * 1'000'000'000LL);
  // Only a repeat: answered with the same state.
  EXPECT_EQ(snapshot_for(batch(16, 17)).ts_ns(), third.ts_ns());
  int answers = 0;
  for (const Envelope& e : agent.seen) answers += e.has_position_snapshot() && e.request_id() == first_id;
  EXPECT_EQ(answers, 1) << "one answer per batch";
  // Marks reach the disk within the group-commit window (a bar's answer
  // does not wait for them), so count until the number settles.
  const auto marks = [&](int expected) {
    int n = 0;
    for (int attempt = 0; attempt < 200; ++attempt) {
      n = 0;
      for (const auto& r : read_gate_records(gate_->journal_dir())) n += r.has_marks() ? r.marks().marks_size() : 0;
      if (n >= expected) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return n;
  };
  EXPECT_EQ(marks(17), 17) << "one mark per bar processed, none for a skipped one";

  // The limit: kBarBatchBarsMax bars pass, one more is refused, as is an
  // empty batch and a batch with a bar older than the last processed (and
  // nothing of a refused batch is processed).
  {
    AgentPeer big;
    ASSERT_TRUE(big.connect(gate_->gate_socket()));
    Envelope e;
    ipc::Bar b = bars_[20];
    for (std::size_t i = 0; i < proto::kBarBatchBarsMax + 1; ++i) {
      b.set_open_ts_s(bars_[20].open_ts_s() + 60 * static_cast<std::int64_t>(i));
      *e.mutable_bar_batch()->add_bars() = b;
    }
    const std::uint64_t id = big.send(e);
    Envelope reply;
    ASSERT_TRUE(big.reply_to(id, reply));
    ASSERT_TRUE(reply.has_protocol_error());
    EXPECT_NE(reply.protocol_error().message().find("513 bars (1 to 512 per batch)"), std::string::npos)
        << reply.protocol_error().message();
  }
  {
    AgentPeer empty;
    ASSERT_TRUE(empty.connect(gate_->gate_socket()));
    Envelope e;
    e.mutable_bar_batch();
    const std::uint64_t id = empty.send(e);
    Envelope reply;
    ASSERT_TRUE(empty.reply_to(id, reply));
    EXPECT_TRUE(reply.has_protocol_error());
  }
  {
    AgentPeer older;
    ASSERT_TRUE(older.connect(gate_->gate_socket()));
    Envelope e;
    *e.mutable_bar_batch()->add_bars() = bars_[17];
    *e.mutable_bar_batch()->add_bars() = bars_[2];  // older than the last processed
    const std::uint64_t id = older.send(e);
    Envelope reply;
    ASSERT_TRUE(older.reply_to(id, reply));
    EXPECT_TRUE(reply.has_protocol_error());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(marks(17), 17) << "a refused batch processes none of its bars";
  {
    AgentPeer full;
    ASSERT_TRUE(full.connect(gate_->gate_socket()));
    Envelope e;
    ipc::Bar b = bars_[20];
    for (std::size_t i = 0; i < proto::kBarBatchBarsMax; ++i) {
      b.set_open_ts_s(bars_[20].open_ts_s() + 60 * static_cast<std::int64_t>(i));
      *e.mutable_bar_batch()->add_bars() = b;
    }
    const std::uint64_t id = full.send(e);
    Envelope reply;
    ASSERT_TRUE(full.reply_to(id, reply));
    ASSERT_TRUE(reply.has_position_snapshot()) << reply.DebugString();
    EXPECT_EQ(reply.position_snapshot().ts_ns(), (b.open_ts_s() + 60) * 1'000'000'000LL);
  }
}

TEST_F(GateDaemonTest, RepeatedIntentIdReturnsTheOriginalAcrossReconnectAndRestart) {
  start();
  const auto intent = limit_intent("idem-1", ipc::SIDE_BUY, "0.01", "7400", "7300");
  {
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    bar(agent, bars_[0]);
    const Decision d = decide(agent, intent);
    ASSERT_TRUE(d.accepted());
    EXPECT_EQ(d.order_id(), "o-1");
  }
  {
    AgentPeer agent;  // a reconnect
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    const Decision d = decide(agent, intent);
    EXPECT_TRUE(d.accepted());
    EXPECT_TRUE(d.replayed());
    EXPECT_EQ(d.order_id(), "o-1");
    auto changed = intent;
    changed.set_quantity("0.02");
    EXPECT_EQ(decide(agent, changed).reason(), ipc::DENY_REASON_DUPLICATE_ID_CONFLICT);
  }
  restart();
  gate_->signal(SIGKILL);
  gate_->wait_exit();
  ASSERT_TRUE(gate_->start()) << gate_->log();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  const Decision d = decide(agent, intent);
  EXPECT_TRUE(d.replayed());
  EXPECT_EQ(d.order_id(), "o-1");
  const Decision next = decide(agent, limit_intent("idem-2", ipc::SIDE_BUY, "0.01", "7390", "7300"));
  EXPECT_TRUE(next.accepted()) << next.DebugString();
  EXPECT_EQ(next.order_id(), "o-2");

  int accepted_records = 0;
  for (const auto& r : read_gate_records(gate_->journal_dir())) {
    if (r.has_intent_decided() && r.intent_decided().intent().intent_id() == "idem-1" &&
        r.intent_decided().decision().accepted()) {
      ++accepted_records;
    }
  }
  EXPECT_EQ(accepted_records, 1);
  // The order survived both restarts and is open again at the new venue.
  const auto orders = ctl_json({"orders"});
  ASSERT_EQ(orders.at("orders").as_array().size(), 2u);
  EXPECT_EQ(str(orders.at("orders").at(0), "order_id"), "o-1");
  EXPECT_EQ(str(orders.at("orders").at(0), "state"), "ORDER_STATE_OPEN");
}

// The market.* rule facts come from the bars the gate processed; a restart
// (clean or SIGKILL) rebuilds them from the journaled bars, so a rule such
// as the volatility spike cap does not go blind for an hour after a crash.
TEST_F(GateDaemonTest, MarketStatisticsSurviveARestart) {
  start();
  const auto facts_of = [&](const std::string& intent_id) {
    for (const auto& r : read_gate_records(gate_->journal_dir())) {
      if (r.has_intent_decided() && r.intent_decided().intent().intent_id() == intent_id) {
        return r.intent_decided().rule_facts();
      }
    }
    ADD_FAILURE() << "no IntentDecided for " << intent_id;
    return ipc::RuleFacts();
  };
  // At the last close, with a stop 100 below.
  const std::string price = bars_[29].close();
  const std::string stop = Decimal::parse(price)->sub(*Decimal::parse("100"))->to_string();
  {
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    for (std::size_t i = 0; i < 30; ++i) bar(agent, bars_[i]);
    const Decision d = decide(agent, limit_intent("before", ipc::SIDE_BUY, "0.001", price, stop));
    ASSERT_TRUE(d.accepted()) << d.DebugString();
  }
  const ipc::RuleFacts before = facts_of("before");
  ASSERT_NE(before.market_realized_vol_1h(), "0") << "30 bars give a volatility";
  ASSERT_FALSE(before.market_realized_vol_1h().empty());
  for (const bool crash : {false, true}) {
    if (crash) {
      gate_->signal(SIGKILL);
      gate_->wait_exit();
      ASSERT_TRUE(gate_->start()) << gate_->log();
    } else {
      restart();
    }
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    const std::string id = crash ? "after-kill" : "after-restart";
    const Decision d = decide(agent, limit_intent(id, ipc::SIDE_BUY, "0.001", price, stop));
    ASSERT_TRUE(d.accepted()) << d.DebugString();
    const ipc::RuleFacts after = facts_of(id);
    EXPECT_EQ(after.market_realized_vol_1h(), before.market_realized_vol_1h()) << id;
    EXPECT_EQ(after.market_realized_vol_24h(), before.market_realized_vol_24h()) << id;
    EXPECT_EQ(after.market_volume_1h(), before.market_volume_1h()) << id;
  }
}

// For the SIGKILL tests of the rebuilt SimVenue: a SIM gate with
// `gate_extra` in its gate.yaml; `before` runs in one agent session and
// `after` in a second; when `crash` the gate is SIGKILLed and started
// again between them (otherwise it keeps running), and `damage` (when set)
// gets the journal directory while the gate is down. Returns the journal's
// fills, one line each (order, quantity, price, fee, market time), and
// puts all its records in `records` when given.
using AgentSession = std::function<void(GateProcess&, AgentPeer&)>;
using JournalDamage = std::function<void(const std::string& journal_dir)>;
std::vector<std::string> fills_across_a_kill(const std::string& gate_extra, bool crash, const AgentSession& before,
                                             const AgentSession& after, const JournalDamage& damage = {},
                                             std::vector<ipc::GateRecord>* records = nullptr) {
  TempDir dir;
  GateTestConfig config;
  config.gate_extra = gate_extra;
  write_gate_config(dir.path(), config);
  GateProcess gate(dir.path());
  EXPECT_TRUE(gate.start()) << gate.log();
  for (const AgentSession* session : {&before, &after}) {
    if (session == &after && crash) {
      gate.signal(SIGKILL);
      gate.wait_exit();
      if (damage) damage(gate.journal_dir());
      EXPECT_TRUE(gate.start()) << gate.log();
    }
    AgentPeer agent;
    EXPECT_TRUE(agent.connect(gate.gate_socket()));
    (*session)(gate, agent);
  }
  std::vector<std::string> fills;
  const std::vector<ipc::GateRecord> journal = read_gate_records(gate.journal_dir());
  for (const auto& r : journal) {
    if (!r.has_fill()) continue;
    const ipc::Fill& f = r.fill();
    fills.push_back(f.order_id() + " " + f.quantity() + " @ " + f.price() + " fee " + f.fee() + " at " +
                    std::to_string(f.ts_ns()));
  }
  if (records != nullptr) *records = journal;
  gate.signal(SIGTERM);
  gate.wait_exit();
  return fills;
}

// The same sessions without and with the kill: `fills` fills (`why`), and
// the same ones both times. `killed_records` gets the killed run's journal.
void expect_the_kill_changes_no_fill(const std::string& gate_extra, const AgentSession& before,
                                     const AgentSession& after, std::size_t fills, const char* why,
                                     const JournalDamage& damage = {},
                                     std::vector<ipc::GateRecord>* killed_records = nullptr) {
  const std::vector<std::string> straight = fills_across_a_kill(gate_extra, false, before, after);
  const std::vector<std::string> killed =
      fills_across_a_kill(gate_extra, true, before, after, damage, killed_records);
  for (const std::string& line : straight) std::printf("  %s\n", line.c_str());
  ASSERT_EQ(straight.size(), fills) << why;
  EXPECT_EQ(killed, straight);
}

void send_bar_answered(GateProcess& gate, AgentPeer& agent, const ipc::Bar& b) {
  Envelope reply;
  EXPECT_TRUE(agent.reply_to(agent.send_bar(b), reply)) << gate.log();
}

void decide_accepted(GateProcess& gate, AgentPeer& agent, const ipc::OrderIntent& intent) {
  agent.send_intent(intent);
  Decision d;
  EXPECT_TRUE(agent.decision_for(intent.intent_id(), d)) << gate.log();
  EXPECT_TRUE(d.accepted()) << d.DebugString();
}

void cancel_accepted(GateProcess& gate, AgentPeer& agent, const std::string& cancel_id, const std::string& intent_id) {
  Envelope cancel;
  cancel.mutable_cancel_intent()->set_cancel_id(cancel_id);
  cancel.mutable_cancel_intent()->set_intent_id(intent_id);
  Envelope result;
  EXPECT_TRUE(agent.reply_to(agent.send(cancel), result)) << gate.log();
  EXPECT_TRUE(result.cancel_result().accepted()) << result.DebugString();
}

// SimVenue lives in the gate's process and dies with it. After a SIGKILL
// the restarted gate rebuilds it from the journal: the books (last bar,
// bid/ask for the spread) and market time from the journaled bars, the
// open orders handed back with their first submit time. So the fills are
// the ones of a gate that never stopped. The latency (30 s + up to 59 s of
// jitter) puts some arrivals before the next bar's open and some after it;
// the bar after the kill carries no bid/ask, so the fills on the bar after
// it use the spread of the last bar before the kill.
TEST_F(GateDaemonTest, SimVenueAfterASigkillFillsAsIfTheGateNeverStopped) {
  std::vector<ipc::Bar> bars = sample_bars(20);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (i == 10) continue;
    const Decimal close = *Decimal::parse(bars[i].close());
    bars[i].set_bid(close.sub(*Decimal::parse("6"))->to_string());
    bars[i].set_ask(close.add(*Decimal::parse("6"))->to_string());
  }
  const Decimal close = *Decimal::parse(bars[9].close());
  const std::string stop = close.sub(*Decimal::parse("100"))->to_string();
  const AgentSession before = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 0; i < 10; ++i) send_bar_answered(gate, agent, bars[i]);
    for (const char* id : {"m-1", "m-2", "m-3"}) {
      decide_accepted(gate, agent, market_intent(id, ipc::SIDE_BUY, "0.01", stop));
    }
    for (const auto& [id, above] : {std::pair{"l-1", "20"}, std::pair{"l-2", "25"}}) {
      const std::string price = close.add(*Decimal::parse(above))->to_string();
      decide_accepted(gate, agent, limit_intent(id, ipc::SIDE_BUY, "0.01", price, stop));
    }
  };
  const AgentSession after = [&](GateProcess& gate, AgentPeer& agent) {
    decide_accepted(gate, agent, market_intent("m-after", ipc::SIDE_BUY, "0.01", stop));
    for (std::size_t i = 10; i < bars.size(); ++i) send_bar_answered(gate, agent, bars[i]);
  };
  const std::string venue = sim_venue_yaml({"seed: 7", "ack_latency: 30s", "ack_latency_jitter: 59s"});
  expect_the_kill_changes_no_fill(venue, before, after, 6, "every order fills");
}

// A cancel pending at a SIGKILL: the restarted gate hands the order back
// and sends the cancel again, arriving when it first would have (30 s
// after it was requested). The order, resting at a limit that the next
// bar trades through, fills on that bar before the cancel arrives - as it
// does without the kill. (Before, the restart settled the order as
// cancelled at once, so the fill was lost.)
TEST_F(GateDaemonTest, ACancelPendingAtASigkillArrivesWhenItFirstWould) {
  const std::vector<ipc::Bar> bars = sample_bars(60);
  // The fill bar f: the first from 9 on that trades at least 1 USD under
  // its open. The order is sent after bar f-2, arrives inside bar f-1 and
  // rests; the cancel is requested after bar f-1 and arrives inside bar f;
  // bar f trades through the limit (0.50 above its low, under its open).
  std::size_t f = 9;
  while (f + 5 < bars.size() &&
         *Decimal::parse(bars[f].open()) < Decimal::parse(bars[f].low())->add(*Decimal::parse("1")).value()) {
    ++f;
  }
  ASSERT_LT(f + 5, bars.size()) << "no bar in the sample trades 1 USD under its open";
  const Decimal limit = Decimal::parse(bars[f].low())->add(*Decimal::parse("0.50")).value();
  const AgentSession before = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 0; i + 1 < f; ++i) send_bar_answered(gate, agent, bars[i]);
    const std::string stop = limit.sub(*Decimal::parse("100"))->to_string();
    decide_accepted(gate, agent, limit_intent("rest", ipc::SIDE_BUY, "0.01", limit.to_string(), stop));
    send_bar_answered(gate, agent, bars[f - 1]);  // the order arrives inside bar f-1 and rests
    cancel_accepted(gate, agent, "cancel-rest", "rest");
  };
  const AgentSession after = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = f; i < f + 5; ++i) send_bar_answered(gate, agent, bars[i]);
  };
  expect_the_kill_changes_no_fill(sim_venue_yaml({"ack_latency: 30s"}), before, after, 1,
                                  "the resting order fills on bar f, before its cancel arrives");
}

// A stop-limit whose stop was reached before a SIGKILL: the venue's
// trigger is journaled (StopTriggered) and the rebuilt venue takes the
// order back as a limit order, so it fills on the next bar as it does
// without the kill. Bar t is a local peak: its high reaches the buy stop
// (set at that high) from inside the bar, and the three bars after it stay
// below, so a venue that forgot the trigger would never fill the order.
TEST_F(GateDaemonTest, AStopReachedBeforeASigkillStaysReached) {
  const std::vector<ipc::Bar> bars = sample_bars(120);
  const auto px = [](const std::string& text) { return *Decimal::parse(text); };
  std::size_t t = 3;
  const auto is_peak = [&](std::size_t k) {
    if (!(px(bars[k].open()) < px(bars[k].high()))) return false;
    if (px(bars[k + 1].open()) > px(bars[k].high())) return false;
    for (std::size_t j = k + 1; j <= k + 3; ++j) {
      if (!(px(bars[j].high()) < px(bars[k].high()))) return false;
    }
    return true;
  };
  while (t + 4 < bars.size() && !is_peak(t)) ++t;
  ASSERT_LT(t + 4, bars.size()) << "no local peak in the sample";
  const std::string stop = bars[t].high();
  const AgentSession before = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 0; i < t; ++i) send_bar_answered(gate, agent, bars[i]);
    ipc::OrderIntent in =
        limit_intent("stop-buy", ipc::SIDE_BUY, "0.01", stop, px(stop).sub(px("100"))->to_string());
    in.set_type(ipc::ORDER_TYPE_STOP_LIMIT);
    in.set_stop_price(stop);
    decide_accepted(gate, agent, in);
    send_bar_answered(gate, agent, bars[t]);  // the stop is reached inside bar t
  };
  const AgentSession after = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = t + 1; i <= t + 3; ++i) send_bar_answered(gate, agent, bars[i]);
  };
  std::printf("  the stop is reached inside bar t=%zu\n", t);
  expect_the_kill_changes_no_fill("", before, after, 1, "the triggered order fills at bar t+1's open");
}

// Cuts the gate's journal (one segment) right after the first record
// `is_last` accepts, as a stop can leave it: the cut is at a record
// boundary, so the journal stays valid (a shorter chain).
void cut_after(const std::string& journal_dir, const std::function<bool(const ipc::GateRecord&)>& is_last) {
  std::vector<std::filesystem::path> segments;
  for (const auto& e : std::filesystem::directory_iterator(journal_dir)) {
    if (e.path().filename().string().rfind("journal-", 0) == 0) segments.push_back(e.path());
  }
  ASSERT_EQ(segments.size(), 1u);
  auto reader = journal::Reader::open(journal_dir);
  ASSERT_TRUE(reader) << reader.error().message;
  std::uint64_t end = 64;  // the segment header
  for (;;) {
    auto next = (*reader)->next();
    ASSERT_TRUE(next) << next.error().message;
    ASSERT_TRUE(next->has_value()) << "no record to cut after";
    end += 64 + (*next)->payload.size();
    ipc::GateRecord r;
    ASSERT_TRUE(r.ParseFromArray((*next)->payload.data(), static_cast<int>((*next)->payload.size())));
    if (is_last(r)) break;
  }
  ASSERT_LT(end, std::filesystem::file_size(segments[0])) << "nothing follows the record";
  std::filesystem::resize_file(segments[0], end);
}

// Right after the IntentDecided record of `intent_id`: the order is then
// PENDING_NEW, decided and never sent.
void cut_after_decision(const std::string& journal_dir, const std::string& intent_id) {
  cut_after(journal_dir, [&](const ipc::GateRecord& r) {
    return r.has_intent_decided() && r.intent_decided().intent().intent_id() == intent_id;
  });
}

// A stop between an acceptance's record and its submit record (the two
// are separate appends, and the group-commit window can close between
// them) leaves the order PENDING_NEW: decided, never sent. In SIM the
// restarted gate sends it, arriving when it first would have, so the run
// goes on as if the gate had never stopped: the same fills, at the same
// prices and times, as without the kill. (Before, it was cancelled as
// never sent, which broke the SIM kill tests' parity now and then.)
TEST_F(GateDaemonTest, AnOrderDecidedButNeverSentAtASigkillIsSentAsIfTheGateNeverStopped) {
  const std::vector<ipc::Bar> bars = sample_bars(14);
  const Decimal close = *Decimal::parse(bars[9].close());
  const std::string stop = close.sub(*Decimal::parse("100"))->to_string();
  const AgentSession before = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 0; i < 10; ++i) send_bar_answered(gate, agent, bars[i]);
    decide_accepted(gate, agent, market_intent("m-1", ipc::SIDE_BUY, "0.01", stop));
    decide_accepted(gate, agent, market_intent("m-2", ipc::SIDE_BUY, "0.02", stop));
  };
  const AgentSession after = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 10; i < bars.size(); ++i) send_bar_answered(gate, agent, bars[i]);
  };
  const std::string venue = sim_venue_yaml({"seed: 3", "ack_latency: 20s", "ack_latency_jitter: 50s"});
  const JournalDamage cut = [&](const std::string& journal_dir) { cut_after_decision(journal_dir, "m-2"); };
  std::vector<ipc::GateRecord> killed;
  expect_the_kill_changes_no_fill(venue, before, after, 2, "both orders fill", cut, &killed);

  // What the restarted gate journaled about m-2's order.
  std::string reconcile_detail;
  std::vector<std::string> m2_events;
  std::string m2_order;
  for (const auto& r : killed) {
    if (r.has_intent_decided() && r.intent_decided().intent().intent_id() == "m-2") {
      m2_order = r.intent_decided().decision().order_id();
    }
    if (r.has_order_update() && r.order_update().order_id() == m2_order) {
      m2_events.push_back(ipc::OrderEventType_Name(r.order_update().event()));
    }
    if (r.has_reconcile()) reconcile_detail = r.reconcile().detail();
  }
  // The first event of m-2's order after the cut is the restart's submit.
  ASSERT_FALSE(m2_events.empty());
  EXPECT_EQ(m2_events.front(), "ORDER_EVENT_TYPE_SUBMIT");
  EXPECT_NE(reconcile_detail.find("1 never sent and sent now, 0 never sent and cancelled"), std::string::npos)
      << reconcile_detail;
}

// A kill cancels every open order, but its HaltStateChanged record and the
// orders' cancel records are separate appends, so a stop can come between
// them. The restarted gate is KILLED and must still cancel what the kill
// owed: the resting order is cancelled and never fills, although the bars
// after the restart trade through its limit. (Before, the restart handed
// the order back to the venue and it filled while the gate was KILLED.)
// For the lost-cancel tests: 60 sample bars and a buy "rest" placed after
// bar 9 under bar 10's low, so it rests, at a price a later bar's low
// reaches, so it fills unless it is cancelled. `cancel` runs after the
// order is accepted; `after` sends the bars from 10 on.
struct RestingBuy {
  std::vector<ipc::Bar> bars = sample_bars(60);
  std::string limit;
  std::string stop;
  RestingBuy() {
    const auto px = [](const std::string& text) { return *Decimal::parse(text); };
    Decimal lowest = px(bars[11].low());
    for (std::size_t i = 11; i < bars.size(); ++i) lowest = std::min(lowest, px(bars[i].low()));
    const Decimal l = lowest.add(px("0.50")).value();
    EXPECT_LT(l, px(bars[10].low())) << "the sample has no later bar under bar 10";
    limit = l.to_string();
    stop = l.sub(px("100"))->to_string();
  }
  AgentSession before(const AgentSession& cancel) const {
    return [this, cancel](GateProcess& gate, AgentPeer& agent) {
      for (std::size_t i = 0; i < 10; ++i) send_bar_answered(gate, agent, bars[i]);
      decide_accepted(gate, agent, limit_intent("rest", ipc::SIDE_BUY, "0.01", limit, stop));
      cancel(gate, agent);
    };
  }
  AgentSession after() const {
    return [this](GateProcess& gate, AgentPeer& agent) {
      for (std::size_t i = 10; i < bars.size(); ++i) send_bar_answered(gate, agent, bars[i]);
    };
  }
};

TEST_F(GateDaemonTest, AKillWhoseCancelsAreLostToASigkillStillCancelsAfterTheRestart) {
  const RestingBuy rest;
  const AgentSession before = rest.before([](GateProcess& gate, AgentPeer&) {
    const CommandResult kill = tradectl(gate.admin_socket(), {"kill", "--reason", "test kill"});
    EXPECT_EQ(kill.exit_code, 0) << kill.err;
  });
  const AgentSession after = rest.after();
  const JournalDamage cut = [](const std::string& journal_dir) {
    cut_after(journal_dir, [](const ipc::GateRecord& r) {
      return r.has_halt_state_changed() && r.halt_state_changed().to() == ipc::HALT_STATE_KILLED;
    });
  };
  expect_the_kill_changes_no_fill("", before, after, 0, "the kill cancelled the order", cut);
}

// Bars 0 to 9, a market buy of `quantity` (its stop 100 under bar 9's
// close), then bar 10, on which the buy fills (or starts to).
void buy_on_bar_ten(GateProcess& gate, AgentPeer& agent, const std::vector<ipc::Bar>& bars, const std::string& id,
                    const std::string& quantity) {
  const std::string stop = Decimal::parse(bars[9].close())->sub(*Decimal::parse("100"))->to_string();
  for (std::size_t i = 0; i < 10; ++i) send_bar_answered(gate, agent, bars[i]);
  decide_accepted(gate, agent, market_intent(id, ipc::SIDE_BUY, quantity, stop));
  send_bar_answered(gate, agent, bars[10]);
}

// kill --flatten with the journal cut right after the kill's record: the
// flatten order was never journaled. The restarted gate, KILLED with the
// flatten still in force, plans it again, so the position is closed as it
// is without the kill (the same fills).
TEST_F(GateDaemonTest, AKillFlattenLostToASigkillStillFlattensAfterTheRestart) {
  const std::vector<ipc::Bar> bars = sample_bars(16);
  const AgentSession before = [&](GateProcess& gate, AgentPeer& agent) {
    buy_on_bar_ten(gate, agent, bars, "f-1", "0.02");  // the buy fills
    const CommandResult kill = tradectl(gate.admin_socket(), {"kill", "--flatten", "--reason", "test"});
    EXPECT_EQ(kill.exit_code, 0) << kill.err;
  };
  const AgentSession after = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 11; i < bars.size(); ++i) send_bar_answered(gate, agent, bars[i]);
  };
  const JournalDamage cut = [](const std::string& journal_dir) {
    cut_after(journal_dir, [](const ipc::GateRecord& r) {
      return r.has_halt_state_changed() && r.halt_state_changed().to() == ipc::HALT_STATE_KILLED;
    });
  };
  expect_the_kill_changes_no_fill("", before, after, 2, "the buy, then the flatten's sell", cut);
}

// The same for an agent's cancel: the gate journals the accepted
// CancelIntent and then the order's cancel_request, two appends. With the
// journal cut between them, the restarted gate remembers the cancel as
// accepted (a retry of it gets that answer), so it must also make it: the
// resting order is cancelled and never fills.
TEST_F(GateDaemonTest, AnAcceptedCancelLostToASigkillIsStillMadeAfterTheRestart) {
  const RestingBuy rest;
  const AgentSession before = rest.before([](GateProcess& gate, AgentPeer& agent) {
    cancel_accepted(gate, agent, "cancel-rest", "rest");
  });
  const AgentSession after = rest.after();
  const JournalDamage cut = [](const std::string& journal_dir) {
    cut_after(journal_dir, [](const ipc::GateRecord& r) { return r.has_cancel_requested(); });
  };
  expect_the_kill_changes_no_fill("", before, after, 0, "the agent cancelled the order", cut);
}

// A bar's fills and its mark are separate appends (the mark is not even
// waited for by the bar's answer), so a stop can keep the fills of bar 10
// and lose its mark. The agent, without the answer, sends bar 10 again.
// The restarted gate must not let bar 10 fill the order a second time:
// the order, capped to a sliver of each bar's volume, fills bar by bar
// exactly as without the kill.
TEST_F(GateDaemonTest, ABarWhoseFillsSurvivedASigkillIsNotFilledAgain) {
  const std::vector<ipc::Bar> bars = sample_bars(16);
  const AgentSession before = [&](GateProcess& gate, AgentPeer& agent) {
    buy_on_bar_ten(gate, agent, bars, "big", "0.05");  // a first part fills
  };
  const AgentSession after = [&](GateProcess& gate, AgentPeer& agent) {
    for (std::size_t i = 10; i < bars.size(); ++i) send_bar_answered(gate, agent, bars[i]);
  };
  const JournalDamage cut = [](const std::string& journal_dir) {
    cut_after(journal_dir, [](const ipc::GateRecord& r) {
      return r.has_order_update() && r.order_update().state() == ipc::ORDER_STATE_PARTIALLY_FILLED;
    });
  };
  expect_the_kill_changes_no_fill(sim_venue_yaml({"fill_volume_fraction_max: 0.001"}), before, after, 6,
                                  "a part on each bar from 10 on", cut);
}

// A product taken out of gate.yaml after the journal has its bars: the
// restarted gate cannot give SimVenue that product's last bar, says so in
// its log and starts anyway (the venue cannot trade the product).
TEST_F(GateDaemonTest, StartsWhenTheJournalHasBarsOfAProductNoLongerConfigured) {
  start();
  {
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    ipc::Bar eth = bars_[0];
    eth.set_product("ETH-USD");
    bar(agent, bars_[0]);
    bar(agent, eth);
  }
  gate_->signal(SIGTERM);
  ASSERT_EQ(gate_->wait_exit(), 0) << gate_->log();
  // ETH-USD out of gate.yaml and safety.yaml: its block and its indented lines.
  for (const char* file : {"/gate.yaml", "/safety.yaml"}) {
    const std::string path = dir_.path() + file;
    std::string yaml;
    {
      std::ifstream in(path);
      yaml.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const auto at = yaml.find("  ETH-USD:\n");
    ASSERT_NE(at, std::string::npos) << yaml;
    auto end = yaml.find('\n', at) + 1;
    while (end < yaml.size() && yaml.compare(end, 4, "    ") == 0) end = yaml.find('\n', end) + 1;
    yaml.erase(at, end - at);
    std::ofstream(path) << yaml;
  }
  ASSERT_TRUE(gate_->start()) << gate_->log();
  EXPECT_NE(gate_->log().find("SimVenue not given the journal's last bar product=\"ETH-USD\""), std::string::npos)
      << gate_->log();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[1]);
}

TEST_F(GateDaemonTest, TradectlVerbsAgainstTheRealGate) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[0]);
  ASSERT_TRUE(decide(agent, limit_intent("t-1", ipc::SIDE_BUY, "0.01", "7350", "7300")).accepted());
  ASSERT_TRUE(decide(agent, limit_intent("t-2", ipc::SIDE_BUY, "0.02", "7340", "7300")).accepted());
  bar(agent, bars_[1]);  // acks: both rest (the bar does not trade down to them)

  CommandResult status = tradectl(gate_->admin_socket(), {"status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("mode            SIM"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("halt            ACTIVE"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("open orders     2"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("agent           connected"), std::string::npos) << status.out;
  const auto st = ctl_json({"status"});
  EXPECT_EQ(str(st, "halt_state"), "HALT_STATE_ACTIVE");
  EXPECT_EQ(st.at("open_orders").as_int64(), 2);
  EXPECT_TRUE(st.at("ready").as_bool());

  CommandResult orders = tradectl(gate_->admin_socket(), {"orders"});
  ASSERT_EQ(orders.exit_code, 0);
  EXPECT_NE(orders.out.find("o-1"), std::string::npos) << orders.out;
  EXPECT_NE(orders.out.find("OPEN"), std::string::npos) << orders.out;
  EXPECT_EQ(ctl_json({"orders"}).at("orders").as_array().size(), 2u);
  CommandResult positions = tradectl(gate_->admin_socket(), {"positions"});
  ASSERT_EQ(positions.exit_code, 0);
  EXPECT_NE(positions.out.find("PRODUCT"), std::string::npos) << positions.out;
  EXPECT_NE(positions.out.find("equity"), std::string::npos);

  // halt: no new orders, resting ones stay.
  CommandResult halt = tradectl(gate_->admin_socket(), {"halt", "--reason", "lunch"});
  EXPECT_EQ(halt.exit_code, 0) << halt.err;
  EXPECT_EQ(halt.out, "HALTED (was ACTIVE)\n");
  Envelope push;
  ASSERT_TRUE(agent.wait_for([](const Envelope& e) { return e.has_halt_state_changed(); }, push));
  EXPECT_EQ(push.halt_state_changed().to(), ipc::HALT_STATE_HALTED);
  EXPECT_EQ(push.halt_state_changed().actor(), "operator");
  EXPECT_EQ(push.halt_state_changed().reason(), "lunch");
  EXPECT_EQ(decide(agent, limit_intent("t-3", ipc::SIDE_BUY, "0.01", "7350", "7300")).reason(),
            ipc::DENY_REASON_HALTED);
  EXPECT_EQ(str(ctl_json({"status"}), "halt_reason"), "lunch");
  EXPECT_EQ(ctl_json({"orders"}).at("orders").as_array().size(), 2u);

  EXPECT_EQ(tradectl(gate_->admin_socket(), {"resume"}).exit_code, 0);
  // Resuming an active gate is refused: exit 1, one line on stderr.
  CommandResult again = tradectl(gate_->admin_socket(), {"resume"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "tradectl: trading-gate refused resume: the gate is ACTIVE; operator_resume does not apply in "
                       "that state\n");
  EXPECT_EQ(std::count(again.err.begin(), again.err.end(), '\n'), 1);

  // kill: every open order cancelled; KILLED survives a restart.
  CommandResult kill = tradectl(gate_->admin_socket(), {"kill", "--reason", "test kill", "--json"});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  EXPECT_NE(kill.out.find("HALT_STATE_KILLED"), std::string::npos) << kill.out;
  const auto cancelling = ctl_json({"orders"});
  for (const auto& o : cancelling.at("orders").as_array()) EXPECT_EQ(str(o, "state"), "ORDER_STATE_CANCEL_PENDING");
  bar(agent, bars_[2]);  // the venue confirms the cancels
  EXPECT_TRUE(ctl_json({"orders"}).at("orders").as_array().empty());
  EXPECT_EQ(ctl_json({"orders", "--all"}).at("orders").as_array().size(), 2u);
  EXPECT_EQ(decide(agent, limit_intent("t-4", ipc::SIDE_BUY, "0.01", "7350", "7300")).reason(),
            ipc::DENY_REASON_KILLED);
  restart();
  EXPECT_EQ(str(ctl_json({"status"}), "halt_state"), "HALT_STATE_KILLED");
  CommandResult resume = tradectl(gate_->admin_socket(), {"resume", "--reason", "checked"});
  EXPECT_EQ(resume.exit_code, 0) << resume.err;
  EXPECT_EQ(resume.out, "ACTIVE (was KILLED)\n");

  // Usage, help, unreachable.
  EXPECT_EQ(tradectl(gate_->admin_socket(), {"bogus"}).exit_code, 2);
  EXPECT_EQ(run_command({TRADECTL_BIN}).exit_code, 2);
  CommandResult help = run_command({TRADECTL_BIN, "kill", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--flatten"), std::string::npos) << help.out;
  CommandResult gone = tradectl(dir_.file("nothing.sock"), {"status"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("no socket at"), std::string::npos) << gone.err;
  EXPECT_EQ(std::count(gone.err.begin(), gone.err.end(), '\n'), 1);
  CommandResult env = run_command({TRADECTL_BIN, "status", "--json"}, {"TRADING_ADMIN_SOCKET=" + gate_->admin_socket()});
  EXPECT_EQ(env.exit_code, 0) << env.err;
}

TEST_F(GateDaemonTest, KillFlattenClosesThePosition) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[0]);
  ASSERT_TRUE(decide(agent, market_intent("f-1", ipc::SIDE_BUY, "0.02", "7300")).accepted());
  EXPECT_EQ(bar(agent, bars_[1]).positions(0).quantity(), "0.02");
  CommandResult kill = tradectl(gate_->admin_socket(), {"kill", "--flatten"});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  EXPECT_NE(kill.out.find("1 flatten order(s) sent"), std::string::npos) << kill.out;
  const ipc::PositionSnapshot flat = bar(agent, bars_[2]);
  EXPECT_EQ(flat.positions(0).quantity(), "0");
  bool gate_order = false;
  for (const auto& r : read_gate_records(gate_->journal_dir())) {
    if (r.has_intent_decided() && r.intent_decided().intent().strategy() == "gate") gate_order = true;
  }
  EXPECT_TRUE(gate_order);
}

// An exit already resting when the operator flattens: the gate sells only
// what the exit does not cover, cancels the exit, and once the cancel is
// confirmed sells what it freed. Replaying the journal record by record,
// the sells in flight never exceed the position.
TEST_F(GateDaemonTest, KillFlattenWithAnExitInFlightNeverOversells) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[0]);  // close 7422
  ASSERT_TRUE(decide(agent, market_intent("e-buy", ipc::SIDE_BUY, "0.02", "7300")).accepted());
  EXPECT_EQ(bar(agent, bars_[1]).positions(0).quantity(), "0.02");
  // An exit far above the market: it rests.
  ASSERT_TRUE(decide(agent, limit_intent("e-exit", ipc::SIDE_SELL, "0.008", "7600", "")).accepted());
  CommandResult kill = tradectl(gate_->admin_socket(), {"kill", "--flatten"});
  ASSERT_EQ(kill.exit_code, 0) << kill.err;
  EXPECT_NE(kill.out.find("1 flatten order(s) sent"), std::string::npos) << kill.out;
  EXPECT_EQ(bar(agent, bars_[2]).positions(0).quantity(), "0.008");  // the exit's cancel won; 0.012 sold
  EXPECT_EQ(bar(agent, bars_[3]).positions(0).quantity(), "0");      // the follow-up sold the 0.008

  std::vector<std::string> flatten_quantities;
  std::map<std::string, Decimal> sell_remaining;  // live sells by order id
  Decimal position;
  for (const auto& r : read_gate_records(gate_->journal_dir())) {
    if (r.has_intent_decided()) {
      const auto& d = r.intent_decided().decision();
      if (!d.accepted() || d.replayed()) continue;
      if (r.intent_decided().intent().strategy() == "gate") flatten_quantities.push_back(d.quantity());
      if (r.intent_decided().intent().side() == ipc::SIDE_SELL) {
        sell_remaining[d.order_id()] = Decimal::parse(d.quantity()).value();
      }
    } else if (r.has_fill()) {
      const Decimal q = Decimal::parse(r.fill().quantity()).value();
      position = (r.fill().side() == ipc::SIDE_BUY ? position.add(q) : position.sub(q)).value();
      if (r.fill().side() == ipc::SIDE_SELL) {
        Decimal& rem = sell_remaining[r.fill().order_id()];
        rem = rem.sub(q).value();
      }
    } else if (r.has_order_update()) {
      const auto s = r.order_update().state();
      if (s == ipc::ORDER_STATE_CANCELLED || s == ipc::ORDER_STATE_REJECTED || s == ipc::ORDER_STATE_EXPIRED) {
        sell_remaining.erase(r.order_update().order_id());
      }
    }
    Decimal in_flight;
    for (const auto& [id, rem] : sell_remaining) in_flight = in_flight.add(rem).value();
    ASSERT_TRUE(in_flight <= position || in_flight.is_zero())
        << "sells in flight " << in_flight.to_string() << " above the position " << position.to_string()
        << " after " << r.ShortDebugString();
  }
  EXPECT_EQ(flatten_quantities, (std::vector<std::string>{"0.012", "0.008"}));
}

// tradectl reduce: REDUCING lets only orders that shrink a position
// through; the transition is journaled, pushed, shown by status, refused
// where DESIGN.md's table has no move (KILLED), and survives a restart.
TEST_F(GateDaemonTest, ReduceLetsOnlyShrinkingOrdersThrough) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[0]);
  ASSERT_TRUE(decide(agent, market_intent("r-buy", ipc::SIDE_BUY, "0.02", "7300")).accepted());
  EXPECT_EQ(bar(agent, bars_[1]).positions(0).quantity(), "0.02");

  CommandResult reduce = tradectl(gate_->admin_socket(), {"reduce", "--reason", "winding down"});
  ASSERT_EQ(reduce.exit_code, 0) << reduce.err;
  EXPECT_EQ(reduce.out, "REDUCING (was ACTIVE)\n");
  Envelope push;
  ASSERT_TRUE(agent.wait_for([](const Envelope& e) { return e.has_halt_state_changed(); }, push));
  EXPECT_EQ(push.halt_state_changed().to(), ipc::HALT_STATE_REDUCING);
  EXPECT_EQ(push.halt_state_changed().cause(), ipc::HALT_CAUSE_OPERATOR_REDUCE);
  EXPECT_EQ(push.halt_state_changed().reason(), "winding down");
  const auto status = ctl_json({"status"});
  EXPECT_EQ(str(status, "halt_state"), "HALT_STATE_REDUCING");
  EXPECT_EQ(str(status, "halt_reason"), "winding down");

  const Decision grow = decide(agent, limit_intent("r-grow", ipc::SIDE_BUY, "0.01", "7400", "7300"));
  EXPECT_EQ(grow.reason(), ipc::DENY_REASON_REDUCING_ONLY) << grow.DebugString();
  const Decision shrink = decide(agent, limit_intent("r-shrink", ipc::SIDE_SELL, "0.01", "7410", ""));
  EXPECT_TRUE(shrink.accepted()) << shrink.DebugString();
  EXPECT_TRUE(shrink.reduce_only());

  // --json, and a repeat (REDUCING + reduce stays REDUCING).
  const auto again = ctl_json({"reduce"});
  EXPECT_TRUE(again.at("ok").as_bool());
  EXPECT_EQ(str(again, "halt_state"), "HALT_STATE_REDUCING");
  EXPECT_EQ(str(again, "message"), "REDUCING (was REDUCING)");

  // KILLED is left only by resume.
  ASSERT_EQ(tradectl(gate_->admin_socket(), {"kill"}).exit_code, 0);
  CommandResult refused = tradectl(gate_->admin_socket(), {"reduce"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err, "tradectl: trading-gate refused reduce: the gate is KILLED; operator_reduce does not apply in "
                         "that state\n");
  CommandResult refused_json = tradectl(gate_->admin_socket(), {"reduce", "--json"});
  EXPECT_EQ(refused_json.exit_code, 1);
  boost::system::error_code ec;
  const auto refusal = boost::json::parse(refused_json.out, ec);
  ASSERT_FALSE(ec) << refused_json.out;
  EXPECT_FALSE(refusal.at("ok").as_bool());
  EXPECT_EQ(str(refusal, "halt_state"), "HALT_STATE_KILLED");

  // HALTED -> REDUCING, and REDUCING comes back after a restart.
  ASSERT_EQ(tradectl(gate_->admin_socket(), {"resume"}).exit_code, 0);
  ASSERT_EQ(tradectl(gate_->admin_socket(), {"halt"}).exit_code, 0);
  reduce = tradectl(gate_->admin_socket(), {"reduce"});
  ASSERT_EQ(reduce.exit_code, 0) << reduce.err;
  EXPECT_EQ(reduce.out, "REDUCING (was HALTED)\n");
  restart();
  EXPECT_EQ(str(ctl_json({"status"}), "halt_state"), "HALT_STATE_REDUCING");
  EXPECT_EQ(str(ctl_json({"status"}), "halt_reason"), "operator reduce");

  CommandResult help = run_command({TRADECTL_BIN, "reduce", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--reason"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--json"), std::string::npos) << help.out;
}

TEST_F(GateDaemonTest, CancelsAreIdempotentAndSettleAtTheNextBar) {
  start();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[0]);
  ASSERT_TRUE(decide(agent, limit_intent("k-order", ipc::SIDE_BUY, "0.01", "7350", "7300")).accepted());
  auto cancel = [&](const std::string& cancel_id, const std::string& intent_id) {
    Envelope e;
    e.mutable_cancel_intent()->set_cancel_id(cancel_id);
    e.mutable_cancel_intent()->set_intent_id(intent_id);
    const std::uint64_t id = agent.send(e);
    Envelope reply;
    EXPECT_TRUE(agent.reply_to(id, reply));
    EXPECT_TRUE(reply.has_cancel_result()) << reply.DebugString();
    return reply.cancel_result();
  };
  const ipc::CancelResult first = cancel("k-1", "k-order");
  EXPECT_TRUE(first.accepted()) << first.DebugString();
  const ipc::CancelResult again = cancel("k-1", "k-order");
  EXPECT_TRUE(again.accepted());
  EXPECT_FALSE(cancel("k-2", "k-order").accepted());  // a second cancel for the same order
  const ipc::CancelResult unknown = cancel("k-3", "no-such-intent");
  EXPECT_FALSE(unknown.accepted());
  EXPECT_NE(unknown.detail().find("no open order"), std::string::npos) << unknown.detail();
  EXPECT_EQ(str(ctl_json({"orders"}).at("orders").at(0), "state"), "ORDER_STATE_CANCEL_PENDING");
  bar(agent, bars_[1]);
  EXPECT_TRUE(ctl_json({"orders"}).at("orders").as_array().empty());
  restart();
  AgentPeer after;
  ASSERT_TRUE(after.connect(gate_->gate_socket()));
  Envelope e;
  e.mutable_cancel_intent()->set_cancel_id("k-1");
  e.mutable_cancel_intent()->set_intent_id("k-order");
  const std::uint64_t id = after.send(e);
  Envelope reply;
  ASSERT_TRUE(after.reply_to(id, reply));
  EXPECT_TRUE(reply.cancel_result().accepted()) << reply.DebugString();  // remembered from the journal
}

TEST_F(GateDaemonTest, DailyLossHaltsFlattensAndEndsAfterTheCooldownInMarketTime) {
  GateTestConfig c;
  c.daily_loss_fraction_max = "0.001";  // $10 on $10,000: the fees of one trade and a small move
  start(c);
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  bar(agent, bars_[0]);
  ASSERT_TRUE(decide(agent, market_intent("loss-1", ipc::SIDE_BUY, "0.1", "7300")).accepted());
  bar(agent, bars_[1]);  // filled at ~7420 with a taker fee, marked at 7405
  bar(agent, bars_[2]);  // marked at 7395.88: beyond the limit (if the fill bar was not already)
  // The push came before one of the snapshots.
  Envelope halt;
  for (const Envelope& e : agent.seen) {
    if (e.has_halt_state_changed() && e.halt_state_changed().actor() == "daily_loss") halt = e;
  }
  ASSERT_TRUE(halt.has_halt_state_changed()) << gate_->log();
  EXPECT_EQ(halt.halt_state_changed().to(), ipc::HALT_STATE_HALTED);
  const std::int64_t until = halt.halt_state_changed().cooldown_until_ts_ns();
  EXPECT_EQ(until, halt.halt_state_changed().ts_ns() + 60LL * 60 * 1'000'000'000);  // 60 minutes of market time
  EXPECT_EQ(decide(agent, market_intent("loss-2", ipc::SIDE_BUY, "0.01", "7300")).reason(), ipc::DENY_REASON_COOLDOWN);
  CommandResult resume = tradectl(gate_->admin_socket(), {"resume"});
  EXPECT_EQ(resume.exit_code, 1);
  EXPECT_NE(resume.err.find("cooldown"), std::string::npos) << resume.err;
  const ipc::PositionSnapshot flat = bar(agent, bars_[3]);  // the flatten order fills
  EXPECT_EQ(flat.positions(0).quantity(), "0");

  restart();  // the halt and its cooldown survive
  AgentPeer again;
  ASSERT_TRUE(again.connect(gate_->gate_socket()));
  EXPECT_EQ(again.ack().halt_state(), ipc::HALT_STATE_HALTED);
  const auto bars = sample_bars(80);
  std::size_t i = 4;
  for (; i < bars.size() && (bars[i].open_ts_s() + 60) * 1'000'000'000LL < until; ++i) bar(again, bars[i]);
  EXPECT_EQ(str(ctl_json({"status"}), "halt_state"), "HALT_STATE_HALTED");
  bar(again, bars[i]);  // market time reaches the end of the cooldown
  EXPECT_EQ(str(ctl_json({"status"}), "halt_state"), "HALT_STATE_ACTIVE");
  // Active again, but no new exposure until the next UTC day.
  EXPECT_EQ(decide(again, market_intent("loss-3", ipc::SIDE_BUY, "0.01", "7300")).reason(),
            ipc::DENY_REASON_DAILY_LOSS_LIMIT);
}

TEST_F(GateDaemonTest, BadInputIsRefusedAndTheGateKeepsRunning) {
  start();
  {  // garbage after the handshake
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    ASSERT_TRUE(agent.raw().write_bytes(std::string("\x05\x00\x00\x00hello", 9)));
    Envelope e;
    while (agent.next(e, 2000)) {
    }
    EXPECT_TRUE(agent.raw().poll_closed());
  }
  {  // a frame header far above frame_size_max
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    ASSERT_TRUE(agent.raw().write_bytes(std::string("\x00\x00\x00\x40", 4)));
    Envelope e;
    bool protocol_error = false;
    while (agent.next(e, 2000)) protocol_error |= e.has_protocol_error();
    EXPECT_TRUE(protocol_error);
    EXPECT_TRUE(agent.raw().poll_closed());
  }
  {  // an admin request on gate.sock
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    ipc::AdminEnvelope admin;
    admin.mutable_kill_request()->set_flatten(true);
    ASSERT_TRUE(agent.raw().write_message(admin));
    Envelope e;
    while (agent.next(e, 2000)) {
    }
    EXPECT_TRUE(agent.raw().poll_closed());
  }
  {  // a bar that is not a bar
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    ipc::Bar b = bars_[0];
    b.set_low("9999");  // above the high
    const std::uint64_t id = agent.send_bar(b);
    Envelope e;
    ASSERT_TRUE(agent.reply_to(id, e));
    EXPECT_TRUE(e.has_protocol_error());
    EXPECT_NE(e.protocol_error().message().find("bar refused"), std::string::npos) << e.DebugString();
  }
  {  // absurd and negative numbers are denied, the connection stays
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    bar(agent, bars_[0]);
    EXPECT_EQ(decide(agent, limit_intent("b-1", ipc::SIDE_BUY, "-1", "7400", "7300")).reason(),
              ipc::DENY_REASON_FIELD_RANGE);
    EXPECT_EQ(decide(agent, limit_intent("b-2", ipc::SIDE_BUY, "0.01", "1e9999", "7300")).reason(),
              ipc::DENY_REASON_MALFORMED);
    EXPECT_EQ(decide(agent, limit_intent("b-3", ipc::SIDE_BUY, "0", "7400", "7300")).reason(),
              ipc::DENY_REASON_FIELD_RANGE);
    EXPECT_EQ(decide(agent, limit_intent(std::string(65, 'x'), ipc::SIDE_BUY, "0.01", "7400", "7300")).reason(),
              ipc::DENY_REASON_MALFORMED);
    EXPECT_TRUE(decide(agent, limit_intent("b-4", ipc::SIDE_BUY, "0.01", "7400", "7300")).accepted());
  }
  EXPECT_TRUE(gate_->alive());
  EXPECT_EQ(tradectl(gate_->admin_socket(), {"status"}).exit_code, 0);
  const std::string log = gate_->log();
  EXPECT_NE(log.find("frame_oversize"), std::string::npos) << log;
  EXPECT_NE(log.find("protocol error"), std::string::npos) << log;
}

TEST_F(GateDaemonTest, PeersOutsideTheAllowListAreRefusedAndJournaled) {
  GateTestConfig c;
  c.gate_socket_extra = "    allow_own_uid: false\n    allowed_uids: [" + std::to_string(::getuid() + 4242) + "]\n";
  start(c);
  AgentPeer agent;
  EXPECT_FALSE(agent.connect(gate_->gate_socket(), 2000));
  EXPECT_TRUE(agent.raw().poll_closed());
  // The refusal is journaled (wait for it: the record is appended while
  // the test reads).
  bool journaled = false;
  for (int i = 0; i < 200 && !journaled; ++i) {
    for (const auto& r : read_gate_records(gate_->journal_dir())) {
      if (r.has_peer_refused() && r.peer_refused().socket() == "agent" && r.peer_refused().uid() == ::getuid()) {
        journaled = true;
      }
    }
    if (!journaled) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(journaled);
  EXPECT_NE(gate_->log().find("peer refused socket=agent"), std::string::npos);
  EXPECT_EQ(tradectl(gate_->admin_socket(), {"status"}).exit_code, 0);  // admin.sock is separate
}

TEST_F(GateDaemonTest, CheckConfigPrintsEveryProblemWithItsPosition) {
  write_gate_config(dir_.path());
  CommandResult ok = run_command({TRADING_GATE_BIN, "--config", dir_.file("gate.yaml"), "--check-config"});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  std::ofstream(dir_.file("gate.yaml"), std::ios::app) << "bogus_key: 1\nheartbeat_extra: 2\n";
  std::ofstream(dir_.file("safety.yaml"), std::ios::app) << "open_orders_max: 5000\n";
  CommandResult bad = run_command({TRADING_GATE_BIN, "--config", dir_.file("gate.yaml"), "--check-config"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("gate.yaml:"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("bogus_key"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("heartbeat_extra"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("safety.yaml:"), std::string::npos) << bad.out;
  // Starting with it fails with exit 1 and says why.
  CommandResult start = run_command({TRADING_GATE_BIN, "--config", dir_.file("gate.yaml")});
  EXPECT_EQ(start.exit_code, 1);
  EXPECT_NE(start.err.find("bogus_key"), std::string::npos) << start.err;

  EXPECT_EQ(run_command({TRADING_GATE_BIN}).exit_code, 2);
  EXPECT_EQ(run_command({TRADING_GATE_BIN, "--config"}).exit_code, 2);
  CommandResult help = run_command({TRADING_GATE_BIN, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--check-config"), std::string::npos);
}

TEST_F(GateDaemonTest, RulesThatDoNotCompileStopTheGate) {
  const std::string rules = dir_.file("rules-core");
  std::filesystem::create_directories(rules);
  std::ofstream(rules + "/broken.rule") << "rule broken v1 \"x\" {\n  from core\n  when market.sprad > 25bps\n"
                                           "  then deny \"x\"\n}\n";
  GateTestConfig c;
  c.rules_core_dir = rules;
  write_gate_config(dir_.path(), c);
  CommandResult check = run_command({TRADING_GATE_BIN, "--config", dir_.file("gate.yaml"), "--check-config"});
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.out.find("broken.rule:3:8: "), std::string::npos) << check.out;
  GateProcess gate(dir_.path());
  gate.spawn();
  EXPECT_EQ(gate.wait_exit(), 1);
  EXPECT_NE(gate.log().find("market.sprad"), std::string::npos) << gate.log();
}

TEST_F(GateDaemonTest, TornTailIsCutAndMiddleCorruptionStopsTheGate) {
  start();
  {
    AgentPeer agent;
    ASSERT_TRUE(agent.connect(gate_->gate_socket()));
    bar(agent, bars_[0]);
    ASSERT_TRUE(decide(agent, limit_intent("c-1", ipc::SIDE_BUY, "0.01", "7400", "7300")).accepted());
  }
  gate_->signal(SIGTERM);
  ASSERT_EQ(gate_->wait_exit(), 0);
  std::vector<std::filesystem::path> segments;
  for (const auto& e : std::filesystem::directory_iterator(gate_->journal_dir())) {
    if (e.path().extension() == ".seg") segments.push_back(e.path());
  }
  ASSERT_EQ(segments.size(), 1u);
  const auto size = std::filesystem::file_size(segments[0]);
  // A torn tail: half a record header appended.
  std::ofstream(segments[0], std::ios::binary | std::ios::app) << std::string(20, '\x7f');
  ASSERT_TRUE(gate_->start()) << gate_->log();
  EXPECT_NE(gate_->log().find("torn tail cut"), std::string::npos);
  gate_->signal(SIGTERM);
  ASSERT_EQ(gate_->wait_exit(), 0);
  // Corruption in the middle: one payload byte of an early record flipped.
  {
    std::fstream f(segments[0], std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.seekg(static_cast<std::streamoff>(size / 2));
    f.get(c);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put(static_cast<char>(c ^ 0x55));
  }
  gate_->spawn();
  EXPECT_EQ(gate_->wait_exit(), 1);
  EXPECT_NE(gate_->log().find("checksum"), std::string::npos) << gate_->log();
}

TEST_F(GateDaemonTest, PaperModeRefusesBarsFromTheAgent) {
  GateTestConfig c;
  write_gate_config(dir_.path(), c);
  std::string text;
  {
    std::ifstream in(dir_.file("gate.yaml"));
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  text.replace(text.find("mode: SIM"), 9, "mode: PAPER");
  std::ofstream(dir_.file("gate.yaml")) << text;
  gate_ = std::make_unique<GateProcess>(dir_.path());
  ASSERT_TRUE(gate_->start()) << gate_->log();
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate_->gate_socket()));
  EXPECT_EQ(agent.ack().mode(), ipc::MODE_PAPER);
  const std::uint64_t id = agent.send_bar(bars_[0]);
  Envelope e;
  ASSERT_TRUE(agent.reply_to(id, e));
  ASSERT_TRUE(e.has_protocol_error());
  EXPECT_NE(e.protocol_error().message().find("SIM mode only"), std::string::npos);
}

TEST_F(GateDaemonTest, TellsSystemdWhenReadyAndStopsOnSigterm) {
  write_gate_config(dir_.path());
  const std::string notify = dir_.file("notify.sock");
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", notify.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
  GateProcess gate(dir_.path());
  gate.spawn();
  ::unsetenv("NOTIFY_SOCKET");
  std::string got;
  struct pollfd p = {fd, POLLIN, 0};
  while (got.find("READY=1") == std::string::npos && ::poll(&p, 1, 20'000) > 0) {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
  }
  EXPECT_NE(got.find("READY=1"), std::string::npos) << gate.log();
  gate.signal(SIGTERM);
  EXPECT_EQ(gate.wait_exit(), 0) << gate.log();
  ::close(fd);
  const auto records = read_gate_records(dir_.file("journal"));
  ASSERT_FALSE(records.empty());
  EXPECT_TRUE(records.back().has_stopped());
  EXPECT_EQ(records.back().stopped().reason(), "SIGTERM");
}

}  // namespace
}  // namespace ta::test
