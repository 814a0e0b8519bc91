// AgentApp: start and stop, the journal, its replay at start, and the
// functions that feed the engine. Live messages and journal replay go
// through the same apply_* functions, so a replay rebuilds the engine
// exactly as the live run left it.
#include <unistd.h>

#include <algorithm>

#include "app_impl.h"
#include "coinbase/ws_feed.h"

namespace ta::agent {

namespace {

std::shared_ptr<spdlog::logger> daemon_log() {
  if (auto existing = spdlog::get("agent.daemon")) return existing;
  auto created = spdlog::default_logger()->clone("agent.daemon");
  spdlog::register_logger(created);
  return created;
}

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

}  // namespace

std::string_view to_string(SimPhase phase) {
  switch (phase) {
    case SimPhase::kStarting:
      return "starting";
    case SimPhase::kWaitGate:
      return "wait_gate";
    case SimPhase::kRunning:
      return "running";
    case SimPhase::kPacing:
      return "pacing";
    case SimPhase::kAwaitReply:
      return "await_reply";
    case SimPhase::kAwaitDecisions:
      return "await_decisions";
    case SimPhase::kDone:
      return "done";
  }
  return "?";
}

AgentApp::Impl::Impl(boost::asio::io_context& io, AgentAppOptions options)
    : io_(io),
      options_(std::move(options)),
      cfg_(options_.config),
      log_(daemon_log()),
      reply_timer_(io),
      pace_timer_(io) {}

AgentApp::Impl::~Impl() {
  reply_timer_.cancel();
  pace_timer_.cancel();
  if (feed_) feed_->stop();
  if (backfill_) backfill_->cancel();
  if (status_) status_->stop();
  client_.reset();
  if (journal_) (void)journal_->close();
}

// ------------------------------------------------------------------ start

Status AgentApp::Impl::start() {
  if (started_) return make_error("already started");
  started_ = true;
  auto engine = AgentEngine::create(cfg_.engine_config());
  if (!engine) return make_error("engine: " + engine.error().message);
  engine_.emplace(std::move(engine).value());

  if (cfg_.mode == AgentMode::kSim) {
    if (auto st = load_bars(); !st) return st;
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg_.state_dir, ec);
  if (ec) return make_error("state_dir " + cfg_.state_dir.string() + ": " + ec.message());
  if (auto st = open_journal(); !st) return st;
  told_equity_ = engine_->equity();
  if (auto st = replay_journal(); !st) return st;
  queued_ = next_;
  confirmed_ = next_;
  batch_begin_ = next_;

  ta::ipc::AgentRecord started;
  auto* s = started.mutable_started();
  s->set_agent_version(options_.agent_version);
  s->set_mode(cfg_.mode == AgentMode::kSim     ? ta::ipc::MODE_SIM
              : cfg_.mode == AgentMode::kPaper ? ta::ipc::MODE_PAPER
                                               : ta::ipc::MODE_LIVE);
  s->set_config_sha256(cfg_.config_sha256);
  s->set_pid(static_cast<std::int32_t>(::getpid()));
  s->set_bars_total(bars_.size());
  s->set_resumed_from_step(next_);
  if (!journal(started)) return make_error("journal: " + journal_->error());

  if (!cfg_.status.socket_path.empty()) {
    status_ = std::make_unique<StatusServer>(io_, cfg_.status, [this] { return status_json(); });
    if (auto st = status_->start(); !st) return make_error("status socket: " + st.error().message);
  }

  GateClientOptions go;
  go.socket_path = cfg_.gate.socket_path.string();
  go.client_version = options_.agent_version;
  go.heartbeat_period_ms = cfg_.gate.heartbeat_period_ms;
  go.reconnect_delay_ms_initial = cfg_.gate.reconnect_delay_ms_initial;
  go.reconnect_delay_ms_max = cfg_.gate.reconnect_delay_ms_max;
  go.reconnect_seed = static_cast<std::uint64_t>(::getpid());
  if (cfg_.mode == AgentMode::kSim) {
    // SIM heartbeats carry market time, like everything else the agent says.
    go.now_ns = [this] { return market_now_ns_; };
    // Bars the gate lacks go before the intents in flight after a connect.
    go.hold_inflight_after_connect = true;
  }
  client_ = std::make_unique<GateClient>(io_, go, *this);

  // Intents the journal shows as sent but undecided go again, with their
  // ids; the gate answers a known id with its original decision. So do
  // those the last replayed step emitted when the journal lost their
  // intent_sent (they may have reached the gate): journaled now.
  for (auto& [id, t] : intents_) {
    if (t.decided) continue;
    if (!t.journaled) {
      ta::ipc::AgentRecord r;
      *r.mutable_intent_sent()->mutable_intent() = t.message;
      if (!journal(r)) return make_error("journal: " + journal_->error());
      t.journaled = true;
      ++counters_.intents_sent;
    }
    if (auto st = client_->submit_intent(t.message); !st) return make_error("resubmit " + id + ": " + st.error().message);
    awaiting_decision_.insert(id);
    ++counters_.intents_resent;
    log_->info("intent resent after restart intent_id={}", id);
  }
  if (cfg_.mode == AgentMode::kSim) {
    phase_ = awaiting_decision_.empty() ? SimPhase::kStarting : SimPhase::kAwaitDecisions;
    log_->info("sim start bars={} resume_step={} journal_records={} pending_intents={}", bars_.size(), next_,
               journal_records_replayed_, awaiting_decision_.size());
  } else {
    if (cfg_.mode == AgentMode::kLive || cfg_.mode == AgentMode::kPaper) {
      if (cfg_.warm_up.minutes > 0) {
        try {
          backfill_ = std::make_unique<coinbase::CandleBackfill>(io_, cfg_.warm_up.rest);
        } catch (const std::invalid_argument& e) {
          return make_error(std::string("warm-up: ") + e.what());
        }
      }
      feed_ = std::make_unique<coinbase::CoinbaseWsFeed>(io_, cfg_.coinbase);
      if (auto st = feed_->start(*this); !st) return make_error("feed: " + st.error().message);
    }
  }
  if (auto st = client_->start(); !st) return make_error("gate client: " + st.error().message);
  return {};
}

Status AgentApp::Impl::load_bars() {
  std::vector<std::vector<Bar>> series;
  switch (cfg_.feed) {
    case FeedSource::kReplayCsv: {
      CsvOptions csv;
      csv.policy = cfg_.replay.skip_bad_rows ? BadRowPolicy::kSkip : BadRowPolicy::kStrict;
      for (const auto& src : cfg_.replay.csv) {
        auto bars = read_bars_csv(src.path, src.product, csv);
        if (!bars) return make_error("replay: " + bars.error().message);
        const CsvReport& report = bars->report;
        counters_.replay_rows_skipped += report.rows_skipped;
        counters_.replay_duplicates += report.duplicates;
        if (report.rows_skipped > 0 || report.duplicates > 0) {
          // The reader logs the first rows with their reasons (agent.market);
          // the count is said here, once per file.
          log_->warn("replay file={} product={} rows_read={} rows_skipped={} duplicates={} bars={}",
                     src.path.string(), src.product.view(), report.rows_read, report.rows_skipped,
                     report.duplicates, bars->bars.size());
        }
        series.push_back(std::move(bars->bars));
      }
      break;
    }
    case FeedSource::kReplayStore: {
      auto store = CandleStore::open(cfg_.replay.store);
      if (!store) return make_error("replay: " + store.error().message);
      for (const ProductSpec& p : cfg_.products) {
        auto bars = store->load(p.product, cfg_.replay.from_ts_s, cfg_.replay.to_ts_s);
        if (!bars) return make_error("replay: " + bars.error().message);
        series.push_back(std::move(bars).value());
      }
      break;
    }
    case FeedSource::kCoinbase:
      return make_error("SIM needs a replay feed");
  }
  bars_ = merge_bars(series);
  if (cfg_.replay.bars_max > 0 && bars_.size() > cfg_.replay.bars_max) bars_.resize(cfg_.replay.bars_max);
  if (bars_.size() > kSimBarsMax) return make_error("replay: more than " + std::to_string(kSimBarsMax) + " bars");
  if (bars_.empty()) return make_error("replay: no bars");
  return {};
}

void AgentApp::Impl::stop(const std::string& reason) {
  if (stopped_) return;
  stopped_ = true;
  reply_timer_.cancel();
  pace_timer_.cancel();
  if (feed_) feed_->stop();
  if (backfill_) backfill_->cancel();
  if (status_) status_->stop();
  if (journal_ && !journal_->failed() && !frozen_for_test_) {
    ta::ipc::AgentRecord r;
    r.mutable_stopped()->set_reason(reason);
    r.mutable_stopped()->set_summary(summary_line());
    (void)journal(r);
    if (auto st = journal_->close(); !st) log_->error("journal close failed: {}", st.error().message);
  }
  if (client_) client_->stop();
  log_->info("stopped reason=\"{}\" {}", reason, summary_line());
}

// ---------------------------------------------------------------- journal

Status AgentApp::Impl::open_journal() {
  ta::journal::Options o;
  o.durability = ta::journal::Durability::kGroupCommit;
  o.group_commit_window_us = static_cast<std::uint32_t>(cfg_.journal_group_commit_window_ms * 1000);
  auto w = ta::journal::Writer::open(cfg_.journal_dir, o);
  if (!w) return make_error("journal " + cfg_.journal_dir.string() + ": " + w.error().message);
  journal_ = std::move(w).value();
  if (journal_->recovery().cut) {
    log_->warn("journal torn tail cut segment={} bytes={}", journal_->recovery().torn_tail.segment,
               journal_->recovery().torn_tail.bytes);
  }
  return {};
}

bool AgentApp::Impl::journal_steps() {
  if (steps_pending_ == 0) return true;
  ta::ipc::AgentRecord r;
  auto* steps = r.mutable_bar_steps();
  steps->set_first_index(steps_pending_first_);
  steps->set_count(steps_pending_);
  steps->set_first_open_ts_s(bars_[steps_pending_first_].open_ts_s);
  steps->set_last_open_ts_s(bars_[steps_pending_first_ + steps_pending_ - 1].open_ts_s);
  steps_pending_ = 0;
  return journal(r);
}

bool AgentApp::Impl::journal(ta::ipc::AgentRecord& record) {
  if (replaying_) return true;
  if (steps_pending_ > 0 && !record.has_bar_steps() && !journal_steps()) return false;
  // What a restart cannot recompute must be durable before the gate can
  // move past it (docs/agent.md, "Restart"):
  //  * before further bars go out: halts, parameter changes, reconciled
  //    fills, book rebases, every step while the gate is not ACTIVE (the
  //    steps under a halt depend on when it ends) or while an intent of
  //    ours is in flight (those steps depend on when its fills come), and
  //    an intent while its order may still fill (it is then the candidate
  //    a lost fill is attributed to);
  //  * before an intent on the same product and side goes out: a fill. Until
  //    then a lost fill is rebuilt at the next connect from the gate's
  //    snapshot: reconcile() attributes it to its order, the only one in
  //    flight on that product and side, and the book takes the gate's cash
  //    and positions. Order updates and snapshots that differ from the
  //    prediction follow from the fills the same way.
  // Everything else a lost tail holds is recomputed from the bars.
  std::uint64_t* needed = nullptr;
  switch (record.body_case()) {
    case ta::ipc::AgentRecord::kHaltStateChanged:
    case ta::ipc::AgentRecord::kParameterApplied:
    case ta::ipc::AgentRecord::kReconciled:
    case ta::ipc::AgentRecord::kBookRebased:
      needed = &bars_need_seq_;
      break;
    case ta::ipc::AgentRecord::kIntentSent:
      needed = &intent_need_seq_;
      break;
    case ta::ipc::AgentRecord::kFill:
      needed = &fill_need_seq_[{record.fill().product(), record.fill().side()}];
      break;
    case ta::ipc::AgentRecord::kBarStep:
      // A step while an intent of ours is in flight saw the book before
      // its fills, which may come bars later (venue latency): recomputed
      // after a restart, it would see them at once.
      if (halt_ != ta::ipc::HALT_STATE_ACTIVE || !intents_.empty()) needed = &bars_need_seq_;
      break;
    case ta::ipc::AgentRecord::kOrderUpdate:
    case ta::ipc::AgentRecord::kBarSteps:  // predicted: recomputed from the bars and the book
    case ta::ipc::AgentRecord::kDecision:  // the gate answers a resent intent with it again
    case ta::ipc::AgentRecord::kParameterChange:
    case ta::ipc::AgentRecord::kStarted:
    case ta::ipc::AgentRecord::kStopped:
    case ta::ipc::AgentRecord::kWarmUp:  // a restart warms up again
    case ta::ipc::AgentRecord::BODY_NOT_SET:
      break;
  }
  record.set_ts_ns(market_now_ns_);
  scratch_.clear();
  if (!record.SerializeToString(&scratch_)) {
    fail("journal: cannot encode a record");
    return false;
  }
  auto seq = journal_->append(market_now_ns_, kAgentRecordType, scratch_);
  if (!seq) {
    fail("journal not writable: " + seq.error().message);
    return false;
  }
  if (needed != nullptr) *needed = *seq;
  if (options_.after_journal_append_for_test) options_.after_journal_append_for_test(*journal_, *seq);
  return true;
}

Status AgentApp::Impl::replay_journal() {
  auto reader = ta::journal::Reader::open(cfg_.journal_dir);
  if (!reader) return make_error("journal replay: " + reader.error().message);
  replaying_ = true;
  ta::ipc::AgentRecord record;
  while (true) {
    auto next = (*reader)->next();
    if (!next) {
      replaying_ = false;
      return make_error("journal replay: " + next.error().message);
    }
    if (!next->has_value()) break;
    const ta::journal::Record& r = **next;
    if (r.type != kAgentRecordType) continue;
    if (!record.ParseFromArray(r.payload.data(), static_cast<int>(r.payload.size()))) {
      replaying_ = false;
      return make_error("journal replay: record " + std::to_string(r.seq) + " does not decode as AgentRecord");
    }
    if (auto st = replay_record(record); !st) {
      replaying_ = false;
      return make_error("journal replay: record " + std::to_string(r.seq) + ": " + st.error().message);
    }
    ++journal_records_replayed_;
  }
  replaying_ = false;
  return {};
}

Status AgentApp::Impl::replay_record(const ta::ipc::AgentRecord& record) {
  using R = ta::ipc::AgentRecord;
  if (record.ts_ns() > market_now_ns_) market_now_ns_ = record.ts_ns();
  switch (record.body_case()) {
    case R::kBarStep: {
      const auto& step = record.bar_step();
      if (cfg_.mode != AgentMode::kSim) return {};
      if (step.index() != next_) {
        return make_error("bar step " + std::to_string(step.index()) + " where step " + std::to_string(next_) +
                          " was expected: the journal belongs to another run");
      }
      if (step.index() >= bars_.size() || bars_[step.index()].product.view() != step.product() ||
          bars_[step.index()].open_ts_s != step.open_ts_s()) {
        return make_error("bar step " + std::to_string(step.index()) + " (" + step.product() + " at " +
                          std::to_string(step.open_ts_s()) +
                          ") is not that bar of this replay: the journal was written for other data");
      }
      const auto to_send = step_engine(step.index(), step.has_snapshot() ? &step.snapshot() : nullptr);
      for (const Intent* in : to_send) track(*in);
      ++counters_.bars_replayed;
      if (step.catch_up()) ++counters_.bars_catch_up;
      ++next_;
      return {};
    }
    case R::kIntentSent: {
      const auto& intent = record.intent_sent().intent();
      if (cfg_.mode != AgentMode::kSim && intents_.count(intent.intent_id()) == 0) {
        // PAPER/LIVE: bars are not journaled, so intents are tracked from here.
        TrackedIntent t;
        t.message = intent;
        auto p = ProductId::parse(intent.product());
        if (p) t.product = *p;
        t.side = intent.side() == ta::ipc::SIDE_SELL ? OrderSide::kSell : OrderSide::kBuy;
        auto q = Decimal::parse(intent.quantity());
        if (q) t.quantity = *q;
        t.journaled = true;
        intents_.emplace(intent.intent_id(), std::move(t));
      } else if (auto it = intents_.find(intent.intent_id()); it != intents_.end()) {
        it->second.journaled = true;
      } else {
        log_->warn("journal replay: intent {} was sent but the replayed engine did not emit it",
                   intent.intent_id());
      }
      ++counters_.intents_sent;
      return {};
    }
    case R::kDecision:
      apply_decision(record.decision());
      return {};
    case R::kFill:
      apply_fill(record.fill());
      return {};
    case R::kOrderUpdate:
      apply_order_update(record.order_update());
      return {};
    case R::kHaltStateChanged:
      apply_halt(record.halt_state_changed().to());
      return {};
    case R::kParameterApplied:
      remember_parameter_answer(record.parameter_applied());
      if (record.parameter_applied().applied()) {
        std::string detail;
        if (!apply_parameter(record.parameter_applied().change(), detail)) {
          return make_error("parameter change " + record.parameter_applied().change().proposal_id() +
                            " no longer applies: " + detail);
        }
      }
      return {};
    case R::kReconciled:
      apply_reconciled(record.reconciled());
      return {};
    case R::kBookRebased:
      rebase_book(record.book_rebased().snapshot());
      return {};
    case R::kBarSteps: {
      const auto& steps = record.bar_steps();
      if (cfg_.mode != AgentMode::kSim) return {};
      const std::uint64_t first = steps.first_index();
      const std::uint64_t count = steps.count();
      if (first != next_ || count == 0 || count > kBarStepsPerRecordMax || first + count > bars_.size() ||
          bars_[first].open_ts_s != steps.first_open_ts_s() ||
          bars_[first + count - 1].open_ts_s != steps.last_open_ts_s()) {
        return make_error("bar steps " + std::to_string(first) + " (+" + std::to_string(count) +
                          ") do not continue this replay at step " + std::to_string(next_) +
                          ": the journal was written for other data");
      }
      for (std::uint64_t i = first; i < first + count; ++i) {
        for (const Intent* in : step_engine(i, nullptr)) track(*in);
        ++counters_.bars_replayed;
        ++next_;
      }
      return {};
    }
    case R::kParameterChange:
    case R::kStarted:
    case R::kStopped:
    case R::kWarmUp:  // the indicators are warmed up again from the venue
    case R::BODY_NOT_SET:
      return {};
  }
  return {};
}

// -------------------------------------------------- the engine's inputs

// The engine's inputs for one SIM step: the gate's account after the bar,
// then the bar. `snapshot` is the gate's when it differs from the book's
// prediction (it is journaled with the step); otherwise the book predicts
// it from the bar, exactly as the gate computes it. The live path and the
// journal's replay both come here, so they tell the engine the same.
std::vector<const Intent*> AgentApp::Impl::step_engine(std::size_t index, const ta::ipc::PositionSnapshot* snapshot) {
  const Bar& bar = bars_[index];
  if (snapshot != nullptr) {
    last_snapshot_ = *snapshot;
    have_snapshot_ = true;
    auto book = SimBook::from_snapshot(*snapshot);
    auto pos = position_from_ipc(*snapshot);
    if (book && pos) {
      book_ = std::move(book).value();
      have_book_ = true;
      engine_->on_position(*pos);
      told_equity_ = book_.equity();
    } else {
      have_book_ = false;
      log_->error("position snapshot refused: {}", !pos ? pos.error().message : book.error().message);
    }
  } else if (have_book_) {
    auto mark = SimBook::mark_of(bar);
    if (!mark || !book_.apply_mark(bar.product, *mark)) {
      // Decimal overflow: a price far outside any market. Predict nothing
      // more; the next lockstep step journals the gate's snapshot.
      log_->error("book cannot follow bar index={}; stepping in lockstep", index);
      have_book_ = false;
    } else if (book_.equity() != told_equity_) {
      position_event_.equity = book_.equity();
      position_event_.positions.clear();
      for (const SimBook::Position& p : book_.positions()) position_event_.positions.emplace_back(p.product, p.quantity);
      engine_->on_position(position_event_);
      told_equity_ = book_.equity();
    }
  }
  market_now_ns_ = bar.close_ts_s() * kNanosPerSecond;
  ++counters_.bars;
  return run_engine_bar(bar);
}

std::vector<const Intent*> AgentApp::Impl::run_engine_bar(const Bar& bar) {
  last_bar_ts_s_[bar.product] = bar.open_ts_s;
  regimes_[bar.product].update(bar);
  std::vector<const Intent*> to_send;
  for (const Intent& in : engine_->on_bar(bar)) {
    ++counters_.intents;
    if (held_by_halt(in)) {
      // Not sent: the gate would deny it. The strategy goes back as if the
      // gate had denied it (LOOKING for an entry, MANAGING for an exit).
      ++counters_.intents_held;
      DecisionEvent d;
      d.intent_id = in.intent_id;
      d.accepted = false;
      d.deny_reason = halt_ == ta::ipc::HALT_STATE_REDUCING ? ta::ipc::DENY_REASON_REDUCING_ONLY
                      : halt_ == ta::ipc::HALT_STATE_KILLED ? ta::ipc::DENY_REASON_KILLED
                                                            : ta::ipc::DENY_REASON_HALTED;
      if (!replaying_) {
        log_->info("intent held intent_id={} purpose={} halt={}", in.intent_id, to_string(in.purpose),
                   ta::ipc::HaltState_Name(halt_));
      }
      engine_->on_decision(d);
      continue;
    }
    to_send.push_back(&in);
  }
  return to_send;
}

bool AgentApp::Impl::held_by_halt(const Intent& intent) const {
  switch (halt_) {
    case ta::ipc::HALT_STATE_ACTIVE:
    case ta::ipc::HALT_STATE_UNSPECIFIED:
      return false;
    case ta::ipc::HALT_STATE_REDUCING:
      return intent.purpose == IntentPurpose::kEntry;
    case ta::ipc::HALT_STATE_HALTED:
    case ta::ipc::HALT_STATE_KILLED:
      return true;
    case ta::ipc::HaltState_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ta::ipc::HaltState_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return true;
}

void AgentApp::Impl::track(const Intent& intent) {
  TrackedIntent t;
  t.message = to_order_intent(intent);
  t.product = intent.product;
  t.side = intent.side;
  t.quantity = intent.quantity;
  t.execute_bar_open_ts_s = intent.execute_bar_open_ts_s;
  intents_[intent.intent_id] = std::move(t);
}

void AgentApp::Impl::apply_decision(const ta::ipc::Decision& decision) {
  auto event = decision_from_ipc(decision);
  if (!event) {
    log_->error("decision refused intent_id={} error=\"{}\"", decision.intent_id(), event.error().message);
    return;
  }
  auto it = intents_.find(decision.intent_id());
  // REDUCING_ONLY also answers a reduce-only order that would not shrink
  // the position while the gate is ACTIVE; only for an order that is not
  // reduce-only does it reveal the halt state.
  const bool reduce_only = it != intents_.end() && it->second.message.reduce_only();
  if (it != intents_.end()) {
    it->second.decided = true;
    it->second.accepted = decision.accepted();
    if (decision.accepted() && it->second.held) {
      // A held order an operator released: it goes to the venue now, not on
      // the bar it was first meant for, so passing that bar settles nothing.
      it->second.execute_bar_open_ts_s = 0;
    }
    it->second.held = decision.reason() == ta::ipc::DENY_REASON_HELD_FOR_APPROVAL;
    // A held intent stays tracked until the gate sends its settlement.
    if (!decision.accepted() && !it->second.held) intents_.erase(it);
  }
  if (decision.accepted()) {
    ++counters_.accepted;
  } else {
    ++counters_.denied;
    const auto reason = static_cast<std::size_t>(decision.reason());
    ++counters_.denied_by_reason[std::min(reason, kDenyReasonSlots - 1)];
    // A denial for the halt state tells us the state if its push was lost.
    switch (decision.reason()) {
      case ta::ipc::DENY_REASON_HALTED:
      case ta::ipc::DENY_REASON_COOLDOWN:
        apply_halt(ta::ipc::HALT_STATE_HALTED);
        break;
      case ta::ipc::DENY_REASON_KILLED:
        apply_halt(ta::ipc::HALT_STATE_KILLED);
        break;
      case ta::ipc::DENY_REASON_REDUCING_ONLY:
        if (halt_ == ta::ipc::HALT_STATE_ACTIVE && !reduce_only) apply_halt(ta::ipc::HALT_STATE_REDUCING);
        break;
      default:
        break;
    }
  }
  engine_->on_decision(*event);
}

void AgentApp::Impl::apply_fill(const ta::ipc::Fill& fill) {
  ++counters_.fills;
  auto event = fill_from_ipc(fill);
  if (!event) {
    log_->error("fill refused fill_id={} error=\"{}\"", fill.fill_id(), event.error().message);
    return;
  }
  if (auto it = intents_.find(fill.intent_id()); it != intents_.end()) {
    auto sum = it->second.filled.add(event->quantity);
    if (sum) it->second.filled = *sum;
  }
  engine_->on_fill(*event);
}

void AgentApp::Impl::apply_order_update(const ta::ipc::OrderUpdate& update) {
  ++counters_.order_updates;
  auto event = order_event_from_ipc(update);
  if (!event) {
    log_->error("order update refused order_id={} error=\"{}\"", update.order_id(), event.error().message);
    return;
  }
  if (event->kind != OrderEventKind::kWorking) intents_.erase(update.intent_id());
  engine_->on_order_update(*event);
}

void AgentApp::Impl::apply_halt(ta::ipc::HaltState to) {
  if (to == halt_ || to == ta::ipc::HALT_STATE_UNSPECIFIED) return;
  if (!replaying_) {
    log_->warn("halt state from={} to={} ({})", ta::ipc::HaltState_Name(halt_), ta::ipc::HaltState_Name(to),
               to == ta::ipc::HALT_STATE_ACTIVE ? "entries allowed again"
               : to == ta::ipc::HALT_STATE_REDUCING ? "exits only"
                                                    : "no new orders");
  }
  halt_ = to;
}

bool AgentApp::Impl::apply_parameter(const ta::ipc::ParameterChange& change, std::string& detail) {
  auto current = engine_->strategy(change.strategy());
  if (!current) {
    detail = "strategy '" + change.strategy() + "' is not configured";
    return false;
  }
  auto value = Decimal::parse(change.value());
  if (!value) {
    detail = "value \"" + change.value() + "\" is not a decimal number";
    return false;
  }
  auto changed = current->with_parameter(change.parameter(), value->to_double());
  if (!changed) {
    detail = changed.error().message;
    return false;
  }
  if (auto st = engine_->replace_strategy(*changed); !st) {
    detail = st.error().message;
    return false;
  }
  detail = change.parameter() + "=" + change.value() + " (indicators warm up again)";
  return true;
}

void AgentApp::Impl::remember_parameter_answer(const ta::ipc::AgentParameterApplied& answer) {
  const std::string& id = answer.change().proposal_id();
  if (!parameter_answers_.emplace(id, answer).second) return;
  parameter_answer_order_.push_back(id);
  while (parameter_answer_order_.size() > kParameterAnswersRememberedMax) {
    parameter_answers_.erase(parameter_answer_order_.front());
    parameter_answer_order_.pop_front();
  }
}

void AgentApp::Impl::apply_reconciled(const ta::ipc::AgentReconciled& r) {
  auto product = ProductId::parse(r.product());
  auto quantity = Decimal::parse(r.quantity());
  if (!product || !quantity) return;
  auto it = intents_.find(r.intent_id());
  if (quantity->is_positive()) {
    ++counters_.reconciled_fills;
    FillEvent f;
    f.intent_id = r.intent_id();
    f.strategy = r.strategy();
    f.product = *product;
    f.side = r.side() == ta::ipc::SIDE_SELL ? OrderSide::kSell : OrderSide::kBuy;
    f.quantity = *quantity;
    f.ts_ns = market_now_ns_;
    if (it != intents_.end()) {
      auto sum = it->second.filled.add(*quantity);
      if (sum) it->second.filled = *sum;
    }
    engine_->on_fill(f);
  }
  if (r.order_done()) {
    ++counters_.reconciled_orders;
    OrderEvent e;
    e.intent_id = r.intent_id();
    e.kind = OrderEventKind::kExpired;
    e.filled_quantity = it != intents_.end() ? it->second.filled : Decimal::zero();
    intents_.erase(r.intent_id());
    engine_->on_order_update(e);
  }
}

// ------------------------------------------------------------- AgentApp

AgentApp::AgentApp(boost::asio::io_context& io, AgentAppOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}
AgentApp::~AgentApp() = default;
Status AgentApp::start() { return impl_->start(); }
void AgentApp::stop(const std::string& reason) { impl_->stop(reason); }
std::string AgentApp::status_json() const { return impl_->status_json(); }
std::string AgentApp::summary_line() const { return impl_->summary_line(); }
const AgentCounters& AgentApp::counters() const { return impl_->counters_; }
bool AgentApp::finished() const { return impl_->finished_; }

}  // namespace ta::agent
