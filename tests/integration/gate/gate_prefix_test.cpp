// Every record boundary of a gate journal is a point a crash can leave
// behind: the group-commit window can close between any two appends, so
// even the records of one step (an acceptance and its submit, a kill and
// its cancels) can be split by a stop. The test records one SIM session
// with the real trading-gate (bars, market and resting orders, fills, an
// agent's cancel, a halt and a resume, a kill and a resume, a restart, a
// kill --flatten), then for every k starts a gate (GateApp in this
// process) on the session journal's first k records and checks:
//   * the gate starts (recovery accepts every prefix);
//   * its live orders, positions and fees equal a replay of its journal
//     done here (gate_journal_view.h), after the start and again after
//     more bars;
//   * no intent produced two orders;
//   * what the prefix owed is done: an order decided but never sent is
//     sent (SIM); an order whose cancel was accepted, or that a kill cancelled,
//     is cancelled at the start and never fills, although the later bars
//     trade through its limit; a kill --flatten leaves no position.
// No randomness: every prefix of one fixed session.
#include <gtest/gtest.h>

#include <set>

#include "gate_daemon_support.h"
#include "gate_journal_view.h"
#include "journal_prefix.h"
#include "proto/decimal.h"
#include "running_gate.h"

namespace ta::test {
namespace {

using ipc::Envelope;

// A record of the session's journal, raw and decoded.
struct RawRecord {
  RawJournalRecord raw;
  ipc::GateRecord record;
};

std::vector<RawRecord> read_raw(const std::string& dir) {
  std::vector<RawRecord> out;
  for (RawJournalRecord& raw : read_raw_journal(dir)) {
    RawRecord r{std::move(raw), {}};
    EXPECT_TRUE(r.record.ParseFromString(r.raw.payload)) << "record " << out.size() + 1;
    out.push_back(std::move(r));
  }
  return out;
}

void write_prefix(const std::string& dir, const std::vector<RawRecord>& records, std::size_t k) {
  std::vector<RawJournalRecord> raw;
  for (std::size_t i = 0; i < k; ++i) raw.push_back(records[i].raw);
  write_journal_prefix(dir, raw, k);
}

std::string body_name(const ipc::GateRecord& r) {
  const auto* field = ipc::GateRecord::descriptor()->FindFieldByNumber(r.body_case());
  return field != nullptr ? field->name() : "empty";
}

// The session's market: sample bars 3..18 and 80..86 during the session
// (the last two fall by about 70 USD), 87..119 after it. The resting buys
// sit 0.50 above the lowest low of the later bars, under every low of the
// session's (so they rest through it) and reached by a later bar (so they
// fill unless they are cancelled).
struct Market {
  std::vector<ipc::Bar> calm;  // 3..18
  std::vector<ipc::Bar> drop;  // 80..86
  std::vector<ipc::Bar> later;
  std::string limit;
  std::string limit_stop;
  std::string market_stop;

  Market() {
    const std::vector<ipc::Bar> bars = sample_bars(120);
    calm.assign(bars.begin() + 3, bars.begin() + 19);
    drop.assign(bars.begin() + 80, bars.begin() + 87);
    later.assign(bars.begin() + 87, bars.end());
    const auto px = [](const std::string& text) { return *Decimal::parse(text); };
    const auto lowest = [&](const std::vector<ipc::Bar>& v) {
      Decimal low = px(v.front().low());
      for (const auto& b : v) low = std::min(low, px(b.low()));
      return low;
    };
    const Decimal l = lowest(later).add(px("0.50")).value();
    EXPECT_LT(l, std::min(lowest(calm), lowest(drop))) << "no later bar of the sample trades under the session's";
    limit = l.to_string();
    limit_stop = l.sub(px("100"))->to_string();
    market_stop = px(calm[9].close()).sub(px("100"))->to_string();
  }
};

class Session {
 public:
  Session(GateProcess& gate, const Market& m) : gate_(gate), m_(m) {}

