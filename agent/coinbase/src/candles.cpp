#include "coinbase/candles.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

#include "log.h"
#include "net.h"
#include "text.h"

namespace ta::agent::coinbase {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// Response headers larger than this are refused (Coinbase sends ~1 KB).
constexpr std::uint32_t kHeaderBytesMax = 16 * 1024;
// Characters of a venue error body quoted in messages.
constexpr std::size_t kErrorTextMax = 200;

void add_issue(std::vector<std::string>& issues, std::string text) {
  if (issues.size() < BackfillReport::kIssuesListedMax) issues.push_back(std::move(text));
}

std::string range_text(std::int64_t start_s, std::int64_t end_s) {
  return "[" + format_utc(start_s) + ", " + format_utc(end_s) + ")";
}

// Reads one candle row; the error says which field and why.
Result<Bar> read_row(const json::value& v, ProductId product) {
  if (!v.is_object()) return make_error("not an object");
  const json::object& o = v.get_object();
  const auto field = [&](std::string_view key) -> Result<std::string_view> {
    const json::value* f = o.if_contains(key);
    if (f == nullptr) return make_error(std::string(key) + ": missing");
    if (!f->is_string()) return make_error(std::string(key) + ": not a string");
    return std::string_view(f->get_string().data(), f->get_string().size());
  };
  Bar bar;
  bar.product = product;
  auto start = field("start");
  if (!start) return start.error();
  auto ts = detail::parse_int(*start);
  if (!ts) return make_error("start: " + ts.error().message);
  bar.open_ts_s = *ts;
  const std::pair<std::string_view, double*> numbers[] = {
      {"open", &bar.open}, {"high", &bar.high}, {"low", &bar.low}, {"close", &bar.close}, {"volume", &bar.volume}};
  for (const auto& [key, out] : numbers) {
    auto text = field(key);
    if (!text) return text.error();
    auto d = detail::parse_decimal(*text);
    if (!d) return make_error(std::string(key) + ": " + d.error().message + " (\"" +
                              std::string(text->substr(0, kErrorTextMax)) + "\")");
    *out = *d;
  }
  if (const BarDefect defect = check_bar(bar); defect != BarDefect::kNone) {
    return make_error(std::string(describe(defect)));
  }
  return bar;
}

// "HTTP 429 RESOURCE_EXHAUSTED: too many requests" from a non-2xx answer,
// whatever shape its body has.
std::string describe_http_error(unsigned status, std::string_view body) {
  std::string out = "HTTP " + std::to_string(status);
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(body.data(), body.size()), ec);
  if (!ec && v.is_object()) {
    const json::object& o = v.get_object();
    const auto text = [&](std::string_view key) -> std::string {
      const json::value* f = o.if_contains(key);
      if (f == nullptr || !f->is_string()) return {};
      return std::string(f->get_string().data(), std::min<std::size_t>(f->get_string().size(), kErrorTextMax));
    };
    const std::string error = text("error");
    std::string message = text("message");
    if (message.empty()) message = text("error_details");
    if (!error.empty()) out += " " + error;
    if (!message.empty()) out += ": " + message;
    return out;
  }
  if (!body.empty()) out += ": " + std::string(body.substr(0, kErrorTextMax));
  return out;
}

void check_range(std::int64_t value, std::int64_t low, std::int64_t high, const char* name) {
  if (value < low || value > high) {
    throw std::invalid_argument(std::string("coinbase candles: ") + name + " must be in [" + std::to_string(low) +
                                ", " + std::to_string(high) + "]");
  }
}

void validate(const BackfillConfig& c) {
  check_range(c.candles_per_request, 1, BackfillConfig::kCandlesPerRequestMax, "candles_per_request");
  check_range(c.request_timeout_ms, 1, BackfillConfig::timeout_ms_max, "request_timeout_ms");
  check_range(c.retries_max, 0, BackfillConfig::retries_limit, "retries_max");
  check_range(c.request_interval_ms, 0, BackfillConfig::request_interval_ms_max, "request_interval_ms");
  check_range(static_cast<std::int64_t>(c.response_bytes_max), 1024,
              static_cast<std::int64_t>(BackfillConfig::kResponseBytesLimit), "response_bytes_max");
  validate(c.backoff, "coinbase candles backoff");
}

