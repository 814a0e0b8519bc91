// The SIM driver and the gate's messages (docs/agent.md, "SIM lockstep"
// and "SIM pipeline"). Each bar is a step: the engine gets the gate's
// snapshot after the bar, then the bar, and the step's intents go to the
// gate before the next bar. A step waits for the gate's answer to its bar
// (lockstep) unless that answer is predictable (SimBook): then the bar joins
// a BarBatch and the step is taken at once, and the answer, when it comes,
// is checked against the prediction.
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
  if (drive_posted_ || stopped_ || finished_ || frozen_for_test_) return;
  drive_posted_ = true;
  boost::asio::post(io_, [this] { drive(); });
}

void AgentApp::Impl::drive() {
  drive_posted_ = false;
  for (std::size_t turn = 0; turn < kDriveStepsPerTurn; ++turn) {
    if (stopped_ || finished_ || frozen_for_test_) return;
    if (options_.halt_after_steps_for_test > 0 && steps_this_process_ >= options_.halt_after_steps_for_test) {
      // Tests: behave as if the process died here (no stop record).
      frozen_for_test_ = true;
      log_->warn("frozen for test after steps={}", steps_this_process_);
      if (options_.on_finished) options_.on_finished(137, "frozen for test");
      return;
    }
    if (client_->state() != GateConnectionState::kReady || awaiting_connect_snapshot_) {
      phase_ = SimPhase::kWaitGate;
      return;
    }
    if (!awaiting_decision_.empty()) {
      // The next step needs them; a denied intent lets the pipeline go on,
      // an accepted one makes the next bar a lockstep step.
      phase_ = SimPhase::kAwaitDecisions;
      wait_for_gate();
      return;
    }
    if (next_ >= bars_.size()) {
      send_batch();
      if (outstanding_.empty()) {
        finish_run();
        return;
      }
      phase_ = SimPhase::kAwaitReply;
      wait_for_gate();
      return;
    }
    if (bar_close_ns(next_) < gate_market_ns_) {
      // The gate processed this bar before a restart of ours, and the
      // journal lost the step: recompute it without sending (the gate
      // refuses bars older than its last).
      catch_up_step();
      continue;
    }
    if (cfg_.replay.speed != ReplaySpeed::kMax) {
      // Accelerated and real speed: bar i is due (close_i - close_first) /
      // factor after the first bar this process stepped.
      const double factor = cfg_.replay.speed == ReplaySpeed::kReal ? 1.0 : cfg_.replay.factor;
      if (pace_origin_close_ns_ < 0) {
        pace_origin_close_ns_ = bar_close_ns(next_);
        pace_origin_ = std::chrono::steady_clock::now();
      }
      const double offset_ns = static_cast<double>(bar_close_ns(next_) - pace_origin_close_ns_) / factor;
      const auto due = pace_origin_ + std::chrono::nanoseconds(static_cast<std::int64_t>(offset_ns));
      if (std::chrono::steady_clock::now() < due) {
        send_batch();
        phase_ = SimPhase::kPacing;
        pace_timer_.expires_at(due);
        pace_timer_.async_wait([this](boost::system::error_code ec) {
          if (!ec && phase_ == SimPhase::kPacing) drive();
        });
        return;
      }
    }
    phase_ = SimPhase::kRunning;
    if (may_predict()) {
      if (queued_ - confirmed_ >= cfg_.gate.bars_in_flight_max) {
        // The window is full: wait for an answer.
        send_batch();
        phase_ = SimPhase::kAwaitReply;
        wait_for_gate();
        return;
      }
      if (predicted_step()) continue;
      // The gate's daily-loss check might fire on this bar: lockstep.
    }
    // Lockstep: bar next_ is the last bar the gate answers before the step.
    if (queued_ == next_) queue_bar(next_);
    send_batch();
    phase_ = SimPhase::kAwaitReply;
    wait_for_gate();
    return;
  }
  advance();
}

