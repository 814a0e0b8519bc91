// A small SIM gate for the agent daemon's tests, built from the real gate
// pieces: IpcServer (transport, handshake), GateState + decide() (the
// decision core), SimVenue (fills) and the Ledger (snapshots). It keeps no
// journal and no rule stage (DecisionContext::rules is null); it answers like trading-gate's SIM mode:
//   * after the HelloAck, a PositionSnapshot (request_id 0);
//   * a Bar or a BarBatch: the venue's events for each bar (fills, order
//     updates) are pushed, then one PositionSnapshot with the message's
//     request_id; the same bar again is skipped, an older one is a protocol
//     error;
//   * an OrderIntent: decide(), then the Decision (an accepted order goes to
//     the venue and fills on a later bar).
// Test code only: it links gate and agent sides in one binary, which the
// daemons never do.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gate/config.h"
#include "gate/core.h"
#include "gate/ipc_server.h"
#include "gate/sim_venue.h"

namespace ta::test {

class MiniGate final : public ta::gate::IpcHandler {
 public:
  MiniGate(boost::asio::io_context& io, const ta::gate::Config& config, std::string socket_path)
      : config_(config),
        state_(config.safety, ta::gate::Ledger(config.safety.starting_cash, 0)),
        venue_(config.gate.sim, config.gate.products),
        server_(io, options(socket_path), *this) {
    state_.set_ready(true);
  }

  ta::Status start() { return server_.start(); }
  void shutdown() {
    server_.shutdown(100, [] {});
  }

  // Operator actions, pushed to the agent like the real gate does.
  void halt_event(ta::gate::HaltEvent event) {
    auto change = state_.apply_halt_event(event, market_now_ns_);
    if (!change) return;
    ta::ipc::Envelope push;
    *push.mutable_halt_state_changed() = change->to_proto("test");
    server_.broadcast(push);
  }
  // Marks `product` at `price` outside any bar, as if the gate's market
  // moved on its own: the next snapshot differs from what the agent can
  // predict (tests of the agent's pipeline when a prediction misses).
  void remark(const std::string& product, ta::Decimal price) {
    (void)state_.apply_mark(product, price, market_now_ns_);
  }
  // PAPER: what the real gate takes from its own exchange feed. Marks
  // `product` at `price` at ts_ns and makes it the reference price.
  void set_market(const std::string& product, ta::Decimal price, std::int64_t ts_ns) {
    if (ts_ns > market_now_ns_) market_now_ns_ = ts_ns;
    (void)state_.apply_mark(product, price, ts_ns);
    set_reference(product, price, ts_ns);
  }
  void send_parameter_change(const ta::ipc::ParameterChange& change) {
    ta::ipc::Envelope push;
    *push.mutable_parameter_change() = change;
    server_.broadcast(push);
  }

  // The mode the HelloAck states. In PAPER (and LIVE) bars are refused
  // with a ProtocolError, as trading-gate does.
  ta::ipc::Mode mode = ta::ipc::MODE_SIM;

  // What happened, for assertions.
  std::map<std::string, int> decisions_fresh;     // intent id -> decisions made (not replays)
  std::map<std::string, int> decisions_replayed;  // intent id -> replayed answers
  std::vector<ta::ipc::Fill> fills;
  std::vector<ta::ipc::ParameterChangeAck> acks;
  std::uint64_t bars_processed = 0;
  std::uint64_t bars_repeated = 0;
  std::uint64_t batches = 0;  // BarBatch messages
  std::uint64_t connects = 0;
  std::uint64_t protocol_errors = 0;
  // A hook run after each processed bar (tests inject operator actions).
  std::function<void(std::uint64_t bars_processed)> after_bar;
  // A hook run just before the answer to a Bar or a BarBatch.
  std::function<void()> before_reply;
  // A hook run when an intent arrives, before it is decided (PAPER tests
  // bring the gate's market up to date there).
  std::function<void()> before_intent;

  // Fault injection: the bar that makes the venue's fill number
  // `drop_connection_at_fill` (1-based, counting every fill of the run) is
  // processed in full (state, ledger, fills), but nothing it caused is
  // pushed and its reply is not sent: the session is closed instead, as if
  // the connection died right after the gate acted. 0: never.
  std::uint64_t drop_connection_at_fill = 0;
  std::vector<ta::ipc::Fill> dropped_fills;  // the fills whose pushes were lost
  std::uint64_t connections_dropped = 0;