Status validate(const CandleRequest& r) {
  if (r.product.empty()) return make_error("coinbase candles: empty product id");
  if (r.start_ts_s % kBarSeconds != 0 || r.end_ts_s % kBarSeconds != 0) {
    return make_error("coinbase candles: start and end must be multiples of 60 s");
  }
  if (r.start_ts_s < 0 || r.end_ts_s > kTimestampMax_s || r.start_ts_s >= r.end_ts_s) {
    return make_error("coinbase candles: need 0 <= start < end <= 2200-01-01");
  }
  if ((r.end_ts_s - r.start_ts_s) / kBarSeconds > BackfillConfig::kRangeMinutesMax) {
    return make_error("coinbase candles: range longer than " + std::to_string(BackfillConfig::kRangeMinutesMax) +
                      " minutes");
  }
  return {};
}

// State shared by all runs of one CandleBackfill.
struct Shared {
  BackfillConfig config;
  detail::Endpoint endpoint;
  std::unique_ptr<asio::ssl::context> tls;
  std::optional<Clock::time_point> last_request;  // for pacing
};

struct HttpAnswer {
  boost::system::error_code ec;  // transport failure when set
  std::string what;              // which step failed
  unsigned status = 0;
  std::string body;
  bool keep_alive = false;
};

}  // namespace

Result<CandlePage> parse_candles_page(std::string_view body, ProductId product, std::int64_t page_start_s,
                                      std::int64_t page_end_s) {
  json::parse_options options;
  options.max_depth = 8;  // {"candles":[{...}]} is 3 levels deep
  boost::system::error_code ec;
  json::monotonic_resource arena;
  const json::value root = json::parse(json::string_view(body.data(), body.size()), ec, &arena, options);
  if (ec) return make_error("body is not JSON: " + ec.message());
  if (!root.is_object()) return make_error("body is not a JSON object");
  const json::value* candles = root.get_object().if_contains("candles");
  if (candles == nullptr || !candles->is_array()) return make_error("body has no \"candles\" array");
  CandlePage page;
  const json::array& rows = candles->get_array();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ++page.rows_received;
    auto bar = read_row(rows[i], product);
    if (!bar) {
      ++page.rows_rejected;
      add_issue(page.issues, product.str() + " page " + range_text(page_start_s, page_end_s) + " row " +
                                 std::to_string(i) + ": " + bar.error().message);
      continue;
    }
    if (bar->open_ts_s < page_start_s || bar->open_ts_s >= page_end_s) {
      ++page.rows_outside_page;
      continue;
    }
    page.bars.push_back(*bar);
  }
  return page;
}

GapReport range_gaps(std::span<const Bar> bars, std::int64_t start_ts_s, std::int64_t end_ts_s) {
  GapReport report;
  const auto add = [&](std::int64_t from, std::int64_t to) {
    if (to <= from) return;
    const Gap gap{from, to};
    ++report.gap_count;
    report.missing_minutes += gap.minutes();
    if (report.gaps.size() < GapReport::kGapsListedMax) report.gaps.push_back(gap);
  };
  if (bars.empty()) {
    add(start_ts_s, end_ts_s);
    return report;
  }
  add(start_ts_s, bars.front().open_ts_s);
  const GapReport inner = find_gaps(bars);
  for (const Gap& g : inner.gaps) {
    if (report.gaps.size() < GapReport::kGapsListedMax) report.gaps.push_back(g);
  }
  report.gap_count += inner.gap_count;
  report.missing_minutes += inner.missing_minutes;
  add(bars.back().open_ts_s + kBarSeconds, end_ts_s);
  return report;
}

namespace {

// One backfill: its own connection, timers and report. The coroutine holds
// it alive; cancel() marks it and closes its I/O.
struct Run : std::enable_shared_from_this<Run> {
  Run(asio::io_context& io_ctx, std::shared_ptr<Shared> s, CandleRequest r, CandleStore* st,
      CandleBackfill::Done d)
      : io(io_ctx),
        shared(std::move(s)),
        request(r),
        store(st),
        done(std::move(d)),
        backoff(shared->config.backoff, shared->config.seed),
        timer(io_ctx),
        deadline(io_ctx) {}

  const BackfillConfig& config() const { return shared->config; }

  void cancel() {
    cancelled = true;
    done = nullptr;
    timer.cancel();
    deadline.cancel();
    abort_io();
    close_sockets();
  }

  void abort_io() {
    if (abort_request) abort_request();
  }

  // Pending operations finish with an error; the streams stay until they
  // have (an SSL stream must not be destroyed under a pending operation).
  void close_sockets() {
    boost::system::error_code ignored;
    if (plain) plain->socket().close(ignored);
    if (secure) beast::get_lowest_layer(*secure).socket().close(ignored);
  }

