// REST candle backfill against the Coinbase simulator on loopback: paging
// over the real 2018 Coinbase file (with its 432-minute outage), the
// 350-candle limit, retries on 429/5xx/timeouts and their bound, the store.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "../unit/agent_market/agent_test_support.h"
#include "coinbase/candles.h"
#include "coinbase_sim/coinbase_sim.h"
#include "coinbase_test_support.h"
#include "market/csv.h"

namespace ta::agent::coinbase {
namespace {

using coinbase_sim::CoinbaseSim;
using coinbase_sim::HttpFault;
using coinbase_sim::SimConfig;
using std::chrono::milliseconds;
using test::run_until;

const ProductId kBtc = ProductId::parse("BTC-USD").value();

// The real 2018 Coinbase file from shared/data, or the in-repository cut of
// it (data/demo, same outage) when shared/data is not beside the checkout.
std::filesystem::path btc_2018() {
  const auto shared = agent::test::shared_data() / "coinbase_BTC-USD_1m_2018-04-04_2018-04-06.csv";
  const auto path = std::filesystem::exists(shared) ? shared : agent::test::demo_data() / "BTC-USD_1m_coinbase_outage.csv";
  std::printf("data=%s\n", path.c_str());
  return path;
}

class CandlesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = test::test_seed();
    sim_ = std::make_unique<CoinbaseSim>(io_, SimConfig{});
    ASSERT_TRUE(sim_->start().ok());
    auto candles = coinbase_sim::load_candles_csv(btc_2018());
    ASSERT_TRUE(candles.ok()) << candles.error().message;
    sim_->set_candles("BTC-USD", *candles);
    auto file = read_bars_csv(btc_2018(), kBtc);
    ASSERT_TRUE(file.ok()) << file.error().message;
    file_bars_ = file->bars;
    start_s_ = file_bars_.front().open_ts_s;
    end_s_ = file_bars_.back().open_ts_s + kBarSeconds;
  }

  void TearDown() override {
    backfill_.reset();
    sim_->stop();
    io_.restart();
    io_.run_for(milliseconds(500));
  }

  BackfillConfig config() const {
    BackfillConfig c;
    c.base_url = sim_->http_url();
    c.request_timeout_ms = 2'000;
    c.backoff = {1, 10, 0.5};
    c.request_interval_ms = 0;
    c.seed = seed_;
    return c;
  }

