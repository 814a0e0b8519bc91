// GateClient against a real IpcServer (both on the test thread's
// io_context), and against a hand-driven fake gate for the cases a correct
// server never produces (silence, wrong-direction messages).
#include "agent/gate_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <map>
#include <set>

#include "gate/ipc_server.h"
#include "ipc_test_support.h"

namespace ta {
namespace {

using agent::GateClient;
using agent::GateClientOptions;
using agent::GateConnectionState;
using gate::IpcServer;
using gate::SessionId;
using ta::test::RawPeer;
using ta::test::run_until;
using ta::test::TempDir;

// The gate side: counts intents by id; answers them when `answer` is set.
struct FakeGate : gate::IpcHandler {
  IpcServer* server = nullptr;
  bool answer = true;
  std::int64_t heartbeat_period_ms = 0;
  std::string refuse_reason;
  std::map<std::string, int> intents_seen;  // intent_id -> times received
  std::map<std::string, int> cancels_seen;
  int heartbeats = 0;
  std::vector<SessionId> sessions;
  int disconnects = 0;
  std::vector<ta::ipc::Envelope> other;

  void on_agent_connected(SessionId s, const ta::proto::PeerCredentials&, const ta::ipc::Hello&,
                          ta::ipc::HelloAck& ack) override {
    sessions.push_back(s);
    ack.set_heartbeat_period_ms(heartbeat_period_ms);
    ack.set_heartbeat_timeout_ms(heartbeat_period_ms * 5);
    ack.set_mode(ta::ipc::MODE_SIM);
    if (!refuse_reason.empty()) {
      ack.set_accepted(false);
      ack.set_reason(refuse_reason);
    }
  }
  void on_agent_message(SessionId s, const ta::ipc::Envelope& m) override {
    switch (m.body_case()) {
      case ta::ipc::Envelope::kOrderIntent: {
        ++intents_seen[m.order_intent().intent_id()];
        if (!answer) return;
        ta::ipc::Envelope reply;
        reply.set_request_id(m.request_id());
        auto* d = reply.mutable_decision();
        d->set_intent_id(m.order_intent().intent_id());
        d->set_accepted(true);
        d->set_replayed(intents_seen[m.order_intent().intent_id()] > 1);
        EXPECT_TRUE(server->send(s, reply).ok());
        return;
      }
      case ta::ipc::Envelope::kCancelIntent: {
        ++cancels_seen[m.cancel_intent().cancel_id()];
        if (!answer) return;
        ta::ipc::Envelope reply;
        reply.mutable_cancel_result()->set_cancel_id(m.cancel_intent().cancel_id());
        reply.mutable_cancel_result()->set_accepted(true);
        EXPECT_TRUE(server->send(s, reply).ok());
        return;
      }
      case ta::ipc::Envelope::kHeartbeat:
        ++heartbeats;
        return;
      default:
        other.push_back(m);
        return;
    }
  }
  void on_agent_disconnected(SessionId, const gate::SessionClose&) override { ++disconnects; }
  std::optional<ta::ipc::AdminEnvelope> on_admin_request(SessionId, const ta::ipc::AdminEnvelope&) override {
    return std::nullopt;
  }
  void on_peer_refused(gate::IpcChannel, const ta::proto::PeerCredentials&, gate::PeerRefusal,
                       const std::string&) override {}
};

// The agent side: records what the client delivers.
struct AgentSide : agent::GateClientHandler {
  std::vector<GateConnectionState> states;
  std::vector<std::string> disconnects;
  int connected = 0;
  std::vector<ta::ipc::Decision> decisions;
  std::vector<ta::ipc::CancelResult> cancel_results;
  std::vector<std::string> pushes;  // body names, in order
  std::vector<std::string> protocol_errors;

