// The SIM lockstep driver and the gate's messages (docs/agent.md, "SIM
// lockstep"). One bar at a time: Bar -> its PositionSnapshot reply ->
// engine -> intents -> every Decision -> next bar.
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdlib>

#include "app_impl.h"

namespace ta::agent {

namespace {
constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

std::string_view deny_reason_text(ta::ipc::DenyReason reason) {
  const std::string& name = ta::ipc::DenyReason_Name(reason);
  return name.empty() ? std::string_view("UNKNOWN") : std::string_view(name);
}

}  // namespace

std::int64_t AgentApp::Impl::bar_close_ns(std::size_t index) const {
  return bars_[index].close_ts_s() * kNanosPerSecond;
}

// ---------------------------------------------------------------- driver

void AgentApp::Impl::advance() {
  if (stopped_ || finished_ || frozen_for_test_) return;
  if (options_.halt_after_steps_for_test > 0 && steps_this_process_ >= options_.halt_after_steps_for_test) {
    // Tests: behave as if the process died here (no stop record).
    frozen_for_test_ = true;
    log_->warn("frozen for test after steps={}", steps_this_process_);
    if (options_.on_finished) options_.on_finished(137, "frozen for test");
    return;
  }
  if (next_ >= bars_.size()) {
    finish_run();
    return;
  }
  phase_ = SimPhase::kPacing;
  if (cfg_.replay.speed == ReplaySpeed::kMax) {
    boost::asio::post(io_, [this] {
      if (phase_ == SimPhase::kPacing) send_bar();
    });
    return;
  }
  // Accelerated and real speed: bar i is due (close_i - close_first) /
  // factor after the first bar this process sent.
  const double factor = cfg_.replay.speed == ReplaySpeed::kReal ? 1.0 : cfg_.replay.factor;
  if (pace_origin_close_ns_ < 0) {
    pace_origin_close_ns_ = bar_close_ns(next_);
    pace_origin_ = std::chrono::steady_clock::now();
  }
  const double offset_ns = static_cast<double>(bar_close_ns(next_) - pace_origin_close_ns_) / factor;
  pace_timer_.expires_at(pace_origin_ + std::chrono::nanoseconds(static_cast<std::int64_t>(offset_ns)));
  pace_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && phase_ == SimPhase::kPacing) send_bar();
  });
}

bool AgentApp::Impl::needs_durable() const {
  // Anything a lost journal tail could not rebuild from the bars alone: a
  // position (equity moves with every mark), an order in flight (its fill
  // may come with the next bar), a halt. While flat and ACTIVE, a restart
  // recomputes lost steps exactly from the bars (docs/agent.md, "Restart").
  if (!intents_.empty() || halt_ != ta::ipc::HALT_STATE_ACTIVE) return true;
  for (std::size_t i = 0; i < engine_->slot_count(); ++i) {
    const SlotView v = engine_->slot(i);
    if (!v.position.is_zero() || !v.pending_intent_id.empty()) return true;
  }
  for (const auto& p : last_snapshot_.positions()) {
    if (!p.quantity().empty() && p.quantity() != "0") return true;
  }
  return false;
}

void AgentApp::Impl::send_bar() {
  if (stopped_ || finished_) return;
  if (client_->state() != GateConnectionState::kReady || awaiting_connect_snapshot_) {
    phase_ = SimPhase::kWaitGate;
    return;
  }
  if (bar_close_ns(next_) < gate_market_ns_) {
    // The gate processed this bar before a restart of ours, and the journal
    // lost the step: recompute it without sending (the gate refuses bars
    // older than its last).
    catch_up_step();
    return;
  }
  if (needs_durable() && !journal_flush()) return;
  ta::ipc::Envelope env;
  auto bar = to_ipc_bar(bars_[next_]);
  if (!bar) {
    // check_bar() passed when the feed loaded it, so this is a bug.
    log_->error("bar not convertible index={} error=\"{}\"", next_, bar.error().message);
    std::abort();
  }
  *env.mutable_bar() = std::move(bar).value();
  auto id = client_->send_with_id(env);
  if (!id) {
    log_->warn("bar not sent index={} error=\"{}\"; waiting for the gate", next_, id.error().message);
    phase_ = SimPhase::kWaitGate;
    return;
  }
  bar_request_id_ = *id;
  phase_ = SimPhase::kAwaitReply;
  arm_reply_timer("bar " + std::to_string(next_));
}

