// IpcServer on real Unix sockets in a temporary directory: handshake, peer
// allow-lists, limits, protocol violations, timers and shutdown. The server
// and the raw test peers share the test thread; run_until drives the
// io_context until the expected event happened.
#include "gate/ipc_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include "ipc_test_support.h"

namespace ta::gate {
namespace {

using ta::proto::CloseReason;
using ta::proto::PeerCredentials;
using ta::test::RawPeer;
using ta::test::run_until;
using ta::test::TempDir;

struct Refused {
  IpcChannel channel;
  PeerCredentials peer;
  PeerRefusal refusal;
  std::string detail;
};

// Records everything; hooks let a test answer.
struct Recorder : IpcHandler {
  std::vector<SessionId> agent_connected;
  std::vector<SessionId> admin_connected;
  std::vector<PeerCredentials> peers;
  std::vector<std::pair<SessionId, ta::ipc::Envelope>> messages;
  std::vector<std::pair<SessionId, SessionClose>> agent_disconnected;
  std::vector<std::pair<SessionId, SessionClose>> admin_disconnected;
  std::vector<ta::ipc::AdminEnvelope> admin_requests;
  std::vector<Refused> refused;
  std::string refuse_hello_reason;  // non-empty: on_agent_connected refuses
  std::function<void(SessionId, const ta::ipc::Envelope&)> on_message;
  std::function<std::optional<ta::ipc::AdminEnvelope>(SessionId, const ta::ipc::AdminEnvelope&)> on_admin;

  void on_agent_connected(SessionId s, const PeerCredentials& peer, const ta::ipc::Hello&,
                          ta::ipc::HelloAck& ack) override {
    agent_connected.push_back(s);
    peers.push_back(peer);
    ack.set_gate_version("test-gate");
    ack.set_mode(ta::ipc::MODE_SIM);
    ack.set_halt_state(ta::ipc::HALT_STATE_ACTIVE);
    ack.set_heartbeat_period_ms(1000);
    ack.set_heartbeat_timeout_ms(5000);
    if (!refuse_hello_reason.empty()) {
      ack.set_accepted(false);
      ack.set_reason(refuse_hello_reason);
    }
  }
  void on_agent_message(SessionId s, const ta::ipc::Envelope& m) override {
    messages.emplace_back(s, m);
    if (on_message) on_message(s, m);
  }
  void on_agent_disconnected(SessionId s, const SessionClose& why) override { agent_disconnected.emplace_back(s, why); }
  void on_admin_connected(SessionId s, const PeerCredentials&, const ta::ipc::Hello&, ta::ipc::HelloAck&) override {
    admin_connected.push_back(s);
  }
  std::optional<ta::ipc::AdminEnvelope> on_admin_request(SessionId s, const ta::ipc::AdminEnvelope& r) override {
    admin_requests.push_back(r);
    if (on_admin) return on_admin(s, r);
    ta::ipc::AdminEnvelope reply;
    reply.mutable_status_reply()->set_ready(true);
    reply.mutable_status_reply()->set_gate_version("test-gate");
    return reply;
  }
  void on_admin_disconnected(SessionId s, const SessionClose& why) override { admin_disconnected.emplace_back(s, why); }
  void on_peer_refused(IpcChannel c, const PeerCredentials& p, PeerRefusal r, const std::string& d) override {
    refused.push_back({c, p, r, d});
  }
};

ta::ipc::Envelope hello_envelope(std::uint32_t version = ta::ipc::PROTOCOL_VERSION_CURRENT) {
  ta::ipc::Envelope env;
  env.set_request_id(1);
  env.mutable_hello()->set_protocol_version(version);
  env.mutable_hello()->set_client_name("test-agent");
  return env;
}

ta::ipc::AdminEnvelope admin_hello() {
  ta::ipc::AdminEnvelope env;
  env.set_request_id(1);
  env.mutable_hello()->set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
  env.mutable_hello()->set_client_name("test-admin");
  return env;
}

class IpcServerTest : public ::testing::Test {
 protected:
  IpcServerOptions options() {
    IpcServerOptions o;
    o.agent.socket_path = dir.file("gate.sock");
    o.admin.socket_path = dir.file("admin.sock");
    o.agent.allow.uids = {::getuid()};
    o.admin.allow.uids = {::getuid()};
    o.agent.hello_timeout_ms = 2000;
    o.admin.hello_timeout_ms = 2000;
    return o;
  }