bool AgentApp::Impl::may_predict() const {
  // Predictable: the gate fills nothing (no order of ours is working), it
  // is ACTIVE (a halt ends with a push at a bar the agent cannot foresee),
  // and the book is in step with the gate.
  return cfg_.gate.bars_in_flight_max > 0 && have_book_ && !prediction_broken_ && intents_.empty() &&
         halt_ == ta::ipc::HALT_STATE_ACTIVE;
}

// One step on the predicted snapshot. False (nothing done) when the gate's
// daily-loss check might fire on this bar, which the book cannot foresee.
bool AgentApp::Impl::predicted_step() {
  const Bar& bar = bars_[next_];
  if (!book_.flat()) {
    auto mark = SimBook::mark_of(bar);
    if (!mark || !loss_fraction_) return false;
    auto equity = book_.equity_with_mark(bar.product, *mark);
    if (!equity || !book_.loss_limit_clear(*equity, *loss_fraction_)) return false;
  }
  queue_bar(next_);
  // Journaled with its neighbours in one bar_steps record (journal_steps()).
  if (steps_pending_ == 0) steps_pending_first_ = next_;
  ++steps_pending_;
  market_now_ns_ = bar_close_ns(next_);
  if (steps_pending_ >= kBarStepsPerRecordMax && !journal_steps()) return true;
  const auto to_send = step_engine(next_, nullptr);
  batch_equity_max_ = std::max(batch_equity_max_, book_.equity());
  ++counters_.bars_predicted;
  ++steps_this_process_;
  after_step(to_send);
  return true;
}

void AgentApp::Impl::lockstep_step(const ta::ipc::PositionSnapshot& snapshot) {
  const Bar& bar = bars_[next_];
  market_now_ns_ = bar_close_ns(next_);
  settle_passed_orders(bar);
  if (stopped_) return;
  // The snapshot is journaled (and given to the engine as it is) when it
  // differs from what the book predicts for this bar: a fill moved cash or a
  // position, or the book had no base yet.
  bool changed = !have_book_;
  if (!changed) {
    SimBook predicted = book_;
    auto mark = SimBook::mark_of(bar);
    auto actual = SimBook::from_snapshot(snapshot);
    changed = !mark || !predicted.apply_mark(bar.product, *mark) || !actual || !predicted.same_account(*actual);
  }
  ta::ipc::AgentRecord r;
  auto* step = r.mutable_bar_step();
  step->set_index(next_);
  step->set_product(bar.product.str());
  step->set_open_ts_s(bar.open_ts_s);
  if (changed) *step->mutable_snapshot() = snapshot;
  if (!journal(r)) return;
  const auto to_send = step_engine(next_, changed ? &snapshot : nullptr);
  if (!changed && have_book_) {
    // The day's peak is exact here (the engine does not see it).
    if (auto actual = SimBook::from_snapshot(snapshot)) {
      book_.set_day_peak_bound(actual->day_peak_bound(), actual->day_peak_known());
    }
  }
  prediction_broken_ = false;
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
  // The gate has this bar: nothing to send or to wait for.
  queued_ = std::max(queued_, next_ + 1);
  confirmed_ = std::max(confirmed_, next_ + 1);
  batch_begin_ = std::max(batch_begin_, queued_);
  const auto to_send = step_engine(next_, nullptr);
  ++steps_this_process_;
  after_step(to_send);
}

void AgentApp::Impl::after_step(const std::vector<const Intent*>& to_send) {
  // The bar goes before its intents: the gate decides them on its market.
  if (!to_send.empty()) send_batch();
  for (const Intent* in : to_send) submit(*in);
  if (stopped_) return;
  ++next_;
  if (!awaiting_decision_.empty()) {
    // Let the journal sync while the gate decides: the next bar waits for
    // the intents while an order is working (send_batch).
    journal_->request_flush();
  }
}

// ------------------------------------------------------------ batches

