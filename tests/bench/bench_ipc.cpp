// Round-trip latency over gate.sock, against a bare Unix-socket ping-pong of
// the same byte sizes, in the same run and on the same CPUs.
//
//   ipc:  GateClient::submit_intent -> IpcServer -> handler answers a
//         Decision at once -> GateClient handler on_decision. Everything the
//         real path does: protobuf encode/decode, framing, direction checks,
//         in-flight table, coroutines, the io_context of each side.
//   bare: a blocking write of the intent frame's byte count, a blocking read
//         of it on the other thread, a write of the decision frame's byte
//         count back, a blocking read of that. Only the kernel.
//   asio: the same bytes through an io_context and one coroutine per side,
//         nothing else: the event loop's own share of the difference.
//
// The client side runs on one thread pinned to --cpu-client, the server side
// on one thread pinned to --cpu-server; both cases use the same placement.
// Prints p50/p90/p99/p99.9 in microseconds. Not a test: it asserts nothing.
//
//   build/release/tests/bench/bench_ipc [--iterations N] [--warmup N]
//                                       [--cpu-client C] [--cpu-server S]
//                                       [--repeats N] [--only bare|ipc]
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "agent/gate_client.h"
#include "gate/ipc_server.h"
#include "latency_support.h"
#include "proto/framing.h"
#include <spdlog/spdlog.h>

namespace {

using Clock = std::chrono::steady_clock;
using ta::bench::pin;
using ta::bench::Stats;
using ta::bench::summarize;
constexpr auto kNoThrow = boost::asio::as_tuple(boost::asio::use_awaitable);

struct Args {
  int iterations = 20000;
  int warmup = 2000;
  int cpu_client = 0;
  int cpu_server = 1;
  int repeats = 3;
  std::string only;  // "bare" or "ipc" to profile one case
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--only") a.only = argv[i + 1];
    else if (k == "--iterations") a.iterations = v;
    else if (k == "--warmup") a.warmup = v;
    else if (k == "--cpu-client") a.cpu_client = v;
    else if (k == "--cpu-server") a.cpu_server = v;
    else if (k == "--repeats") a.repeats = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  return a;
}

ta::ipc::OrderIntent sample_intent(const std::string& id) {
  ta::ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_strategy("mean_reversion");
  i.set_product("BTC-USD");
  i.set_side(ta::ipc::SIDE_BUY);
  i.set_type(ta::ipc::ORDER_TYPE_LIMIT);
  i.set_quantity("0.00123400");
  i.set_limit_price("60000.01");
  i.set_protective_stop_price("59000.00");
  i.set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  i.set_created_ts_ns(1712345678000000000);
  return i;
}

ta::ipc::Envelope sample_decision(const std::string& intent_id, std::uint64_t request_id) {
  ta::ipc::Envelope env;
  env.set_request_id(request_id);
  auto* d = env.mutable_decision();
  d->set_intent_id(intent_id);
  d->set_accepted(true);
  d->set_order_id("g-00000001");
  d->set_quantity("0.00123400");
  d->set_decided_ts_ns(1712345678000001000);
  return env;
}

std::string intent_id(int n) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "mr-BTC-USD-1712345678-%08d", n);
  return buf;
}

std::vector<double> bare(const Args& a, std::size_t out_bytes, std::size_t in_bytes) {
  return ta::bench::bare_ping_pong(a.warmup, a.iterations, a.cpu_client, a.cpu_server, out_bytes, in_bytes);
}

// --- Asio floor ------------------------------------------------------------
//
// The same byte counts through two io_contexts with one coroutine each and no
// protobuf, framing, deadlines or handler: what the event loop alone costs.

boost::asio::awaitable<void> echo_server(boost::asio::local::stream_protocol::socket& s, std::size_t in_bytes) {
  std::vector<char> buf(64 * 1024);
  const std::string out(in_bytes, 'd');
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(boost::asio::buffer(buf), kNoThrow);
    if (ec) co_return;
    boost::system::error_code wec;
    s.write_some(boost::asio::buffer(out), wec);
  }
}