  void on_state_changed(GateConnectionState s) override { states.push_back(s); }
  void on_connected(const ta::ipc::HelloAck&) override { ++connected; }
  void on_disconnected(const std::string& reason) override { disconnects.push_back(reason); }
  void on_decision(const ta::ipc::Decision& d) override { decisions.push_back(d); }
  void on_cancel_result(const ta::ipc::CancelResult& r) override { cancel_results.push_back(r); }
  void on_order_update(const ta::ipc::OrderUpdate&) override { pushes.push_back("order_update"); }
  void on_fill(const ta::ipc::Fill&) override { pushes.push_back("fill"); }
  void on_position_snapshot(const ta::ipc::PositionSnapshot&) override { pushes.push_back("position_snapshot"); }
  void on_halt_state_changed(const ta::ipc::HaltStateChanged&) override { pushes.push_back("halt_state_changed"); }
  void on_parameter_change(const ta::ipc::ParameterChange&) override { pushes.push_back("parameter_change"); }
  void on_proposal_result(const ta::ipc::ProposalResult&) override { pushes.push_back("proposal_result"); }
  void on_protocol_error(const ta::ipc::ProtocolError& e) override { protocol_errors.push_back(e.message()); }
};

ta::ipc::OrderIntent intent(const std::string& id) {
  ta::ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_strategy("mean_reversion");
  i.set_product("BTC-USD");
  i.set_side(ta::ipc::SIDE_BUY);
  i.set_type(ta::ipc::ORDER_TYPE_LIMIT);
  i.set_quantity("0.001");
  i.set_limit_price("60000.00");
  return i;
}

class GateClientTest : public ::testing::Test {
 protected:
  void start_gate(FakeGate& g) {
    gate::IpcServerOptions o;
    o.agent.socket_path = dir.file("gate.sock");
    o.admin.socket_path = dir.file("admin.sock");
    o.agent.allow.uids = {::getuid()};
    server = std::make_unique<IpcServer>(io, o, g);
    g.server = server.get();
    auto st = server->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  GateClientOptions client_options() {
    GateClientOptions o;
    o.socket_path = dir.file("gate.sock");
    o.reconnect_delay_ms_initial = 10;
    o.reconnect_delay_ms_max = 40;
    o.reconnect_seed = 7;
    o.hello_timeout_ms = 500;
    return o;
  }

  void start_client(GateClientOptions o) {
    client = std::make_unique<GateClient>(io, std::move(o), agent_side);
    auto st = client->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  bool wait_ready(int timeout_ms = 2000) {
    return run_until(io, [&] { return client->state() == GateConnectionState::kReady; }, timeout_ms);
  }

  TempDir dir;
  boost::asio::io_context io;
  std::unique_ptr<IpcServer> server;
  AgentSide agent_side;
  std::unique_ptr<GateClient> client;
};

TEST_F(GateClientTest, ConnectsAndGetsDecision) {
  FakeGate g;
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  EXPECT_EQ(agent_side.connected, 1);
  EXPECT_EQ(client->hello_ack().mode(), ta::ipc::MODE_SIM);
  EXPECT_EQ(client->hello_ack().session_id(), g.sessions.at(0));
  ASSERT_TRUE(client->submit_intent(intent("i-1")).ok());
  ASSERT_TRUE(run_until(io, [&] { return agent_side.decisions.size() == 1; }));
  EXPECT_EQ(agent_side.decisions[0].intent_id(), "i-1");
  EXPECT_EQ(client->inflight_count(), 0u);
  EXPECT_EQ(g.intents_seen["i-1"], 1);
}

TEST_F(GateClientTest, StatesInOrder) {
  FakeGate g;
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  const std::vector<GateConnectionState> expected = {GateConnectionState::kConnecting,
                                                     GateConnectionState::kHandshaking, GateConnectionState::kReady};
  EXPECT_EQ(agent_side.states, expected);
  client->stop();
  ASSERT_TRUE(run_until(io, [&] { return client->state() == GateConnectionState::kStopped; }));
  ASSERT_TRUE(run_until(io, [&] { return g.disconnects == 1; }));
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(g.sessions.size(), 1u) << "no reconnect after stop()";
}

// The core promise: an intent unanswered when the gate goes away is resent
// with the same intent_id after the reconnect, and dropped once answered.
TEST_F(GateClientTest, InflightIntentResentWithSameIdAfterGateRestart) {
  FakeGate first;
  first.answer = false;
  start_gate(first);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  ASSERT_TRUE(client->submit_intent(intent("mr-BTC-USD-0001")).ok());
  ASSERT_TRUE(run_until(io, [&] { return first.intents_seen.size() == 1; }));
  EXPECT_TRUE(client->inflight("mr-BTC-USD-0001"));

  server.reset();  // the gate dies without answering
  ASSERT_TRUE(run_until(io, [&] { return client->state() != GateConnectionState::kReady; }));
  EXPECT_FALSE(agent_side.disconnects.empty());
  // While it is down, the client keeps retrying with backoff.
  io.restart();
  io.run_for(std::chrono::milliseconds(60));
  EXPECT_NE(client->state(), GateConnectionState::kReady);
  EXPECT_TRUE(client->inflight("mr-BTC-USD-0001"));

  FakeGate second;  // the restarted gate answers
  start_gate(second);
  ASSERT_TRUE(run_until(io, [&] { return agent_side.decisions.size() == 1; }));
  EXPECT_EQ(agent_side.connected, 2);
  EXPECT_EQ(client->resends(), 1u);
  EXPECT_EQ(second.intents_seen.size(), 1u);
  EXPECT_EQ(second.intents_seen["mr-BTC-USD-0001"], 1) << "same id, sent once to the new gate";
  EXPECT_TRUE(agent_side.decisions[0].intent_id() == "mr-BTC-USD-0001");
  EXPECT_EQ(client->inflight_count(), 0u) << "dropped once the decision arrived";

  // Every id any gate ever saw: exactly one.
  std::set<std::string> ids;
  for (const auto& [id, n] : first.intents_seen) ids.insert(id);
  for (const auto& [id, n] : second.intents_seen) ids.insert(id);
  EXPECT_EQ(ids.size(), 1u);

  // Another restart: nothing is resent any more.
  server.reset();
  ASSERT_TRUE(run_until(io, [&] { return client->state() != GateConnectionState::kReady; }));
  FakeGate third;
  start_gate(third);
  ASSERT_TRUE(wait_ready());
  io.restart();
  io.run_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(third.intents_seen.empty());
  EXPECT_EQ(client->resends(), 1u);
}

TEST_F(GateClientTest, ResendsInSubmissionOrderAndCancelsToo) {
  FakeGate first;
  first.answer = false;
  start_gate(first);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  ASSERT_TRUE(client->submit_intent(intent("z-first")).ok());
  ASSERT_TRUE(client->submit_intent(intent("a-second")).ok());
  ta::ipc::CancelIntent cancel;
  cancel.set_cancel_id("c-1");
  cancel.set_intent_id("z-first");
  ASSERT_TRUE(client->submit_cancel(cancel).ok());
  ASSERT_TRUE(run_until(io, [&] { return first.cancels_seen.size() == 1; }));
  server.reset();
  ASSERT_TRUE(run_until(io, [&] { return client->state() != GateConnectionState::kReady; }));

  FakeGate second;
  start_gate(second);
  ASSERT_TRUE(run_until(io, [&] { return agent_side.decisions.size() == 2 && agent_side.cancel_results.size() == 1; }));
  EXPECT_EQ(agent_side.decisions[0].intent_id(), "z-first") << "submission order, not id order";
  EXPECT_EQ(agent_side.decisions[1].intent_id(), "a-second");
  EXPECT_EQ(agent_side.cancel_results[0].cancel_id(), "c-1");
  EXPECT_EQ(client->resends(), 3u);
  EXPECT_EQ(client->inflight_count(), 0u);
}

TEST_F(GateClientTest, SubmittedWhileDisconnectedIsSentOnConnect) {
  start_client(client_options());  // no gate yet
  ASSERT_TRUE(client->submit_intent(intent("early")).ok());
  io.restart();
  io.run_for(std::chrono::milliseconds(30));
  EXPECT_TRUE(client->inflight("early"));
  FakeGate g;
  start_gate(g);
  ASSERT_TRUE(run_until(io, [&] { return agent_side.decisions.size() == 1; }));
  EXPECT_EQ(g.intents_seen["early"], 1);
}

TEST_F(GateClientTest, InflightMaxAtAndAbove) {
  FakeGate g;
  g.answer = false;
  start_gate(g);
  auto o = client_options();
  o.inflight_max = 3;
  start_client(o);
  ASSERT_TRUE(wait_ready());
  EXPECT_FALSE(client->submit_intent(intent("")).ok()) << "empty id";
  ASSERT_TRUE(client->submit_intent(intent("a")).ok());
  ASSERT_TRUE(client->submit_intent(intent("b")).ok());
  auto dup = client->submit_intent(intent("b"));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("already in flight"), std::string::npos);
  ASSERT_TRUE(client->submit_intent(intent("c")).ok()) << "at the limit";
  auto over = client->submit_intent(intent("d"));
  ASSERT_FALSE(over.ok()) << "one above";
  EXPECT_NE(over.error().message.find("inflight_max 3"), std::string::npos) << over.error().message;
  ta::ipc::CancelIntent cancel;
  cancel.set_cancel_id("c-1");
  EXPECT_FALSE(client->submit_cancel(cancel).ok()) << "cancels share the table";
  // An answer frees a slot.
  ta::ipc::Envelope decision;
  decision.mutable_decision()->set_intent_id("a");
  ASSERT_TRUE(server->send(g.sessions[0], decision).ok());
  ASSERT_TRUE(run_until(io, [&] { return client->inflight_count() == 2; }));
  EXPECT_TRUE(client->submit_intent(intent("d")).ok());
}

TEST_F(GateClientTest, HeartbeatPeriodFromHelloAck) {
  FakeGate g;
  g.heartbeat_period_ms = 20;
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  EXPECT_EQ(client->heartbeat_period_ms(), 20);
  const auto start = std::chrono::steady_clock::now();
  io.restart();
  io.run_for(std::chrono::milliseconds(400));
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  const double expected = static_cast<double>(elapsed) / 20.0;
  // Generous bounds: this checks the period is honoured, not timing precision.
  EXPECT_GE(g.heartbeats, static_cast<int>(expected * 0.5)) << "elapsed_ms=" << elapsed;
  EXPECT_LE(g.heartbeats, static_cast<int>(expected * 1.5) + 1) << "elapsed_ms=" << elapsed;
  // Every beat sent arrives (the last one may still be in the socket).
  EXPECT_TRUE(run_until(io, [&] { return static_cast<std::uint64_t>(g.heartbeats) == client->heartbeats_sent(); },
                        500));
}

TEST_F(GateClientTest, HeartbeatPeriodFromOptionsWhenGateGivesNone) {
  FakeGate g;
  g.heartbeat_period_ms = 0;
  start_gate(g);
  auto o = client_options();
  o.heartbeat_period_ms = 30;
  start_client(o);
  ASSERT_TRUE(wait_ready());
  EXPECT_EQ(client->heartbeat_period_ms(), 30);
  io.restart();
  io.run_for(std::chrono::milliseconds(300));
  EXPECT_GE(g.heartbeats, 4);
  EXPECT_LE(g.heartbeats, 16);
}

TEST_F(GateClientTest, HeartbeatPeriodClamped) {
  FakeGate g;
  g.heartbeat_period_ms = 1;  // below kHeartbeatPeriodMsMin
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  EXPECT_EQ(client->heartbeat_period_ms(), agent::kHeartbeatPeriodMsMin);
  auto o = client_options();
  o.use_gate_heartbeat_period = false;
  o.heartbeat_period_ms = agent::kHeartbeatPeriodMsMax + 1;
  GateClient c2(io, o, agent_side);
  ASSERT_TRUE(c2.start().ok());
  ASSERT_TRUE(run_until(io, [&] { return c2.state() == GateConnectionState::kReady; }));
  EXPECT_EQ(c2.heartbeat_period_ms(), agent::kHeartbeatPeriodMsMax);
}

TEST_F(GateClientTest, ReconnectAttemptsBackOff) {
  auto o = client_options();
  o.reconnect_delay_ms_initial = 10;
  o.reconnect_delay_ms_max = 80;
  start_client(o);  // no gate at all
  const auto start = std::chrono::steady_clock::now();
  io.restart();
  io.run_for(std::chrono::milliseconds(600));
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  const auto attempts = agent_side.disconnects.size();
  // Delays 5-10, 10-20, 20-40, 40-80, then 40-80 each: 600 ms allows roughly
  // 9 to 16 attempts; far more would mean no backoff, far fewer a stuck loop.
  EXPECT_GE(attempts, 5u) << "elapsed_ms=" << elapsed;
  EXPECT_LE(attempts, 25u) << "elapsed_ms=" << elapsed;
  EXPECT_NE(agent_side.disconnects[0].find("no socket at"), std::string::npos) << agent_side.disconnects[0];
  EXPECT_EQ(client->state(), GateConnectionState::kBackoff);
}

TEST_F(GateClientTest, RefusedHelloReportedAndRetried) {
  FakeGate g;
  g.refuse_reason = "agent not welcome";
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(run_until(io, [&] { return g.sessions.size() >= 2; }));
  EXPECT_EQ(agent_side.connected, 0);
  ASSERT_FALSE(agent_side.disconnects.empty());
  EXPECT_NE(agent_side.disconnects[0].find("agent not welcome"), std::string::npos) << agent_side.disconnects[0];
}

TEST_F(GateClientTest, PushesReachHandler) {
  FakeGate g;
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  std::vector<ta::ipc::Envelope> pushes(6);
  pushes[0].mutable_order_update()->set_order_id("o-1");
  pushes[1].mutable_fill()->set_fill_id("f-1");
  pushes[2].mutable_position_snapshot()->set_ts_ns(1);
  pushes[3].mutable_halt_state_changed()->set_to(ta::ipc::HALT_STATE_HALTED);
  pushes[4].mutable_parameter_change()->set_proposal_id("p-1");
  pushes[5].mutable_proposal_result()->set_proposal_id("p-2");
  for (const auto& p : pushes) EXPECT_EQ(server->broadcast(p), 1u);
  ASSERT_TRUE(run_until(io, [&] { return agent_side.pushes.size() == 6; }));
  const std::vector<std::string> expected = {"order_update",     "fill",           "position_snapshot",
                                             "halt_state_changed", "parameter_change", "proposal_result"};
  EXPECT_EQ(agent_side.pushes, expected);
}

TEST_F(GateClientTest, SendFireAndForget) {
  FakeGate g;
  start_gate(g);
  start_client(client_options());
  ta::ipc::Envelope bar;
  bar.mutable_bar()->set_product("BTC-USD");
  EXPECT_FALSE(client->send(bar).ok()) << "not ready yet";
  ASSERT_TRUE(wait_ready());
  EXPECT_TRUE(client->send(bar).ok());
  ta::ipc::Envelope wrong;
  *wrong.mutable_order_intent() = intent("x");
  EXPECT_FALSE(client->send(wrong).ok()) << "intents go through submit_intent";
  ASSERT_TRUE(run_until(io, [&] { return g.other.size() == 1; }));
  EXPECT_EQ(g.other[0].bar().product(), "BTC-USD");
}

TEST_F(GateClientTest, InvalidOptionsRefused) {
  auto o = client_options();
  o.socket_path.clear();
  EXPECT_FALSE(agent::validate_options(o).ok());
  o = client_options();
  o.reconnect_delay_ms_max = o.reconnect_delay_ms_initial - 1;
  EXPECT_FALSE(agent::validate_options(o).ok());
  o = client_options();
  o.reconnect_delay_ms_max = agent::kReconnectDelayMsCeiling + 1;
  EXPECT_FALSE(agent::validate_options(o).ok());
  o.reconnect_delay_ms_max = agent::kReconnectDelayMsCeiling;
  EXPECT_TRUE(agent::validate_options(o).ok());
  o = client_options();
  o.inflight_max = 0;
  GateClient c(io, o, agent_side);
  EXPECT_FALSE(c.start().ok());
}

// A fake gate driven by hand: accepts, answers the Hello, then misbehaves.
class HandGate {
 public:
  explicit HandGate(const std::string& path) {
    ta::proto::ListenOptions lo;
    lo.path = path;
    auto fd = ta::proto::listen_unix(lo);
    EXPECT_TRUE(fd.ok());
    listener_ = std::move(fd).value();
  }
  // Accepts one connection if one is pending.
  bool accept() {
    const int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return false;
    peers.emplace_back(ta::proto::UniqueFd(fd));
    return true;
  }
  // Reads the Hello of the newest peer and accepts it.
  bool answer_hello(RawPeer& p) {
    ta::ipc::Envelope hello;
    if (!p.poll_message(hello)) return false;
    EXPECT_TRUE(hello.has_hello());
    ta::ipc::Envelope ack;
    ack.set_request_id(hello.request_id());
    ack.mutable_hello_ack()->set_accepted(true);
    ack.mutable_hello_ack()->set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
    ack.mutable_hello_ack()->set_heartbeat_period_ms(20);
    return p.write_message(ack);
  }
  std::vector<RawPeer> peers;