void AgentApp::Impl::queue_bar(std::size_t index) {
  ta::ipc::BarBatch* batch = batch_.mutable_bar_batch();
  if (batch->bars_size() == 0) {
    batch_begin_ = index;
    batch_bytes_ = 0;
  }
  ta::ipc::Bar* bar = batch->add_bars();  // a Bar of an earlier batch when there is one
  if (auto st = to_ipc_bar(bars_[index], *bar); !st) {
    // check_bar() passed when the feed loaded it, so this is a bug.
    log_->error("bar not convertible index={} error=\"{}\"", index, st.error().message);
    std::abort();
  }
  batch_bytes_ += bar->ByteSizeLong() + 3;
  queued_ = index + 1;
  if (static_cast<std::size_t>(batch->bars_size()) >= proto::kBarBatchBarsMax ||
      batch_bytes_ >= kBarBatchBytesTarget) {
    send_batch();
  }
}

bool AgentApp::Impl::make_durable(std::uint64_t seq) {
  if (journal_->durable_sequence() >= seq) return true;
  // Usually the journal's flusher is syncing it already; wait for that.
  ++counters_.journal_flushes;
  journal_->request_flush();
  if (auto st = journal_->wait_durable(seq); !st) {
    fail("journal not writable: " + st.error().message);
    return false;
  }
  return true;
}

void AgentApp::Impl::rebase_book(const ta::ipc::PositionSnapshot& snapshot) {
  if (!have_book_) return;
  auto gate = SimBook::from_snapshot(snapshot);
  if (!gate || !book_.rebase(*gate)) {
    log_->error("book cannot take the gate's snapshot; stepping in lockstep from its next answer");
    have_book_ = false;
  }
}

void AgentApp::Impl::send_batch() {
  ta::ipc::BarBatch* batch = batch_.mutable_bar_batch();
  if (batch->bars_size() == 0) return;
  if (!make_durable(std::max(bars_need_seq_, intents_.empty() ? 0 : intent_need_seq_))) return;
  SentBatch sent;
  sent.end = queued_;
  sent.predicted = batch_predicted_;
  sent.equity_max = batch_equity_max_;
  batch_.set_request_id(0);
  auto id = client_->send_with_id(batch_);
  batch->mutable_bars()->Clear();  // keeps the Bar objects for the next batch
  batch_begin_ = queued_;
  batch_bytes_ = 0;
  batch_predicted_ = true;
  batch_equity_max_ = Decimal::zero();
  if (!id) {
    // The connection is gone; the next connect sends these bars again.
    log_->warn("bars not sent until={} error=\"{}\"; waiting for the gate", queued_, id.error().message);
    return;
  }
  sent.request_id = *id;
  if (sent.predicted) sent.book = book_;
  outstanding_.push_back(std::move(sent));
  ++counters_.bar_batches;
}

// Bars [first, queued_) again, after a connect: the gate may have lost them
// (its restart) or never got them (ours). It skips those it has.
void AgentApp::Impl::resend_from(std::size_t first) {
  const std::size_t end = queued_;
  ta::ipc::BarBatch* batch = batch_.mutable_bar_batch();
  batch->mutable_bars()->Clear();
  for (std::size_t i = first; i < end; ++i) {
    // Nothing to check in these answers: the steps were checked already or
    // are taken in lockstep after the connect.
    batch_predicted_ = false;
    queue_bar(i);
    ++counters_.bars_resent;
  }
  send_batch();
}

void AgentApp::Impl::on_batch_reply(const ta::ipc::PositionSnapshot& snapshot) {
  SentBatch b = std::move(outstanding_.front());
  outstanding_.pop_front();
  confirmed_ = std::max(confirmed_, b.end);
  last_snapshot_ = snapshot;
  have_snapshot_ = true;
  if (b.end > next_) {
    // Lockstep: the answer to bar next_. Decisions on the previous step's
    // intents came before it (the bar was sent after them); should one be
    // missing after a reconnect, the step waits for it.
    if (!awaiting_decision_.empty()) {
      held_reply_ = snapshot;
      phase_ = SimPhase::kAwaitDecisions;
      wait_for_gate();
      return;
    }
    lockstep_step(snapshot);
    advance();
    return;
  }
  if (b.predicted && !prediction_broken_) {
    auto actual = SimBook::from_snapshot(snapshot);
    if (!actual || !actual->same_account(b.book)) {
      ++counters_.predictions_missed;
      prediction_broken_ = true;
      log_->warn("gate snapshot after bar {} differs from the prediction (equity {} predicted {}); stepping in "
                 "lockstep until it is applied",
                 b.end - 1, snapshot.account().equity(), b.book.equity().to_string());
    } else {
      // The day's peak is known exactly here; later steps may only raise it.
      Decimal bound = actual->day_peak_bound();
      for (const SentBatch& later : outstanding_) bound = std::max(bound, later.equity_max);
      bound = std::max(bound, batch_equity_max_);
      bound = std::max(bound, book_.equity());
      book_.set_day_peak_bound(bound, actual->day_peak_known());
    }
  }
  advance();
}