  // Fault injection: asked for every intent id the gate has not decided
  // yet; a reason makes the gate deny the intent with it instead of
  // deciding (nothing is recorded, as for a denial before the decision
  // core). Empty: decide() as usual.
  std::function<std::optional<ta::ipc::DenyReason>(const ta::ipc::OrderIntent&)> force_denial;
  // Every intent as it arrived, with the number of bars processed by then.
  struct Arrival {
    std::uint64_t bars_processed = 0;
    ta::ipc::OrderIntent intent;
    bool forced_denial = false;
    std::int64_t market_now_ns = 0;  // the gate's market time then
  };
  std::vector<Arrival> arrivals;

  // Pushes a halt state change the gate's own state does not make (tests of
  // how the agent follows the halt state).
  void push_halt_state(ta::ipc::HaltState from, ta::ipc::HaltState to) {
    ta::ipc::Envelope push;
    push.mutable_halt_state_changed()->set_from(from);
    push.mutable_halt_state_changed()->set_to(to);
    push.mutable_halt_state_changed()->set_actor("test");
    push.mutable_halt_state_changed()->set_ts_ns(market_now_ns_);
    server_.broadcast(push);
  }

  // Pushes the settlement of an order held for approval that the gate's own
  // state does not keep (force_denial made the hold): a RULE denial marked
  // hold_expired, as trading-gate sends when nobody decided in time.
  void push_hold_expired(const std::string& intent_id) {
    ta::ipc::Envelope push;
    *push.mutable_decision() = hold_expired(intent_id);
    if (auto it = forced_.find(intent_id); it != forced_.end()) it->second = push.decision();
    server_.broadcast(push);
  }

  // Settles a hold that force_denial made, as an expiry, without pushing it
  // (as if the push found no agent connected): the gate's memory of the
  // intent changes, so a resend of its id gets the expiry, replayed.
  void settle_hold_unseen(const std::string& intent_id) {
    auto it = forced_.find(intent_id);
    if (it == forced_.end()) return;
    it->second = hold_expired(intent_id);
  }
  // Closes every agent session, as if the connection died.
  void drop_agents(const std::string& reason) {
    for (ta::gate::SessionId s : sessions_) server_.close_session(s, reason);
    sessions_.clear();
  }

  const ta::gate::GateState& state() const { return state_; }
  ta::ipc::PositionSnapshot snapshot() const { return state_.ledger().to_snapshot(market_now_ns_); }

