#include "recovery.h"

#include <algorithm>

#include "journal/journal.h"
#include "record_decoder.h"
#include "records.h"

namespace ta::gate::daemon {
namespace {

// Checks that the order now looks as the journaled update says.
Status verify_update(const GateState& state, const ipc::OrderUpdate& u) {
  const Order* o = find_any_order(state, u.order_id());
  if (o == nullptr) return make_error("order " + u.order_id() + " is unknown");
  const ipc::OrderUpdate now = o->to_update();
  if (now.state() != u.state() || now.filled_quantity() != u.filled_quantity()) {
    return make_error("order " + u.order_id() + " is " + ipc::OrderState_Name(now.state()) + " with " +
                      now.filled_quantity() + " filled, the journal says " + ipc::OrderState_Name(u.state()) +
                      " with " + u.filled_quantity());
  }
  return {};
}

std::string body_name(const ipc::GateRecord& r) {
  const auto* field = ipc::GateRecord::descriptor()->FindFieldByNumber(r.body_case());
  return field != nullptr ? field->name() : "empty record";
}

class Replayer {
 public:
  Replayer(const Config& config, Replayed& out) : config_(config), out_(out) {}

  Status apply(const ipc::GateRecord& r) {
    switch (r.body_case()) {
      case ipc::GateRecord::kStarted:
        return started(r.started());
      case ipc::GateRecord::kStopped:
        out_.last_stop_clean = true;
        return {};
      case ipc::GateRecord::kRulesLoaded:
        return out_.state->apply_rules_loaded(r.rules_loaded());
      case ipc::GateRecord::kPeerRefused:
      case ipc::GateRecord::kReconcile:
        return {};
      case ipc::GateRecord::kProposalStateChanged:
        return out_.proposals.apply(r.proposal_state_changed());
      case ipc::GateRecord::kParameterChangeAck:
        return out_.proposals.apply_ack(r.parameter_change_ack());
      case ipc::GateRecord::kIntentDecided:
        return out_.state->record_decision(r.intent_decided().intent(), r.intent_decided().decision());
      case ipc::GateRecord::kOrderUpdate:
        return order_update(r.order_update());
      case ipc::GateRecord::kFill:
        ++out_.fills;
        if (auto st = out_.state->apply_fill(r.fill()); !st) return st;
        return unmarked_fill(r.fill());
      case ipc::GateRecord::kHaltStateChanged:
        return halt(r.halt_state_changed());
      case ipc::GateRecord::kMark:
        return mark(r.mark());
      case ipc::GateRecord::kMarks:
        for (const ipc::MarkPrice& m : r.marks().marks()) {
          if (auto st = mark(m); !st) return st;
        }
        return {};
      case ipc::GateRecord::kStopTriggered:
        return out_.state->apply_stop_triggered(r.stop_triggered().order_id(), r.stop_triggered().limit_from_ts_ns());
      case ipc::GateRecord::kCancelRequested:
        cancel_requested(r.cancel_requested());
        return {};
      case ipc::GateRecord::BODY_NOT_SET:
        break;
    }
    return make_error("gate record without a body");
  }

 private:
  Status started(const ipc::GateStarted& s) {
    ++out_.starts;
    out_.last_stop_clean = false;
    if (s.mode() != mode_to_proto(config_.gate.mode)) {
      return make_error("the journal was written in " + ipc::Mode_Name(s.mode()) + " mode; this gate runs " +
                        ipc::Mode_Name(mode_to_proto(config_.gate.mode)) + " (use another journal_dir)");
    }
    return {};
  }

  Status order_update(const ipc::OrderUpdate& u) {
    auto event = from_proto(u.event());
    if (!event) return make_error(event.error().message);
    // Fills were applied by their Fill record; the update that follows
    // only states the result.
    if (*event != OrderEvent::kPartialFill && *event != OrderEvent::kFill) {
      if (auto st = out_.state->apply_order_event(u.order_id(), *event, u.ts_ns()); !st) return st;
    }
    return verify_update(*out_.state, u);
  }

