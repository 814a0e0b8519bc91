// The simulator's candles endpoint and message texts, without sockets, and
// one round trip over HTTP to check the error shape on the wire.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "coinbase_sim/coinbase_sim.h"
#include "protocol.h"

namespace ta::coinbase_sim {
namespace {

namespace json = boost::json;

std::filesystem::path shared_data() {
  const char* v = std::getenv("TA_SHARED_DATA");
  return v != nullptr && *v != '\0' ? v : "../shared/data";
}

constexpr std::int64_t kT0 = 1'522'800'000;  // 2018-04-04T00:00:00Z

std::vector<SimCandle> minutes(std::int64_t from, int count) {
  std::vector<SimCandle> out;
  for (int i = 0; i < count; ++i) out.push_back({from + i * 60, "1", "2", "0.5", "1.5", "3"});
  return out;
}

std::string query(std::int64_t start, std::int64_t end, const std::string& extra = "") {
  return "start=" + std::to_string(start) + "&end=" + std::to_string(end) + "&granularity=ONE_MINUTE" + extra;
}

TEST(SimCandles, ServesRangeNewestFirstNumbersAsStrings) {
  const auto candles = minutes(kT0, 10);
  const auto r = detail::candles_reply("BTC-USD", &candles, query(kT0 + 120, kT0 + 300));
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value v = json::parse(r.body);
  const json::array& rows = v.at("candles").as_array();
  ASSERT_EQ(rows.size(), 3u);  // 120, 180, 240: [start, end)
  EXPECT_EQ(rows[0].at("start").as_string(), std::to_string(kT0 + 240));
  EXPECT_EQ(rows[2].at("start").as_string(), std::to_string(kT0 + 120));
  for (const char* key : {"low", "high", "open", "close", "volume"}) EXPECT_TRUE(rows[0].at(key).is_string());
  EXPECT_EQ(r.rows, 3u);
}

TEST(SimCandles, ThreeHundredFiftyBucketsAtMost) {
  const auto candles = minutes(kT0, 400);
  EXPECT_EQ(detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 349 * 60)).status, 200u);
  const auto at = detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 350 * 60));
  EXPECT_EQ(at.status, 200u);
  EXPECT_EQ(at.rows, 350u);
  const auto over = detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 351 * 60));
  EXPECT_EQ(over.status, 400u);
  EXPECT_TRUE(over.too_many_candles);
  const json::value v = json::parse(over.body);
  EXPECT_EQ(v.at("error").as_string(), "INVALID_ARGUMENT");
  EXPECT_EQ(v.at("code").as_int64(), 3);
  EXPECT_NE(std::string(v.at("message").as_string()).find("number of candles requested"), std::string::npos);
  EXPECT_TRUE(v.at("details").is_array());
  // A partial bucket counts: 350 minutes and one second is 351 buckets.
  EXPECT_EQ(detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 350 * 60 + 1)).status, 400u);
  // An explicit limit lowers the maximum; above 350 it is invalid.
  EXPECT_EQ(detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 100 * 60, "&limit=100")).status, 200u);
  EXPECT_EQ(detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 101 * 60, "&limit=100")).status, 400u);
  EXPECT_EQ(detail::candles_reply("BTC-USD", &candles, query(kT0, kT0 + 60, "&limit=351")).status, 400u);
}

TEST(SimCandles, BadRequests) {
  const auto candles = minutes(kT0, 10);
  const auto status = [&](const std::string& q) { return detail::candles_reply("BTC-USD", &candles, q).status; };
  EXPECT_EQ(status("end=1&granularity=ONE_MINUTE"), 400u);
  EXPECT_EQ(status("start=x&end=1&granularity=ONE_MINUTE"), 400u);
  EXPECT_EQ(status("start=0&end=60"), 400u);
  EXPECT_EQ(status("start=0&end=60&granularity=UNKNOWN_GRANULARITY"), 400u);
  EXPECT_EQ(status("start=0&end=60&granularity=60"), 400u);
  EXPECT_EQ(status("start=120&end=60&granularity=ONE_MINUTE"), 400u);
  EXPECT_EQ(detail::candles_reply("DOGE-USD", nullptr, query(kT0, kT0 + 60)).status, 404u);
}

TEST(SimCandles, LoadsTheShared2018File) {
  const auto path = shared_data() / "coinbase_BTC-USD_1m_2018-04-04_2018-04-06.csv";
  if (!std::filesystem::exists(path)) GTEST_FAIL() << "shared data missing (set -DTA_SHARED_DATA): " << path;
  auto candles = load_candles_csv(path);
  ASSERT_TRUE(candles.ok()) << candles.error().message;
  EXPECT_EQ(candles->size(), 3887u);
  EXPECT_EQ(candles->front().start_s, kT0);
  EXPECT_EQ(candles->front().open, "7424.91");
  EXPECT_EQ(candles->front().low, "7422");  // text kept as in the file
}