  // IpcHandler
  void on_agent_connected(ta::gate::SessionId session, const ta::proto::PeerCredentials&, const ta::ipc::Hello&,
                          ta::ipc::HelloAck& ack) override {
    ++connects;
    sessions_.push_back(session);
    ack.set_mode(mode);
    ack.set_gate_version("mini-gate");
    ack.set_halt_state(ta::gate::to_proto(state_.halt().state()));
    ack.set_heartbeat_period_ms(1000);
    ack.set_heartbeat_timeout_ms(60'000);
    ack.set_daily_loss_fraction_max(state_.limits().daily_loss_fraction_max.to_string());
    ta::ipc::Envelope snap;
    *snap.mutable_position_snapshot() = snapshot();
    (void)server_.send(session, snap);
  }
  void on_agent_message(ta::gate::SessionId session, const ta::ipc::Envelope& m) override {
    if (mode != ta::ipc::MODE_SIM &&
        (m.body_case() == ta::ipc::Envelope::kBar || m.body_case() == ta::ipc::Envelope::kBarBatch)) {
      protocol_error(session, m.request_id(), "bars are accepted in SIM only");
      return;
    }
    switch (m.body_case()) {
      case ta::ipc::Envelope::kBar:
        if (!handle_bar(session, m.request_id(), m.bar())) return;
        if (before_reply) before_reply();
        reply_snapshot(session, m.request_id());
        return;
      case ta::ipc::Envelope::kBarBatch:
        ++batches;
        for (const auto& bar : m.bar_batch().bars()) {
          if (!handle_bar(session, m.request_id(), bar)) return;
        }
        if (before_reply) before_reply();
        reply_snapshot(session, m.request_id());
        return;
      case ta::ipc::Envelope::kOrderIntent:
        handle_intent(session, m);
        return;
      case ta::ipc::Envelope::kParameterChangeAck:
        acks.push_back(m.parameter_change_ack());
        return;
      default:
        return;
    }
  }
  void on_agent_disconnected(ta::gate::SessionId session, const ta::gate::SessionClose&) override {
    std::erase(sessions_, session);
  }
  std::optional<ta::ipc::AdminEnvelope> on_admin_request(ta::gate::SessionId, const ta::ipc::AdminEnvelope&) override {
    return std::nullopt;
  }
  void on_peer_refused(ta::gate::IpcChannel, const ta::proto::PeerCredentials&, ta::gate::PeerRefusal,
                       const std::string&) override {}

 private:
  static ta::gate::IpcServerOptions options(const std::string& socket_path) {
    ta::gate::IpcServerOptions o;
    o.agent.socket_path = socket_path;
    o.agent.allow.uids = {static_cast<std::uint32_t>(::getuid())};
    o.admin.socket_path = socket_path + ".admin";
    o.admin.allow.uids = {static_cast<std::uint32_t>(::getuid())};
    return o;
  }

  void protocol_error(ta::gate::SessionId session, std::uint64_t request_id, const std::string& message) {
    ++protocol_errors;
    ta::ipc::Envelope e;
    e.set_request_id(request_id);
    e.mutable_protocol_error()->set_message(message);
    (void)server_.send(session, e);
    server_.close_session(session, message);
  }

  // False after a protocol error (the session is closing).
  bool handle_bar(ta::gate::SessionId session, std::uint64_t request_id, const ta::ipc::Bar& wire) {
    auto bar = ta::gate::parse_bar(wire);
    if (!bar) {
      protocol_error(session, request_id, bar.error().message);
      return false;
    }
    auto last = last_bar_.find(bar->product);
    if (last != last_bar_.end() && bar->open_ts_ns <= last->second) {
      if (bar->open_ts_ns < last->second) {
        protocol_error(session, request_id, "bar older than the last");
        return false;
      }
      ++bars_repeated;
      return true;
    }
    last_bar_[bar->product] = bar->open_ts_ns;
    auto events = venue_.on_bar(*bar);
    if (!events) {
      protocol_error(session, request_id, events.error().message);
      return false;
    }
    std::size_t bar_fills = 0;
    for (const auto& ev : *events) bar_fills += ev.kind == ta::gate::VenueEventKind::kFill ? 1 : 0;
    const bool drop = drop_connection_at_fill > fills.size() && drop_connection_at_fill <= fills.size() + bar_fills;
    silent_ = drop;
    for (const auto& ev : *events) venue_event(ev);
    const std::int64_t close_ns = bar->open_ts_ns + 60'000'000'000LL;
    if (close_ns > market_now_ns_) market_now_ns_ = close_ns;
    (void)state_.apply_mark(bar->product, bar->close, close_ns);
    set_reference(bar->product, bar->close, close_ns);
    ++bars_processed;
    if (drop) {
      silent_ = false;
      ++connections_dropped;
      server_.close_session(session, "test: connection dropped after the gate acted on the bar");
      return false;
    }
    if (after_bar) after_bar(bars_processed);
    return true;
  }

  ta::ipc::Decision hold_expired(const std::string& intent_id) const {
    ta::ipc::Decision d;
    d.set_intent_id(intent_id);
    d.set_accepted(false);
    d.set_reason(ta::ipc::DENY_REASON_RULE);
    d.set_detail("hold expired: nobody decided in time");
    ta::ipc::DecisionField* f = d.add_fields();
    f->set_name(std::string(ta::gate::kFieldHoldExpired));
    f->set_value("1");
    d.set_decided_ts_ns(market_now_ns_);
    return d;
  }

  void reply_snapshot(ta::gate::SessionId session, std::uint64_t request_id) {
    ta::ipc::Envelope reply;
    reply.set_request_id(request_id);
    *reply.mutable_position_snapshot() = snapshot();
    (void)server_.send(session, reply);
  }

  void set_reference(const std::string& product, ta::Decimal price, std::int64_t ts_ns) {
    for (const auto& p : config_.gate.products) {
      if (p.product != product) continue;
      refs_[p.product] = ta::gate::ReferencePrice{p.product, price, ts_ns};
    }
    ref_view_.clear();
    for (const auto& [name, r] : refs_) ref_view_.push_back(r);
  }

  void push_update(const std::string& order_id) {
    const ta::gate::Order* o = state_.find_live_order(order_id);
    if (o == nullptr) {
      for (const auto& c : state_.closed_orders()) {
        if (c.order_id == order_id) o = &c;
      }
    }
    if (o == nullptr || silent_) return;
    ta::ipc::Envelope push;
    *push.mutable_order_update() = o->to_update();
    server_.broadcast(push);
  }

  void venue_event(const ta::gate::VenueEvent& ev) {
    using K = ta::gate::VenueEventKind;
    switch (ev.kind) {
      case K::kAck:
        (void)state_.apply_order_event(ev.order_id, ta::gate::OrderEvent::kAck, ev.ts_ns);
        push_update(ev.order_id);
        return;
      case K::kReject:
        (void)state_.apply_order_event(ev.order_id, ta::gate::OrderEvent::kReject, ev.ts_ns);
        push_update(ev.order_id);
        return;
      case K::kCancelled:
        (void)state_.apply_order_event(ev.order_id, ta::gate::OrderEvent::kCancelAck, ev.ts_ns);
        push_update(ev.order_id);
        return;
      case K::kExpired:
        (void)state_.apply_order_event(ev.order_id, ta::gate::OrderEvent::kExpire, ev.ts_ns);
        push_update(ev.order_id);
        return;
      case K::kTriggered:
        (void)state_.apply_stop_triggered(ev.order_id, ev.ts_ns);
        return;
      case K::kFill: {
        const ta::gate::Order* o = state_.find_live_order(ev.order_id);
        if (o == nullptr) return;
        ta::ipc::Fill f;
        f.set_fill_id("f-" + std::to_string(fills.size() + 1));
        f.set_order_id(o->order_id);
        f.set_intent_id(o->intent_id);
        f.set_strategy(o->strategy);
        f.set_product(o->product);
        f.set_side(o->side);
        f.set_quantity(ev.quantity.to_string());
        f.set_price(ev.price.to_string());
        f.set_fee(ev.fee.to_string());
        f.set_liquidity(ev.liquidity);
        f.set_ts_ns(ev.ts_ns);
        if (!state_.apply_fill(f).ok()) return;
        fills.push_back(f);
        if (silent_) {
          dropped_fills.push_back(f);
          push_update(ev.order_id);
          return;
        }
        ta::ipc::Envelope push;
        *push.mutable_fill() = f;
        server_.broadcast(push);
        push_update(ev.order_id);
        return;
      }
    }
  }

  void handle_intent(ta::gate::SessionId session, const ta::ipc::Envelope& m) {
    if (before_intent) before_intent();
    ta::gate::DecisionContext ctx;
    ctx.now_ns = market_now_ns_;
    ctx.peer_allowed = true;
    ctx.reference_prices = ref_view_;
    if (auto known = forced_.find(m.order_intent().intent_id()); known != forced_.end()) {
      // A forced decision is remembered like trading-gate remembers its
      // own: the same id gets it again, replayed.
      ++decisions_replayed[known->first];
      arrivals.push_back({bars_processed, m.order_intent(), true, market_now_ns_});
      ta::ipc::Envelope reply;
      reply.set_request_id(m.request_id());
      *reply.mutable_decision() = known->second;
      reply.mutable_decision()->set_replayed(true);
      (void)server_.send(session, reply);
      return;
    }
    ta::ipc::Decision d = ta::gate::decide(state_, m.order_intent(), ctx).decision;
    std::optional<ta::ipc::DenyReason> forced;
    if (!d.replayed() && force_denial) forced = force_denial(m.order_intent());
    arrivals.push_back({bars_processed, m.order_intent(), forced.has_value(), market_now_ns_});
    if (forced) {
      ++decisions_fresh[m.order_intent().intent_id()];
      ta::ipc::Envelope reply;
      reply.set_request_id(m.request_id());
      ta::ipc::Decision* f = reply.mutable_decision();
      f->set_intent_id(m.order_intent().intent_id());
      f->set_accepted(false);
      f->set_reason(*forced);
      f->set_detail("test: forced denial");
      f->set_decided_ts_ns(market_now_ns_);
      forced_[f->intent_id()] = *f;
      (void)server_.send(session, reply);
      return;
    }
    if (d.replayed()) {
      ++decisions_replayed[m.order_intent().intent_id()];
    } else {
      ++decisions_fresh[m.order_intent().intent_id()];
      (void)state_.record_decision(m.order_intent(), d);
    }
    ta::ipc::Envelope reply;
    reply.set_request_id(m.request_id());
    *reply.mutable_decision() = d;
    (void)server_.send(session, reply);
    if (!d.accepted() || d.replayed()) return;
    (void)state_.apply_order_event(d.order_id(), ta::gate::OrderEvent::kSubmit, market_now_ns_);
    push_update(d.order_id());
    const ta::gate::Order* o = state_.find_live_order(d.order_id());
    if (o != nullptr) (void)venue_.submit(ta::gate::to_sim_order(*o));
  }

  const ta::gate::Config& config_;
  ta::gate::GateState state_;
  ta::gate::SimVenue venue_;
  ta::gate::IpcServer server_;
  std::map<std::string, std::int64_t> last_bar_;
  std::map<std::string, ta::gate::ReferencePrice> refs_;
  std::vector<ta::gate::ReferencePrice> ref_view_;
  std::int64_t market_now_ns_ = 0;
  bool silent_ = false;  // while processing a bar whose pushes are lost
  std::map<std::string, ta::ipc::Decision> forced_;  // intent id -> the forced decision (a hold: its settlement)
  std::vector<ta::gate::SessionId> sessions_;         // agent sessions open
};

}  // namespace ta::test
