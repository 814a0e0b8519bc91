// Crash recovery of the real trading-gate: a raw agent sends intents (new
// ones, resent ones, cancels) and bars while the test SIGKILLs the gate at
// a random moment - sometimes during its start-up and recovery, mostly in
// the middle of traffic. After each kill the gate is started again on the
// same journal and must come back ready, with:
//   * its orders and positions (tradectl --json) equal to a replay of the
//     journal done here, independently of the gate's own replay code;
//   * no intent id that produced two orders;
//   * every acceptance the agent ever saw in the journal, with the same
//     order id (an accepted order is never lost);
//   * resent intents answered with their original decision.
// The seed is printed; TA_TEST_SEED=N replays a run, TA_CRASH_RUNS=N
// changes the number of kills (default kRuns).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <random>
#include <set>

#include "gate_daemon_support.h"
#include "gate_journal_view.h"
#include "proto/decimal.h"

namespace ta::test {
namespace {

using ipc::Envelope;

constexpr int kRuns = 100;
// One kill in four lands in start-up and recovery: up to this long after
// the spawn (the ASan build takes ~200 ms to become ready).
constexpr int kStartupKillDelayMsMax = 300;
// The others come this long into the traffic of a ready gate.
constexpr int kTrafficKillDelayMsMax = 300;
// Kills per journal directory: each restart replays the whole journal, so
// a fresh one now and then keeps the test's time linear in the runs.
constexpr int kRunsPerJournal = 25;

struct Seen {
  std::map<std::string, std::string> accepted;  // intent id -> order id, as the agent saw them
  std::map<std::string, ipc::OrderIntent> sent; // every intent ever sent, by id
  std::vector<std::string> accepted_ids;        // in the order they were seen
};

boost::json::value ctl_json(const GateProcess& gate, std::vector<std::string> args) {
  args.push_back("--json");
  CommandResult r = tradectl(gate.admin_socket(), args);
  boost::system::error_code ec;
  auto v = boost::json::parse(r.out, ec);
  if (ec || r.exit_code != 0) {
    ADD_FAILURE() << "tradectl " << args[0] << ": " << r.err;
    return {};
  }
  return v;
}

class Traffic {
 public:
  Traffic(std::mt19937& rng, Seen& seen, int& next_intent, int& next_bar)
      : rng_(rng), seen_(seen), next_intent_(next_intent), next_bar_(next_bar) {}

