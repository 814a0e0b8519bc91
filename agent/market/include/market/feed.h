// Push-style market-data feeds and the replay feed.
//
// A Feed delivers bars and events to a FeedHandler asynchronously: start()
// returns at once, and the handler is called later from tasks the feed
// posts on a Scheduler (the agent's event loop). Every handler call happens
// on the thread that runs the scheduler; a handler may call stop().
//
// The Scheduler is the feed's only source of time, so tests drive a replay
// deterministically with ManualScheduler and the daemon uses an Asio
// io_context through make_asio_scheduler().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "market/bar.h"
#include "market/csv.h"

namespace boost::asio {
class io_context;
}

namespace ta::agent {

class CandleStore;

// Time and timers for feeds. now_us() is monotonic (not Unix time).
class Scheduler {
 public:
  using Task = std::function<void()>;
  virtual ~Scheduler() = default;
  virtual std::int64_t now_us() const = 0;
  // Runs `task` once, no earlier than `due_us`, on the scheduler's thread.
  // Tasks still pending when the scheduler is destroyed never run.
  virtual void post_at(std::int64_t due_us, Task task) = 0;
};

// A scheduler whose clock only moves when told to. Deterministic: tasks due
// at the same time run in the order they were posted.
class ManualScheduler final : public Scheduler {
 public:
  std::int64_t now_us() const override { return now_us_; }
  void post_at(std::int64_t due_us, Task task) override;
  // Runs every task due at or before now, including tasks they post that
  // are also due, at most task_count_max tasks. Returns how many ran.
  std::size_t run_due(std::size_t task_count_max = SIZE_MAX);
  // Moves the clock to the next pending task's due time (if later) and
  // runs the due tasks; false when nothing is pending.
  bool run_next();
  // run_next() until nothing is pending or task_count_max tasks ran.
  std::size_t run_all(std::size_t task_count_max = SIZE_MAX);
  void advance_to(std::int64_t now_us);
  std::size_t pending() const { return tasks_.size(); }

 private:
  struct Entry {
    std::int64_t due_us;
    std::uint64_t seq;
    Task task;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.due_us != b.due_us ? a.due_us > b.due_us : a.seq > b.seq;
    }
  };
  std::int64_t now_us_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<Entry, std::vector<Entry>, Later> tasks_;
};

// A scheduler on an Asio io_context (steady clock, one timer per task). The
// io_context must outlive it; tasks run inside io.run().
std::unique_ptr<Scheduler> make_asio_scheduler(boost::asio::io_context& io);

enum class FeedEventKind {
  kGap,        // bars of `product` missing for `gap` (before the next bar)
  kEndOfData,  // a finite feed delivered its last bar
  kError,      // the feed failed and stopped; `message` says why
};

struct FeedEvent {
  FeedEventKind kind = FeedEventKind::kEndOfData;
  ProductId product;  // kGap only
  Gap gap;            // kGap only
  std::string message;
};

class FeedHandler {
 public:
  virtual ~FeedHandler() = default;
  virtual void on_bar(const Bar& bar) = 0;
  virtual void on_feed_event(const FeedEvent& event) = 0;
};

class Feed {
 public:
  virtual ~Feed() = default;
  // Begins delivery; `handler` must stay valid until stop() or the feed's
  // destruction. Fails when already started.
  virtual Status start(FeedHandler& handler) = 0;
  // No handler call happens after stop() returns. Idempotent.
  virtual void stop() = 0;
};

// Merges per-product series (each strictly increasing in open_ts_s) into one
// sequence ordered by (open_ts_s, product): deterministic, whatever the
// order of `series`.
std::vector<Bar> merge_bars(std::span<const std::vector<Bar>> series);

enum class ReplaySpeed {
  kReal,         // a bar every 60 s of scheduler time, as live
  kAccelerated,  // `factor` times faster than real
  kMax,          // as fast as the handler takes them
};

struct ReplayOptions {
  // 1e6 replays a year in about 30 s; more is what kMax is for.
  static constexpr double factor_max = 1e6;
  // Bars per scheduler task at kMax, so other work on the loop interleaves.
  static constexpr std::size_t batch_bars_max = 1u << 16;

  ReplaySpeed speed = ReplaySpeed::kMax;
  double factor = 1.0;  // kAccelerated only, in [1, factor_max]
  std::size_t batch_bars = 4096;  // kMax only, in [1, batch_bars_max]
  bool gap_events = true;         // report gaps per product as kGap events
};

// Replays bars as if live. A bar is delivered at the scheduler time that
// corresponds to its close (open_ts_s + 60): the first bar's close maps to
// start(), later ones follow at (close - first close) / factor. Bars with
// the same open time are delivered in product order, in the same task.
// Before a product's bar that follows a hole, a kGap event is delivered;
// after the last bar, kEndOfData.
class ReplayFeed final : public Feed {
 public:
  struct CsvSource {
    std::filesystem::path path;
    ProductId product;
  };

  // Throws std::invalid_argument for options out of range (start-up).
  ReplayFeed(std::vector<Bar> merged, Scheduler& scheduler, ReplayOptions options);
  ~ReplayFeed() override;

  static Result<std::unique_ptr<ReplayFeed>> from_csv(std::span<const CsvSource> sources,
                                                      Scheduler& scheduler, ReplayOptions options,
                                                      const CsvOptions& csv = {});
  // Bars of each product in [from_ts_s, to_ts_s).
  static Result<std::unique_ptr<ReplayFeed>> from_store(const CandleStore& store,
                                                        std::span<const ProductId> products,
                                                        std::int64_t from_ts_s, std::int64_t to_ts_s,
                                                        Scheduler& scheduler, ReplayOptions options);

  Status start(FeedHandler& handler) override;
  void stop() override;

  std::size_t size() const { return bars_.size(); }
  std::size_t delivered() const { return next_; }

 private:
  struct Alive {
    bool value = true;
  };
  void schedule_next();
  void run_task();
  std::int64_t due_us(std::size_t index) const;

  std::vector<Bar> bars_;
  Scheduler& scheduler_;
  ReplayOptions options_;
  FeedHandler* handler_ = nullptr;
  std::size_t next_ = 0;
  std::int64_t start_us_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::pair<ProductId, std::int64_t>> last_ts_;  // per product, for gaps
  std::shared_ptr<Alive> alive_;  // posted tasks hold a weak_ptr
};

}  // namespace ta::agent