  void start(const IpcServerOptions& o) {
    server = std::make_unique<IpcServer>(io, o, rec);
    auto st = server->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  // Connects to gate.sock and completes the handshake.
  RawPeer agent() {
    RawPeer p = RawPeer::connect(dir.file("gate.sock"));
    EXPECT_TRUE(p.valid());
    EXPECT_TRUE(p.write_message(hello_envelope()));
    ta::ipc::Envelope ack;
    EXPECT_TRUE(run_until(io, [&] { return p.poll_message(ack); }));
    EXPECT_TRUE(ack.hello_ack().accepted()) << ack.DebugString();
    return p;
  }

  RawPeer admin() {
    RawPeer p = RawPeer::connect(dir.file("admin.sock"));
    EXPECT_TRUE(p.valid());
    EXPECT_TRUE(p.write_message(admin_hello()));
    ta::ipc::AdminEnvelope ack;
    EXPECT_TRUE(run_until(io, [&] { return p.poll_message(ack); }));
    EXPECT_TRUE(ack.hello_ack().accepted()) << ack.DebugString();
    return p;
  }

  // Expects a ProtocolError containing `text`, then the connection closing.
  template <class Envelope>
  void expect_refused(RawPeer& p, const std::string& text) {
    Envelope err;
    ASSERT_TRUE(run_until(io, [&] { return p.poll_message(err); })) << "no ProtocolError for: " << text;
    ASSERT_TRUE(err.has_protocol_error()) << err.DebugString();
    EXPECT_NE(err.protocol_error().message().find(text), std::string::npos) << err.protocol_error().message();
    EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
  }

  // The server still serves a fresh agent and the session count returns to
  // `expected_agents` once closed sessions are gone.
  void expect_still_serving() {
    RawPeer p = agent();
    ta::ipc::Envelope hb;
    hb.set_request_id(9);
    hb.mutable_heartbeat()->set_sequence(1);
    ASSERT_TRUE(p.write_message(hb));
    ta::ipc::Envelope echo;
    ASSERT_TRUE(run_until(io, [&] { return p.poll_message(echo); }));
    EXPECT_EQ(echo.heartbeat().sequence(), 1u);
  }

  TempDir dir;
  boost::asio::io_context io;
  Recorder rec;
  std::unique_ptr<IpcServer> server;
};

TEST_F(IpcServerTest, HandshakeAccepted) {
  start(options());
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(p.write_message(hello_envelope()));
  ta::ipc::Envelope ack;
  ASSERT_TRUE(run_until(io, [&] { return p.poll_message(ack); }));
  ASSERT_TRUE(ack.has_hello_ack());
  EXPECT_EQ(ack.request_id(), 1u);
  EXPECT_TRUE(ack.hello_ack().accepted());
  EXPECT_EQ(ack.hello_ack().protocol_version(), static_cast<std::uint32_t>(ta::ipc::PROTOCOL_VERSION_CURRENT));
  EXPECT_EQ(ack.hello_ack().gate_version(), "test-gate");
  EXPECT_EQ(ack.hello_ack().mode(), ta::ipc::MODE_SIM);
  ASSERT_EQ(rec.agent_connected.size(), 1u);
  EXPECT_EQ(ack.hello_ack().session_id(), rec.agent_connected[0]);
  EXPECT_EQ(rec.peers[0].uid, ::getuid());
  EXPECT_EQ(rec.peers[0].pid, ::getpid());
  EXPECT_EQ(server->agent_sessions(), std::vector<SessionId>{rec.agent_connected[0]});
  ASSERT_TRUE(server->peer(rec.agent_connected[0]).has_value());

  p.close();
  ASSERT_TRUE(run_until(io, [&] { return rec.agent_disconnected.size() == 1; }));
  EXPECT_EQ(rec.agent_disconnected[0].second.reason, CloseReason::kPeerClosed);
  EXPECT_EQ(server->session_count(IpcChannel::kAgent), 0u);
}

TEST_F(IpcServerTest, SocketFilesHaveConfiguredMode) {
  auto o = options();
  o.admin.socket_mode = 0600;
  start(o);
  struct stat st {};
  ASSERT_EQ(::stat(o.agent.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(::stat(o.admin.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(IpcServerTest, VersionMismatchRefusedWithClearMessage) {
  start(options());
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(p.write_message(hello_envelope(7)));
  ta::ipc::Envelope ack;
  ASSERT_TRUE(run_until(io, [&] { return p.poll_message(ack); }));
  ASSERT_TRUE(ack.has_hello_ack());
  EXPECT_FALSE(ack.hello_ack().accepted());
  EXPECT_EQ(ack.hello_ack().reason(), "protocol version 7 not supported; gate speaks 2");
  EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
  EXPECT_TRUE(rec.agent_connected.empty());
  ta::test::run_for_ms(io, 10);
  EXPECT_TRUE(rec.agent_disconnected.empty()) << "never connected, so never disconnected";
  expect_still_serving();
}

TEST_F(IpcServerTest, PushesFromConnectHandlerFollowTheHelloAck) {
  struct Pusher : Recorder {
    IpcServer* server = nullptr;
    void on_agent_connected(SessionId s, const PeerCredentials& p, const ta::ipc::Hello& h,
                            ta::ipc::HelloAck& ack) override {
      Recorder::on_agent_connected(s, p, h, ack);
      ta::ipc::Envelope snap;
      snap.mutable_position_snapshot()->set_ts_ns(42);
      EXPECT_TRUE(server->send(s, snap).ok());
    }
  };
  Pusher pusher;
  server = std::make_unique<IpcServer>(io, options(), pusher);
  pusher.server = server.get();
  ASSERT_TRUE(server->start().ok());
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(p.write_message(hello_envelope()));
  std::vector<ta::ipc::Envelope> got;
  ASSERT_TRUE(run_until(io, [&] {
    ta::ipc::Envelope e;
    while (p.poll_message(e)) got.push_back(e);
    return got.size() == 2;
  }));
  EXPECT_TRUE(got[0].hello_ack().accepted()) << "the HelloAck comes first";
  EXPECT_EQ(got[1].position_snapshot().ts_ns(), 42);

  // A refused session gets the refusal and nothing held.
  pusher.refuse_hello_reason = "no";
  RawPeer q = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(q.write_message(hello_envelope()));
  ta::ipc::Envelope ack;
  ASSERT_TRUE(run_until(io, [&] { return q.poll_message(ack); }));
  EXPECT_FALSE(ack.hello_ack().accepted());
  EXPECT_TRUE(run_until(io, [&] { return q.poll_closed(); }));
  ta::ipc::Envelope extra;
  EXPECT_FALSE(q.poll_message(extra));
}

TEST_F(IpcServerTest, ApplicationMayRefuseHello) {
  start(options());
  rec.refuse_hello_reason = "gate not configured for this agent";
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(p.write_message(hello_envelope()));
  ta::ipc::Envelope ack;
  ASSERT_TRUE(run_until(io, [&] { return p.poll_message(ack); }));
  EXPECT_FALSE(ack.hello_ack().accepted());
  EXPECT_EQ(ack.hello_ack().reason(), "gate not configured for this agent");
  EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
  EXPECT_TRUE(rec.agent_disconnected.empty());
}

TEST_F(IpcServerTest, PeerNotInAllowListIsRefusedAndReported) {
  auto o = options();
  // Exclude this process: another uid, and gids it is not a member of.
  const std::uint32_t other = ::getuid() + 4242;
  o.agent.allow.uids = {other};
  o.agent.allow.gids = {other};
  start(o);
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(p.valid());
  (void)p.write_message(hello_envelope());
  ASSERT_TRUE(run_until(io, [&] { return rec.refused.size() == 1; }));
  EXPECT_EQ(rec.refused[0].channel, IpcChannel::kAgent);
  EXPECT_EQ(rec.refused[0].refusal, PeerRefusal::kNotAllowed);
  EXPECT_EQ(rec.refused[0].peer.uid, ::getuid());
  EXPECT_EQ(rec.refused[0].peer.pid, ::getpid());
  EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
  std::string payload;
  EXPECT_FALSE(p.poll_frame(payload)) << "a refused peer learns nothing";
  EXPECT_TRUE(rec.agent_connected.empty());
  EXPECT_EQ(server->session_count(IpcChannel::kAgent), 0u);
}

TEST_F(IpcServerTest, AllowListByUidOrByGid) {
  {
    auto o = options();
    o.agent.allow.uids = {::getuid()};
    o.agent.allow.gids = {};
    start(o);
    agent();
    EXPECT_TRUE(rec.refused.empty());
    server.reset();
  }
  {
    auto o = options();
    o.agent.allow.uids = {};
    o.agent.allow.gids = {::getgid()};
    start(o);
    agent();
    EXPECT_TRUE(rec.refused.empty());
    server.reset();
  }
  {
    auto o = options();
    o.agent.allow = {};  // deny by default
    start(o);
    RawPeer p = RawPeer::connect(dir.file("gate.sock"));
    ASSERT_TRUE(run_until(io, [&] { return rec.refused.size() == 1; }));
    EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
  }
}

TEST_F(IpcServerTest, AdminAllowListIsSeparate) {
  auto o = options();
  o.admin.allow.uids = {::getuid() + 1};
  start(o);
  agent();
  RawPeer p = RawPeer::connect(dir.file("admin.sock"));
  ASSERT_TRUE(run_until(io, [&] { return rec.refused.size() == 1; }));
  EXPECT_EQ(rec.refused[0].channel, IpcChannel::kAdmin);
  EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
}

TEST_F(IpcServerTest, GarbageFrameClosesOnlyThatConnection) {
  start(options());
  RawPeer good = agent();
  RawPeer bad = agent();
  ASSERT_TRUE(bad.write_bytes(std::string("\x03\x00\x00\x00\x62\x7f\x01", 7)));
  expect_refused<ta::ipc::Envelope>(bad, "undecodable Envelope");
  ASSERT_TRUE(run_until(io, [&] { return rec.agent_disconnected.size() == 1; }));
  EXPECT_EQ(rec.agent_disconnected[0].second.reason, CloseReason::kProtocolViolation);
  // The good session is untouched.
  ta::ipc::Envelope push;
  push.mutable_halt_state_changed()->set_to(ta::ipc::HALT_STATE_HALTED);
  EXPECT_EQ(server->broadcast(push), 1u);
  ta::ipc::Envelope got;
  ASSERT_TRUE(run_until(io, [&] { return good.poll_message(got); }));
  EXPECT_EQ(got.halt_state_changed().to(), ta::ipc::HALT_STATE_HALTED);
  expect_still_serving();
}

TEST_F(IpcServerTest, FrameSizeMaxAtBelowAndAbove) {
  auto o = options();
  o.agent.limits.frame_size_max = 1024;
  start(o);
  auto hello_of_size = [](std::size_t size) {
    ta::ipc::Envelope env = hello_envelope();
    std::string name;
    while (env.ByteSizeLong() < size) {
      name.push_back('n');
      env.mutable_hello()->set_client_name(name);
    }
    EXPECT_EQ(env.ByteSizeLong(), size);
    return env;
  };
  for (std::size_t size : {1023u, 1024u}) {
    RawPeer p = RawPeer::connect(dir.file("gate.sock"));
    ASSERT_TRUE(p.write_message(hello_of_size(size)));
    ta::ipc::Envelope ack;
    ASSERT_TRUE(run_until(io, [&] { return p.poll_message(ack); })) << size;
    EXPECT_TRUE(ack.hello_ack().accepted()) << size;
  }
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(p.write_message(hello_of_size(1025)));
  expect_refused<ta::ipc::Envelope>(p, "over frame_size_max 1024");
  // Refused from the header alone: a header declaring 1 GiB is just as fast.
  RawPeer huge = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(huge.write_bytes(std::string("\x00\x00\x00\x40", 4)));
  expect_refused<ta::ipc::Envelope>(huge, "1073741824");
  expect_still_serving();
}

TEST_F(IpcServerTest, TruncatedFrameThenCloseIsHandled) {
  start(options());
  RawPeer p = agent();
  std::string frame;
  ta::ipc::Envelope hb;
  hb.mutable_heartbeat()->set_sequence(5);
  ASSERT_TRUE(ta::proto::encode_frame(hb, frame).ok());
  ASSERT_TRUE(p.write_bytes(frame.substr(0, frame.size() - 2)));
  p.close();
  ASSERT_TRUE(run_until(io, [&] { return rec.agent_disconnected.size() == 1; }));
  EXPECT_EQ(rec.agent_disconnected[0].second.reason, CloseReason::kTruncatedFrame);
  EXPECT_TRUE(rec.messages.empty());
  expect_still_serving();
}

TEST_F(IpcServerTest, UnknownAndEmptyMessagesRefused) {
  start(options());
  RawPeer unknown = agent();
  ASSERT_TRUE(unknown.write_bytes(std::string("\x03\x00\x00\x00\x98\x06\x01", 7)));  // field 99
  expect_refused<ta::ipc::Envelope>(unknown, "field(s) 99 unknown to protocol version 2");
  RawPeer empty = agent();
  ta::ipc::Envelope nothing;
  nothing.set_request_id(3);
  ASSERT_TRUE(empty.write_message(nothing));
  expect_refused<ta::ipc::Envelope>(empty, "no body");
  EXPECT_TRUE(rec.messages.empty());
  expect_still_serving();
}

TEST_F(IpcServerTest, WrongDirectionMessagesRefused) {
  start(options());
  {
    RawPeer p = agent();
    ta::ipc::Envelope decision;
    decision.set_request_id(4);
    decision.mutable_decision()->set_intent_id("i-1");
    decision.mutable_decision()->set_accepted(true);
    ASSERT_TRUE(p.write_message(decision));
    ta::ipc::Envelope err;
    ASSERT_TRUE(run_until(io, [&] { return p.poll_message(err); }));
    EXPECT_EQ(err.request_id(), 4u) << "the error names the offending request";
    EXPECT_EQ(err.protocol_error().message(), "decision may not be sent by the agent");
    EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); }));
  }
  for (int which = 0; which < 3; ++which) {
    // Admin requests on gate.sock after a good handshake.
    RawPeer p = agent();
    ta::ipc::AdminEnvelope req;
    switch (which) {
      case 0:
        req.mutable_kill_request()->set_flatten(true);
        req.mutable_kill_request()->set_reason("stop");
        break;
      case 1:
        req.mutable_orders_request()->set_include_closed(true);
        break;
      case 2:
        req.mutable_proposal_decision_request()->set_proposal_id("p-1");
        req.mutable_proposal_decision_request()->set_approve(true);
        break;
    }
    ASSERT_TRUE(p.write_message(req));
    ta::ipc::Envelope err;
    ASSERT_TRUE(run_until(io, [&] { return p.poll_message(err); })) << which;
    EXPECT_TRUE(err.has_protocol_error()) << which;
    EXPECT_TRUE(run_until(io, [&] { return p.poll_closed(); })) << which;
  }
  EXPECT_TRUE(rec.messages.empty()) << "nothing reached the gate core";
  expect_still_serving();
}

TEST_F(IpcServerTest, CrossSocketHandshakesRefused) {
  start(options());
  // An admin client's Hello on gate.sock.
  RawPeer a = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(a.write_message(admin_hello()));
  expect_refused<ta::ipc::Envelope>(a, "field(s) 28 unknown");
  // An agent's Hello on admin.sock.
  RawPeer b = RawPeer::connect(dir.file("admin.sock"));
  ASSERT_TRUE(b.write_message(hello_envelope()));
  ta::ipc::AdminEnvelope err;
  ASSERT_TRUE(run_until(io, [&] { return b.poll_message(err); }));
  EXPECT_TRUE(err.has_protocol_error());
  EXPECT_TRUE(run_until(io, [&] { return b.poll_closed(); }));
  // An agent message on admin.sock after a good admin handshake.
  RawPeer c = admin();
  ta::ipc::Envelope intent;
  intent.mutable_order_intent()->set_intent_id("i-1");
  intent.mutable_order_intent()->set_quantity("1");
  ASSERT_TRUE(c.write_message(intent));
  expect_refused<ta::ipc::AdminEnvelope>(c, "unknown to protocol version");
  EXPECT_TRUE(rec.admin_requests.empty());
  EXPECT_TRUE(rec.agent_connected.empty());
}

TEST_F(IpcServerTest, FirstFrameMustBeHelloAndOnlyOnce) {
  start(options());
  RawPeer p = RawPeer::connect(dir.file("gate.sock"));
  ta::ipc::Envelope hb;
  hb.mutable_heartbeat()->set_sequence(1);
  ASSERT_TRUE(p.write_message(hb));
  expect_refused<ta::ipc::Envelope>(p, "first frame must be hello, got heartbeat");
  RawPeer twice = agent();
  ASSERT_TRUE(twice.write_message(hello_envelope()));
  expect_refused<ta::ipc::Envelope>(twice, "hello after the handshake");
}

TEST_F(IpcServerTest, SilentPeerClosedAtHelloDeadlineThenIdleDeadline) {
  auto o = options();
  o.agent.hello_timeout_ms = 60;
  o.agent.limits.read_idle_timeout_ms = 120;
  start(o);
  RawPeer silent = RawPeer::connect(dir.file("gate.sock"));
  ASSERT_TRUE(run_until(io, [&] { return silent.poll_closed(); }, 2000));
  EXPECT_TRUE(rec.agent_connected.empty());

  RawPeer idle = agent();
  const auto start_time = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(io, [&] { return rec.agent_disconnected.size() == 1; }, 3000));
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_time).count();
  EXPECT_EQ(rec.agent_disconnected[0].second.reason, CloseReason::kIdleTimeout);
  EXPECT_GE(waited, 100) << "the idle deadline, not the hello deadline, applies after the handshake";
  EXPECT_TRUE(run_until(io, [&] { return idle.poll_closed(); }));
}

TEST_F(IpcServerTest, ConnectionsMaxAtAndAbove) {
  auto o = options();
  o.agent.connections_max = 2;
  start(o);
  RawPeer a = agent();
  RawPeer b = agent();  // at the limit
  EXPECT_EQ(server->session_count(IpcChannel::kAgent), 2u);
  RawPeer c = RawPeer::connect(dir.file("gate.sock"));  // one above
  ASSERT_TRUE(run_until(io, [&] { return rec.refused.size() == 1; }));
  EXPECT_EQ(rec.refused[0].refusal, PeerRefusal::kTooManyConnections);
  expect_refused<ta::ipc::Envelope>(c, "too many connections on the agent socket (connections_max 2)");
  // The admin socket has its own count.
  admin();
  // A slot frees up when a session ends.
  a.close();
  ASSERT_TRUE(run_until(io, [&] { return server->session_count(IpcChannel::kAgent) == 1; }));
  agent();
}

TEST_F(IpcServerTest, OutboundQueueFullClosesThatSession) {
  auto o = options();
  o.agent.limits.outbound_queue_max = 16;
  start(o);
  RawPeer slow = agent();  // never reads
  RawPeer other = agent();
  const SessionId slow_id = rec.agent_connected[0];
  ta::ipc::Envelope big;
  big.mutable_order_update()->set_detail(std::string(60000, 'u'));
  int accepted = 0;
  ta::Status last;
  for (int i = 0; i < 100 && last.ok(); ++i) {
    last = server->send(slow_id, big);
    if (last.ok()) ++accepted;
  }
  ASSERT_FALSE(last.ok());
  EXPECT_NE(last.error().message.find("outbound queue full"), std::string::npos) << last.error().message;
  EXPECT_GE(accepted, 16);
  ASSERT_TRUE(run_until(io, [&] { return rec.agent_disconnected.size() == 1; }));
  EXPECT_EQ(rec.agent_disconnected[0].first, slow_id);
  EXPECT_EQ(rec.agent_disconnected[0].second.reason, CloseReason::kOutboundQueueFull);
  EXPECT_FALSE(server->send(slow_id, big).ok()) << "session gone";
  // The other session is served.
  ta::ipc::Envelope small;
  small.mutable_fill()->set_fill_id("f-1");
  ASSERT_TRUE(server->send(rec.agent_connected[1], small).ok());
  ta::ipc::Envelope got;
  ASSERT_TRUE(run_until(io, [&] { return other.poll_message(got); }));
  EXPECT_EQ(got.fill().fill_id(), "f-1");
}

TEST_F(IpcServerTest, SendChecksSessionAndDirection) {
  start(options());
  RawPeer a = agent();
  RawPeer adm = admin();
  const SessionId agent_id = rec.agent_connected[0];
  const SessionId admin_id = rec.admin_connected[0];
  ta::ipc::Envelope intent;
  intent.mutable_order_intent()->set_intent_id("x");
  EXPECT_FALSE(server->send(agent_id, intent).ok()) << "the gate does not send intents";
  ta::ipc::Envelope fill;
  fill.mutable_fill()->set_fill_id("f");
  EXPECT_FALSE(server->send(admin_id, fill).ok()) << "not an agent session";
  EXPECT_FALSE(server->send(999, fill).ok());
  ta::ipc::AdminEnvelope kill;
  kill.mutable_kill_request();
  EXPECT_FALSE(server->send_admin(admin_id, kill).ok()) << "requests go the other way";
  ta::ipc::AdminEnvelope action;
  action.mutable_action_reply()->set_ok(true);
  EXPECT_FALSE(server->send_admin(agent_id, action).ok());
  EXPECT_TRUE(server->send_admin(admin_id, action).ok());
  ta::ipc::Envelope decision_to_broadcast;
  decision_to_broadcast.mutable_hello();
  EXPECT_EQ(server->broadcast(decision_to_broadcast), 0u);
}

TEST_F(IpcServerTest, AgentMessagesReachHandlerAndHeartbeatsAreEchoed) {
  start(options());
  RawPeer p = agent();
  rec.on_message = [&](SessionId s, const ta::ipc::Envelope& m) {
    if (m.has_order_intent()) {
      ta::ipc::Envelope reply;
      reply.set_request_id(m.request_id());
      reply.mutable_decision()->set_intent_id(m.order_intent().intent_id());
      reply.mutable_decision()->set_accepted(true);
      ASSERT_TRUE(server->send(s, reply).ok());
    }
  };
  ta::ipc::Envelope intent;
  intent.set_request_id(11);
  intent.mutable_order_intent()->set_intent_id("mr-1");
  ASSERT_TRUE(p.write_message(intent));
  ta::ipc::Envelope hb;
  hb.set_request_id(12);
  hb.mutable_heartbeat()->set_sequence(77);
  hb.mutable_heartbeat()->set_ts_ns(123);
  ASSERT_TRUE(p.write_message(hb));
  std::vector<ta::ipc::Envelope> got;
  ASSERT_TRUE(run_until(io, [&] {
    ta::ipc::Envelope e;
    while (p.poll_message(e)) got.push_back(e);
    return got.size() == 2;
  }));
  EXPECT_EQ(got[0].decision().intent_id(), "mr-1");
  EXPECT_EQ(got[0].request_id(), 11u);
  EXPECT_EQ(got[1].heartbeat().sequence(), 77u);
  EXPECT_EQ(got[1].heartbeat().ts_ns(), 123);
  EXPECT_EQ(got[1].request_id(), 12u);
  ASSERT_EQ(rec.messages.size(), 2u);
  EXPECT_TRUE(rec.messages[1].second.has_heartbeat()) << "the gate core sees heartbeats (dead-man's switch)";
}

TEST_F(IpcServerTest, AdminRequestRepliedNowOrLater) {
  start(options());
  RawPeer p = admin();
  ta::ipc::AdminEnvelope status;
  status.set_request_id(5);
  status.mutable_status_request();
  ASSERT_TRUE(p.write_message(status));
  ta::ipc::AdminEnvelope reply;
  ASSERT_TRUE(run_until(io, [&] { return p.poll_message(reply); }));
  EXPECT_EQ(reply.request_id(), 5u);
  EXPECT_TRUE(reply.status_reply().ready());

  SessionId pending = 0;
  rec.on_admin = [&](SessionId s, const ta::ipc::AdminEnvelope&) -> std::optional<ta::ipc::AdminEnvelope> {
    pending = s;
    return std::nullopt;
  };
  ta::ipc::AdminEnvelope reload;
  reload.set_request_id(6);
  reload.mutable_rules_reload_request();
  ASSERT_TRUE(p.write_message(reload));
  ASSERT_TRUE(run_until(io, [&] { return pending != 0; }));
  ta::ipc::AdminEnvelope later;
  later.set_request_id(6);
  later.mutable_rules_reload_reply()->set_ok(true);
  later.mutable_rules_reload_reply()->set_rule_count(3);
  ASSERT_TRUE(server->send_admin(pending, later).ok());
  ASSERT_TRUE(run_until(io, [&] { return p.poll_message(reply); }));
  EXPECT_EQ(reply.request_id(), 6u);
  EXPECT_EQ(reply.rules_reload_reply().rule_count(), 3u);

  // A reply the gate may not send is not sent (and logged as a bug).
  rec.on_admin = [&](SessionId, const ta::ipc::AdminEnvelope&) -> std::optional<ta::ipc::AdminEnvelope> {
    ta::ipc::AdminEnvelope wrong;
    wrong.mutable_kill_request();
    return wrong;
  };
  ta::ipc::AdminEnvelope status2 = status;
  status2.set_request_id(7);
  ASSERT_TRUE(p.write_message(status2));
  ta::test::run_for_ms(io, 30);
  EXPECT_FALSE(p.poll_message(reply));
}

TEST_F(IpcServerTest, StaleSocketRemovedRegularFileRefused) {
  auto o = options();
  {
    ta::proto::ListenOptions lo;
    lo.path = o.agent.socket_path;
    ASSERT_TRUE(ta::proto::listen_unix(lo).ok());  // closed at once: stale
  }
  { std::ofstream(o.admin.socket_path) << "not a socket"; }
  server = std::make_unique<IpcServer>(io, o, rec);
  auto st = server->start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(o.admin.socket_path + " exists and is a regular file"), std::string::npos)
      << st.error().message;
  EXPECT_TRUE(std::filesystem::is_regular_file(o.admin.socket_path));
  EXPECT_FALSE(std::filesystem::exists(o.agent.socket_path)) << "no half-started server left behind";
  server.reset();
  std::filesystem::remove(o.admin.socket_path);
  start(o);
  agent();
}

TEST_F(IpcServerTest, SecondServerOnSamePathsRefused) {
  start(options());
  Recorder other;
  IpcServer second(io, options(), other);
  auto st = second.start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("another server is already listening"), std::string::npos);
  expect_still_serving();
}