  // Sends and reads until `deadline`; returns quietly when the gate dies.
  // True when it got through to the gate at all.
  bool run(const std::string& socket, std::chrono::steady_clock::time_point deadline) {
    AgentPeer agent;
    bool connected = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!agent.valid() || agent.raw().poll_closed()) {
        agent = AgentPeer();
        if (!agent.connect(socket, 200)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          continue;
        }
        connected = true;
      }
      send_one(agent);
      drain(agent);
      std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 3000)(rng_)));
    }
    return connected;
  }

 private:
  void send_one(AgentPeer& agent) {
    const int what = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (what < 25 || last_close_.empty()) {
      send_bar(agent);
    } else if (what < 80) {
      send_new_intent(agent);
    } else if (what < 92 && !seen_.accepted_ids.empty()) {
      // A retry of an intent the agent already saw accepted.
      const auto& id = seen_.accepted_ids[std::uniform_int_distribution<std::size_t>(0, seen_.accepted_ids.size() - 1)(rng_)];
      agent.send_intent(seen_.sent[id]);
    } else if (!seen_.accepted_ids.empty()) {
      ipc::Envelope e;
      e.mutable_cancel_intent()->set_cancel_id("c-" + std::to_string(next_intent_++));
      e.mutable_cancel_intent()->set_intent_id(
          seen_.accepted_ids[std::uniform_int_distribution<std::size_t>(0, seen_.accepted_ids.size() - 1)(rng_)]);
      agent.send(e);
    } else {
      send_new_intent(agent);
    }
  }

  void send_bar(AgentPeer& agent) {
    static const std::vector<ipc::Bar> sample = sample_bars(400);
    ipc::Bar b = sample[static_cast<std::size_t>(next_bar_) % sample.size()];
    b.set_open_ts_s(sample[0].open_ts_s() + 60LL * next_bar_);
    ++next_bar_;
    last_close_ = b.close();
    agent.send_bar(b);
  }

  void send_new_intent(AgentPeer& agent) {
    const std::string id = "x-" + std::to_string(next_intent_++);
    const bool buy = std::uniform_int_distribution<int>(0, 1)(rng_) == 1;
    const Decimal close = Decimal::parse(last_close_).value();
    const std::string qty = "0.00" + std::to_string(std::uniform_int_distribution<int>(1, 9)(rng_));
    // The protective stop 2% away on the losing side.
    const Decimal stop = close.mul(Decimal::parse(buy ? "0.98" : "1.02").value(), Rounding::kHalfEven)
                             .value()
                             .round_to_increment(Decimal::parse("0.01").value(), Rounding::kHalfEven)
                             .value();
    ipc::OrderIntent intent;
    if (std::uniform_int_distribution<int>(0, 1)(rng_) == 0) {
      intent = market_intent(id, buy ? ipc::SIDE_BUY : ipc::SIDE_SELL, qty, stop.to_string());
    } else {
      // A limit within 0.3% of the last close: some trade at once, some rest.
      const int bps = std::uniform_int_distribution<int>(-30, 30)(rng_);
      const Decimal price = close.mul(Decimal::from_units(Decimal::kScale + bps * (Decimal::kScale / 10'000)),
                                      Rounding::kHalfEven)
                                .value()
                                .round_to_increment(Decimal::parse("0.01").value(), Rounding::kHalfEven)
                                .value();
      intent = limit_intent(id, buy ? ipc::SIDE_BUY : ipc::SIDE_SELL, qty, price.to_string(), stop.to_string());
    }
    seen_.sent[id] = intent;
    agent.send_intent(intent);
  }

  void drain(AgentPeer& agent) {
    Envelope e;
    while (agent.next(e, 0)) {
      if (!e.has_decision()) continue;
      const ipc::Decision& d = e.decision();
      if (!d.accepted()) continue;
      auto it = seen_.accepted.find(d.intent_id());
      if (it == seen_.accepted.end()) {
        seen_.accepted[d.intent_id()] = d.order_id();
        seen_.accepted_ids.push_back(d.intent_id());
      } else {
        EXPECT_EQ(it->second, d.order_id()) << "intent " << d.intent_id() << " accepted twice with different orders";
        EXPECT_TRUE(d.replayed()) << d.DebugString();
      }
    }
    agent.seen.clear();
  }

  std::mt19937& rng_;
  Seen& seen_;
  int& next_intent_;
  int& next_bar_;
  std::string last_close_;
};

void check_against_journal(GateProcess& gate, const Seen& seen, int run) {
  const JournalView v = replay(gate.journal_dir());
  ASSERT_TRUE(v.error.empty()) << "run " << run << ": " << v.error;
  expect_one_order_per_intent(v, "run " + std::to_string(run));
  for (const auto& [intent, order] : seen.accepted) {
    auto it = v.accepted.find(intent);
    ASSERT_NE(it, v.accepted.end()) << "run " << run << ": accepted intent " << intent << " is not in the journal";
    EXPECT_EQ(it->second.front(), order) << "run " << run << ": intent " << intent;
  }
  // Live orders as the gate reports them = the journal's non-final orders.
  const std::map<std::string, std::string> expected = open_orders_of(v);
  std::map<std::string, std::string> actual;
  const auto orders = ctl_json(gate, {"orders"});
  if (orders.is_object()) {
    for (const auto& o : orders.at("orders").as_array()) {
      actual[std::string(o.at("order_id").as_string())] =
          std::string(o.at("state").as_string()) + " " + std::string(o.at("filled_quantity").as_string());
    }
  }
  EXPECT_EQ(actual, expected) << "run " << run;
  if (actual != expected) {
    // Name the records of the orders that differ, to debug the seed.
    std::set<std::string> differ;
    for (const auto& [id, want] : expected) {
      if (!actual.count(id) || actual[id] != want) differ.insert(id);
    }
    for (const auto& [id, got] : actual) {
      if (!expected.count(id)) differ.insert(id);
    }
    for (const auto& r : read_gate_records(gate.journal_dir())) {
      const bool about = (r.has_order_update() && differ.count(r.order_update().order_id())) ||
                         (r.has_intent_decided() && differ.count(r.intent_decided().decision().order_id())) ||
                         (r.has_fill() && differ.count(r.fill().order_id()));
      if (about || r.has_started() || r.has_reconcile()) ADD_FAILURE() << r.ShortDebugString();
    }
  }
  // Positions and fees = the journal's fills.
  const auto positions = ctl_json(gate, {"positions"});
  if (!positions.is_object()) return;
  std::map<std::string, Decimal> reported;
  for (const auto& p : positions.at("positions").as_array()) {
    reported[std::string(p.at("product").as_string())] = Decimal::parse(std::string(p.at("quantity").as_string())).value();
  }
  for (const auto& [product, qty] : v.position) {
    EXPECT_EQ(reported[product], qty) << "run " << run << ": " << product;
  }
  EXPECT_EQ(Decimal::parse(std::string(positions.at("account").at("fees_paid").as_string())).value(), v.fees)
      << "run " << run;
}

struct Totals {
  std::chrono::milliseconds traffic{0}, restarts{0}, checks{0};
  int kills_before_traffic = 0;  // killed during start-up or recovery
  std::size_t accepted = 0;
  int bars = 0;
};

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t);
}