bool AgentApp::Impl::waiting_for_gate() const {
  return !outstanding_.empty() || !awaiting_decision_.empty() || awaiting_connect_snapshot_ ||
         client_->state() != GateConnectionState::kReady;
}

// One timer for every wait on the gate: it fails the run when the gate has
// answered nothing for reply_timeout while the agent waits for it.
void AgentApp::Impl::wait_for_gate() {
  if (reply_timer_armed_) return;
  reply_timer_armed_ = true;
  const std::uint64_t progress = gate_progress_;
  reply_timer_.expires_after(std::chrono::milliseconds(cfg_.gate.reply_timeout_ms));
  reply_timer_.async_wait([this, progress](boost::system::error_code ec) {
    if (ec) return;  // cancelled: stopped, or the app is gone
    reply_timer_armed_ = false;
    if (stopped_ || finished_ || frozen_for_test_) return;
    if (!waiting_for_gate() || phase_ == SimPhase::kPacing || phase_ == SimPhase::kRunning) return;
    if (gate_progress_ == progress) {
      fail("the gate did not answer bar " + std::to_string(confirmed_) + " (phase " + std::string(to_string(phase_)) +
           ") within " + proto::format_duration_ms(cfg_.gate.reply_timeout_ms));
      return;
    }
    wait_for_gate();
  });
}