  // Only when no operation is pending.
  void drop_connection() {
    close_sockets();
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  asio::awaitable<void> sleep_ms(std::int64_t ms) {
    if (ms <= 0) co_return;
    timer.expires_after(milliseconds(ms));
    auto [ec] = co_await timer.async_wait(kUse);
    (void)ec;  // cancel() is checked by the caller
  }

  // Waits until request_interval_ms has passed since the last request.
  asio::awaitable<void> pace() {
    if (shared->last_request) {
      const auto due = *shared->last_request + milliseconds(config().request_interval_ms);
      const auto now = Clock::now();
      if (due > now) co_await sleep_ms(std::chrono::duration_cast<milliseconds>(due - now).count() + 1);
    }
    shared->last_request = Clock::now();
  }

  void arm_deadline() {
    deadline.expires_after(milliseconds(config().request_timeout_ms));
    deadline.async_wait([self = shared_from_this(), id = ++attempt_id](const boost::system::error_code& ec) {
      if (ec || self->cancelled || id != self->attempt_id) return;
      self->timed_out = true;
      self->abort_io();
    });
  }

  template <class Stream>
  asio::awaitable<HttpAnswer> exchange(Stream& stream, const std::string& target) {
    HttpAnswer answer;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, shared->endpoint.host_header);
    req.set(http::field::user_agent, "trading-agent");
    req.set(http::field::accept, "application/json");
    req.set(http::field::cache_control, "no-cache");  // bypass the 1 s public cache
    req.keep_alive(true);
    auto [wec, written] = co_await http::async_write(stream, req, kUse);
    if (wec) {
      answer.ec = wec;
      answer.what = "send request";
      co_return answer;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(config().response_bytes_max);
    parser.header_limit(kHeaderBytesMax);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, kUse);
    if (rec) {
      answer.ec = rec;
      answer.what = "read response";
      co_return answer;
    }
    answer.status = parser.get().result_int();
    answer.keep_alive = parser.get().keep_alive();
    answer.body = std::move(parser.get().body());
    co_return answer;
  }

  asio::awaitable<HttpAnswer> connect() {
    HttpAnswer answer;
    const detail::Endpoint& ep = shared->endpoint;
    tcp::resolver resolver(io);
    abort_request = [&resolver, this] {
      resolver.cancel();
      close_sockets();
    };
    auto [rec, results] = co_await resolver.async_resolve(ep.host, ep.port, kUse);
    if (rec) {
      answer.ec = rec;
      answer.what = "resolve " + ep.host;
      co_return answer;
    }
    if (cancelled || timed_out) {
      answer.ec = asio::error::operation_aborted;
      answer.what = "resolve " + ep.host;
      co_return answer;
    }
    abort_request = [this] { close_sockets(); };
    if (shared->tls) {
      secure.emplace(io, *shared->tls);
      auto [cec, peer] = co_await beast::get_lowest_layer(*secure).async_connect(results, kUse);
      if (cec || !secure) {
        answer.ec = cec ? cec : asio::error::operation_aborted;
        answer.what = "connect " + ep.host + ":" + ep.port;
        co_return answer;
      }
      boost::system::error_code ignored;
      beast::get_lowest_layer(*secure).socket().set_option(tcp::no_delay(true), ignored);
      if (SSL_set_tlsext_host_name(secure->native_handle(), ep.host.c_str()) != 1) {
        answer.ec = asio::error::invalid_argument;
        answer.what = "TLS server name";
        co_return answer;
      }
      secure->set_verify_callback(asio::ssl::host_name_verification(ep.host));
      auto [hec] = co_await secure->async_handshake(asio::ssl::stream_base::client, kUse);
      if (hec) {
        answer.ec = hec;
        answer.what = "TLS handshake";
      }
      co_return answer;
    }
    plain.emplace(io);
    auto [cec, peer] = co_await plain->async_connect(results, kUse);
    if (cec || !plain) {
      answer.ec = cec ? cec : asio::error::operation_aborted;
      answer.what = "connect " + ep.host + ":" + ep.port;
      co_return answer;
    }
    boost::system::error_code ignored;
    plain->socket().set_option(tcp::no_delay(true), ignored);
    co_return answer;
  }