TEST_F(IpcServerTest, InvalidOptionsRefused) {
  auto o = options();
  o.admin.socket_path = o.agent.socket_path;
  EXPECT_FALSE(validate_options(o).ok());
  o = options();
  o.agent.connections_max = 0;
  EXPECT_FALSE(validate_options(o).ok());
  o = options();
  o.admin.limits.outbound_queue_max = 0;
  EXPECT_FALSE(validate_options(o).ok());
  o = options();
  o.agent.hello_timeout_ms = 0;
  IpcServer s(io, o, rec);
  EXPECT_FALSE(s.start().ok());
}

TEST_F(IpcServerTest, ScheduledTimersFireAndCancel) {
  start(options());
  int fired = 0;
  auto a = server->schedule_after(10, [&] { ++fired; });
  auto b = server->schedule_after(10, [&] { fired += 100; });
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(server->cancel_timer(*b));
  EXPECT_FALSE(server->cancel_timer(*b));
  ASSERT_TRUE(run_until(io, [&] { return fired > 0; }));
  ta::test::run_for_ms(io, 30);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(server->schedule_after(-1, [] {}).ok());
}

TEST_F(IpcServerTest, ScheduledTimersMaxAtAndAbove) {
  start(options());
  std::vector<std::uint64_t> ids;
  for (std::size_t i = 0; i < kScheduledTimersMax; ++i) {
    auto id = server->schedule_after(60'000, [] {});
    ASSERT_TRUE(id.ok()) << i;
    ids.push_back(*id);
  }
  EXPECT_FALSE(server->schedule_after(60'000, [] {}).ok());
  EXPECT_TRUE(server->cancel_timer(ids.back()));
  EXPECT_TRUE(server->schedule_after(60'000, [] {}).ok());
}

TEST_F(IpcServerTest, GracefulShutdown) {
  auto o = options();
  start(o);
  RawPeer a = agent();
  RawPeer b = admin();
  bool timer_fired = false;
  ASSERT_TRUE(server->schedule_after(20, [&] { timer_fired = true; }).ok());
  bool done = false;
  std::size_t disconnects_before_done = 0;
  server->shutdown(500, [&] {
    done = true;
    disconnects_before_done = rec.agent_disconnected.size() + rec.admin_disconnected.size();
  });
  EXPECT_FALSE(std::filesystem::exists(o.agent.socket_path));
  EXPECT_FALSE(std::filesystem::exists(o.admin.socket_path));
  ASSERT_TRUE(run_until(io, [&] { return done; }));
  EXPECT_EQ(disconnects_before_done, 2u);
  EXPECT_EQ(rec.agent_disconnected[0].second.reason, CloseReason::kShutdown);
  ta::ipc::Envelope err;
  ASSERT_TRUE(run_until(io, [&] { return a.poll_message(err); }));
  EXPECT_EQ(err.protocol_error().message(), "gate shutting down");
  EXPECT_TRUE(run_until(io, [&] { return a.poll_closed() && b.poll_closed(); }));
  ta::test::run_for_ms(io, 40);
  EXPECT_FALSE(timer_fired) << "shutdown cancels scheduled timers";
  EXPECT_FALSE(server->schedule_after(1, [] {}).ok());
  bool done_again = false;
  server->shutdown(10, [&] { done_again = true; });
  EXPECT_TRUE(run_until(io, [&] { return done_again; }, 500));
}

TEST_F(IpcServerTest, ShutdownForcesSessionsThatDoNotDrain) {
  auto o = options();
  o.agent.limits.close_flush_timeout_ms = 10'000;  // the grace period must cut it short
  o.agent.limits.write_timeout_ms = 10'000;
  start(o);
  RawPeer slow = agent();  // never reads
  ta::ipc::Envelope big;
  big.mutable_order_update()->set_detail(std::string(60000, 'u'));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(server->send(rec.agent_connected[0], big).ok());
  bool done = false;
  const auto start_time = std::chrono::steady_clock::now();
  server->shutdown(80, [&] { done = true; });
  ASSERT_TRUE(run_until(io, [&] { return done; }, 3000));
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_time).count();
  EXPECT_GE(waited, 70);
  EXPECT_LT(waited, 2000);
  EXPECT_EQ(rec.agent_disconnected.size(), 1u);
}

// Random junk from many peers never takes the server down; a good client is
// served afterwards.
TEST_F(IpcServerTest, RandomJunkNeverCrashes) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  auto o = options();
  o.agent.connections_max = 64;
  o.agent.limits.frame_size_max = 4096;
  start(o);
  std::vector<RawPeer> peers;
  for (int i = 0; i < 40; ++i) {
    RawPeer p = (i % 2 == 0) ? agent() : RawPeer::connect(dir.file("gate.sock"));
    std::string junk(rng() % 300, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (rng() % 3 == 0 && junk.size() >= 4) junk[3] = 0;  // plausible length headers
    (void)p.write_bytes(junk);
    if (rng() % 2 == 0) p.close();
    peers.push_back(std::move(p));
    ta::test::run_for_ms(io, 1);
  }
  peers.clear();
  ASSERT_TRUE(run_until(io, [&] { return server->session_count(IpcChannel::kAgent) == 0; }, 5000))
      << "seed=" << seed << " sessions=" << server->session_count(IpcChannel::kAgent);
  expect_still_serving();
}

}  // namespace
}  // namespace ta::gate
