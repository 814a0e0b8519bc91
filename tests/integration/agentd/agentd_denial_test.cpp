// Every DenyReason of proto/gate.proto, handled by the agent (issue 5). For
// each reason the in-process MiniGate denies the run's first entry and its
// first exit with that reason (everything else is decided by the real
// decide()), and the test checks what the agent does next:
//
//  * the strategy is never stuck: a denied entry is LOOKING and a denied
//    exit MANAGING on the next bar, with nothing pending;
//  * no retry storm: no intent id is ever sent twice (the gate counts every
//    arrival), a slot sends at most one intent per bar, and a denied exit is
//    tried again no sooner than the product's next bar;
//  * halts are respected: a denial that reveals the gate's halt state
//    (HALTED, COOLDOWN, KILLED, REDUCING_ONLY for an entry) makes the agent
//    hold what that state forbids until the gate says ACTIVE again (the test
//    pushes it 30 bars later); any other reason, and REDUCING_ONLY for a
//    reduce-only exit, holds nothing.
//
// The expected class of each reason is a switch without default, so a
// reason added to gate.proto does not compile until it is placed here.
#include <set>

#include "agentd_test_support.h"

namespace ta::agentd_test {
namespace {

using ta::ipc::DenyReason;

enum class Expect {
  kRetry,     // nothing inferred: the strategy goes back and may try again on a later bar
  kHalted,    // the gate is HALTED: every intent is held until ACTIVE
  kKilled,    // the gate is KILLED: every intent is held until ACTIVE
  kReducing,  // after an entry: the gate is REDUCING, entries are held until ACTIVE
  kAwait,     // held for approval: the intent stays pending until the gate settles the hold
};

const char* name(Expect e) {
  switch (e) {
    case Expect::kRetry:
      return "retry";
    case Expect::kHalted:
      return "hold all (HALTED)";
    case Expect::kKilled:
      return "hold all (KILLED)";
    case Expect::kReducing:
      return "hold entries (REDUCING)";
    case Expect::kAwait:
      return "await the settlement";
  }
  return "?";
}

Expect expected(DenyReason r) {
  switch (r) {
    case ta::ipc::DENY_REASON_HALTED:
    case ta::ipc::DENY_REASON_COOLDOWN:
      return Expect::kHalted;
    case ta::ipc::DENY_REASON_KILLED:
      return Expect::kKilled;
    case ta::ipc::DENY_REASON_REDUCING_ONLY:
      return Expect::kReducing;
    case ta::ipc::DENY_REASON_HELD_FOR_APPROVAL:
      return Expect::kAwait;
    case ta::ipc::DENY_REASON_UNSPECIFIED:
    case ta::ipc::DENY_REASON_MALFORMED:
    case ta::ipc::DENY_REASON_FIELD_RANGE:
    case ta::ipc::DENY_REASON_PEER_NOT_ALLOWED:
    case ta::ipc::DENY_REASON_NOT_READY:
    case ta::ipc::DENY_REASON_PRODUCT_NOT_ALLOWED:
    case ta::ipc::DENY_REASON_SIZE_BELOW_MIN:
    case ta::ipc::DENY_REASON_SIZE_ABOVE_MAX:
    case ta::ipc::DENY_REASON_SIZE_INCREMENT:
    case ta::ipc::DENY_REASON_PRICE_INCREMENT:
    case ta::ipc::DENY_REASON_NOTIONAL_ABOVE_MAX:
    case ta::ipc::DENY_REASON_POSITION_ABOVE_MAX:
    case ta::ipc::DENY_REASON_GROSS_EXPOSURE_ABOVE_MAX:
    case ta::ipc::DENY_REASON_RISK_PER_TRADE_ABOVE_MAX:
    case ta::ipc::DENY_REASON_OPEN_ORDERS_ABOVE_MAX:
    case ta::ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX:
    case ta::ipc::DENY_REASON_PRICE_BAND:
    case ta::ipc::DENY_REASON_NO_REFERENCE_PRICE:
    case ta::ipc::DENY_REASON_DAILY_LOSS_LIMIT:
    case ta::ipc::DENY_REASON_INSUFFICIENT_FUNDS:
    case ta::ipc::DENY_REASON_RULE:
    case ta::ipc::DENY_REASON_STOP_REQUIRED:
    case ta::ipc::DENY_REASON_DUPLICATE_ID_CONFLICT:
    case ta::ipc::DENY_REASON_INTENT_TOO_OLD:
      return Expect::kRetry;
    case ta::ipc::DenyReason_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ta::ipc::DenyReason_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  ADD_FAILURE() << "not a DenyReason: " << static_cast<int>(r);
  return Expect::kRetry;
}

// Bars from the ACTIVE push back after a forced denial that held trading.
constexpr std::uint64_t kHoldBars = 30;
constexpr int kBars = 260;

// "<strategy>-<product>-<open_ts_s>-<n>" -> "<strategy>-<product>".
std::string slot_of(const std::string& intent_id) {
  const auto last = intent_id.rfind('-');
  return intent_id.substr(0, intent_id.rfind('-', last - 1));
}

struct Denied {
  ta::ipc::OrderIntent intent;
  std::uint64_t at_bar = 0;            // bars the gate had processed when it denied
  std::string state_next_bar;          // the slot's lifecycle state on the next bar
  std::string pending_next_bar = "?";  // the slot's pending intent then
  std::uint64_t resume_at_bar = 0;     // ACTIVE pushed after this many bars (0: none)
  std::uint64_t settle_at_bar = 0;     // the hold's expiry pushed after this many bars (0: none)
};

struct Outcome {
  RunResult run;
  std::vector<Denied> denied;  // the entry, then the exit
  std::vector<ta::test::MiniGate::Arrival> arrivals;
  std::map<std::string, int> decisions_fresh;
  std::map<std::string, int> decisions_replayed;
  JournalView journal;
};

boost::json::object slot_status(const boost::json::object& status, const std::string& slot) {
  for (const auto& s : status.at("strategies").as_array()) {
    const auto& o = s.as_object();
    if (std::string(o.at("strategy").as_string()) + "-" + std::string(o.at("product").as_string()) == slot) return o;
  }
  ADD_FAILURE() << "no slot " << slot;
  return {};
}

// What the agent believes the gate's halt state is after this denial.
ta::ipc::HaltState inferred(Expect e, const ta::ipc::OrderIntent& intent) {
  switch (e) {
    case Expect::kRetry:
    case Expect::kAwait:
      return ta::ipc::HALT_STATE_ACTIVE;
    case Expect::kHalted:
      return ta::ipc::HALT_STATE_HALTED;
    case Expect::kKilled:
      return ta::ipc::HALT_STATE_KILLED;
    case Expect::kReducing:
      return intent.reduce_only() ? ta::ipc::HALT_STATE_ACTIVE : ta::ipc::HALT_STATE_REDUCING;
  }
  return ta::ipc::HALT_STATE_ACTIVE;
}

// The first minutes of the demo data, written once: each run loads only
// what it replays.
const std::pair<fs::path, fs::path>& short_demo() {
  static TempDir dir;
  static const std::pair<fs::path, fs::path> files = [] {
    std::pair<fs::path, fs::path> out{dir.root / "btc.csv", dir.root / "eth.csv"};
    for (const auto& [from, to] : {std::pair{source_dir() / "data/demo/BTC-USD_1m_demo.csv", out.first},
                                   std::pair{source_dir() / "data/demo/ETH-USD_1m_demo.csv", out.second}}) {
      std::ifstream in(from);
      std::ofstream o(to);
      std::string line;
      for (int i = 0; i <= kBars && std::getline(in, line); ++i) o << line << "\n";
    }
    return out;
  }();
  return files;
}

// The short demo in strict lockstep: the strategy's state is read while
// the gate processes the bar after the denial, which is "between two steps"
// only when the agent waits for each answer. With the SIM pipeline the agent
// may have stepped that bar already (a DUPLICATE_ID_CONFLICT exit is then
// retried before the read). Pipeline and lockstep trade the same
// (agentd_sim_test, PipelineAndLockstepTradeTheSame).
AgentSetup short_lockstep_setup() {
  AgentSetup setup;
  setup.bars_max = kBars;
  setup.btc_csv = short_demo().first;
  setup.eth_csv = short_demo().second;
  setup.gate_extra = "  bars_in_flight_max: 0\n";
  return setup;
}

Outcome run_with(DenyReason reason) {
  Outcome out;
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  const Expect e = expected(reason);
  bool entry_denied = false;
  bool exit_denied = false;
  gate.force_denial = [&](const ta::ipc::OrderIntent& intent) -> std::optional<DenyReason> {
    bool& done = intent.reduce_only() ? exit_denied : entry_denied;
    if (done) return std::nullopt;
    done = true;
    Denied den;
    den.intent = intent;
    den.at_bar = gate.bars_processed;
    if (inferred(e, intent) != ta::ipc::HALT_STATE_ACTIVE) den.resume_at_bar = gate.bars_processed + kHoldBars;
    if (e == Expect::kAwait) den.settle_at_bar = gate.bars_processed + kHoldBars;
    out.denied.push_back(den);
    return reason;
  };
  ta::agent::AgentApp* app = nullptr;
  gate.after_bar = [&](std::uint64_t n) {
    for (Denied& den : out.denied) {
      if (n == den.at_bar + 1 && app != nullptr) {
        const auto slot = slot_status(boost::json::parse(app->status_json()).as_object(), slot_of(den.intent.intent_id()));
        den.state_next_bar = std::string(slot.at("state").as_string());
        den.pending_next_bar = std::string(slot.at("pending_intent_id").as_string());
      }
      if (n == den.resume_at_bar) gate.push_halt_state(inferred(e, den.intent), ta::ipc::HALT_STATE_ACTIVE);
      if (n == den.settle_at_bar) gate.push_hold_expired(den.intent.intent_id());
    }
  };
  EXPECT_TRUE(gate.start().ok());
  out.run = run_agent(io, agent_config(d.root, short_lockstep_setup()), 0, [&](ta::agent::AgentApp* a) { app = a; });
  out.arrivals = gate.arrivals;
  out.decisions_fresh = gate.decisions_fresh;
  out.decisions_replayed = gate.decisions_replayed;
  out.journal = read_journal(d.root / "agent-journal");
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));
  return out;
}

TEST(AgentdDenials, EveryReasonLeavesTheStrategyReadyAndRespectsHalts) {
  const auto* descriptor = ta::ipc::DenyReason_descriptor();
  std::printf("%-36s %-24s %-10s %-10s %-6s %-6s %s\n", "reason", "agent", "entry->", "exit->", "held", "sent",
              "denied");
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const auto reason = static_cast<DenyReason>(descriptor->value(i)->number());
    const Expect e = expected(reason);
    SCOPED_TRACE(ta::ipc::DenyReason_Name(reason));
    const Outcome o = run_with(reason);
    ASSERT_EQ(o.run.exit_code, 0) << o.run.reason;
    ASSERT_EQ(o.denied.size(), 2u) << "the run should have an entry and an exit to deny";
    const Denied& entry = o.denied[0];
    const Denied& exit = o.denied[1];
    std::printf("%-36s %-24s %-10s %-10s %-6llu %-6llu %llu\n", ta::ipc::DenyReason_Name(reason).c_str(), name(e),
                entry.state_next_bar.c_str(), exit.state_next_bar.c_str(),
                static_cast<unsigned long long>(o.run.counters.intents_held),
                static_cast<unsigned long long>(o.run.counters.intents_sent),
                static_cast<unsigned long long>(o.run.counters.denied));

    if (e == Expect::kAwait) {
      // A held intent is not an answer: the slot keeps it pending and sends
      // nothing more until the gate settles the hold; then it goes on.
      EXPECT_EQ(entry.pending_next_bar, entry.intent.intent_id());
      EXPECT_EQ(exit.pending_next_bar, exit.intent.intent_id());
      for (const Denied& den : o.denied) {
        for (const auto& a : o.arrivals) {
          if (a.bars_processed <= den.at_bar || a.bars_processed >= den.settle_at_bar) continue;
          EXPECT_NE(slot_of(a.intent.intent_id()), slot_of(den.intent.intent_id()))
              << a.intent.intent_id() << " sent while " << den.intent.intent_id() << " waited for approval";
        }
      }
      EXPECT_EQ(o.run.counters.denied_by_reason[ta::ipc::DENY_REASON_RULE], 2u) << "the two expiries";
    } else {
      // Never stuck: back to LOOKING / MANAGING with nothing pending.
      EXPECT_EQ(entry.state_next_bar, "LOOKING");
      EXPECT_EQ(entry.pending_next_bar, "");
      EXPECT_EQ(exit.state_next_bar, "MANAGING");
      EXPECT_EQ(exit.pending_next_bar, "");
    }
    EXPECT_EQ(o.run.counters.denied_by_reason[static_cast<std::size_t>(reason)], 2u);

    // No retry storm: every id arrives once, never replayed; one intent per
    // slot per bar (the id names the slot and the bar).
    for (const auto& [id, n] : o.decisions_fresh) EXPECT_EQ(n, 1) << id;
    EXPECT_TRUE(o.decisions_replayed.empty());
    for (const auto& [id, n] : o.journal.sent) {
      EXPECT_EQ(n, 1) << id;
      // A held intent's settlement is its second decision.
      const bool held = e == Expect::kAwait && (id == entry.intent.intent_id() || id == exit.intent.intent_id());
      const auto decided = o.journal.decisions.find(id);
      EXPECT_EQ(decided == o.journal.decisions.end() ? 0 : decided->second, held ? 2 : 1) << id;
      EXPECT_EQ(id.substr(id.size() - 2), "-0") << id;
    }

    // Halts respected: in the hold window nothing the inferred state forbids
    // reaches the gate; afterwards trading goes on. Reasons that reveal no
    // halt hold nothing.
    bool held_something = false;
    for (const Denied& den : o.denied) {
      const ta::ipc::HaltState state = inferred(e, den.intent);
      std::uint64_t in_window = 0;
      std::uint64_t entries_after = 0;
      for (const auto& a : o.arrivals) {
        if (a.bars_processed <= den.at_bar) continue;
        if (den.resume_at_bar != 0 && a.bars_processed < den.resume_at_bar) {
          const bool forbidden = state != ta::ipc::HALT_STATE_REDUCING || !a.intent.reduce_only();
          if (forbidden) ++in_window;
        } else if (!a.intent.reduce_only()) {
          ++entries_after;
        }
      }
      EXPECT_EQ(in_window, 0u) << "intents sent while the agent should hold them, after " << den.intent.intent_id();
      if (den.resume_at_bar != 0) held_something = true;
      // Entries go on once nothing holds them (the data has entries after
      // both denials).
      EXPECT_GT(entries_after, 0u) << "no entry sent after the denial of " << den.intent.intent_id();
    }
    if (held_something) {
      EXPECT_GT(o.run.counters.intents_held, 0u);
    } else {
      EXPECT_EQ(o.run.counters.intents_held, 0u);
    }

    // The denied exit is tried again, with a new id, no sooner than its
    // product's next bar (or after the hold).
    bool retried = false;
    for (const auto& a : o.arrivals) {
      if (a.bars_processed <= exit.at_bar || !a.intent.reduce_only()) continue;
      if (slot_of(a.intent.intent_id()) != slot_of(exit.intent.intent_id())) continue;
      EXPECT_NE(a.intent.intent_id(), exit.intent.intent_id());
      retried = true;
      break;
    }
    EXPECT_TRUE(retried) << "the denied exit was never tried again";
  }
}