  // One attempt: connect when needed, send, read.
  asio::awaitable<HttpAnswer> attempt(const std::string& target) {
    timed_out = false;
    arm_deadline();
    HttpAnswer answer;
    if (!plain && !secure) {
      answer = co_await connect();
    }
    if (!answer.ec) {
      abort_request = [this] { close_sockets(); };
      if (secure) {
        answer = co_await exchange(*secure, target);
      } else if (plain) {
        answer = co_await exchange(*plain, target);
      } else {
        answer.ec = asio::error::operation_aborted;
        answer.what = "connection";
      }
    }
    deadline.cancel();
    abort_request = nullptr;
    if (answer.ec || !answer.keep_alive) drop_connection();
    if (timed_out && answer.ec) {
      answer.what = "timeout after " + std::to_string(config().request_timeout_ms) + " ms (" + answer.what + ")";
    }
    co_return answer;
  }

  std::string target(std::int64_t start_s, std::int64_t end_s) const {
    const std::string& path = shared->endpoint.path;
    std::string t = path == "/" ? std::string() : path;
    if (!t.empty() && t.back() == '/') t.pop_back();
    t += "/api/v3/brokerage/market/products/" + request.product.str() + "/candles?start=" + std::to_string(start_s) +
         "&end=" + std::to_string(end_s) + "&granularity=ONE_MINUTE";
    return t;
  }

  // Fetches one page with bounded retries. An error ends the backfill.
  asio::awaitable<Result<CandlePage>> fetch_page(std::int64_t start_s, std::int64_t end_s) {
    const std::string path = target(start_s, end_s);
    const int attempts_max = config().retries_max + 1;
    std::string last_problem;
    backoff.reset();
    for (int attempt_no = 1; attempt_no <= attempts_max; ++attempt_no) {
      if (attempt_no > 1) {
        ++report.retries;
        co_await sleep_ms(backoff.next_delay_ms());
        if (cancelled) co_return make_error("cancelled");
      }
      co_await pace();
      if (cancelled) co_return make_error("cancelled");
      ++report.requests;
      HttpAnswer answer = co_await attempt(path);
      if (cancelled) co_return make_error("cancelled");
      if (answer.ec) {
        ++report.transport_errors;
        last_problem = answer.what + ": " + detail::describe_error(answer.ec);
      } else if (answer.status == 200) {
        auto page = parse_candles_page(answer.body, request.product, start_s, end_s);
        if (page) co_return page;
        ++report.transport_errors;
        last_problem = "HTTP 200 with unreadable body: " + page.error().message;
      } else if (answer.status == 429) {
        ++report.rate_limited;
        last_problem = describe_http_error(answer.status, answer.body);
      } else if (answer.status >= 500 && answer.status <= 599) {
        ++report.server_errors;
        last_problem = describe_http_error(answer.status, answer.body);
      } else {
        co_return make_error("coinbase candles " + request.product.str() + " " + range_text(start_s, end_s) +
                             ": refused, not retried: " + describe_http_error(answer.status, answer.body));
      }
      coinbase_log().warn("candles attempt failed product={} start={} attempt={}/{} problem=\"{}\"",
                          request.product.str(), format_utc(start_s), attempt_no, attempts_max, last_problem);
    }
    co_return make_error("coinbase candles " + request.product.str() + " " + range_text(start_s, end_s) +
                         ": giving up after " + std::to_string(attempts_max) + " attempts (retries_max=" +
                         std::to_string(config().retries_max) + "); last: " + last_problem);
  }

