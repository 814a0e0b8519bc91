#include "market/feed.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include "market/store.h"

namespace ta::agent {

// ---- ManualScheduler ------------------------------------------------------

void ManualScheduler::post_at(std::int64_t due_us, Task task) {
  tasks_.push(Entry{due_us, seq_++, std::move(task)});
}

std::size_t ManualScheduler::run_due(std::size_t task_count_max) {
  std::size_t ran = 0;
  while (ran < task_count_max && !tasks_.empty() && tasks_.top().due_us <= now_us_) {
    // Move the task out before popping: it may post more tasks.
    Task task = std::move(const_cast<Entry&>(tasks_.top()).task);
    tasks_.pop();
    task();
    ++ran;
  }
  return ran;
}

bool ManualScheduler::run_next() {
  if (tasks_.empty()) return false;
  now_us_ = std::max(now_us_, tasks_.top().due_us);
  run_due();
  return true;
}

std::size_t ManualScheduler::run_all(std::size_t task_count_max) {
  std::size_t ran = 0;
  while (ran < task_count_max && !tasks_.empty()) {
    now_us_ = std::max(now_us_, tasks_.top().due_us);
    ran += run_due(task_count_max - ran);
  }
  return ran;
}

void ManualScheduler::advance_to(std::int64_t now_us) { now_us_ = std::max(now_us_, now_us); }

// ---- merging --------------------------------------------------------------

namespace {

bool before(const Bar& a, const Bar& b) {
  return a.open_ts_s != b.open_ts_s ? a.open_ts_s < b.open_ts_s : a.product < b.product;
}

}  // namespace

std::vector<Bar> merge_bars(std::span<const std::vector<Bar>> series) {
  std::size_t total = 0;
  for (const auto& s : series) total += s.size();
  std::vector<Bar> out;
  out.reserve(total);
  const bool sorted = std::all_of(series.begin(), series.end(), [](const std::vector<Bar>& s) {
    return std::is_sorted(s.begin(), s.end(), before);
  });
  if (sorted) {
    // The usual case (every reader yields each product in time order): a
    // linear merge, series by series. std::merge takes the earlier range
    // first on equal keys, so the result is the stable sort's below.
    std::vector<Bar> merged;
    merged.reserve(total);
    for (const auto& s : series) {
      merged.clear();
      std::merge(out.begin(), out.end(), s.begin(), s.end(), std::back_inserter(merged), before);
      out.swap(merged);
    }
    return out;
  }
  for (const auto& s : series) out.insert(out.end(), s.begin(), s.end());
  // Stable, so equal keys (a precondition breach ReplayFeed rejects) still
  // come out in a fixed order.
  std::stable_sort(out.begin(), out.end(), before);
  return out;
}

// ---- ReplayFeed -----------------------------------------------------------

ReplayFeed::ReplayFeed(std::vector<Bar> merged, Scheduler& scheduler, ReplayOptions options)
    : bars_(std::move(merged)), scheduler_(scheduler), options_(options), alive_(std::make_shared<Alive>()) {
  if (options_.speed == ReplaySpeed::kAccelerated &&
      !(options_.factor >= 1.0 && options_.factor <= ReplayOptions::factor_max)) {
    throw std::invalid_argument("replay: factor must be in [1, 1e6]");
  }
  if (options_.batch_bars < 1 || options_.batch_bars > ReplayOptions::batch_bars_max) {
    throw std::invalid_argument("replay: batch_bars must be in [1, 65536]");
  }
  for (std::size_t i = 1; i < bars_.size(); ++i) {
    if (!before(bars_[i - 1], bars_[i])) {
      throw std::invalid_argument("replay: bars not strictly ordered by (time, product) at index " +
                                  std::to_string(i));
    }
  }
}

ReplayFeed::~ReplayFeed() { stop(); }

Result<std::unique_ptr<ReplayFeed>> ReplayFeed::from_csv(std::span<const CsvSource> sources,
                                                         Scheduler& scheduler, ReplayOptions options,
                                                         const CsvOptions& csv) {
  std::vector<std::vector<Bar>> series;
  for (const CsvSource& source : sources) {
    auto read = read_bars_csv(source.path, source.product, csv);
    if (!read) return read.error();
    series.push_back(std::move(read.value().bars));
  }
  return std::make_unique<ReplayFeed>(merge_bars(series), scheduler, options);
}

Result<std::unique_ptr<ReplayFeed>> ReplayFeed::from_store(const CandleStore& store,
                                                           std::span<const ProductId> products,
                                                           std::int64_t from_ts_s, std::int64_t to_ts_s,
                                                           Scheduler& scheduler, ReplayOptions options) {
  std::vector<std::vector<Bar>> series;
  for (const ProductId& product : products) {
    auto loaded = store.load(product, from_ts_s, to_ts_s);
    if (!loaded) return loaded.error();
    series.push_back(std::move(loaded.value()));
  }
  return std::make_unique<ReplayFeed>(merge_bars(series), scheduler, options);
}

Status ReplayFeed::start(FeedHandler& handler) {
  if (started_) return make_error("replay feed already started");
  started_ = true;
  handler_ = &handler;
  start_us_ = scheduler_.now_us();
  schedule_next();
  return {};
}

void ReplayFeed::stop() {
  stopped_ = true;
  alive_->value = false;
}

std::int64_t ReplayFeed::due_us(std::size_t index) const {
  const double factor = options_.speed == ReplaySpeed::kAccelerated ? options_.factor : 1.0;
  const double offset_s = static_cast<double>(bars_[index].open_ts_s - bars_[0].open_ts_s);
  return start_us_ + static_cast<std::int64_t>(std::llround(offset_s * 1e6 / factor));
}

void ReplayFeed::schedule_next() {
  const std::int64_t due =
      (options_.speed == ReplaySpeed::kMax || next_ >= bars_.size()) ? scheduler_.now_us() : due_us(next_);
  scheduler_.post_at(due, [alive = std::weak_ptr<Alive>(alive_), this] {
    const auto a = alive.lock();
    if (a && a->value) run_task();
  });
}

void ReplayFeed::run_task() {
  const std::int64_t now = scheduler_.now_us();
  std::size_t delivered = 0;
  while (next_ < bars_.size() && !stopped_) {
    if (options_.speed == ReplaySpeed::kMax) {
      if (delivered == options_.batch_bars) break;
    } else if (due_us(next_) > now) {
      break;
    }
    const Bar& bar = bars_[next_++];
    ++delivered;
    if (options_.gap_events) {
      auto it = std::find_if(last_ts_.begin(), last_ts_.end(),
                             [&](const auto& e) { return e.first == bar.product; });
      if (it == last_ts_.end()) {
        last_ts_.emplace_back(bar.product, bar.open_ts_s);
      } else {
        const std::int64_t expected = it->second + kBarSeconds;
        it->second = bar.open_ts_s;
        if (bar.open_ts_s > expected) {
          handler_->on_feed_event(FeedEvent{FeedEventKind::kGap, bar.product, Gap{expected, bar.open_ts_s}, {}});
          if (stopped_) return;
        }
      }
    }
    handler_->on_bar(bar);
  }
  if (stopped_) return;
  if (next_ < bars_.size()) {
    schedule_next();
    return;
  }
  stopped_ = true;
  alive_->value = false;
  handler_->on_feed_event(FeedEvent{FeedEventKind::kEndOfData, {}, {}, {}});
}

}  // namespace ta::agent