// `runs` kills on one journal, then a check that resent intents get their
// original orders back.
void crash_one_journal(std::mt19937& rng, std::uint32_t seed, int runs, int& next_intent, Totals& totals) {
  TempDir dir;
  GateTestConfig c;
  c.order_rate_per_minute_max = 600;
  c.open_orders_max = 100;
  c.position_fraction_max = "0.5";
  c.gross_exposure_fraction_max = "0.9";
  // Small segments, so kills also land around segment rotation.
  c.gate_extra = "journal:\n  segment_bytes_max: 65536\n";
  write_gate_config(dir.path(), c);
  GateProcess gate(dir.path());
  Seen seen;
  int next_bar = 0;
  ASSERT_TRUE(gate.start()) << gate.log();
  for (int run = 0; run < runs && !::testing::Test::HasFailure(); ++run) {
    // The gate verified by the previous run is up and ready. One run in
    // four kills a freshly spawned gate instead, during start-up or
    // recovery, before or while the agent gets through.
    std::chrono::milliseconds delay;
    if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
      gate.kill_now();
      gate.spawn();
      delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, kStartupKillDelayMsMax)(rng));
    } else {
      delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, kTrafficKillDelayMsMax)(rng));
    }
    Traffic traffic(rng, seen, next_intent, next_bar);
    auto t = std::chrono::steady_clock::now();
    if (!traffic.run(gate.gate_socket(), t + delay)) ++totals.kills_before_traffic;
    totals.traffic += since(t);
    t = std::chrono::steady_clock::now();
    ASSERT_TRUE(gate.alive()) << "run " << run << ": the gate exited by itself\n" << gate.log();
    gate.signal(SIGKILL);
    gate.wait_exit();
    ASSERT_TRUE(gate.start()) << "run " << run << " (seed " << seed << "): the gate did not come back\n" << gate.log();
    totals.restarts += since(t);
    t = std::chrono::steady_clock::now();
    check_against_journal(gate, seen, run);
    totals.checks += since(t);
  }
  // Resent accepted intents return their original order.
  AgentPeer agent;
  ASSERT_TRUE(agent.connect(gate.gate_socket()));
  int checked = 0;
  for (const auto& id : seen.accepted_ids) {
    if (checked++ >= 20) break;
    ipc::Decision d;
    agent.send_intent(seen.sent[id]);
    ASSERT_TRUE(agent.decision_for(id, d)) << id;
    EXPECT_TRUE(d.accepted() && d.replayed()) << d.DebugString();
    EXPECT_EQ(d.order_id(), seen.accepted[id]);
  }
  totals.accepted += seen.accepted.size();
  totals.bars += next_bar;
}

TEST(GateCrash, SigkillAtRandomPointsLosesNothingAndNeverDoublesAnOrder) {
  std::uint32_t seed = std::random_device{}();
  if (const char* s = std::getenv("TA_TEST_SEED")) seed = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  int runs = kRuns;
  if (const char* r = std::getenv("TA_CRASH_RUNS")) runs = std::atoi(r);
  std::printf("seed=%u runs=%d\n", seed, runs);
  std::fflush(stdout);
  std::mt19937 rng(seed);
  Totals totals;
  int next_intent = 1;
  for (int done = 0; done < runs && !::testing::Test::HasFailure(); done += kRunsPerJournal) {
    crash_one_journal(rng, seed, std::min(kRunsPerJournal, runs - done), next_intent, totals);
  }
  std::printf("accepted intents seen=%zu intents sent=%d bars=%d kills before traffic=%d\n", totals.accepted,
              next_intent - 1, totals.bars, totals.kills_before_traffic);
  std::printf("time: traffic %lld ms, restarts %lld ms, checks %lld ms\n",
              static_cast<long long>(totals.traffic.count()), static_cast<long long>(totals.restarts.count()),
              static_cast<long long>(totals.checks.count()));
  EXPECT_GT(totals.accepted, 0u);
}

}  // namespace
}  // namespace ta::test