TEST(SimCandles, LoadsTheDemoOutageFile) {
  const char* root = std::getenv("TA_SOURCE_DIR");
  const std::filesystem::path path =
      std::filesystem::path(root != nullptr ? root : ".") / "data" / "demo" / "BTC-USD_1m_coinbase_outage.csv";
  auto candles = load_candles_csv(path);
  ASSERT_TRUE(candles.ok()) << candles.error().message;
  EXPECT_EQ(candles->size(), 647u);
  EXPECT_EQ(candles->front().start_s, unix_seconds(2018, 4, 4, 12));
}

TEST(SimCandles, RefusesBadFiles) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto write = [&](const std::string& name, const std::string& text) {
    const auto p = dir / name;
    std::ofstream(p) << text;
    return p;
  };
  EXPECT_FALSE(load_candles_csv(dir / "does-not-exist.csv").ok());
  EXPECT_FALSE(load_candles_csv(write("ta_sim_bad1.csv", "ts,o,h,l,c,v\n")).ok());
  EXPECT_FALSE(load_candles_csv(write("ta_sim_bad2.csv", "ts,open,high,low,close,volume\n60,1,1,1,1\n")).ok());
  EXPECT_FALSE(load_candles_csv(write("ta_sim_bad3.csv", "ts,open,high,low,close,volume\n60,1,1,1,1,1e3\n")).ok());
  EXPECT_FALSE(
      load_candles_csv(write("ta_sim_bad4.csv", "ts,open,high,low,close,volume\n120,1,1,1,1,1\n60,1,1,1,1,1\n")).ok());
  auto ok = load_candles_csv(write("ta_sim_ok.csv", "ts,open,high,low,close,volume\r\n60,1.5,2,1,1.5,0\r\n"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 1u);
}

