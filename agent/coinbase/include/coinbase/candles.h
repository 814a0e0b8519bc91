// REST candle backfill from Coinbase Advanced Trade's public endpoint
//   GET {base}/api/v3/brokerage/market/products/{product_id}/candles
//       ?start=UNIX_S&end=UNIX_S&granularity=ONE_MINUTE
// which answers {"candles":[{"start":"1639508050","low":"140.21",
// "high":"140.21","open":"140.21","close":"140.21","volume":"56437345"},...]}
// with every number a JSON string, newest first, and refuses a request
// spanning more than 350 buckets.
//
// A backfill of [start_ts_s, end_ts_s) asks page after page, oldest first,
// each page at most candles_per_request minutes: page k asks
// start = start_ts_s + k * n * 60 and end = start + n * 60 (clipped to
// end_ts_s), and keeps only rows in [start, end) of that page, so a server
// that treats `end` as inclusive does not duplicate a minute.
//
// Every row is checked: all six fields present and strings, start a
// multiple of 60 inside the page, prices and volume plain decimals, and the
// bar must pass check_bar(). A bad row is skipped and counted (first
// kIssuesListedMax described); a repeated minute with identical values is
// dropped, with different values both copies are dropped as conflicting.
// The result is sorted ascending; missing minutes (the venue has no bar
// for minutes without trades, and real outages) are reported as gaps over
// the whole requested range, never filled.
//
// Failures per page: HTTP 429 and 5xx, timeouts, connection errors and
// unreadable 200 bodies are retried after an exponential backoff with
// jitter, at most retries_max times; the backoff restarts after a page
// succeeds. Other statuses (400, 404, ...) fail at once. When a page fails
// for good, the backfill fails with a message naming the product, the page's
// range, the attempts and the last status and venue error text; nothing is
// written to the store.
//
// Requests are paced at least request_interval_ms apart (Coinbase allows
// about 10 public requests per second per IP).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coinbase/backoff.h"
#include "market/bar.h"
#include "market/store.h"

namespace boost::asio {
class io_context;
}

namespace ta::agent::coinbase {

inline constexpr std::string_view kRestBaseUrl = "https://api.coinbase.com";

struct BackfillConfig {
  // Coinbase's documented maximum number of candles per request.
  static constexpr int kCandlesPerRequestMax = 350;
  // One backfill covers at most a year of minutes (1,505 requests): enough
  // to seed any indicator window; longer histories come from files.
  static constexpr std::int64_t kRangeMinutesMax = 366 * 24 * 60;
  static constexpr std::int64_t timeout_ms_max = 600'000;
  static constexpr int retries_limit = 20;
  static constexpr std::int64_t request_interval_ms_max = 60'000;
  // Upper bound of response_bytes_max.
  static constexpr std::size_t kResponseBytesLimit = 16u << 20;

  // http://host:port[/prefix] or https://host[:port][/prefix].
  std::string base_url = std::string(kRestBaseUrl);
  int candles_per_request = kCandlesPerRequestMax;  // [1, 350]
  // Connect + request + full response, per attempt, in [1, timeout_ms_max].
  std::int64_t request_timeout_ms = 10'000;
  // Retries per page after the first attempt, in [0, retries_limit]: 5
  // retries with the default backoff wait up to about a minute in total.
  int retries_max = 5;
  BackoffConfig backoff{1'000, 30'000, 0.5};
  // Minimum time between request starts. 125 ms is 8 requests per second,
  // under the public limit of 10 per second per IP with room for the
  // agent's other public requests. [0, request_interval_ms_max].
  std::int64_t request_interval_ms = 125;
  // Largest response body accepted, [1 KiB, kResponseBytesLimit]. A
  // 350-row page is about 50 KB; a body beyond 1 MiB is not a candle page
  // and is refused before it is buffered.
  std::size_t response_bytes_max = 1u << 20;
  std::uint64_t seed = 0;  // backoff jitter
};

struct CandleRequest {
  ProductId product;
  // [start_ts_s, end_ts_s): multiples of 60, start < end, at most
  // kRangeMinutesMax minutes. end_ts_s should not be later than the start
  // of the current minute: the venue's bar of an unfinished minute is
  // still changing and would conflict with the final one in the store.
  std::int64_t start_ts_s = 0;
  std::int64_t end_ts_s = 0;
};

struct BackfillReport {
  // Issue texts kept; the counters count everything.
  static constexpr std::size_t kIssuesListedMax = 20;

  std::vector<Bar> bars;  // strictly increasing open_ts_s, all valid
  // Missing minutes over the whole requested range, including before the
  // first and after the last bar.
  GapReport gaps;
  std::uint64_t pages = 0;
  std::uint64_t requests = 0;  // HTTP requests sent, retries included
  std::uint64_t retries = 0;
  std::uint64_t rate_limited = 0;  // 429 answers
  std::uint64_t server_errors = 0; // 5xx answers
  std::uint64_t transport_errors = 0;  // timeouts, resets, bad bodies
  std::uint64_t rows_received = 0;
  std::uint64_t rows_accepted = 0;
  std::uint64_t rows_rejected = 0;      // failed validation
  std::uint64_t rows_outside_page = 0;  // not in the page's [start, end)
  std::uint64_t rows_duplicate = 0;     // identical repeats, dropped
  std::uint64_t rows_conflicting = 0;   // same minute, different values
  std::vector<std::string> issues;
  // When a store was given: what insert() did (conflicts with stored bars
  // abort the insert; see market/store.h).
  bool stored = false;
  ImportReport store;
};

// One response body, checked (see the header comment). Rows are in
// response order; only rows inside [page_start_s, page_end_s) are kept.
// The error is for a body that is not a candles object at all.
struct CandlePage {
  std::vector<Bar> bars;
  std::uint64_t rows_received = 0;
  std::uint64_t rows_rejected = 0;
  std::uint64_t rows_outside_page = 0;
  std::vector<std::string> issues;  // at most BackfillReport::kIssuesListedMax
};
Result<CandlePage> parse_candles_page(std::string_view body, ProductId product, std::int64_t page_start_s,
                                      std::int64_t page_end_s);

// Gaps of `bars` (strictly increasing) over [start_ts_s, end_ts_s),
// including the edges. Exposed for tests.
GapReport range_gaps(std::span<const Bar> bars, std::int64_t start_ts_s, std::int64_t end_ts_s);

// Runs backfills on a caller-owned io_context, one at a time.
class CandleBackfill {
 public:
  using Done = std::function<void(Result<BackfillReport>)>;

  // Throws std::invalid_argument (start-up) when `config` is out of range.
  CandleBackfill(boost::asio::io_context& io, BackfillConfig config);
  // Cancels a running backfill; `done` is not called.
  ~CandleBackfill();
  CandleBackfill(const CandleBackfill&) = delete;
  CandleBackfill& operator=(const CandleBackfill&) = delete;

  // Validates `request`, then runs it; `done` is called once, later, from
  // io_context::run(). When `store` is not null the bars are inserted in
  // one transaction before `done`; the store must outlive the backfill.
  // Fails at once when a backfill is running or the request is invalid.
  Status start(const CandleRequest& request, CandleStore* store, Done done);
  // Stops the running backfill; `done` is not called. Idempotent.
  void cancel();
  bool running() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

// Blocking convenience for tools and start-up: runs one backfill on a
// private io_context and returns its result.
Result<BackfillReport> backfill_candles(const BackfillConfig& config, const CandleRequest& request,
                                        CandleStore* store = nullptr);

}  // namespace ta::agent::coinbase