  Result<BackfillReport> run(const BackfillConfig& c, CandleRequest r, CandleStore* store = nullptr) {
    backfill_ = std::make_unique<CandleBackfill>(io_, c);
    std::optional<Result<BackfillReport>> out;
    Status st = backfill_->start(r, store, [&](Result<BackfillReport> res) { out.emplace(std::move(res)); });
    if (!st) return st.error();
    EXPECT_TRUE(run_until(io_, [&] { return out.has_value(); }, milliseconds(60'000)));
    if (!out) return make_error("test: no result");
    return std::move(*out);
  }

  CandleRequest whole_file() const { return {kBtc, start_s_, end_s_}; }

  unsigned seed_ = 0;
  boost::asio::io_context io_;
  std::unique_ptr<CoinbaseSim> sim_;
  std::unique_ptr<CandleBackfill> backfill_;
  std::vector<Bar> file_bars_;
  std::int64_t start_s_ = 0;
  std::int64_t end_s_ = 0;
};

TEST_F(CandlesTest, PagesThe2018FileAndReportsTheOutageAsAGap) {
  auto r = run(config(), whole_file());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::int64_t minutes = (end_s_ - start_s_) / kBarSeconds;
  const std::uint64_t pages = static_cast<std::uint64_t>((minutes + 349) / 350);
  EXPECT_EQ(r->pages, pages);
  EXPECT_EQ(r->requests, pages);
  EXPECT_EQ(r->retries, 0u);
  EXPECT_EQ(r->bars, file_bars_) << "same values as the file, ascending";
  EXPECT_EQ(r->rows_received, file_bars_.size());
  EXPECT_EQ(r->rows_rejected, 0u);
  EXPECT_EQ(r->rows_outside_page, 0u);
  // The real outage: one missing minute at 16:46, then 432 minutes until
  // midnight. Reported, never filled.
  ASSERT_EQ(r->gaps.gap_count, 2);
  EXPECT_EQ(r->gaps.gaps[0], (Gap{coinbase_sim::unix_seconds(2018, 4, 4, 16, 46), coinbase_sim::unix_seconds(2018, 4, 4, 16, 47)}));
  EXPECT_EQ(r->gaps.gaps[1], (Gap{coinbase_sim::unix_seconds(2018, 4, 4, 16, 48), coinbase_sim::unix_seconds(2018, 4, 5)}));
  EXPECT_EQ(r->gaps.gaps[1].minutes(), 432);
  EXPECT_EQ(r->gaps.missing_minutes, 433);
  EXPECT_EQ(sim_->stats().http_candle_requests, pages);
  EXPECT_EQ(sim_->stats().http_too_many_candles, 0u);
  EXPECT_EQ(sim_->stats().http_candles_served, file_bars_.size());
}

// candles_per_request at the limit (350) and one below; one above is refused
// at configuration time (the venue would refuse the request).
TEST_F(CandlesTest, CandlesPerRequestLimit) {
  BackfillConfig c = config();
  c.candles_per_request = 349;
  auto r = run(c, whole_file());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::int64_t minutes = (end_s_ - start_s_) / kBarSeconds;
  EXPECT_EQ(r->pages, static_cast<std::uint64_t>((minutes + 348) / 349));
  EXPECT_EQ(r->bars, file_bars_);
  c.candles_per_request = BackfillConfig::kCandlesPerRequestMax + 1;
  EXPECT_THROW(CandleBackfill(io_, c), std::invalid_argument);
  c.candles_per_request = 0;
  EXPECT_THROW(CandleBackfill(io_, c), std::invalid_argument);
  c.candles_per_request = 1;
  auto small = run(c, {kBtc, start_s_, start_s_ + 5 * kBarSeconds});
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->pages, 5u);
  EXPECT_EQ(small->bars.size(), 5u);
}

TEST_F(CandlesTest, RetriesOn429And5xxThenSucceeds) {
  sim_->push_http_faults({HttpFault::kTooManyRequests, HttpFault::kTooManyRequests, HttpFault::kInternalError,
                          HttpFault::kServiceUnavailable, HttpFault::kCloseConnection, HttpFault::kMalformedBody});
  BackfillConfig c = config();
  c.retries_max = 6;
  auto r = run(c, whole_file());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->bars, file_bars_);
  EXPECT_EQ(r->rate_limited, 2u);
  EXPECT_EQ(r->server_errors, 2u);
  EXPECT_EQ(r->transport_errors, 2u);  // closed connection, unreadable body
  EXPECT_EQ(r->retries, 6u);
  EXPECT_EQ(r->requests, r->pages + 6);
  EXPECT_EQ(sim_->http_faults_pending(), 0u);
}

TEST_F(CandlesTest, RetriesAreBoundedAndTheErrorSaysWhy) {
  BackfillConfig c = config();
  c.retries_max = 5;
  agent::test::ScratchDir dir;
  auto db = CandleStore::open(dir / "candles.db");
  ASSERT_TRUE(db.ok());
  // Retries at the limit: 5 faults, the sixth attempt succeeds.
  sim_->push_http_faults(std::vector<HttpFault>(5, HttpFault::kTooManyRequests));
  auto ok = run(c, {kBtc, start_s_, start_s_ + 10 * kBarSeconds});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->retries, 5u);
  // One above: six faults exhaust the retries.
  sim_->push_http_faults(std::vector<HttpFault>(6, HttpFault::kTooManyRequests));
  auto r = run(c, whole_file(), &db.value());
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("BTC-USD"), std::string::npos) << m;
  EXPECT_NE(m.find("[" + format_utc(start_s_) + ", " + format_utc(start_s_ + 350 * kBarSeconds) + ")"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("giving up after 6 attempts (retries_max=5)"), std::string::npos) << m;
  EXPECT_NE(m.find("HTTP 429 RESOURCE_EXHAUSTED: Too many requests"), std::string::npos) << m;
  EXPECT_EQ(db->count(kBtc).value(), 0u) << "nothing written on failure";
}