boost::asio::awaitable<void> echo_client(boost::asio::local::stream_protocol::socket& s, const Args& a,
                                         std::size_t out_bytes, std::vector<double>& us) {
  std::vector<char> buf(64 * 1024);
  const std::string out(out_bytes, 'i');
  for (int i = 0; i < a.warmup + a.iterations; ++i) {
    const auto t0 = Clock::now();
    boost::system::error_code wec;
    s.write_some(boost::asio::buffer(out), wec);
    auto [ec, n] = co_await s.async_read_some(boost::asio::buffer(buf), kNoThrow);
    if (ec) std::exit(1);
    const auto t1 = Clock::now();
    if (i >= a.warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  s.close();
}

std::vector<double> asio_floor(const Args& a, std::size_t out_bytes, std::size_t in_bytes) {
  boost::asio::io_context server_io(1);
  boost::asio::io_context client_io(1);
  boost::asio::local::stream_protocol::socket c(client_io);
  boost::asio::local::stream_protocol::socket s(server_io);
  boost::asio::local::connect_pair(c, s);
  c.non_blocking(true);
  s.non_blocking(true);
  boost::asio::co_spawn(server_io, echo_server(s, in_bytes), boost::asio::detached);
  std::thread server_thread([&] {
    pin(a.cpu_server);
    server_io.run();
  });
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(a.iterations));
  pin(a.cpu_client);
  boost::asio::co_spawn(client_io, echo_client(c, a, out_bytes, us), boost::asio::detached);
  client_io.run();
  server_thread.join();
  return us;
}

// --- gate.sock -------------------------------------------------------------

struct EchoGate : ta::gate::IpcHandler {
  ta::gate::IpcServer* server = nullptr;
  void on_agent_connected(ta::gate::SessionId, const ta::proto::PeerCredentials&, const ta::ipc::Hello&,
                          ta::ipc::HelloAck& ack) override {
    ack.set_heartbeat_period_ms(1000);
  }
  void on_agent_message(ta::gate::SessionId s, const ta::ipc::Envelope& m) override {
    if (!m.has_order_intent()) return;
    (void)server->send(s, sample_decision(m.order_intent().intent_id(), m.request_id()));
  }
  void on_agent_disconnected(ta::gate::SessionId, const ta::gate::SessionClose&) override {}
  std::optional<ta::ipc::AdminEnvelope> on_admin_request(ta::gate::SessionId, const ta::ipc::AdminEnvelope&) override {
    return std::nullopt;
  }
  void on_peer_refused(ta::gate::IpcChannel, const ta::proto::PeerCredentials&, ta::gate::PeerRefusal,
                       const std::string&) override {}
};

struct Driver : ta::agent::GateClientHandler {
  ta::agent::GateClient* client = nullptr;
  boost::asio::io_context* io = nullptr;
  const std::vector<std::string>* ids = nullptr;
  std::vector<ta::ipc::OrderIntent> intents;
  int warmup = 0;
  int next = 0;
  Clock::time_point sent_at;
  std::vector<double> us;

  void submit() {
    sent_at = Clock::now();
    if (!client->submit_intent(intents[static_cast<std::size_t>(next)]).ok()) std::exit(1);
  }
  void on_connected(const ta::ipc::HelloAck&) override { submit(); }
  void on_decision(const ta::ipc::Decision&) override {
    const auto now = Clock::now();
    if (next >= warmup) us.push_back(std::chrono::duration<double, std::micro>(now - sent_at).count());
    ++next;
    if (static_cast<std::size_t>(next) == intents.size()) {
      client->stop();
      return;
    }
    submit();
  }
};

std::vector<double> ipc(const Args& a, const std::string& dir) {
  const int total = a.warmup + a.iterations;
  boost::asio::io_context server_io(1);
  EchoGate gate;
  ta::gate::IpcServerOptions so;
  so.agent.socket_path = dir + "/gate.sock";
  so.admin.socket_path = dir + "/admin.sock";
  so.agent.allow.uids = {::getuid()};
  ta::gate::IpcServer server(server_io, so, gate);
  gate.server = &server;
  if (auto st = server.start(); !st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    std::exit(1);
  }
  std::thread server_thread([&] {
    pin(a.cpu_server);
    server_io.run();
  });

  Driver driver;
  driver.warmup = a.warmup;
  driver.intents.reserve(static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) driver.intents.push_back(sample_intent(intent_id(i)));
  driver.us.reserve(static_cast<std::size_t>(a.iterations));
  {
    pin(a.cpu_client);
    boost::asio::io_context client_io(1);
    ta::agent::GateClientOptions co;
    co.socket_path = so.agent.socket_path;
    ta::agent::GateClient client(client_io, co, driver);
    driver.client = &client;
    driver.io = &client_io;
    if (!client.start().ok()) std::exit(1);
    client_io.run();
  }
  boost::asio::post(server_io, [&] { server.shutdown(100, [] {}); });
  server_thread.join();
  return driver.us;
}

void print_row(const char* name, const Stats& s) {
  std::printf("%-22s %8.2f %8.2f %8.2f %8.2f %8.2f\n", name, s.p50, s.p90, s.p99, s.p999, s.mean);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);

  std::string intent_frame, decision_frame;
  ta::ipc::Envelope intent_env;
  intent_env.set_request_id(12345);
  *intent_env.mutable_order_intent() = sample_intent(intent_id(12345));
  (void)ta::proto::encode_frame(intent_env, intent_frame);
  (void)ta::proto::encode_frame(sample_decision(intent_id(12345), 12345), decision_frame);

  char tmpl[] = "/tmp/ta-bench-ipc-XXXXXX";
  const char* dir = ::mkdtemp(tmpl);
  if (dir == nullptr) return 1;

  std::printf("bench_ipc: iterations=%d warmup=%d cpu_client=%d cpu_server=%d repeats=%d\n", a.iterations,
              a.warmup, a.cpu_client, a.cpu_server, a.repeats);
  std::printf("frame bytes: intent=%zu decision=%zu (4-byte header included)\n", intent_frame.size(),
              decision_frame.size());
  std::printf("%-22s %8s %8s %8s %8s %8s   (round trip, microseconds)\n", "case", "p50", "p90", "p99", "p99.9",
              "mean");
  for (int r = 0; r < a.repeats; ++r) {
    // Alternate so drift in machine load hits both cases alike.
    if (a.only == "ipc") {
      print_row("gate.sock round trip", summarize(ipc(a, dir)));
      continue;
    }
    if (a.only == "bare") {
      print_row("bare unix ping-pong", summarize(bare(a, intent_frame.size(), decision_frame.size())));
      continue;
    }
    const Stats b = summarize(bare(a, intent_frame.size(), decision_frame.size()));
    const Stats f = summarize(asio_floor(a, intent_frame.size(), decision_frame.size()));
    const Stats i = summarize(ipc(a, dir));
    print_row("bare unix ping-pong", b);
    print_row("asio coroutine echo", f);
    print_row("gate.sock round trip", i);
    std::printf("%-22s %8.2fx   (asio echo/bare %.2fx)\n", "ratio p50 (ipc/bare)", i.p50 / b.p50, f.p50 / b.p50);
  }
  ::rmdir(dir);
  return 0;
}
