// GateApp: what the agent sends (intents, cancels, bars, heartbeats), what
// the venue answers, and the halt state. Every function here runs on the
// io_context thread; each state change is applied, journaled, and its
// visible effects queued behind the journal (see app.cpp).
#include <limits>

#include "app_impl.h"

namespace ta::gate {

using daemon::find_any_order;
using daemon::log_text;

// ---------------------------------------------------------------- sessions

void GateApp::Impl::on_agent_connected(SessionId session, const proto::PeerCredentials& peer,
                                       const ipc::Hello& hello, ipc::HelloAck& ack) {
  ack.set_gate_version(options_.gate_version);
  ack.set_mode(daemon::mode_to_proto(gate_cfg_.mode));
  ack.set_halt_state(to_proto(state_->halt().state()));
  ack.set_heartbeat_period_ms(gate_cfg_.heartbeat_period_ms);
  ack.set_heartbeat_timeout_ms(gate_cfg_.heartbeat_timeout_ms);
  ack.set_daily_loss_fraction_max(state_->limits().daily_loss_fraction_max.to_string());
  if (venue_) ack.set_venue_ack_latency_max_ms(gate_cfg_.sim.ack_latency_ms + gate_cfg_.sim.ack_latency_jitter_ms);
  agent_sessions_.insert(session);
  log_->info("agent connected session={} pid={} uid={} client={} client_version={}", session, peer.pid, peer.uid,
             log_text(hello.client_name()), log_text(hello.client_version()));
  ipc::Envelope snapshot;
  *snapshot.mutable_position_snapshot() = state_->ledger().to_snapshot(now());
  send_agent(session, std::move(snapshot), reply_barrier());
  // Approved parameter changes the agent has not acknowledged yet.
  send_relays(session);
  run_effects();
}

void GateApp::Impl::on_agent_disconnected(SessionId session, const SessionClose& why) {
  agent_sessions_.erase(session);
  log_->info("agent disconnected session={} reason={} detail={}", session, proto::close_reason_name(why.reason),
             log_text(why.detail));
}

void GateApp::Impl::on_peer_refused(IpcChannel channel, const proto::PeerCredentials& peer, PeerRefusal refusal,
                                    const std::string& detail) {
  log_->warn("peer refused socket={} uid={} gid={} pid={} refusal={} detail={}", ipc_channel_name(channel), peer.uid,
             peer.gid, peer.pid, peer_refusal_name(refusal), log_text(detail));
  ipc::GateRecord r;
  ipc::PeerRefused* p = r.mutable_peer_refused();
  p->set_socket(std::string(ipc_channel_name(channel)));
  p->set_uid(peer.uid);
  p->set_gid(peer.gid);
  p->set_pid(peer.pid);
  p->set_reason(std::string(peer_refusal_name(refusal)) + ": " + detail);
  append(r);
  run_effects();
}

void GateApp::Impl::on_agent_message(SessionId session, const ipc::Envelope& message) {
  if (stopping_) return;
  if (message.body_case() == ipc::Envelope::kHeartbeat) {
    handle_heartbeat(session, message.heartbeat());
    return;
  }
  if (effects_.size() >= kPendingEffectsMax) {
    log_->warn("gate overloaded session={} pending_effects={}: closing the agent session", session, effects_.size());
    server_->close_session(session, "gate overloaded: " + std::to_string(effects_.size()) +
                                        " messages wait for the journal");
    return;
  }
  if (message.body_case() == ipc::Envelope::kBar || message.body_case() == ipc::Envelope::kBarBatch) {
    handle_bars(session, message);
  } else if (bars_queued_ + inbound_queued_ + rules_queued_ > 0) {
    // A bar ahead of this message has not been fed to the venue yet (the
    // message must see the market after it, as the agent did), or a
    // reloaded rule set is not in force yet (the message is decided with
    // it, after its RulesLoaded record).
    Effect e;
    e.kind = Effect::Kind::kInbound;
    e.session = session;
    e.payload = message;
    enqueue(std::move(e));
  } else {
    handle_agent_message(session, message);
  }
  run_effects();
}

void GateApp::Impl::handle_agent_message(SessionId session, const ipc::Envelope& message) {
  switch (message.body_case()) {
    case ipc::Envelope::kOrderIntent:
      handle_intent(session, message.request_id(), message.order_intent());
      return;
    case ipc::Envelope::kCancelIntent:
      handle_cancel(session, message.request_id(), message.cancel_intent());
      return;
    case ipc::Envelope::kHeartbeat:
      handle_heartbeat(session, message.heartbeat());
      return;
    case ipc::Envelope::kBar:
    case ipc::Envelope::kBarBatch:
      handle_bars(session, message);
      return;
    case ipc::Envelope::kProposalSubmit:
      handle_proposal_submit(session, message.request_id(), message.proposal_submit());
      return;
    case ipc::Envelope::kParameterChangeAck:
      handle_parameter_ack(session, message.parameter_change_ack());
      return;
    case ipc::Envelope::kHello:
    case ipc::Envelope::kHelloAck:
    case ipc::Envelope::kDecision:
    case ipc::Envelope::kCancelResult:
    case ipc::Envelope::kOrderUpdate:
    case ipc::Envelope::kFill:
    case ipc::Envelope::kPositionSnapshot:
    case ipc::Envelope::kHaltStateChanged:
    case ipc::Envelope::kProposalResult:
    case ipc::Envelope::kParameterChange:
    case ipc::Envelope::kProtocolError:
    case ipc::Envelope::BODY_NOT_SET:
      break;
  }
  protocol_error(session, message.request_id(),
                 std::string(proto::envelope_body_name(message.body_case())) + " is not handled by the gate");
}

void GateApp::Impl::protocol_error(SessionId session, std::uint64_t request_id, const std::string& message) {
  log_->warn("protocol error session={} request_id={} detail={}: closing the session", session, request_id,
             log_text(message));
  if (!server_ || session == 0) return;
  ipc::Envelope e;
  e.set_request_id(request_id);
  e.mutable_protocol_error()->set_message(message);
  static_cast<void>(server_->send(session, e));
  server_->close_session(session, message);
}

void GateApp::Impl::handle_heartbeat(SessionId, const ipc::Heartbeat&) {
  last_heartbeat_ = std::chrono::steady_clock::now();
  last_heartbeat_wall_ns_ = wall_now();
  dead_mans_switch_armed_ = true;
}

// ---------------------------------------------------------------- intents

void GateApp::Impl::handle_intent(SessionId session, std::uint64_t request_id, const ipc::OrderIntent& intent) {
  ipc::Envelope reply;
  reply.set_request_id(request_id);
  if (journal_failed_) {
    // Not decided, not remembered: the journal cannot record anything.
    ipc::Decision* d = reply.mutable_decision();
    d->set_intent_id(intent.intent_id());
    d->set_accepted(false);
    d->set_reason(ipc::DENY_REASON_HALTED);
    d->set_detail("journal not writable (" + journal_error_ + "); trading-gate stopped trading");
    d->set_decided_ts_ns(now());
    log_decision(intent, *d);
    send_agent(session, std::move(reply), 0);
    return;
  }
  // The IPC server only delivers messages from peers that passed the
  // socket's allow-list, so every message reaching here is from an allowed
  // peer.
  DecideResult result = decide(*state_, intent, context(true));
  ipc::Decision& d = result.decision;
  if (d.replayed()) {
    log_decision(intent, d);
    // An accepted original may still be on its way to the disk.
    const std::uint64_t barrier = d.accepted() ? reply_barrier() : 0;
    *reply.mutable_decision() = std::move(d);
    send_agent(session, std::move(reply), barrier);
    return;
  }
  if (!record(session, request_id, intent, d, result.rule_facts ? &*result.rule_facts : nullptr)) return;
  if (result.rule_halt) {
    static_cast<void>(operator_halt(HaltEvent::kRuleHalt, d.detail()));
  }
}

bool GateApp::Impl::record(SessionId session, std::uint64_t request_id, const ipc::OrderIntent& intent,
                           const ipc::Decision& decision, const FactsSnapshot* rule_facts) {
  if (auto st = state_->record_decision(intent, decision); !st) {
    internal_error("record_decision for intent " + intent.intent_id() + ": " + st.error().message);
    return false;
  }
  {
    // The record and the reply borrow the intent and the decision for their
    // serialization instead of copying them.
    ipc::IntentDecided* rec = decided_record_.mutable_intent_decided();
    Lend lend_intent(rec, &ipc::IntentDecided::unsafe_arena_set_allocated_intent,
                     &ipc::IntentDecided::unsafe_arena_release_intent, intent);
    Lend lend_decision(rec, &ipc::IntentDecided::unsafe_arena_set_allocated_decision,
                       &ipc::IntentDecided::unsafe_arena_release_decision, decision);
    if (rule_facts != nullptr) {
      *rec->mutable_rule_facts() = to_proto(rule_facts->facts());
    } else {
      rec->clear_rule_facts();
    }
    if (!append(decided_record_)) return false;
  }
  log_decision(intent, decision);
  if (session != 0) {
    ipc::Envelope& reply = reply_scratch_;
    reply.set_request_id(request_id);
    Lend lend(&reply, &ipc::Envelope::unsafe_arena_set_allocated_decision,
              &ipc::Envelope::unsafe_arena_release_decision, decision);
    // An acceptance (an order) and a hold (a pending hold an operator may
    // release) are told only once durable, so a crash cannot take back what
    // the agent heard. Other denials create nothing; they go out in order
    // but without waiting for the disk.
    const std::uint64_t barrier = denial_creates_nothing(decision) ? 0 : last_seq_;
    if (!send_agent_now(session, reply, barrier)) send_agent(session, reply, barrier);
  }
  if (!decision.accepted()) return true;
  if (!order_event(decision.order_id(), OrderEvent::kSubmit, now(), "")) return false;
  enqueue_venue(Effect::Kind::kVenueSubmit, decision.order_id());
  return true;
}

// One info line per decision (docs/operations.md), built by hand: it is
// written for every intent, so it skips the format-string parsing.
void GateApp::Impl::log_decision(const ipc::OrderIntent& i, const ipc::Decision& d) const {
  if (!log_->should_log(spdlog::level::info)) return;
  using daemon::append_quoted;
  using daemon::append_text;
  fmt::memory_buffer line;
  append_text(line, "decision intent_id=");
  append_quoted(line, i.intent_id());
  append_text(line, " strategy=");
  append_quoted(line, i.strategy());
  append_text(line, " product=");
  append_quoted(line, i.product());
  append_text(line, " side=");
  append_text(line, daemon::side_name(i.side()));
  append_text(line, " type=");
  append_text(line, daemon::type_name(i.type()));
  append_text(line, " quantity=");
  append_quoted(line, i.quantity());
  append_text(line, " limit_price=");
  append_quoted(line, i.limit_price());
  append_text(line, d.accepted() ? " accepted=true order_id=" : " accepted=false order_id=");
  append_text(line, d.order_id());
  append_text(line, " reason=");
  append_text(line, d.accepted() ? std::string_view("NONE") : daemon::reason_name(d.reason()));
  append_text(line, " detail=");
  append_quoted(line, d.detail());
  append_text(line, d.replayed() ? " replayed=true ts_ns=" : " replayed=false ts_ns=");
  const fmt::format_int ts(d.decided_ts_ns());
  append_text(line, std::string_view(ts.data(), ts.size()));
  log_->log(spdlog::level::info, std::string_view(line.data(), line.size()));
}

// ---------------------------------------------------------------- cancels

void GateApp::Impl::handle_cancel(SessionId session, std::uint64_t request_id, const ipc::CancelIntent& cancel) {
  ipc::Envelope reply;
  reply.set_request_id(request_id);
  if (journal_failed_) {
    ipc::CancelResult* r = reply.mutable_cancel_result();
    r->set_cancel_id(cancel.cancel_id());
    r->set_intent_id(cancel.intent_id());
    r->set_accepted(false);
    r->set_detail("journal not writable; trading-gate stopped trading (open orders were cancelled at the venue)");
    send_agent(session, std::move(reply), 0);
    return;
  }
  if (auto it = cancels_.find(cancel.cancel_id()); it != cancels_.end()) {
    *reply.mutable_cancel_result() = it->second;
    send_agent(session, std::move(reply), reply_barrier());
    return;
  }
  ipc::CancelResult result = decide_cancel(*state_, cancel, context(true));
  log_->info("cancel cancel_id={} intent_id={} accepted={} detail={}", log_text(cancel.cancel_id()),
             log_text(cancel.intent_id()), result.accepted(), log_text(result.detail()));
  if (!result.accepted()) {
    *reply.mutable_cancel_result() = std::move(result);
    send_agent(session, std::move(reply), 0);
    return;
  }
  const Order* o = state_->find_live_order_by_intent(cancel.intent_id());
  const std::string order_id = o->order_id;
  ipc::GateRecord r;
  *r.mutable_cancel_requested() = cancel;
  if (!append(r)) return;
  if (cancel_order_.size() >= daemon::kRememberedCancelsMax) {
    cancels_.erase(cancel_order_.front());
    cancel_order_.pop_front();
  }
  cancels_.emplace(cancel.cancel_id(), result);
  cancel_order_.push_back(cancel.cancel_id());
  if (!request_cancel(order_id, "cancel " + cancel.cancel_id() + " from the agent")) return;
  *reply.mutable_cancel_result() = std::move(result);
  send_agent(session, std::move(reply), last_seq_);
}

bool GateApp::Impl::request_cancel(const std::string& order_id, const std::string& why) {
  const Order* o = state_->find_live_order(order_id);
  if (o == nullptr) return false;
  const bool at_venue = o->state != OrderState::kPendingNew;
  if (!order_event(order_id, OrderEvent::kCancelRequest, now(), why)) return false;
  if (at_venue) enqueue_venue(Effect::Kind::kVenueCancel, order_id);
  return true;
}

void GateApp::Impl::cancel_all(const std::string& why) {
  std::vector<std::string> ids;
  for (const auto& [id, o] : state_->live_orders()) {
    if (next_order_state(o.state, OrderEvent::kCancelRequest).ok()) ids.push_back(id);
  }
  for (const std::string& id : ids) {
    if (!request_cancel(id, why) && journal_failed_) return;
  }
}

void GateApp::Impl::flatten(const std::string& why, bool follow_up) {
  std::vector<std::string> skipped;
  std::vector<GateOrder> orders = plan_flatten(*state_, context(true), &skipped);
  for (const GateOrder& g : orders) {
    log_->warn("flatten product={} side={} quantity={} order_id={} follow_up={} because={}", g.intent.product(),
               daemon::side_name(g.intent.side()), g.intent.quantity(), g.decision.order_id(), follow_up,
               log_text(why));
    if (!record(0, 0, g.intent, g.decision, nullptr)) return;
  }
  for (const std::string& product : skipped) {
    log_->log(follow_up ? spdlog::level::debug : spdlog::level::err,
              "flatten skipped product={}: no reference price, or the uncovered position is below the size "
              "increment; close it by hand",
              product);
  }
}

// Orders in flight on the closing side were left out of the flattening;
// when one of them is cancelled, expires or is rejected instead of
// filling, the quantity it covered is closed here (docs/gate-core.md,
// Flattening).
void GateApp::Impl::follow_up_flatten() {
  if (journal_failed_ || !state_->flatten_in_force()) return;
  flatten("follow-up: closing what orders in flight no longer cover", true);
}

// ---------------------------------------------------------------- orders

bool GateApp::Impl::order_event(const std::string& order_id, OrderEvent event, std::int64_t ts_ns,
                                const std::string& detail) {
  if (auto st = state_->apply_order_event(order_id, event, ts_ns); !st) {
    internal_error(st.error().message);
    return false;
  }
  const Order* o = find_any_order(*state_, order_id);
  ipc::GateRecord r;
  ipc::OrderUpdate* u = r.mutable_order_update();
  *u = o->to_update();
  u->set_event(daemon::to_proto(event));
  u->set_detail(detail);
  if (!append(r)) return false;
  log_->info("order order_id={} intent_id={} event={} state={} filled={} detail={}", order_id, log_text(o->intent_id),
             to_string(event), to_string(o->state), o->filled_quantity.to_string(), log_text(detail));
  if (is_terminal(o->state)) awaiting_reack_.erase(order_id);
  ipc::Envelope push;
  *push.mutable_order_update() = *u;
  broadcast(std::move(push));
  return true;
}

void GateApp::Impl::venue_submit(const std::string& order_id) {
  const Order* o = state_->find_live_order(order_id);
  if (o == nullptr || o->state == OrderState::kPendingNew) {
    venue_log_->debug("submit skipped order_id={}: no longer open", order_id);
    return;
  }
  SimOrder s = to_sim_order(*o);
  s.quantity = o->remaining();
  // An order handed back after a restart arrives when it first did; one
  // sent late (never sent before the restart, SIM) when it first would have.
  const bool restored = awaiting_reack_.contains(order_id);
  const bool late = sent_late_.erase(order_id) > 0;
  if (auto st = restored || late ? venue_->submit_at(s, o->created_ts_ns) : venue_->submit(s); !st) {
    venue_log_->error("submit refused order_id={} error={}", order_id, log_text(st.error().message));
    awaiting_reack_.erase(order_id);
    // An order the venue never took: rejected if it was on its way, or
    // cancelled if it was being handed back after a restart.
    const bool sending = o->state == OrderState::kSubmitted || o->state == OrderState::kCancelPending;
    order_event(order_id, sending ? OrderEvent::kReject : OrderEvent::kCancelAck, now(),
                "venue refused the order: " + st.error().message);
  }
}

void GateApp::Impl::venue_event(const VenueEvent& ev) {
  switch (ev.kind) {
    case VenueEventKind::kAck:
      if (awaiting_reack_.erase(ev.order_id) > 0) return;  // resubmitted at reconcile: already open
      order_event(ev.order_id, OrderEvent::kAck, ev.ts_ns, "");
      return;
    case VenueEventKind::kReject:
    case VenueEventKind::kCancelled:
    case VenueEventKind::kExpired:
      awaiting_reack_.erase(ev.order_id);
      order_event(ev.order_id, *daemon::order_event_of(ev.kind), ev.ts_ns, ev.detail);
      return;
    case VenueEventKind::kFill:
      venue_fill(ev);
      return;
    case VenueEventKind::kTriggered:
      stop_triggered(ev);
      return;
  }
}

// Venue state the journal must carry: a venue rebuilt after a restart
// hands the order back as triggered (SimOrder::stop_limit_from_ns), so its
// stop need not be reached again. The agent is not told; nothing it sees
// changes.
void GateApp::Impl::stop_triggered(const VenueEvent& ev) {
  if (auto st = state_->apply_stop_triggered(ev.order_id, ev.ts_ns); !st) {
    internal_error(st.error().message);
    return;
  }
  ipc::GateRecord r;
  ipc::StopTriggered* t = r.mutable_stop_triggered();
  t->set_order_id(ev.order_id);
  t->set_limit_from_ts_ns(ev.ts_ns);
  if (!append(r)) return;
  venue_log_->info("stop reached order_id={} acts as a limit order from_ns={}", ev.order_id, ev.ts_ns);
}

void GateApp::Impl::venue_fill(const VenueEvent& ev) {
  const Order* o = state_->find_live_order(ev.order_id);
  if (o == nullptr) {
    internal_error("venue fill for order " + ev.order_id + ", which is not open");
    return;
  }
  ipc::Fill f;
  f.set_fill_id("f-" + std::to_string(next_fill_number_));
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
  if (auto st = state_->apply_fill(f); !st) {
    internal_error("fill " + f.fill_id() + ": " + st.error().message);
    return;
  }
  ++next_fill_number_;
  ipc::GateRecord r;
  *r.mutable_fill() = f;
  if (!append(r)) return;
  const Order* after = find_any_order(*state_, ev.order_id);
  ipc::GateRecord ur;
  ipc::OrderUpdate* u = ur.mutable_order_update();
  *u = after->to_update();
  u->set_event(daemon::to_proto(after->filled_quantity == after->quantity ? OrderEvent::kFill
                                                                          : OrderEvent::kPartialFill));
  if (!append(ur)) return;
  log_->info("fill fill_id={} order_id={} product={} side={} quantity={} price={} fee={} state={}", f.fill_id(),
             f.order_id(), f.product(), daemon::side_name(f.side()), f.quantity(), f.price(), f.fee(),
             to_string(after->state));
  if (is_terminal(after->state)) awaiting_reack_.erase(ev.order_id);
  ipc::Envelope fill_push;
  *fill_push.mutable_fill() = std::move(f);
  broadcast(std::move(fill_push));
  ipc::Envelope update_push;
  *update_push.mutable_order_update() = *u;
  broadcast(std::move(update_push));
}

void GateApp::Impl::internal_error(const std::string& what) {
  log_->error("internal error (a bug in trading-gate): {}; cancelling open orders and halting", what);
  if (in_internal_error_ || journal_failed_) return;
  in_internal_error_ = true;
  auto change = state_->apply_halt_event(HaltEvent::kInternalError, now());
  if (change) act_on_halt_change(*change, "internal error: " + what);
  in_internal_error_ = false;
}

// ---------------------------------------------------------------- bars (SIM)

void GateApp::Impl::handle_bars(SessionId session, const ipc::Envelope& message) {
  const std::uint64_t request_id = message.request_id();
  if (gate_cfg_.mode != Mode::kSim) {
    protocol_error(session, request_id,
                   "Bar messages are accepted in SIM mode only; in " + std::string(to_string(gate_cfg_.mode)) +
                       " the gate takes prices from its own feed");
    return;
  }
  if (journal_failed_) {
    protocol_error(session, request_id, "journal not writable; the gate processes no bars");
    return;
  }
  const bool batch = message.body_case() == ipc::Envelope::kBarBatch;
  const int count = batch ? message.bar_batch().bars_size() : 1;
  if (batch && (count == 0 || static_cast<std::size_t>(count) > proto::kBarBatchBarsMax)) {
    protocol_error(session, request_id,
                   "bar batch refused: " + std::to_string(count) + " bars (1 to " +
                       std::to_string(proto::kBarBatchBarsMax) + " per batch)");
    return;
  }
  // Every bar is checked before any is taken, so a refused batch changes
  // nothing. A bar whose open time equals the last one processed for its
  // product (an agent resending after a reconnect or a gate restart) is
  // skipped, not processed twice; an older one is refused.
  std::vector<Bar> bars;
  bars.reserve(static_cast<std::size_t>(count));
  // The latest open time per product: the processed one, then this batch's.
  // Products are few (configured ones only), so a flat list beats a map.
  std::vector<std::pair<const std::string*, std::int64_t>> latest;
  std::size_t repeated = 0;
  for (int i = 0; i < count; ++i) {
    const ipc::Bar& wire = batch ? message.bar_batch().bars(i) : message.bar();
    auto bar = parse_bar(wire);
    if (!bar) {
      protocol_error(session, request_id, "bar refused: " + bar.error().message);
      return;
    }
    const ProductSpec* spec = gate_cfg_.find_product(bar->product);
    if (spec == nullptr) {
      protocol_error(session, request_id, "bar refused: product " + bar->product + " is not configured");
      return;
    }
    auto slot = std::find_if(latest.begin(), latest.end(), [&](const auto& l) { return l.first == &spec->product; });
    if (slot == latest.end()) {
      std::int64_t last = std::numeric_limits<std::int64_t>::min();
      auto it = last_bar_open_ns_.find(bar->product);
      if (it != last_bar_open_ns_.end()) last = it->second;
      latest.emplace_back(&spec->product, last);
      slot = latest.end() - 1;
    }
    const std::int64_t last = slot->second;
    if (bar->open_ts_ns < last) {
      protocol_error(session, request_id,
                     "bar refused: " + bar->product + " bar at " + std::to_string(wire.open_ts_s()) +
                         " s is older than the last one processed");
      return;
    }
    if (bar->open_ts_ns == last) {
      ++repeated;
      continue;
    }
    slot->second = bar->open_ts_ns;
    bars.push_back(std::move(bar).value());
  }
  if (repeated > 0) log_->info("bars already processed skipped={} of {}", repeated, count);
  for (const Bar& bar : bars) last_bar_open_ns_[bar.product] = bar.open_ts_ns;
  if (bars.empty()) {
    ipc::Envelope reply;
    reply.set_request_id(request_id);
    *reply.mutable_position_snapshot() = state_->ledger().to_snapshot(now());
    send_agent(session, std::move(reply), bar_reply_barrier());
    return;
  }
  if (bars_queued_ + inbound_queued_ + venue_queued_ + rules_queued_ == 0) {
    // Nothing queued that these bars must follow: only sends wait for the
    // journal, and the sends this makes queue behind them. Processing now
    // lets the next batch's marks share a sync with this one's.
    process_bars(session, request_id, bars);
    return;
  }
  Effect e;
  e.kind = Effect::Kind::kBars;
  e.session = session;
  e.request_id = request_id;
  e.payload = std::move(bars);
  enqueue(std::move(e));
}

void GateApp::Impl::process_bars(SessionId session, std::uint64_t request_id, const std::vector<Bar>& bars) {
  bool processed = true;
  for (const Bar& bar : bars) {
    if (!process_bar(session, request_id, bar)) {
      processed = false;
      break;
    }
  }
  // The marks of the bars taken so far are journaled even when a later bar
  // stopped the message, so that no record waits behind a refused bar.
  if (!append_marks() || !processed) return;
  // The lockstep answer: the agent may rely on everything up to the last
  // bar once it has it.
  ipc::Envelope reply;
  reply.set_request_id(request_id);
  *reply.mutable_position_snapshot() = state_->ledger().to_snapshot(market_now_ns_);
  send_agent(session, std::move(reply), bar_reply_barrier());
}

bool GateApp::Impl::process_bar(SessionId session, std::uint64_t request_id, const Bar& bar) {
  // The rule stage's market facts (volatility, volume, spread) come from the
  // bars the gate itself processes, never from numbers the agent asserts.
  if (auto st = state_->apply_bar(bar); !st) {
    venue_log_->warn("market stats refused bar product={} open_ts_ns={} error={}", bar.product, bar.open_ts_ns,
                     log_text(st.error().message));
  }
  auto events = venue_->on_bar(bar);
  if (!events) {
    venue_log_->error("bar refused product={} open_ts_ns={} error={}", bar.product, bar.open_ts_ns,
                      log_text(events.error().message));
    protocol_error(session, request_id, "SimVenue refused the bar: " + events.error().message);
    return false;
  }
  if (options_.venue_events_for_test) options_.venue_events_for_test(events.value());
  for (const VenueEvent& ev : *events) {
    venue_event(ev);
    if (journal_failed_) return false;
  }
  const std::int64_t close_ts = bar.open_ts_ns + gate_cfg_.sim.bar_period_ms * kNanosPerMs;
  if (close_ts > market_now_ns_) market_now_ns_ = close_ts;
  if (auto st = state_->apply_mark(bar.product, bar.close, close_ts); !st) {
    internal_error("mark " + bar.product + ": " + st.error().message);
  } else {
    add_mark(bar, close_ts);
  }
  set_reference(bar.product, bar.close, close_ts);
  automatic_halts(market_now_ns_);
  follow_up_flatten();
  // Market time moved: holds and proposals expire in it, before the agent
  // hears of the bar (trading-backtest expires holds at the same point).
  expire_held_orders();
  if (journal_failed_) return false;
  expire_proposals();
  venue_log_->debug("bar product={} open_ts_ns={} close={} events={}", bar.product, bar.open_ts_ns,
                    bar.close.to_string(), events->size());
  return !journal_failed_;
}

// ---------------------------------------------------------------- halts

Status GateApp::Impl::operator_halt(HaltEvent event, const std::string& reason) {
  auto change = state_->apply_halt_event(event, now());
  if (!change) return make_error(change.error().message);
  act_on_halt_change(*change, reason);
  if (journal_failed_) return make_error("journal not writable: " + journal_error_);
  return {};
}

void GateApp::Impl::act_on_halt_change(const HaltChange& change, const std::string& reason) {
  halt_reason_ = reason;
  ipc::GateRecord r;
  ipc::HaltStateChanged* h = r.mutable_halt_state_changed();
  *h = change.to_proto(reason);
  h->set_cause(daemon::to_proto_cause(change.event));
  if (!append(r)) return;
  const auto level = change.to == HaltState::kActive ? spdlog::level::info : spdlog::level::warn;
  log_->log(level, "halt from={} to={} event={} actor={} cancel_all={} flatten={} cooldown_until_ns={} reason={}",
            to_string(change.from), to_string(change.to), to_string(change.event), actor_of(change.event),
            change.cancel_all, change.flatten, change.cooldown_until_ns, log_text(reason));
  ipc::Envelope push;
  *push.mutable_halt_state_changed() = *h;
  broadcast(std::move(push));
  if (change.cancel_all) cancel_all(reason);
  if (change.flatten) flatten(reason);
}

void GateApp::Impl::automatic_halts(std::int64_t now_ns) {
  if (journal_failed_) return;
  // The loss check rolls the ledger's day only to now_ns, which the marks
  // and fills just applied have reached, so replay rebuilds the same day.
  if (gate_cfg_.mode == Mode::kSim) {
    if (auto change = state_->check_loss_limit(now_ns)) {
      const Ledger& l = state_->ledger();
      act_on_halt_change(*change, "daily loss limit: equity " + l.equity().to_string() + " is more than " +
                                      state_->limits().daily_loss_fraction_max.to_string() +
                                      " below the day's peak " + l.day_peak_equity().to_string());
    }
  }
  if (auto change = state_->tick(now_ns)) act_on_halt_change(*change, "daily loss cooldown elapsed");
}

void GateApp::Impl::trip_dead_mans_switch(std::int64_t silence_ms) {
  dead_mans_switch_armed_ = false;
  const std::string reason = "dead-man's switch: no heartbeat from the agent for " + std::to_string(silence_ms) +
                             "ms (heartbeat.timeout " + std::to_string(gate_cfg_.heartbeat_timeout_ms) + "ms)";
  log_->error("{}; cancelling every open order and halting", reason);
  auto change = state_->apply_halt_event(HaltEvent::kHeartbeatTimeout, now());
  if (change) act_on_halt_change(*change, reason);
}

}  // namespace ta::gate
