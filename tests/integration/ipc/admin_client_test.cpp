// AdminClient (blocking) against a real IpcServer running on its own thread,
// and against sockets that misbehave: missing, stale, silent.
#include "gate/admin_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "gate/ipc_server.h"
#include "ipc_test_support.h"

namespace ta::gate {
namespace {

using ta::test::TempDir;

// Answers StatusRequest at once; never answers ResumeRequest.
struct AdminHandler : IpcHandler {
  std::atomic<int> requests{0};
  void on_agent_connected(SessionId, const ta::proto::PeerCredentials&, const ta::ipc::Hello&,
                          ta::ipc::HelloAck&) override {}
  void on_agent_message(SessionId, const ta::ipc::Envelope&) override {}
  void on_agent_disconnected(SessionId, const SessionClose&) override {}
  void on_admin_connected(SessionId, const ta::proto::PeerCredentials&, const ta::ipc::Hello&,
                          ta::ipc::HelloAck& ack) override {
    ack.set_gate_version("test-gate");
    ack.set_halt_state(ta::ipc::HALT_STATE_ACTIVE);
  }
  std::optional<ta::ipc::AdminEnvelope> on_admin_request(SessionId, const ta::ipc::AdminEnvelope& r) override {
    ++requests;
    if (r.has_resume_request()) return std::nullopt;
    ta::ipc::AdminEnvelope reply;
    reply.mutable_status_reply()->set_ready(true);
    reply.mutable_status_reply()->set_open_orders(static_cast<std::uint32_t>(requests.load()));
    return reply;
  }
  void on_peer_refused(IpcChannel, const ta::proto::PeerCredentials&, PeerRefusal, const std::string&) override {}
};

class AdminClientTest : public ::testing::Test {
 protected:
  void start_server(bool allow_me = true) {
    IpcServerOptions o;
    o.agent.socket_path = dir.file("gate.sock");
    o.admin.socket_path = dir.file("admin.sock");
    o.agent.allow.uids = {::getuid()};
    o.admin.allow.uids = {allow_me ? ::getuid() : ::getuid() + 1};
    server = std::make_unique<IpcServer>(io, o, handler);
    auto st = server->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
    thread = std::thread([this] { io.run(); });
  }

  void TearDown() override {
    io.stop();
    if (thread.joinable()) thread.join();
    server.reset();
  }

  AdminClientOptions client_options(std::int64_t timeout_ms = 2000) {
    AdminClientOptions o;
    o.socket_path = dir.file("admin.sock");
    o.timeout_ms = timeout_ms;
    return o;
  }

  static ta::ipc::AdminEnvelope status() {
    ta::ipc::AdminEnvelope e;
    e.mutable_status_request();
    return e;
  }

  TempDir dir;
  boost::asio::io_context io;
  AdminHandler handler;
  std::unique_ptr<IpcServer> server;
  std::thread thread;
};

TEST_F(AdminClientTest, OneShotRequest) {
  start_server();
  auto reply = admin_request(client_options(), status());
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_TRUE(reply->status_reply().ready());
  EXPECT_EQ(reply->request_id(), 2u) << "1 is the hello";
}

TEST_F(AdminClientTest, SeveralRequestsOnOneConnection) {
  start_server();
  auto client = AdminClient::connect(client_options());
  ASSERT_TRUE(client.ok()) << client.error().message;
  EXPECT_TRUE(client->hello_ack().accepted());
  EXPECT_EQ(client->hello_ack().gate_version(), "test-gate");
  EXPECT_NE(client->hello_ack().session_id(), 0u);
  for (std::uint32_t i = 1; i <= 3; ++i) {
    auto reply = client.value().request(status());
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    EXPECT_EQ(reply->status_reply().open_orders(), i);
  }
}

TEST_F(AdminClientTest, MissingSocket) {
  auto reply = admin_request(client_options(), status());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("no socket at " + dir.file("admin.sock")), std::string::npos)
      << reply.error().message;
}

TEST_F(AdminClientTest, StaleSocketIsConnectionRefused) {
  {
    ta::proto::ListenOptions lo;
    lo.path = dir.file("admin.sock");
    ASSERT_TRUE(ta::proto::listen_unix(lo).ok());
  }
  auto reply = admin_request(client_options(), status());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("connection refused"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("not running"), std::string::npos) << reply.error().message;
}

TEST_F(AdminClientTest, RequestTimesOut) {
  start_server();
  auto client = AdminClient::connect(client_options(100));
  ASSERT_TRUE(client.ok()) << client.error().message;
  ta::ipc::AdminEnvelope resume;
  resume.mutable_resume_request()->set_reason("test");
  const auto start = std::chrono::steady_clock::now();
  auto reply = client.value().request(resume);
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("no answer to the request"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("within 100 ms"), std::string::npos) << reply.error().message;
  EXPECT_GE(waited, 90);
  EXPECT_LT(waited, 5000);
  // After a timeout the stream position is unknown: the client refuses.
  EXPECT_FALSE(client.value().request(status()).ok());
}

TEST_F(AdminClientTest, SilentServerTimesOutOnHello) {
  // Listening, never accepting: connect succeeds (backlog), nobody answers.
  ta::proto::ListenOptions lo;
  lo.path = dir.file("admin.sock");
  auto listener = ta::proto::listen_unix(lo);
  ASSERT_TRUE(listener.ok());
  auto reply = admin_request(client_options(80), status());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("no answer to the hello"), std::string::npos) << reply.error().message;
}

TEST_F(AdminClientTest, NotInAllowList) {
  start_server(false);
  auto reply = admin_request(client_options(), status());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("before answering the hello"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("allow-list"), std::string::npos) << reply.error().message;
  EXPECT_EQ(handler.requests.load(), 0);
}

TEST_F(AdminClientTest, ProtocolErrorIsReported) {
  start_server();
  ta::ipc::AdminEnvelope empty;  // no body
  auto reply = admin_request(client_options(), empty);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("refused: AdminEnvelope has no body"), std::string::npos)
      << reply.error().message;
}

TEST_F(AdminClientTest, InvalidTimeoutRefused) {
  auto reply = admin_request(client_options(0), status());
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().message.find("timeout_ms"), std::string::npos);
}

TEST(AdminSocketPath, EnvironmentThenDefault) {
  ::unsetenv(kAdminSocketEnv);
  EXPECT_EQ(default_admin_socket_path(), "/run/trading/admin.sock");
  ::setenv(kAdminSocketEnv, "", 1);
  EXPECT_EQ(default_admin_socket_path(), "/run/trading/admin.sock");
  ::setenv(kAdminSocketEnv, "/tmp/x/admin.sock", 1);
  EXPECT_EQ(default_admin_socket_path(), "/tmp/x/admin.sock");
  ::unsetenv(kAdminSocketEnv);
}

}  // namespace
}  // namespace ta::gate