void AgentApp::Impl::arm_reply_timer(const std::string& what) {
  reply_timer_.expires_after(std::chrono::milliseconds(cfg_.gate.reply_timeout_ms));
  const std::size_t index = next_;
  const SimPhase phase = phase_;
  reply_timer_.async_wait([this, what, index, phase](boost::system::error_code ec) {
    if (ec || stopped_ || finished_) return;
    if (next_ == index && phase_ == phase) {
      fail("the gate did not answer " + what + " within " + proto::format_duration_ms(cfg_.gate.reply_timeout_ms));
    }
  });
}

void AgentApp::Impl::step_reply(const ta::ipc::PositionSnapshot& snapshot) {
  reply_timer_.cancel();
  bar_request_id_ = 0;
  const Bar& bar = bars_[next_];
  market_now_ns_ = bar_close_ns(next_);
  settle_passed_orders(bar);
  if (stopped_) return;
  ta::ipc::AgentRecord r;
  auto* step = r.mutable_bar_step();
  step->set_index(next_);
  step->set_product(bar.product.str());
  step->set_open_ts_s(bar.open_ts_s);
  const bool changed = snapshot_changed(snapshot);
  if (changed) *step->mutable_snapshot() = snapshot;
  if (!journal(r)) return;
  const auto to_send = step_engine(next_, changed ? &snapshot : nullptr);
  ++steps_this_process_;
  after_step(to_send);
}

void AgentApp::Impl::catch_up_step() {
  const Bar& bar = bars_[next_];
  ta::ipc::AgentRecord r;
  auto* step = r.mutable_bar_step();
  step->set_index(next_);
  step->set_product(bar.product.str());
  step->set_open_ts_s(bar.open_ts_s);
  step->set_catch_up(true);
  market_now_ns_ = bar_close_ns(next_);
  settle_passed_orders(bar);
  if (!journal(r)) return;
  ++counters_.bars_catch_up;
  const auto to_send = step_engine(next_, nullptr);
  ++steps_this_process_;
  after_step(to_send);
}

void AgentApp::Impl::after_step(const std::vector<const Intent*>& to_send) {
  for (const Intent* in : to_send) submit(*in);
  if (stopped_) return;
  ++next_;
  if (awaiting_decision_.empty()) {
    advance();
    return;
  }
  phase_ = SimPhase::kAwaitDecisions;
  arm_reply_timer("the intents of bar " + std::to_string(next_ - 1));
}

void AgentApp::Impl::submit(const Intent& intent) {
  track(intent);
  const TrackedIntent& t = intents_[intent.intent_id];
  ta::ipc::AgentRecord r;
  *r.mutable_intent_sent()->mutable_intent() = t.message;
  if (!journal(r)) return;
  if (auto st = client_->submit_intent(t.message); !st) {
    // Only a full in-flight table or a duplicate id get here; both are bugs
    // of ours or a gate that stopped answering.
    fail("intent " + intent.intent_id + " not submitted: " + st.error().message);
    return;
  }
  ++counters_.intents_sent;
  log_->info("intent sent intent_id={} purpose={} reason={} side={} quantity={} stop={}", intent.intent_id,
             to_string(intent.purpose), to_string(intent.reason), to_string(intent.side),
             intent.quantity.to_string(), intent.protective_stop_price.to_string());
  if (cfg_.mode == AgentMode::kSim) awaiting_decision_.insert(intent.intent_id);
}