  // Sorts, drops repeated minutes (identical: duplicate; different: both
  // dropped as conflicting) and computes gaps.
  void finish_bars(std::vector<Bar> rows) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Bar& a, const Bar& b) { return a.open_ts_s < b.open_ts_s; });
    std::vector<Bar>& out = report.bars;
    out.reserve(rows.size());
    for (std::size_t i = 0; i < rows.size();) {
      std::size_t j = i + 1;
      bool conflict = false;
      while (j < rows.size() && rows[j].open_ts_s == rows[i].open_ts_s) {
        if (rows[j] == rows[i]) {
          ++report.rows_duplicate;
        } else {
          conflict = true;
        }
        ++j;
      }
      if (conflict) {
        report.rows_conflicting += j - i;
        add_issue(report.issues, request.product.str() + " " + format_utc(rows[i].open_ts_s) +
                                     ": the venue sent different bars for this minute; dropped");
      } else {
        out.push_back(rows[i]);
      }
      i = j;
    }
    report.rows_accepted = out.size();
    report.gaps = range_gaps(out, request.start_ts_s, request.end_ts_s);
  }

  void complete(Result<BackfillReport> result) {
    drop_connection();
    CandleBackfill::Done d = std::move(done);
    done = nullptr;
    finished = true;
    if (d) d(std::move(result));
  }

  static asio::awaitable<void> run(std::shared_ptr<Run> self) {
    const std::int64_t step_s = std::int64_t{self->config().candles_per_request} * kBarSeconds;
    const CandleRequest& r = self->request;
    coinbase_log().info("candles backfill start product={} from={} to={} seed={}", r.product.str(),
                        format_utc(r.start_ts_s), format_utc(r.end_ts_s), self->config().seed);
    std::vector<Bar> rows;
    for (std::int64_t page_start = r.start_ts_s; page_start < r.end_ts_s; page_start += step_s) {
      const std::int64_t page_end = std::min(page_start + step_s, r.end_ts_s);
      auto page = co_await self->fetch_page(page_start, page_end);
      if (self->cancelled) co_return;
      if (!page) {
        coinbase_log().error("candles backfill failed product={} reason=\"{}\"", r.product.str(),
                             page.error().message);
        self->complete(page.error());
        co_return;
      }
      ++self->report.pages;
      self->report.rows_received += page->rows_received;
      self->report.rows_rejected += page->rows_rejected;
      self->report.rows_outside_page += page->rows_outside_page;
      for (std::string& issue : page.value().issues) add_issue(self->report.issues, std::move(issue));
      rows.insert(rows.end(), page.value().bars.begin(), page.value().bars.end());
    }
    self->finish_bars(std::move(rows));
    for (const std::string& issue : self->report.issues) coinbase_log().warn("candles issue {}", issue);
    if (self->store != nullptr) {
      auto inserted = self->store->insert(self->report.bars);
      if (!inserted) {
        self->complete(make_error("coinbase candles " + r.product.str() + ": store: " + inserted.error().message));
        co_return;
      }
      self->report.stored = true;
      self->report.store = std::move(inserted.value());
    }
    coinbase_log().info(
        "candles backfill done product={} pages={} requests={} retries={} bars={} rejected={} gaps={} "
        "missing_minutes={}",
        r.product.str(), self->report.pages, self->report.requests, self->report.retries, self->report.bars.size(),
        self->report.rows_rejected, self->report.gaps.gap_count, self->report.gaps.missing_minutes);
    self->complete(std::move(self->report));
  }

  asio::io_context& io;
  std::shared_ptr<Shared> shared;
  CandleRequest request;
  CandleStore* store;
  CandleBackfill::Done done;
  Backoff backoff;
  asio::steady_timer timer;     // pacing and backoff waits
  asio::steady_timer deadline;  // per attempt
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::function<void()> abort_request;
  std::uint64_t attempt_id = 0;
  bool timed_out = false;
  bool cancelled = false;
  bool finished = false;
  BackfillReport report;
};

}  // namespace

struct CandleBackfill::Core {
  asio::io_context& io;
  std::shared_ptr<Shared> shared;
  std::shared_ptr<Run> current;
};

CandleBackfill::CandleBackfill(boost::asio::io_context& io, BackfillConfig config) {
  validate(config);
  auto ep = detail::parse_endpoint(config.base_url, detail::UrlKind::kHttp);
  if (!ep) throw std::invalid_argument("coinbase candles: " + ep.error().message);
  auto shared = std::make_shared<Shared>();
  shared->config = std::move(config);
  shared->endpoint = *ep;
  if (shared->endpoint.tls) shared->tls = detail::make_tls_context();
  core_ = std::make_shared<Core>(Core{io, std::move(shared), nullptr});
}

CandleBackfill::~CandleBackfill() { cancel(); }

Status CandleBackfill::start(const CandleRequest& request, CandleStore* store, Done done) {
  if (running()) return make_error("coinbase candles: a backfill is already running");
  if (Status st = validate(request); !st) return st;
  if (!done) return make_error("coinbase candles: no completion handler");
  core_->current = std::make_shared<Run>(core_->io, core_->shared, request, store, std::move(done));
  asio::co_spawn(core_->io, Run::run(core_->current), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  return {};
}

void CandleBackfill::cancel() {
  if (core_->current) core_->current->cancel();
  core_->current.reset();
}

bool CandleBackfill::running() const {
  return core_->current && !core_->current->finished && !core_->current->cancelled;
}

Result<BackfillReport> backfill_candles(const BackfillConfig& config, const CandleRequest& request,
                                        CandleStore* store) {
  asio::io_context io;
  std::optional<Result<BackfillReport>> result;
  {
    CandleBackfill backfill(io, config);
    Status st = backfill.start(request, store, [&](Result<BackfillReport> r) { result.emplace(std::move(r)); });
    if (!st) return st.error();
    io.run();
  }
  if (!result) return make_error("coinbase candles: backfill ended without a result");
  return std::move(*result);
}

}  // namespace ta::agent::coinbase