// A hold settled while the agent is not connected is pushed to nobody. The
// agent must find it out when it connects again: it sends the held intent
// again, with its id, and the gate's replayed answer (the settlement)
// releases the slot. Without that the slot waits for a push that never
// comes and the strategy never trades that product again.
TEST(AgentdDenials, AHoldSettledWhileTheAgentWasAwayIsFoundOnReconnect) {
  TempDir d;
  const auto gcfg = gate_config(d.root);
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, gcfg, (d.root / "gate.sock").string());
  std::optional<Denied> held;
  gate.force_denial = [&](const ta::ipc::OrderIntent& intent) -> std::optional<DenyReason> {
    if (held || intent.reduce_only()) return std::nullopt;
    held = Denied{};
    held->intent = intent;
    held->at_bar = gate.bars_processed;
    held->settle_at_bar = gate.bars_processed + kHoldBars;
    return ta::ipc::DENY_REASON_HELD_FOR_APPROVAL;
  };
  bool dropped = false;
  gate.before_reply = [&] {
    if (!held || dropped || gate.bars_processed < held->settle_at_bar) return;
    // Settled by an operator while the connection is down: no push.
    dropped = true;
    gate.drop_agents("test: the connection died");
    gate.settle_hold_unseen(held->intent.intent_id());
  };
  ASSERT_TRUE(gate.start().ok());
  const RunResult run = run_agent(io, agent_config(d.root, short_lockstep_setup()));
  gate.shutdown();
  io.run_for(std::chrono::milliseconds(50));

  ASSERT_EQ(run.exit_code, 0) << run.reason;
  ASSERT_TRUE(held.has_value()) << "the run should have an entry to hold";
  ASSERT_TRUE(dropped) << "the run should reach the settlement";
  EXPECT_GE(gate.connects, 2u);
  const std::string& id = held->intent.intent_id();
  EXPECT_EQ(run.counters.holds_asked, 1u);
  EXPECT_EQ(gate.decisions_replayed[id], 1) << "the held intent is asked about once, after the reconnect";
  EXPECT_EQ(run.counters.denied_by_reason[ta::ipc::DENY_REASON_HELD_FOR_APPROVAL], 1u);
  EXPECT_EQ(run.counters.denied_by_reason[ta::ipc::DENY_REASON_RULE], 1u) << "the expiry, learned from the replay";
  // The slot is free again: it sends new intents after the settlement.
  std::uint64_t after = 0;
  for (const auto& a : gate.arrivals) {
    if (a.bars_processed > held->settle_at_bar && slot_of(a.intent.intent_id()) == slot_of(id) &&
        a.intent.intent_id() != id) {
      ++after;
    }
  }
  EXPECT_GT(after, 0u) << "the slot of " << id << " never traded again";
  const auto slot = slot_status(run.status, slot_of(id));
  EXPECT_NE(std::string(slot.at("pending_intent_id").as_string()), id);
}

}  // namespace
}  // namespace ta::agentd_test