void AgentApp::Impl::finish_run() {
  if (finished_) return;
  phase_ = SimPhase::kDone;
  finished_ = true;
  finish_reason_ = "end of data";
  const std::string line = summary_line();
  log_->info("sim finished {}", line);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  stop("end of data");
  if (options_.on_finished) options_.on_finished(0, "end of data");
}

void AgentApp::Impl::fail(const std::string& reason) {
  if (finished_) return;
  finished_ = true;
  finish_reason_ = reason;
  phase_ = SimPhase::kDone;
  log_->error("giving up: {}", reason);
  stop(reason);
  if (options_.on_finished) options_.on_finished(1, reason);
}

bool AgentApp::Impl::snapshot_changed(const ta::ipc::PositionSnapshot& s) const {
  if (!have_snapshot_) return true;
  const auto& a = last_snapshot_;
  if (a.account().equity() != s.account().equity() || a.positions_size() != s.positions_size()) return true;
  for (int i = 0; i < s.positions_size(); ++i) {
    if (a.positions(i).product() != s.positions(i).product() || a.positions(i).quantity() != s.positions(i).quantity()) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------- reconnect, reconcile

void AgentApp::Impl::on_connect_snapshot(const ta::ipc::PositionSnapshot& snapshot) {
  awaiting_connect_snapshot_ = false;
  gate_market_ns_ = snapshot.ts_ns();
  log_->info("gate snapshot market_ns={} positions={} equity={}", snapshot.ts_ns(), snapshot.positions_size(),
             snapshot.account().equity());
  reconcile(snapshot);
  if (stopped_) return;
  if (cfg_.mode != AgentMode::kSim) return;
  switch (phase_) {
    case SimPhase::kStarting:
    case SimPhase::kWaitGate:
    case SimPhase::kAwaitReply:  // the bar's reply was lost with the connection: send it again
      if (next_ >= bars_.size()) {
        finish_run();
      } else {
        send_bar();
      }
      return;
    case SimPhase::kAwaitDecisions:  // the client resends the intents itself
    case SimPhase::kPacing:
    case SimPhase::kDone:
      return;
  }
}

// The gate's positions are the truth. A product whose position differs
// from the engine's (the sum over its strategies) lost fills with the
// connection: when exactly one order in flight on that product can explain
// the difference, it is attributed to it; otherwise the engine takes the
// gate's position as a snapshot (a flat product closes every strategy's
// position there) and the difference is counted as unattributed.
void AgentApp::Impl::reconcile(const ta::ipc::PositionSnapshot& snapshot) {
  for (const ProductSpec& spec : cfg_.products) {
    Decimal gate_q;
    for (const auto& p : snapshot.positions()) {
      if (p.product() != spec.product.view()) continue;
      auto q = Decimal::parse(p.quantity());
      if (q) gate_q = *q;
    }
    Decimal engine_q;
    for (std::size_t i = 0; i < engine_->slot_count(); ++i) {
      const SlotView v = engine_->slot(i);
      if (v.product != spec.product) continue;
      auto sum = engine_q.add(v.position);
      if (sum) engine_q = *sum;
    }
    auto diff = gate_q.sub(engine_q);
    if (!diff || diff->is_zero()) continue;
    const OrderSide side = diff->is_positive() ? OrderSide::kBuy : OrderSide::kSell;
    const Decimal amount = diff->abs();
    const TrackedIntent* only = nullptr;
    std::string only_id;
    std::size_t candidates = 0;
    // Orders in flight on this product and side with something left, and
    // the sum of what they have left.
    std::vector<std::pair<std::string, Decimal>> open;
    Decimal open_total;
    for (const auto& [id, t] : intents_) {
      if (t.product != spec.product || t.side != side || (t.decided && !t.accepted)) continue;
      auto left = t.quantity.sub(t.filled);
      if (!left || !left->is_positive()) continue;
      open.emplace_back(id, *left);
      if (auto sum = open_total.add(*left)) open_total = *sum;
      if (*left < amount) continue;
      ++candidates;
      only = &t;
      only_id = id;
    }
    ta::ipc::AgentRecord r;
    auto* rec = r.mutable_reconciled();
    rec->set_product(spec.product.str());
    rec->set_side(side == OrderSide::kBuy ? ta::ipc::SIDE_BUY : ta::ipc::SIDE_SELL);
    if (candidates == 1) {
      rec->set_intent_id(only_id);
      rec->set_strategy(only->message.strategy());
      rec->set_quantity(amount.to_string());
      rec->set_detail("fill lost with the connection, attributed from the gate's snapshot");
      log_->warn("reconcile product={} gate={} agent={} attributed_to={} quantity={}", spec.product.view(),
                 gate_q.to_string(), engine_q.to_string(), only_id, amount.to_string());
      if (!journal(r)) return;
      apply_reconciled(*rec);
      continue;
    }
    if (open.size() > 1 && open_total == amount) {
      // No single order explains it, but all of them filled in full do
      // (several strategies traded the product on the bar whose messages
      // were lost): each gets its own attribution.
      for (const auto& [id, left] : open) {
        rec->set_intent_id(id);
        rec->set_strategy(intents_.at(id).message.strategy());
        rec->set_quantity(left.to_string());
        rec->set_detail("fill lost with the connection, attributed from the gate's snapshot (every order in flight "
                        "on the product filled in full)");
        log_->warn("reconcile product={} gate={} agent={} attributed_to={} quantity={} orders={}", spec.product.view(),
                   gate_q.to_string(), engine_q.to_string(), id, left.to_string(), open.size());
        if (!journal(r)) return;
        apply_reconciled(*rec);
      }
      continue;
    }
    ++counters_.unattributed;
    log_->error("reconcile product={} gate={} agent={} candidates={}: taking the gate's position", spec.product.view(),
                gate_q.to_string(), engine_q.to_string(), candidates);
    PositionEvent e;
    e.positions.emplace_back(spec.product, gate_q);
    engine_->on_position(e);
  }
}

// A MARKET IOC order lives for one bar of its product: once the gate has
// answered the bar it executes on, the order is over. Normally the gate's
// OrderUpdate said so before the reply; after a lost connection it may not
// have, and the order is settled here (journaled as reconciled).
void AgentApp::Impl::settle_passed_orders(const Bar& bar) {
  std::vector<std::string> done;
  for (const auto& [id, t] : intents_) {
    if (t.product != bar.product || !t.decided || !t.accepted) continue;
    if (t.execute_bar_open_ts_s > 0 && t.execute_bar_open_ts_s < bar.open_ts_s) done.push_back(id);
  }
  for (const std::string& id : done) {
    const TrackedIntent& t = intents_[id];
    ta::ipc::AgentRecord r;
    auto* rec = r.mutable_reconciled();
    rec->set_intent_id(id);
    rec->set_strategy(t.message.strategy());
    rec->set_product(t.product.str());
    rec->set_side(t.side == OrderSide::kBuy ? ta::ipc::SIDE_BUY : ta::ipc::SIDE_SELL);
    rec->set_quantity("0");
    rec->set_order_done(true);
    rec->set_detail("IOC order past its execution bar without a final state from the gate");
    log_->warn("order settled intent_id={} filled={} (its final state was lost)", id, t.filled.to_string());
    if (!journal(r)) return;
    apply_reconciled(*rec);
  }
}

// ------------------------------------------------------- gate messages

void AgentApp::Impl::on_state_changed(GateConnectionState state) { connection_ = state; }

void AgentApp::Impl::on_connected(const ta::ipc::HelloAck& ack) {
  const ta::ipc::Mode want = cfg_.mode == AgentMode::kSim     ? ta::ipc::MODE_SIM
                             : cfg_.mode == AgentMode::kPaper ? ta::ipc::MODE_PAPER
                                                              : ta::ipc::MODE_LIVE;
  if (ack.mode() != want) {
    fail("the gate runs in " + ta::ipc::Mode_Name(ack.mode()) + " and the agent in " + std::string(to_string(cfg_.mode)) +
         "; both must use the same mode");
    return;
  }
  if (client_->connects() > 1) ++counters_.reconnects;
  if (ack.halt_state() != halt_ && ack.halt_state() != ta::ipc::HALT_STATE_UNSPECIFIED) {
    ta::ipc::AgentRecord r;
    auto* h = r.mutable_halt_state_changed();
    h->set_from(halt_);
    h->set_to(ack.halt_state());
    h->set_actor("hello_ack");
    if (!journal(r)) return;
    apply_halt(ack.halt_state());
  }
  awaiting_connect_snapshot_ = true;
  log_->info("connected to the gate session={} mode={} halt={}", ack.session_id(), ta::ipc::Mode_Name(ack.mode()),
             ta::ipc::HaltState_Name(ack.halt_state()));
}

void AgentApp::Impl::on_disconnected(const std::string& reason) {
  if (stopped_) return;
  log_->warn("gate connection lost reason=\"{}\" phase={}", reason, to_string(phase_));
}

void AgentApp::Impl::on_position_snapshot_reply(const ta::ipc::PositionSnapshot& snapshot, std::uint64_t request_id) {
  if (stopped_) return;
  if (cfg_.mode == AgentMode::kSim && request_id != 0 && request_id == bar_request_id_ &&
      phase_ == SimPhase::kAwaitReply) {
    step_reply(snapshot);
    return;
  }
  if (awaiting_connect_snapshot_) {
    on_connect_snapshot(snapshot);
    return;
  }
  if (cfg_.mode != AgentMode::kSim) {
    // PAPER/LIVE: every snapshot updates equity and positions.
    last_snapshot_ = snapshot;
    have_snapshot_ = true;
    auto pos = position_from_ipc(snapshot);
    if (pos) engine_->on_position(*pos);
  }
  // SIM: a snapshot that answers nothing we wait for (a reply to a bar sent
  // before a reconnect) changes nothing; the lockstep reply will.
}

void AgentApp::Impl::on_decision(const ta::ipc::Decision& decision) {
  if (stopped_) return;
  ta::ipc::AgentRecord r;
  *r.mutable_decision() = decision;
  if (!journal(r)) return;
  if (decision.accepted()) {
    log_->info("decision intent_id={} accepted order_id={} quantity={} replayed={}", decision.intent_id(),
               decision.order_id(), decision.quantity(), decision.replayed());
  } else {
    const auto level = decision.reason() == ta::ipc::DENY_REASON_DUPLICATE_ID_CONFLICT ||
                               decision.reason() == ta::ipc::DENY_REASON_MALFORMED ||
                               decision.reason() == ta::ipc::DENY_REASON_FIELD_RANGE ||
                               decision.reason() == ta::ipc::DENY_REASON_PEER_NOT_ALLOWED
                           ? spdlog::level::err
                           : spdlog::level::warn;
    log_->log(level, "decision intent_id={} denied reason={} detail=\"{}\" limit={} observed={} replayed={}",
              decision.intent_id(), deny_reason_text(decision.reason()), decision.detail(), decision.limit(),
              decision.observed(), decision.replayed());
  }
  apply_decision(decision);
  if (awaiting_decision_.erase(decision.intent_id()) > 0 && awaiting_decision_.empty() &&
      phase_ == SimPhase::kAwaitDecisions) {
    reply_timer_.cancel();
    advance();
  }
}

void AgentApp::Impl::on_cancel_result(const ta::ipc::CancelResult& result) {
  log_->info("cancel result cancel_id={} accepted={}", result.cancel_id(), result.accepted());
}

void AgentApp::Impl::on_order_update(const ta::ipc::OrderUpdate& update) {
  if (stopped_) return;
  ta::ipc::AgentRecord r;
  *r.mutable_order_update() = update;
  if (!journal(r)) return;
  apply_order_update(update);
}

void AgentApp::Impl::on_fill(const ta::ipc::Fill& fill) {
  if (stopped_) return;
  ta::ipc::AgentRecord r;
  *r.mutable_fill() = fill;
  if (!journal(r)) return;
  log_->info("fill fill_id={} intent_id={} product={} side={} quantity={} price={} fee={}", fill.fill_id(),
             fill.intent_id(), fill.product(), ta::ipc::Side_Name(fill.side()), fill.quantity(), fill.price(),
             fill.fee());
  apply_fill(fill);
}

void AgentApp::Impl::on_halt_state_changed(const ta::ipc::HaltStateChanged& change) {
  if (stopped_) return;
  ta::ipc::AgentRecord r;
  *r.mutable_halt_state_changed() = change;
  if (!journal(r)) return;
  log_->warn("gate halt state changed from={} to={} actor={} reason=\"{}\"", ta::ipc::HaltState_Name(change.from()),
             ta::ipc::HaltState_Name(change.to()), change.actor(), change.reason());
  apply_halt(change.to());
}

void AgentApp::Impl::on_parameter_change(const ta::ipc::ParameterChange& change) {
  if (stopped_) return;
  const auto send_ack = [&](bool applied, const std::string& detail) {
    ta::ipc::Envelope ack;
    auto* a = ack.mutable_parameter_change_ack();
    a->set_proposal_id(change.proposal_id());
    a->set_applied(applied);
    a->set_detail(detail);
    if (auto st = client_->send(ack); !st) log_->warn("parameter change ack not sent: {}", st.error().message);
  };
  // Sent again (the gate restarted before it recorded our ack): the same
  // answer, without applying the change a second time.
  if (auto seen = parameter_answers_.find(change.proposal_id()); seen != parameter_answers_.end()) {
    log_->info("parameter change proposal_id={} already answered applied={}: acknowledged again",
               change.proposal_id(), seen->second.applied());
    send_ack(seen->second.applied(), seen->second.detail());
    return;
  }
  std::string detail;
  const bool applied = apply_parameter(change, detail);
  ta::ipc::AgentRecord r;
  auto* p = r.mutable_parameter_applied();
  *p->mutable_change() = change;
  p->set_applied(applied);
  p->set_detail(detail);
  // Durable before the gate hears of it: an acknowledged change must
  // survive an agent crash (the gate does not send it again).
  if (!journal(r) || !journal_flush()) return;
  remember_parameter_answer(*p);
  if (applied) {
    ++counters_.parameter_changes;
  } else {
    ++counters_.parameter_changes_refused;
  }
  log_->log(applied ? spdlog::level::info : spdlog::level::warn,
            "parameter change proposal_id={} strategy={} parameter={} value={} applied={} detail=\"{}\"",
            change.proposal_id(), change.strategy(), change.parameter(), change.value(), applied, detail);
  send_ack(applied, detail);
}

void AgentApp::Impl::on_protocol_error(const ta::ipc::ProtocolError& error) {
  ++counters_.protocol_errors;
  log_->error("the gate refused a message: {}", error.message());
}

// ------------------------------------------------------ PAPER / LIVE feed

void AgentApp::Impl::on_bar(const Bar& bar) {
  if (stopped_) return;
  market_now_ns_ = bar.close_ts_s() * kNanosPerSecond;
  ++counters_.bars;
  for (const Intent* in : run_engine_bar(bar)) submit(*in);
}

void AgentApp::Impl::on_feed_event(const FeedEvent& event) {
  switch (event.kind) {
    case FeedEventKind::kGap:
      log_->warn("feed gap product={} minutes={}", event.product.view(), event.gap.minutes());
      return;
    case FeedEventKind::kEndOfData:
      log_->info("feed ended");
      return;
    case FeedEventKind::kError:
      fail("feed failed: " + event.message);
      return;
  }
}

}  // namespace ta::agent