TEST_F(CandlesTest, ZeroRetriesFailsAtTheFirstServerError) {
  BackfillConfig c = config();
  c.retries_max = 0;
  sim_->push_http_faults({HttpFault::kServiceUnavailable});
  auto r = run(c, whole_file());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("giving up after 1 attempts (retries_max=0); last: HTTP 503 UNAVAILABLE"),
            std::string::npos)
      << r.error().message;
}

TEST_F(CandlesTest, ATimeoutIsRetried) {
  BackfillConfig c = config();
  c.request_timeout_ms = 200;
  sim_->push_http_faults({HttpFault::kNoResponse});
  auto r = run(c, {kBtc, start_s_, start_s_ + 60 * kBarSeconds});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->transport_errors, 1u);
  EXPECT_EQ(r->retries, 1u);
  EXPECT_EQ(r->bars.size(), 60u);
}

TEST_F(CandlesTest, TimeoutsExhaustRetriesWithAClearMessage) {
  BackfillConfig c = config();
  c.request_timeout_ms = 100;
  c.retries_max = 1;
  sim_->push_http_faults({HttpFault::kNoResponse, HttpFault::kNoResponse});
  auto r = run(c, whole_file());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("timeout after 100 ms"), std::string::npos) << r.error().message;
}

TEST_F(CandlesTest, ResponseSizeLimit) {
  // The first page (hundreds of rows, over 30 KB) is refused above the limit, retried, and
  // reported; a limit above the page size passes.
  BackfillConfig c = config();
  c.retries_max = 1;
  c.response_bytes_max = 8 * 1024;
  auto r = run(c, whole_file());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("read response"), std::string::npos) << r.error().message;
  c.response_bytes_max = 64 * 1024;
  auto ok = run(c, whole_file());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->bars, file_bars_);
}

TEST_F(CandlesTest, RequestsArePaced) {
  BackfillConfig c = config();
  c.request_interval_ms = 100;
  const auto started = std::chrono::steady_clock::now();
  auto r = run(c, {kBtc, start_s_, start_s_ + 3 * 350 * kBarSeconds});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->requests, 3u);
  EXPECT_GE(elapsed, milliseconds(200)) << "three requests at least 100 ms apart";
}

TEST_F(CandlesTest, ClientErrorsAreNotRetried) {
  auto r = run(config(), {ProductId::parse("DOGE-USD").value(), start_s_, start_s_ + 60});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("refused, not retried: HTTP 404 NOT_FOUND"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(sim_->stats().http_candle_requests, 1u);
}

TEST_F(CandlesTest, WritesIntoTheStoreIdempotently) {
  agent::test::ScratchDir dir;
  auto db = CandleStore::open(dir / "candles.db");
  ASSERT_TRUE(db.ok()) << db.error().message;
  auto first = run(config(), whole_file(), &db.value());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->stored);
  EXPECT_TRUE(first->store.committed);
  EXPECT_EQ(first->store.rows_inserted, file_bars_.size());
  auto second = run(config(), whole_file(), &db.value());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->store.rows_inserted, 0u);
  EXPECT_EQ(second->store.rows_already_present, file_bars_.size());
  auto loaded = db->load(kBtc, start_s_, end_s_);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, file_bars_);
}

