// A minimal agent process for the dead-man's switch test: connects to
// gate.sock with the agent's GateClient (which heartbeats on the gate's
// period), submits one resting limit order, prints "accepted ORDER_ID" (or
// "denied REASON") on stdout and keeps heartbeating until it is killed.
//
//   gate_test_agent SOCKET INTENT_ID QUANTITY LIMIT_PRICE STOP_PRICE
#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "agent/gate_client.h"

namespace {

class Agent : public ta::agent::GateClientHandler {
 public:
  explicit Agent(ta::ipc::OrderIntent intent) : intent_(std::move(intent)) {}
  ta::agent::GateClient* client = nullptr;

  void on_connected(const ta::ipc::HelloAck&) override {
    if (submitted_) return;
    submitted_ = true;
    if (!client->submit_intent(intent_).ok()) std::printf("submit failed\n");
    std::fflush(stdout);
  }
  void on_decision(const ta::ipc::Decision& d) override {
    if (d.accepted()) {
      std::printf("accepted %s\n", d.order_id().c_str());
    } else {
      std::printf("denied %s %s\n", ta::ipc::DenyReason_Name(d.reason()).c_str(), d.detail().c_str());
    }
    std::fflush(stdout);
  }

 private:
  ta::ipc::OrderIntent intent_;
  bool submitted_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: gate_test_agent SOCKET INTENT_ID QUANTITY LIMIT_PRICE STOP_PRICE\n");
    return 2;
  }
  ta::ipc::OrderIntent intent;
  intent.set_intent_id(argv[2]);
  intent.set_strategy("dead-man-test");
  intent.set_product("BTC-USD");
  intent.set_side(ta::ipc::SIDE_BUY);
  intent.set_type(ta::ipc::ORDER_TYPE_LIMIT);
  intent.set_quantity(argv[3]);
  intent.set_limit_price(argv[4]);
  intent.set_protective_stop_price(argv[5]);
  intent.set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);

  // The client library logs; stdout is reserved for the answer.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("agent", std::make_shared<spdlog::sinks::stderr_sink_st>()));
  boost::asio::io_context io(1);
  Agent agent(intent);
  ta::agent::GateClientOptions options;
  options.socket_path = argv[1];
  options.client_name = "gate_test_agent";
  ta::agent::GateClient client(io, options, agent);
  agent.client = &client;
  if (!client.start().ok()) return 1;
  io.run();
  return 0;
}