TEST(SimText, TimeFormats) {
  EXPECT_EQ(format_rfc3339(1'675'973'975'396'251), "2023-02-09T20:19:35.396251000Z");
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(unix_seconds(2018, 4, 4), kT0);
  EXPECT_EQ(detail::format_go_time(1'687'552'316'121'961).substr(0, 40), "2023-06-23 20:31:56.121961000 +0000 UTC ");
  EXPECT_EQ(detail::cents_text(123456), "1234.56");
  EXPECT_EQ(detail::cents_text(5), "0.05");
  EXPECT_EQ(detail::units8_text(12345), "0.00012345");
}

TEST(SimText, Envelope) {
  const std::string text = detail::envelope("heartbeats", 0, 42, detail::heartbeat_events(0, 7, true));
  const json::value v = json::parse(text);
  EXPECT_EQ(v.at("channel").as_string(), "heartbeats");
  EXPECT_EQ(v.at("sequence_num").as_int64(), 42);
  EXPECT_EQ(v.at("events").at(0).at("heartbeat_counter").as_string(), "7");
}

// Over the wire: a 429 fault, then a refused 351-bucket request.
TEST(SimHttp, FaultAndRefusalOnTheWire) {
  boost::asio::io_context io;
  CoinbaseSim sim(io, SimConfig{});
  sim.set_candles("BTC-USD", minutes(kT0, 400));
  ASSERT_TRUE(sim.start().ok());
  sim.push_http_faults({HttpFault::kTooManyRequests});
  std::thread server([&] { io.run(); });

  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket socket(client_io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), sim.http_port()});
  const auto get = [&](const std::string& target) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res;
  };
  const std::string path = "/api/v3/brokerage/market/products/BTC-USD/candles?";
  const auto limited = get(path + query(kT0, kT0 + 60));
  EXPECT_EQ(limited.result_int(), 429u);
  EXPECT_EQ(json::parse(limited.body()).at("error").as_string(), "RESOURCE_EXHAUSTED");
  const auto refused = get(path + query(kT0, kT0 + 351 * 60));
  EXPECT_EQ(refused.result_int(), 400u);
  EXPECT_EQ(refused[http::field::content_type], "application/json");
  const auto ok = get(path + query(kT0, kT0 + 350 * 60));
  EXPECT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(json::parse(ok.body()).at("candles").as_array().size(), 350u);
  socket.close();
  boost::asio::post(io, [&] { sim.stop(); });
  server.join();
  EXPECT_EQ(sim.stats().http_candle_requests, 3u);
  EXPECT_EQ(sim.stats().http_too_many_candles, 1u);
  EXPECT_EQ(sim.stats().http_faults_applied, 1u);
}

// A raw WebSocket client against the simulator: ack, snapshot, sequence
// numbers, unsubscribe, error replies and the subscribe deadline.
TEST(SimWs, SubscribeAckSnapshotErrorsAndDeadline) {
  namespace beast = boost::beast;
  namespace websocket = beast::websocket;
  boost::asio::io_context io;
  SimConfig config;
  config.heartbeat_interval_ms = 0;
  config.subscribe_deadline_ms = 200;
  CoinbaseSim sim(io, config);
  ASSERT_TRUE(sim.start().ok());
  SimTrade t1{"BTC-USD", 1, kT0 * 1'000'000, "100.5", "0.1", true, 100.5, 0.1};
  SimTrade t2{"BTC-USD", 2, kT0 * 1'000'000 + 5, "101", "0.2", false, 101, 0.2};
  sim.publish_trades({t1, t2});  // nobody listens yet: only the snapshot history
  std::thread server([&] { io.run(); });

  boost::asio::io_context client_io;
  const auto connect = [&] {
    auto ws = std::make_unique<websocket::stream<boost::asio::ip::tcp::socket>>(client_io);
    ws->next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), sim.ws_port()});
    ws->handshake("127.0.0.1", "/");
    return ws;
  };
  auto ws = connect();
  const auto read = [&] {
    beast::flat_buffer b;
    ws->read(b);
    return json::parse(beast::buffers_to_string(b.data()));
  };
  ws->write(boost::asio::buffer(std::string(R"({"type":"subscribe","channel":"market_trades","product_ids":["BTC-USD"]})")));
  const json::value ack = read();
  EXPECT_EQ(ack.at("channel").as_string(), "subscriptions");
  EXPECT_EQ(ack.at("sequence_num").as_int64(), 0);
  EXPECT_EQ(ack.at("events").at(0).at("subscriptions").at("market_trades").at(0).as_string(), "BTC-USD");
  const json::value snap = read();
  EXPECT_EQ(snap.at("sequence_num").as_int64(), 1);
  const json::value& event = snap.at("events").at(0);
  EXPECT_EQ(event.at("type").as_string(), "snapshot");
  ASSERT_EQ(event.at("trades").as_array().size(), 2u);
  EXPECT_EQ(event.at("trades").at(0).at("trade_id").as_string(), "2") << "newest first";
  EXPECT_EQ(event.at("trades").at(0).at("side").as_string(), "SELL");
  EXPECT_EQ(event.at("trades").at(1).at("price").as_string(), "100.5");

  const auto expect_error = [&](const std::string& msg, const std::string& text) {
    ws->write(boost::asio::buffer(msg));
    const json::value e = read();
    EXPECT_EQ(e.at("type").as_string(), "error") << msg;
    EXPECT_NE(std::string(e.at("message").as_string()).find(text), std::string::npos) << e;
  };
  expect_error(R"({"type":"subscribe","channels":["ticker"]})", "channel must be a string");
  expect_error(R"({"type":"subscribe","channel":"user","product_ids":["BTC-USD"]})", "authentication failure");
  expect_error(R"({"type":"subscribe","channel":"ticker"})", "product_ids required");
  expect_error(R"({"type":"subscribe","channel":"no_such_channel"})", "unknown channel");
  expect_error("{", "malformed");

  ws->write(boost::asio::buffer(std::string(R"({"type":"unsubscribe","channel":"market_trades","product_ids":["BTC-USD"]})")));
  const json::value unsub = read();
  EXPECT_EQ(unsub.at("sequence_num").as_int64(), 2) << "errors carry no sequence number";
  EXPECT_TRUE(unsub.at("events").at(0).at("subscriptions").as_object().empty());

  // A second connection that never subscribes is closed after the deadline.
  auto idle = connect();
  beast::flat_buffer b;
  boost::system::error_code ec;
  idle->read(b, ec);
  EXPECT_TRUE(ec) << "closed by the server";

  ws->close(websocket::close_code::normal);
  boost::asio::post(io, [&] { sim.stop(); });
  server.join();
  EXPECT_EQ(sim.stats().ws_deadline_closes, 1u);
  EXPECT_EQ(sim.stats().ws_errors_sent, 5u);
  EXPECT_EQ(sim.stats().ws_subscribes, 1u);
  EXPECT_EQ(sim.stats().ws_unsubscribes, 1u);
}

}  // namespace
}  // namespace ta::coinbase_sim