  Status halt(const ipc::HaltStateChanged& h) {
    auto event = from_proto(h.cause());
    if (!event) return make_error(event.error().message);
    auto change = out_.state->apply_halt_event(*event, h.ts_ns());
    if (!change) return make_error(change.error().message);
    if (gate::to_proto(change->to) != h.to()) {
      return make_error("halt change to " + ipc::HaltState_Name(h.to()) + " replays as " +
                        std::string(to_string(change->to)));
    }
    out_.halt_reason = h.reason();
    if (change->cancel_all) {
      for (const auto& [id, o] : out_.state->live_orders()) {
        if (next_order_state(o.state, OrderEvent::kCancelRequest).ok()) owe_cancel(id);
      }
    }
    return {};
  }

  void cancel_requested(const ipc::CancelIntent& c) {
    out_.cancels.push_back(c);
    while (out_.cancels.size() > kRememberedCancelsMax) out_.cancels.pop_front();
    // An accepted cancel is journaled only for an order that was live.
    if (const Order* o = out_.state->find_live_order_by_intent(c.intent_id())) owe_cancel(o->order_id);
  }

  // Orders leave the set only by no longer being live; it is pruned to the
  // live ones whenever it doubles, so it stays within twice the open orders
  // (plus kOwedPruneAt).
  void owe_cancel(const std::string& order_id) {
    out_.cancels_owed.insert(order_id);
    if (out_.cancels_owed.size() < owed_prune_at_) return;
    std::erase_if(out_.cancels_owed, [&](const std::string& id) { return out_.state->find_live_order(id) == nullptr; });
    owed_prune_at_ = std::max(kOwedPruneAt, 2 * out_.cancels_owed.size());
  }

  Status mark(const ipc::MarkPrice& m) {
    auto price = Decimal::parse(m.price());
    if (!price) return make_error("mark price: " + price.error().message);
    if (auto st = out_.state->apply_mark(m.product(), *price, m.ts_ns()); !st) return st;
    if (m.has_bar()) {
      auto bar = parse_bar(m.bar());
      if (!bar) return make_error("mark's bar: " + bar.error().message);
      // As when the bar arrived: a bar the statistics refuse (not later
      // than the last one) leaves them as they are.
      static_cast<void>(out_.state->apply_bar(*bar));
      venue_bar(*bar);
    }
    if (m.ts_ns() > out_.market_now_ns) out_.market_now_ns = m.ts_ns();
    // A mark follows the fills of its bar and of every bar before it: they
    // are no longer unmarked (so the list holds at most the fills since
    // each product's last mark).
    std::erase_if(out_.unmarked_fills, [&](const Replayed::UnmarkedFill& u) {
      return u.product == m.product() && u.bar_open_ts_ns < m.ts_ns();
    });
    for (MarkSeen& seen : out_.marks) {
      if (seen.product == m.product()) {
        seen.price = *price;
        seen.ts_ns = m.ts_ns();
        return {};
      }
    }
    out_.marks.push_back(MarkSeen{m.product(), *price, m.ts_ns()});
    return {};
  }

  // SimVenue fills a taker at its bar's open and a maker at its bar's end.
  Status unmarked_fill(const ipc::Fill& f) {
    auto quantity = Decimal::parse(f.quantity());
    if (!quantity) return make_error("fill quantity: " + quantity.error().message);
    const std::int64_t bar_open =
        f.ts_ns() - (f.liquidity() == ipc::LIQUIDITY_MAKER ? config_.gate.sim.bar_period_ms * kNanosPerMs : 0);
    for (const MarkSeen& seen : out_.marks) {
      if (seen.product == f.product() && bar_open < seen.ts_ns) return {};  // its bar's mark is journaled
    }
    for (auto& u : out_.unmarked_fills) {
      if (u.product != f.product() || u.bar_open_ts_ns != bar_open) continue;
      u.quantity = Decimal::from_units(u.quantity.units() + quantity->units());
      return {};
    }
    out_.unmarked_fills.push_back({f.product(), bar_open, *quantity});
    return {};
  }