TEST_F(CandlesTest, RequestValidation) {
  backfill_ = std::make_unique<CandleBackfill>(io_, config());
  const auto done = [](Result<BackfillReport>) {};
  EXPECT_FALSE(backfill_->start({kBtc, start_s_ + 1, end_s_}, nullptr, done).ok());
  EXPECT_FALSE(backfill_->start({kBtc, start_s_, start_s_}, nullptr, done).ok());
  EXPECT_FALSE(backfill_->start({ProductId{}, start_s_, end_s_}, nullptr, done).ok());
  const std::int64_t max_s = BackfillConfig::kRangeMinutesMax * kBarSeconds;
  EXPECT_FALSE(backfill_->start({kBtc, start_s_, start_s_ + max_s + kBarSeconds}, nullptr, done).ok());
  ASSERT_TRUE(backfill_->start({kBtc, start_s_, start_s_ + max_s}, nullptr, done).ok());
  EXPECT_TRUE(backfill_->running());
  EXPECT_FALSE(backfill_->start({kBtc, start_s_, end_s_}, nullptr, done).ok()) << "one at a time";
  backfill_->cancel();
  EXPECT_FALSE(backfill_->running());
}

TEST_F(CandlesTest, CancelledBackfillNeverCallsBack) {
  backfill_ = std::make_unique<CandleBackfill>(io_, config());
  bool called = false;
  ASSERT_TRUE(backfill_->start(whole_file(), nullptr, [&](Result<BackfillReport>) { called = true; }).ok());
  io_.run_one();
  backfill_->cancel();
  test::run_for(io_, milliseconds(200));
  EXPECT_FALSE(called);
}

TEST(CandlesConfig, Limits) {
  boost::asio::io_context io;
  BackfillConfig c;
  EXPECT_NO_THROW(CandleBackfill(io, c));  // the production defaults (https)
  c.base_url = "ws://127.0.0.1:1";
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.base_url = "http://127.0.0.1:1/prefix";
  EXPECT_NO_THROW(CandleBackfill(io, c));
  c.retries_max = BackfillConfig::retries_limit;
  EXPECT_NO_THROW(CandleBackfill(io, c));
  c.retries_max = BackfillConfig::retries_limit + 1;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.retries_max = -1;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.retries_max = 5;
  c.request_timeout_ms = 0;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.request_timeout_ms = BackfillConfig::timeout_ms_max + 1;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.request_timeout_ms = 1'000;
  c.response_bytes_max = 1023;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.response_bytes_max = BackfillConfig::kResponseBytesLimit + 1;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
  c.response_bytes_max = 1024;
  EXPECT_NO_THROW(CandleBackfill(io, c));
  c.request_interval_ms = BackfillConfig::request_interval_ms_max + 1;
  EXPECT_THROW(CandleBackfill(io, c), std::invalid_argument);
}

// The blocking helper, with the simulator on its own thread.
TEST(CandlesBlocking, BackfillCandlesRunsToCompletion) {
  const unsigned seed = test::test_seed();
  boost::asio::io_context sim_io;
  CoinbaseSim sim(sim_io, SimConfig{});
  ASSERT_TRUE(sim.start().ok());
  sim.set_candles("BTC-USD", coinbase_sim::load_candles_csv(btc_2018()).value());
  std::thread server([&] { sim_io.run(); });
  BackfillConfig c;
  c.base_url = sim.http_url();
  c.request_interval_ms = 1;
  c.seed = seed;
  const std::int64_t start = coinbase_sim::unix_seconds(2018, 4, 4, 12);
  auto r = backfill_candles(c, {kBtc, start, start + 1000 * kBarSeconds});
  boost::asio::post(sim_io, [&] { sim.stop(); });
  server.join();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->pages, 3u);
  EXPECT_EQ(r->bars.front().open_ts_s, start);
  EXPECT_EQ(r->gaps.missing_minutes, 1000 - static_cast<std::int64_t>(r->bars.size()));
}

}  // namespace
}  // namespace ta::agent::coinbase