  void connect() { ASSERT_TRUE(agent_.connect(gate_.gate_socket())) << gate_.log(); }
  void bar(const ipc::Bar& b) {
    Envelope reply;
    ASSERT_TRUE(agent_.reply_to(agent_.send_bar(b), reply)) << gate_.log();
  }
  void accepted(const ipc::OrderIntent& intent) {
    agent_.send_intent(intent);
    ipc::Decision d;
    ASSERT_TRUE(agent_.decision_for(intent.intent_id(), d)) << gate_.log();
    ASSERT_TRUE(d.accepted()) << d.DebugString();
  }
  void rest(const std::string& id) { accepted(limit_intent(id, ipc::SIDE_BUY, "0.01", m_.limit, m_.limit_stop)); }
  void buy(const std::string& id, const std::string& qty) {
    accepted(market_intent(id, ipc::SIDE_BUY, qty, m_.market_stop));
  }
  void cancel(const std::string& intent_id) {
    Envelope e;
    e.mutable_cancel_intent()->set_cancel_id("cancel-" + intent_id);
    e.mutable_cancel_intent()->set_intent_id(intent_id);
    Envelope result;
    ASSERT_TRUE(agent_.reply_to(agent_.send(e), result)) << gate_.log();
    ASSERT_TRUE(result.cancel_result().accepted()) << result.DebugString();
  }
  void ctl(const std::vector<std::string>& args) {
    const CommandResult r = tradectl(gate_.admin_socket(), args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

 private:
  GateProcess& gate_;
  const Market& m_;
  AgentPeer agent_;
};

// What the first k records leave owed, read from them alone.
struct Owed {
  std::set<std::string> cancels;      // order ids: an accepted cancel, or open at a cancel-all halt
  std::set<std::string> pending_new;  // decided, never sent
  bool flatten = false;               // the last halt change flattens
};

// DESIGN.md section 6: the halts that cancel every open order, and those
// that also flatten.
bool cancels_all(ipc::HaltCause c) {
  switch (c) {
    case ipc::HALT_CAUSE_OPERATOR_KILL:
    case ipc::HALT_CAUSE_OPERATOR_KILL_FLATTEN:
    case ipc::HALT_CAUSE_HEARTBEAT_TIMEOUT:
    case ipc::HALT_CAUSE_DAILY_LOSS_LIMIT:
    case ipc::HALT_CAUSE_JOURNAL_UNWRITABLE:
    case ipc::HALT_CAUSE_VENUE_DISCONNECTED:
    case ipc::HALT_CAUSE_INTERNAL_ERROR:
      return true;
    default:
      return false;
  }
}
bool flattens(ipc::HaltCause c) {
  return c == ipc::HALT_CAUSE_OPERATOR_KILL_FLATTEN || c == ipc::HALT_CAUSE_DAILY_LOSS_LIMIT;
}

Owed owed_by(const std::vector<RawRecord>& records, std::size_t k) {
  std::vector<ipc::GateRecord> prefix;
  for (std::size_t i = 0; i < k; ++i) prefix.push_back(records[i].record);
  const JournalView end = view_of(prefix);
  Owed owed;
  JournalView so_far;
  std::map<std::string, std::string> order_of_intent;
  for (const ipc::GateRecord& r : prefix) {
    apply_to_view(so_far, {r});
    if (r.has_intent_decided() && r.intent_decided().decision().accepted()) {
      order_of_intent[r.intent_decided().intent().intent_id()] = r.intent_decided().decision().order_id();
    }
    if (r.has_cancel_requested()) {
      auto it = order_of_intent.find(r.cancel_requested().intent_id());
      if (it != order_of_intent.end()) owed.cancels.insert(it->second);
    }
    if (r.has_halt_state_changed()) {
      const ipc::HaltCause cause = r.halt_state_changed().cause();
      owed.flatten = flattens(cause);
      if (cancels_all(cause)) {
        for (const auto& [id, o] : so_far.orders) {
          if (!terminal(o.state)) owed.cancels.insert(id);
        }
      }
    }
  }
  // Only what is still open at the end of the prefix is owed.
  std::erase_if(owed.cancels, [&](const std::string& id) { return terminal(end.orders.at(id).state); });
  for (const auto& [id, o] : end.orders) {
    if (o.state == ipc::ORDER_STATE_PENDING_NEW) owed.pending_new.insert(id);
  }
  return owed;
}

// The venue of a run: no latency, or orders and cancels 30 s to 89 s of
// market time on their way (so cuts land with orders and cancels in
// flight, and a cancel can arrive after a bar that fills its order).
struct Venue {
  const char* name;
  std::string yaml;  // gate.yaml text
  bool cancels_race_fills;
};
const Venue kInstant{"instant", "", false};
const Venue kLatency{"latency", sim_venue_yaml({"seed: 11", "ack_latency: 30s", "ack_latency_jitter: 59s"}), true};

// Tight loss limit (0.1 % of the 10,000 USD, the smallest allowed) so the
// session's drop reaches it; room for its large buy.
GateTestConfig prefix_test_config(const Venue& venue) {
  GateTestConfig c;
  c.daily_loss_fraction_max = "0.001";
  c.gate_extra = venue.yaml;
  return c;
}

ipc::AdminEnvelope admin_query(const TempDir& dir, void (*set)(ipc::AdminEnvelope&)) {
  ipc::AdminEnvelope req;
  set(req);
  return admin(dir.file("admin.sock"), req);
}

// The gate's journal and its orders and positions at one moment: the gate
// appends and answers on one thread, so when its last sequence number is
// the same before and after the queries and the journal read shows that
// many records, the answers are those of that journal.
struct Settled {
  std::vector<ipc::GateRecord> records;
  ipc::OrdersReply orders;
  ipc::PositionSnapshot positions;
};
Settled settled(const TempDir& dir) {
  const auto last_seq = [&] {
    return admin_query(dir, [](ipc::AdminEnvelope& e) { e.mutable_status_request(); })
        .status_reply()
        .journal_last_sequence();
  };
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const std::uint64_t before = last_seq();
    Settled out;
    out.records = read_gate_records(dir.file("journal"));
    if (out.records.size() == before) {
      out.orders = admin_query(dir, [](ipc::AdminEnvelope& e) { e.mutable_orders_request(); }).orders_reply();
      out.positions =
          admin_query(dir, [](ipc::AdminEnvelope& e) { e.mutable_positions_request(); }).positions_reply();
      if (last_seq() == before) return out;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ADD_FAILURE() << "the gate's journal never stood still for a query";
  return {};
}

// The gate's live orders, positions and fees against the replay of its
// journal; returns the replay.
JournalView expect_state_is_the_journals(const TempDir& dir, const std::string& where) {
  const Settled now = settled(dir);
  const JournalView v = view_of(now.records);
  EXPECT_TRUE(v.error.empty()) << where << ": " << v.error;
  expect_one_order_per_intent(v, where);
  std::map<std::string, std::string> actual;
  for (const auto& o : now.orders.orders()) actual[o.order_id()] = order_text(o.state(), o.filled_quantity());
  EXPECT_EQ(actual, open_orders_of(v)) << where;
  std::map<std::string, Decimal> reported;
  for (const auto& p : now.positions.positions()) reported[p.product()] = *Decimal::parse(p.quantity());
  for (const auto& [product, qty] : v.position) EXPECT_EQ(reported[product], qty) << where << ": " << product;
  EXPECT_EQ(*Decimal::parse(now.positions.account().fees_paid()), v.fees) << where;
  return v;
}

void check_prefix(const std::vector<RawRecord>& records, std::size_t k, const Market& m, const Venue& venue) {
  const std::string where = "prefix of " + std::to_string(k) + " records, ending with " +
                            body_name(records[k - 1].record);
  SCOPED_TRACE(where);
  const Owed owed = owed_by(records, k);
  TempDir dir;
  const std::string config = write_gate_config(dir.path(), prefix_test_config(venue));
  write_prefix(dir.file("journal"), records, k);
  RunningGate gate(config);
  ASSERT_EQ(gate.start_error, "");

  const JournalView started = expect_state_is_the_journals(dir, "after the start");
  for (const std::string& id : owed.pending_new) {
    // SIM sends it now, as if the gate had never stopped (PAPER and LIVE
    // would cancel it); an order that owes a cancel is cancelled instead.
    const ipc::OrderState s = started.orders.at(id).state;
    if (owed.cancels.contains(id)) continue;
    EXPECT_TRUE(s == ipc::ORDER_STATE_SUBMITTED || s == ipc::ORDER_STATE_OPEN ||
                s == ipc::ORDER_STATE_PARTIALLY_FILLED || s == ipc::ORDER_STATE_FILLED)
        << id << " was decided and never sent, and is " << ipc::OrderState_Name(s) << " after the start";
  }
  for (const std::string& id : owed.cancels) {
    const ipc::OrderState s = started.orders.at(id).state;
    EXPECT_TRUE(s == ipc::ORDER_STATE_CANCEL_PENDING || terminal(s))
        << id << " owes a cancel and is " << ipc::OrderState_Name(s);
  }

  // The bars after the session: every resting buy still open fills on
  // them unless it is cancelled.
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(dir.file("gate.sock")));
  for (const ipc::Bar& b : m.later) {
    Envelope reply;
    ASSERT_TRUE(agent.reply_to(agent.send_bar(b), reply)) << "bar at " << b.open_ts_s();
  }
  const JournalView after = expect_state_is_the_journals(dir, "after the later bars");
  for (const std::string& id : owed.cancels) {
    // With latency a bar can fill the order before its cancel arrives, as
    // it could without the crash.
    const ipc::OrderState s = after.orders.at(id).state;
    if (venue.cancels_race_fills) {
      EXPECT_TRUE(s == ipc::ORDER_STATE_CANCELLED || s == ipc::ORDER_STATE_FILLED)
          << id << " owed a cancel and is " << ipc::OrderState_Name(s);
    } else {
      EXPECT_EQ(s, ipc::ORDER_STATE_CANCELLED) << id << " owed a cancel";
    }
  }
  if (owed.flatten) {
    EXPECT_EQ(after.position.count("BTC-USD") ? after.position.at("BTC-USD") : Decimal(), Decimal())
        << "a kill --flatten leaves no position";
  }
}

void every_prefix(const Venue& venue) {
  std::printf("venue: %s\n", venue.name);
  const Market m;
  TempDir dir;
  write_gate_config(dir.path(), prefix_test_config(venue));
  GateProcess gate(dir.path());
  ASSERT_TRUE(gate.start()) << gate.log();
  {
    Session s(gate, m);
    s.connect();
    for (std::size_t i = 0; i < 10; ++i) s.bar(m.calm[i]);
    s.buy("m-1", "0.02");
    s.rest("r-1");
    s.bar(m.calm[10]);
    s.bar(m.calm[11]);  // m-1 has filled, also with latency
    s.cancel("r-1");
    s.rest("r-2");
    s.ctl({"halt", "--reason", "test halt"});
    s.ctl({"resume", "--reason", "test resume"});
    s.rest("r-3");
    s.ctl({"kill", "--reason", "test kill"});
    s.ctl({"resume", "--reason", "test resume after the kill"});
    s.rest("r-4");
  }
  gate.signal(SIGTERM);
  ASSERT_EQ(gate.wait_exit(), 0) << gate.log();
  ASSERT_TRUE(gate.start()) << gate.log();
  {
    Session s(gate, m);
    s.connect();
    s.bar(m.calm[12]);
    s.buy("m-2", "0.01");
    s.rest("r-5");
    s.ctl({"kill", "--flatten", "--reason", "test kill --flatten"});
    for (std::size_t i = 13; i < m.calm.size(); ++i) s.bar(m.calm[i]);  // the flatten fills
    s.ctl({"resume", "--reason", "test resume after the flatten"});
    // A large buy before the drop: the daily loss limit cancels, flattens
    // and halts.
    s.bar(m.drop[0]);
    s.rest("r-6");
    s.buy("m-3", "0.12");
    for (std::size_t i = 1; i < m.drop.size(); ++i) s.bar(m.drop[i]);
  }
  gate.signal(SIGTERM);
  ASSERT_EQ(gate.wait_exit(), 0) << gate.log();

  const std::vector<RawRecord> records = read_raw(gate.journal_dir());
  std::map<std::string, int> kinds;
  for (const auto& r : records) ++kinds[body_name(r.record)];
  std::printf("session journal: %zu records:", records.size());
  for (const auto& [kind, n] : kinds) std::printf(" %s=%d", kind.c_str(), n);
  std::printf("\n");
  // The session did what it is for: a loss halt, two kills, an agent's
  // cancel, fills.
  std::set<int> causes;
  for (const auto& r : records) {
    if (r.record.has_halt_state_changed()) causes.insert(r.record.halt_state_changed().cause());
  }
  EXPECT_TRUE(causes.contains(ipc::HALT_CAUSE_DAILY_LOSS_LIMIT));
  EXPECT_TRUE(causes.contains(ipc::HALT_CAUSE_OPERATOR_KILL));
  EXPECT_TRUE(causes.contains(ipc::HALT_CAUSE_OPERATOR_KILL_FLATTEN));
  EXPECT_EQ(kinds["cancel_requested"], 1);
  // With latency the loss halt's flatten fills after the session.
  EXPECT_GE(kinds["fill"], venue.cancels_race_fills ? 3 : 4)
      << "m-1, the kill's flatten, m-3 and the loss halt's flatten";
  for (std::size_t k = 1; k <= records.size() && !::testing::Test::HasFailure(); ++k) {
    check_prefix(records, k, m, venue);
  }
}

TEST(GatePrefix, EveryPrefixOfAJournalRecoversAndDoesWhatItOwed) { every_prefix(kInstant); }

TEST(GatePrefix, EveryPrefixWithOrdersAndCancelsInFlightRecoversAndDoesWhatItOwed) { every_prefix(kLatency); }

}  // namespace
}  // namespace ta::test