  void venue_bar(const Bar& bar) {
    for (Bar& seen : out_.venue_bars) {
      if (seen.product != bar.product) continue;
      if (bar.open_ts_ns <= seen.open_ts_ns) return;
      const Price bid = seen.bid;
      const Price ask = seen.ask;
      seen = bar;
      if (!bar.bid.is_positive()) {
        seen.bid = bid;
        seen.ask = ask;
      }
      return;
    }
    out_.venue_bars.push_back(bar);
  }

  static constexpr std::size_t kOwedPruneAt = 1024;

  const Config& config_;
  Replayed& out_;
  std::size_t owed_prune_at_ = kOwedPruneAt;
};

}  // namespace

const Order* find_any_order(const GateState& state, std::string_view order_id) {
  if (const Order* o = state.find_live_order(order_id)) return o;
  const auto& closed = state.closed_orders();
  for (auto it = closed.rbegin(); it != closed.rend(); ++it) {
    if (it->order_id == order_id) return &*it;
  }
  return nullptr;
}

ProposalLimits proposal_limits(const Config& config) {
  ProposalLimits limits;
  limits.expiry_s = config.gate.proposal_expiry_ms / 1000;
  return limits;
}

Result<Replayed> replay_journal(const std::filesystem::path& dir, const Config& config,
                                std::int64_t ledger_start_ts_ns, GateStateBounds bounds) {
  auto reader = journal::Reader::open(dir);
  if (!reader) return make_error(reader.error().message);
  Replayed out;
  out.proposals = ProposalBook(proposal_limits(config));
  out.starting_cash = config.safety.starting_cash;
  out.ledger_start_ts_ns = ledger_start_ts_ns;
  std::optional<Replayer> replayer;
  GateRecordDecoder decoder;
  for (;;) {
    auto next = (*reader)->next();
    if (!next) return make_error("journal " + dir.string() + ": " + next.error().message);
    if (!next->has_value()) break;
    const journal::Record& raw = **next;
    // Built only for a message: replay reads every record the gate wrote.
    auto where = [&] { return "journal " + dir.string() + " seq " + std::to_string(raw.seq) + ": "; };
    if (raw.type != kGateRecordType) {
      return make_error(where() + "record type " + std::to_string(raw.type) + " is not a gate record");
    }
    if (!decoder.decode(raw.payload)) return make_error(where() + "payload does not parse as a GateRecord");
    const bool decided = decoder.body() == ipc::GateRecord::kIntentDecided && decoder.fast_path();
    if (!out.state) {
      // The first record fixes the account: a journal always begins with
      // GateStarted, whose starting cash later starts copy.
      const ipc::GateRecord& record = decoder.record();
      if (!decided && record.has_started() && !record.started().starting_cash().empty()) {
        auto cash = Decimal::parse(record.started().starting_cash());
        if (!cash || !cash->is_positive()) return make_error(where() + "GateStarted has no usable starting_cash");
        out.starting_cash = *cash;
        out.ledger_start_ts_ns = record.started().ledger_start_ts_ns();
      }
      out.state = std::make_unique<GateState>(config.safety, Ledger(out.starting_cash, out.ledger_start_ts_ns), bounds);
      replayer.emplace(config, out);
      out.new_journal = false;
    }
    if (decided) {
      if (auto st = out.state->record_decision(decoder.intent(), decoder.decision()); !st) {
        return make_error(where() + "intent_decided: " + st.error().message);
      }
    } else if (auto st = replayer->apply(decoder.record()); !st) {
      return make_error(where() + body_name(decoder.record()) + ": " + st.error().message);
    }
    ++out.records;
    out.last_seq = raw.seq;
  }
  if (!out.state) {
    out.state = std::make_unique<GateState>(config.safety, Ledger(out.starting_cash, out.ledger_start_ts_ns), bounds);
  }
  return out;
}

}  // namespace ta::gate::daemon