 private:
  ta::proto::UniqueFd listener_;
};

TEST_F(GateClientTest, SilentGateIsDroppedAndRetried) {
  HandGate hand(dir.file("gate.sock"));
  auto o = client_options();
  o.gate_silence_timeout_ms = 60;  // raised to 3 x 20 ms period = 60 ms anyway
  start_client(o);
  ASSERT_TRUE(run_until(io, [&] { return hand.accept(); }));
  // The silence is counted from the last frame the gate sent, its HelloAck:
  // taken before that frame, `start` is never later than the count's start
  // however slowly this test runs.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io, [&] { return hand.answer_hello(hand.peers[0]); }));
  ASSERT_TRUE(wait_ready());
  // The hand gate never echoes heartbeats.
  ASSERT_TRUE(run_until(io, [&] { return client->state() != GateConnectionState::kReady; }, 3000));
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 60);
  ASSERT_FALSE(agent_side.disconnects.empty());
  EXPECT_NE(agent_side.disconnects.back().find("idle_timeout"), std::string::npos) << agent_side.disconnects.back();
  ASSERT_TRUE(run_until(io, [&] { return hand.accept(); })) << "the client reconnects";
}

TEST_F(GateClientTest, WrongDirectionFromGateDropsConnection) {
  HandGate hand(dir.file("gate.sock"));
  start_client(client_options());
  ASSERT_TRUE(run_until(io, [&] { return hand.accept(); }));
  ASSERT_TRUE(run_until(io, [&] { return hand.answer_hello(hand.peers[0]); }));
  ASSERT_TRUE(wait_ready());
  ta::ipc::Envelope bogus;
  *bogus.mutable_order_intent() = intent("from-the-gate");
  ASSERT_TRUE(hand.peers[0].write_message(bogus));
  ASSERT_TRUE(run_until(io, [&] { return client->state() != GateConnectionState::kReady; }));
  ASSERT_FALSE(agent_side.disconnects.empty());
  EXPECT_NE(agent_side.disconnects.back().find("order_intent may not be sent by the gate"), std::string::npos)
      << agent_side.disconnects.back();
  ASSERT_TRUE(run_until(io, [&] { return hand.accept(); })) << "the client reconnects";
}

TEST_F(GateClientTest, HelloAckDeadline) {
  HandGate hand(dir.file("gate.sock"));
  auto o = client_options();
  o.hello_timeout_ms = 50;
  start_client(o);
  ASSERT_TRUE(run_until(io, [&] { return hand.accept(); }));
  // Never answer the Hello.
  ASSERT_TRUE(run_until(io, [&] { return !agent_side.disconnects.empty(); }));
  EXPECT_NE(agent_side.disconnects[0].find("idle_timeout"), std::string::npos) << agent_side.disconnects[0];
}

TEST_F(GateClientTest, DestroyWhileConnectedIsQuiet) {
  FakeGate g;
  start_gate(g);
  start_client(client_options());
  ASSERT_TRUE(wait_ready());
  const auto disconnects = agent_side.disconnects.size();
  client.reset();
  ASSERT_TRUE(run_until(io, [&] { return g.disconnects == 1; }));
  EXPECT_EQ(agent_side.disconnects.size(), disconnects) << "no callback after destruction";
}

}  // namespace
}  // namespace ta
