// PAPER/LIVE warm-up of the indicators from the REST candle backfill
// (docs/agent.md, "Warm-up").
//
// A restarted agent (PAPER and LIVE do not journal bars) would otherwise
// trade with cold indicators: every strategy IDLE until its windows fill,
// hours for the longer ones, while positions it holds are managed by their
// stops alone. So on the first live bar of each product the agent asks
// Coinbase for the `warm_up.minutes` one-minute candles before that bar's
// open, runs them through AgentEngine::warm_up() (indicators only: no
// signal, no lifecycle change), and only then hands the live bar to the
// engine. The backfill ends exactly where the live bars begin, so the
// indicators see one series with no seam; minutes the venue has no candle
// for stay gaps, as everywhere.
//
// Live bars of the product that arrive meanwhile are held and go to the
// engine (live_bar(), oldest first) when the warm-up ends. Backfills run
// one product at a time. When a backfill fails, or a product has
// WarmUpConfig::kHeldBarsMax live bars held (the REST endpoint is failing
// for minutes), that product starts cold: logged, counted, journaled. A
// cold start is what the agent did before the warm-up existed, and it is
// safe: a strategy emits nothing until its own indicators are ready.
#include "app_impl.h"

namespace ta::agent {

std::string_view to_string(WarmUpState state) {
  switch (state) {
    case WarmUpState::kWaiting:
      return "waiting";
    case WarmUpState::kQueued:
      return "queued";
    case WarmUpState::kRunning:
      return "running";
    case WarmUpState::kDone:
      return "done";
    case WarmUpState::kFailed:
      return "failed";
  }
  return "?";
}

bool AgentApp::Impl::hold_for_warm_up(const Bar& bar) {
  if (!backfill_) return false;  // SIM, or warmup_minutes: 0 (start() made none)
  ProductWarmUp& w = warm_up_[bar.product];
  switch (w.state) {
    case WarmUpState::kDone:
    case WarmUpState::kFailed:
      return false;
    case WarmUpState::kWaiting:
      w.state = WarmUpState::kQueued;
      w.live_from_ts_s = bar.open_ts_s;
      w.held.push_back(bar);
      warm_up_queue_.push_back(bar.product);
      start_next_backfill();
      return true;
    case WarmUpState::kQueued:
    case WarmUpState::kRunning:
      if (w.held.size() >= WarmUpConfig::kHeldBarsMax) {
        const bool was_running = w.state == WarmUpState::kRunning;
        w.error = "no warm-up after " + std::to_string(w.held.size()) + " live bars: starting cold";
        w.state = WarmUpState::kFailed;
        if (was_running) backfill_->cancel();
        end_warm_up(bar.product, w);  // the held bars go first
        if (was_running) start_next_backfill();
        return false;
      }
      w.held.push_back(bar);
      return true;
  }
  return false;
}

void AgentApp::Impl::start_next_backfill() {
  if (stopped_ || backfill_->running()) return;
  while (!warm_up_queue_.empty()) {
    const ProductId product = warm_up_queue_.front();
    warm_up_queue_.pop_front();
    ProductWarmUp& w = warm_up_[product];
    if (w.state != WarmUpState::kQueued) continue;  // gave up while queued
    coinbase::CandleRequest request;
    request.product = product;
    request.end_ts_s = w.live_from_ts_s;
    request.start_ts_s = w.live_from_ts_s - cfg_.warm_up.minutes * 60;
    w.state = WarmUpState::kRunning;
    auto st = backfill_->start(request, nullptr, [this, product](Result<coinbase::BackfillReport> report) {
      on_backfill_done(product, std::move(report));
    });
    if (!st) {
      w.error = st.error().message;
      w.state = WarmUpState::kFailed;
      end_warm_up(product, w);
      continue;
    }
    log_->info("warm-up started product={} minutes={} from={} to={}", product.view(), cfg_.warm_up.minutes,
               format_utc(request.start_ts_s), format_utc(request.end_ts_s));
    return;
  }
}

void AgentApp::Impl::on_backfill_done(const ProductId& product, Result<coinbase::BackfillReport> report) {
  if (stopped_) return;
  ProductWarmUp& w = warm_up_[product];
  if (w.state != WarmUpState::kRunning) return;  // gave up meanwhile
  if (!report) {
    w.error = report.error().message;
    w.state = WarmUpState::kFailed;
  } else {
    w.requests = report->requests;
    w.missing_minutes = report->gaps.missing_minutes;
    for (const Bar& b : report->bars) {
      if (b.open_ts_s >= w.live_from_ts_s) break;  // never past the live bars
      if (!engine_->warm_up(b)) continue;          // refused and counted by the engine
      regimes_[product].update(b);
      if (w.bars == 0) w.first_open_ts_s = b.open_ts_s;
      w.last_open_ts_s = b.open_ts_s;
      ++w.bars;
    }
    w.state = WarmUpState::kDone;
  }
  end_warm_up(product, w);
  start_next_backfill();
}

void AgentApp::Impl::end_warm_up(const ProductId& product, ProductWarmUp& w) {
  const bool done = w.state == WarmUpState::kDone;
  if (done) {
    ++counters_.warm_ups_done;
    counters_.warm_up_bars += w.bars;
    const auto level = w.missing_minutes > 0 ? spdlog::level::warn : spdlog::level::info;
    log_->log(level, "warm-up done product={} bars={} of minutes={} missing_minutes={} requests={} live_from={}",
              product.view(), w.bars, cfg_.warm_up.minutes, w.missing_minutes, w.requests,
              format_utc(w.live_from_ts_s));
  } else {
    ++counters_.warm_ups_failed;
    log_->warn("warm-up failed product={} error=\"{}\": its strategies start cold", product.view(), w.error);
  }
  ta::ipc::AgentRecord r;
  auto* o = r.mutable_warm_up();
  o->set_product(product.str());
  o->set_live_from_ts_s(w.live_from_ts_s);
  o->set_requested_minutes(cfg_.warm_up.minutes);
  o->set_bars(w.bars);
  o->set_first_open_ts_s(w.first_open_ts_s);
  o->set_last_open_ts_s(w.last_open_ts_s);
  o->set_missing_minutes(w.missing_minutes);
  o->set_requests(w.requests);
  o->set_error(w.error);
  if (!journal(r)) return;  // the run has failed
  // The held bars, oldest first, as if they had only now arrived.
  std::vector<Bar> held = std::move(w.held);
  w.held.clear();
  for (const Bar& b : held) {
    if (stopped_) return;
    live_bar(b);
  }
}

}  // namespace ta::agent