void AgentApp::Impl::submit(const Intent& intent) {
  track(intent);
  const TrackedIntent& t = intents_[intent.intent_id];
  // A fill on this product and side must be durable first (journal()).
  if (auto it = fill_need_seq_.find({t.message.product(), t.message.side()}); it != fill_need_seq_.end()) {
    if (!make_durable(it->second)) return;
  }
  ta::ipc::AgentRecord r;
  *r.mutable_intent_sent()->mutable_intent() = t.message;
  if (!journal(r)) return;
  intents_[intent.intent_id].journaled = true;
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
  log_->info("sim pipeline steps_predicted={} bars_resent={} batches={} predictions_missed={} journal_flushes={}",
             counters_.bars_predicted, counters_.bars_resent, counters_.bar_batches, counters_.predictions_missed,
             counters_.journal_flushes);
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

// ---------------------------------------------------- reconnect, reconcile

void AgentApp::Impl::on_connect_snapshot(const ta::ipc::PositionSnapshot& snapshot) {
  awaiting_connect_snapshot_ = false;
  gate_market_ns_ = snapshot.ts_ns();
  ++gate_progress_;
  log_->info("gate snapshot market_ns={} positions={} equity={}", snapshot.ts_ns(), snapshot.positions_size(),
             snapshot.account().equity());
  reconcile(snapshot);
  if (stopped_) return;
  if (cfg_.mode != AgentMode::kSim) return;
  if (have_book_) {
    // Fills the journal lost (the agent's restart) are in the gate's cash
    // and positions: the book takes them, so that the steps recomputed
    // below see the account the gate had.
    auto gate = SimBook::from_snapshot(snapshot);
    if (gate && !book_.same_holdings(*gate)) {
      log_->warn("book takes the gate's cash {} and positions (was cash {})", gate->cash().to_string(),
                 book_.cash().to_string());
      ta::ipc::AgentRecord r;
      *r.mutable_book_rebased()->mutable_snapshot() = snapshot;
      if (!journal(r)) return;
      rebase_book(snapshot);
    }
  }
  // Whatever was on its way is unanswered now. The gate has every bar that
  // closed before its market time; bars from the first one closing at it up
  // to what this agent queued go again (it skips those it has), and only
  // then the intents in flight, so that each is decided after its bar.
  outstanding_.clear();
  held_reply_.reset();
  batch_.mutable_bar_batch()->mutable_bars()->Clear();
  batch_begin_ = queued_;
  const auto first = std::partition_point(bars_.begin(), bars_.begin() + static_cast<std::ptrdiff_t>(queued_),
                                          [&](const Bar& b) { return b.close_ts_s() * kNanosPerSecond < gate_market_ns_; });
  const auto resend = static_cast<std::size_t>(first - bars_.begin());
  confirmed_ = std::min(confirmed_, resend);
  if (resend < queued_) {
    log_->info("sending bars again from={} to={} (the gate may not have them)", resend, queued_);
    resend_from(resend);
  } else {
    confirmed_ = queued_;
  }
  // The gate's account may have moved while we were apart: check it in
  // lockstep before predicting again.
  prediction_broken_ = true;
  client_->release_inflight();
  if (next_ >= bars_.size() && outstanding_.empty() && awaiting_decision_.empty()) {
    finish_run();
    return;
  }
  advance();
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
    // Decided at its execution bar's open T, the order reaches the venue by
    // T + the longest ack latency and is worked on the first bar opening
    // then or later: a bar past both has been worked, so its final state is
    // overdue (a push the connection lost).
    if (t.execute_bar_open_ts_s > 0 && t.execute_bar_open_ts_s < bar.open_ts_s &&
        bar.open_ts_s >= t.execute_bar_open_ts_s + venue_latency_max_s_) {
      done.push_back(id);
    }
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
  venue_latency_max_s_ = std::max<std::int64_t>(0, (ack.venue_ack_latency_max_ms() + 999) / 1000);
  loss_fraction_.reset();
  if (!ack.daily_loss_fraction_max().empty()) {
    if (auto f = Decimal::parse(ack.daily_loss_fraction_max())) loss_fraction_ = *f;
  }
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
  ask_about_holds();
}

// The gate pushes a hold's settlement once, to the agents connected then.
// One settled while this agent was away (disconnected, or not running) is
// found out here: every intent still held is sent again with its id, and
// the gate answers a known id with its current decision (replayed) - still
// held, or the settlement. In SIM the client keeps them back until the
// bars the gate lacks are sent, like every request in flight.
void AgentApp::Impl::ask_about_holds() {
  for (const auto& [id, t] : intents_) {
    if (!t.held || client_->inflight(id)) continue;
    if (auto st = client_->submit_intent(t.message); !st) {
      // A full in-flight table: the next connect asks again.
      log_->warn("held intent not asked about intent_id={} error=\"{}\"", id, st.error().message);
      continue;
    }
    ++counters_.holds_asked;
    log_->info("held intent asked about again intent_id={}", id);
  }
}

void AgentApp::Impl::on_disconnected(const std::string& reason) {
  if (stopped_) return;
  log_->warn("gate connection lost reason=\"{}\" phase={}", reason, to_string(phase_));
}

void AgentApp::Impl::on_position_snapshot_reply(const ta::ipc::PositionSnapshot& snapshot, std::uint64_t request_id) {
  if (stopped_) return;
  if (cfg_.mode == AgentMode::kSim && request_id != 0 && !outstanding_.empty() &&
      request_id == outstanding_.front().request_id) {
    ++gate_progress_;
    on_batch_reply(snapshot);
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
  // SIM: a snapshot that answers nothing we wait for changes nothing.
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
  ++gate_progress_;
  if (awaiting_decision_.erase(decision.intent_id()) > 0 && awaiting_decision_.empty() &&
      phase_ == SimPhase::kAwaitDecisions) {
    if (held_reply_) {
      const ta::ipc::PositionSnapshot reply = std::move(*held_reply_);
      held_reply_.reset();
      lockstep_step(reply);
    }
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
  // Cash and a position moved: the book is stale until a lockstep step
  // takes the gate's snapshot.
  prediction_broken_ = true;
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
  if (!journal(r) || !make_durable(bars_need_seq_)) return;
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
  if (hold_for_warm_up(bar)) return;
  live_bar(bar);
}

void AgentApp::Impl::live_bar(const Bar& bar) {
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
