// Socket-path rules, peer credentials, allow-lists and the direction tables
// of proto/ipc_socket.h, on real sockets in a temporary directory.
#include "proto/ipc_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "ipc_test_support.h"

namespace ta::proto {
namespace {

using ta::test::TempDir;

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0);
  return st.st_mode;
}

TEST(ListenUnix, CreatesSocketWithRequestedMode) {
  TempDir dir;
  for (std::uint32_t mode : {0660u, 0600u, 0666u}) {
    const std::string path = dir.file("m" + std::to_string(mode) + ".sock");
    ListenOptions o;
    o.path = path;
    o.mode = mode;
    auto fd = listen_unix(o);
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    const mode_t m = file_mode(path);
    EXPECT_TRUE(S_ISSOCK(m));
    EXPECT_EQ(m & 0777, mode);
  }
}

TEST(ListenUnix, ModeAboveRangeRefused) {
  TempDir dir;
  ListenOptions o;
  o.path = dir.file("g.sock");
  o.mode = 01000;
  auto fd = listen_unix(o);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.error().message.find("0..0777"), std::string::npos);
}

TEST(ListenUnix, RemovesStaleSocket) {
  TempDir dir;
  const std::string path = dir.file("gate.sock");
  {
    ListenOptions o;
    o.path = path;
    auto fd = listen_unix(o);
    ASSERT_TRUE(fd.ok());
  }  // closed: the file stays, nobody listens
  ASSERT_TRUE(S_ISSOCK(file_mode(path)));
  ListenOptions o;
  o.path = path;
  auto fd = listen_unix(o);
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  auto c = connect_unix(path);
  EXPECT_TRUE(c.ok()) << c.error().message;
}

TEST(ListenUnix, RefusesLiveServer) {
  TempDir dir;
  const std::string path = dir.file("gate.sock");
  ListenOptions o;
  o.path = path;
  auto first = listen_unix(o);
  ASSERT_TRUE(first.ok());
  auto second = listen_unix(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("another server is already listening"), std::string::npos)
      << second.error().message;
  // The first server still works.
  auto c = connect_unix(path);
  EXPECT_TRUE(c.ok());
}

TEST(ListenUnix, LeavesRegularFileAlone) {
  TempDir dir;
  const std::string path = dir.file("gate.sock");
  { std::ofstream(path) << "precious"; }
  ListenOptions o;
  o.path = path;
  auto fd = listen_unix(o);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.error().message.find("regular file"), std::string::npos) << fd.error().message;
  EXPECT_NE(fd.error().message.find(path), std::string::npos);
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST(ListenUnix, LeavesDirectoryAndSymlinkAlone) {
  TempDir dir;
  const std::string d = dir.file("gate.sock");
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  ListenOptions o;
  o.path = d;
  auto fd = listen_unix(o);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.error().message.find("directory"), std::string::npos) << fd.error().message;
  EXPECT_TRUE(S_ISDIR(file_mode(d)));

  const std::string link = dir.file("link.sock");
  ASSERT_EQ(::symlink(d.c_str(), link.c_str()), 0);
  o.path = link;
  auto fd2 = listen_unix(o);
  ASSERT_FALSE(fd2.ok());
  EXPECT_NE(fd2.error().message.find("symbolic link"), std::string::npos) << fd2.error().message;
  EXPECT_TRUE(S_ISLNK(file_mode(link)));
}

TEST(ListenUnix, PathLengthLimit) {
  TempDir dir;
  const std::string prefix = dir.path() + "/";
  ASSERT_LT(prefix.size(), kSocketPathBytesMax);
  for (std::size_t len : {kSocketPathBytesMax - 1, kSocketPathBytesMax, kSocketPathBytesMax + 1}) {
    const std::string path = prefix + std::string(len - prefix.size(), 'a' + static_cast<char>(len % 3));
    ASSERT_EQ(path.size(), len);
    ListenOptions o;
    o.path = path;
    auto fd = listen_unix(o);
    if (len <= kSocketPathBytesMax) {
      EXPECT_TRUE(fd.ok()) << len << ": " << fd.error().message;
      EXPECT_TRUE(connect_unix(path).ok());
    } else {
      ASSERT_FALSE(fd.ok());
      EXPECT_NE(fd.error().message.find("kernel limit"), std::string::npos);
      EXPECT_FALSE(connect_unix(path).ok());
    }
  }
}

TEST(ListenUnix, MissingDirectoryIsAnError) {
  ListenOptions o;
  o.path = "/nonexistent-ta-dir/gate.sock";
  auto fd = listen_unix(o);
  ASSERT_FALSE(fd.ok());
  EXPECT_NE(fd.error().message.find("/nonexistent-ta-dir/gate.sock"), std::string::npos);
}

TEST(ConnectUnix, ClearMessages) {
  TempDir dir;
  const std::string path = dir.file("gate.sock");
  auto missing = connect_unix(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no socket at " + path), std::string::npos) << missing.error().message;

  {
    ListenOptions o;
    o.path = path;
    ASSERT_TRUE(listen_unix(o).ok());
  }
  auto refused = connect_unix(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("connection refused"), std::string::npos) << refused.error().message;
}

TEST(RemoveSocketFile, OnlySockets) {
  TempDir dir;
  const std::string file = dir.file("plain");
  { std::ofstream(file) << "x"; }
  EXPECT_FALSE(remove_socket_file(file).ok());
  EXPECT_TRUE(std::filesystem::exists(file));
  EXPECT_TRUE(remove_socket_file(dir.file("missing")).ok());
  const std::string sock = dir.file("s.sock");
  ListenOptions o;
  o.path = sock;
  auto fd = listen_unix(o);
  ASSERT_TRUE(fd.ok());
  EXPECT_TRUE(remove_socket_file(sock).ok());
  EXPECT_FALSE(std::filesystem::exists(sock));
}

TEST(PeerCredentials, ReportsThisProcess) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]);
  UniqueFd b(sv[1]);
  auto creds = peer_credentials(a.get());
  ASSERT_TRUE(creds.ok()) << creds.error().message;
  EXPECT_EQ(creds->uid, ::getuid());
  EXPECT_EQ(creds->gid, ::getgid());
  EXPECT_EQ(creds->pid, ::getpid());
  std::vector<gid_t> mine(static_cast<std::size_t>(::getgroups(0, nullptr)));
  ASSERT_EQ(::getgroups(static_cast<int>(mine.size()), mine.data()), static_cast<int>(mine.size()));
  EXPECT_EQ(std::set<std::uint32_t>(creds->groups.begin(), creds->groups.end()),
            std::set<std::uint32_t>(mine.begin(), mine.end()));
}

TEST(PeerCredentials, NotASocket) {
  auto creds = peer_credentials(-1);
  EXPECT_FALSE(creds.ok());
}

TEST(PeerAllowed, UidGidAndSupplementaryGroups) {
  PeerCredentials p;
  p.uid = 1001;
  p.gid = 2001;
  p.groups = {3001, 3002};
  EXPECT_FALSE(peer_allowed({}, p)) << "empty allow-list denies";
  EXPECT_TRUE(peer_allowed({{1001}, {}}, p));
  EXPECT_TRUE(peer_allowed({{}, {2001}}, p));
  EXPECT_TRUE(peer_allowed({{}, {3002}}, p));
  EXPECT_FALSE(peer_allowed({{1000, 1002}, {2000, 2002, 3000, 3003}}, p));
  // gid values are not uids and the reverse.
  EXPECT_FALSE(peer_allowed({{2001}, {1001}}, p));
}

// Every body, for every sender: exactly the documented sets.
TEST(Direction, EnvelopeTable) {
  using E = ta::ipc::Envelope;
  const std::set<int> agent = {E::kHello, E::kOrderIntent, E::kCancelIntent, E::kHeartbeat,
                               E::kBar,   E::kBarBatch,       E::kProposalSubmit, E::kParameterChangeAck};
  const std::set<int> gate = {E::kHelloAck,         E::kDecision,        E::kCancelResult, E::kOrderUpdate,
                              E::kFill,             E::kPositionSnapshot, E::kHeartbeat,   E::kHaltStateChanged,
                              E::kProposalResult,   E::kParameterChange, E::kProtocolError};
  const auto* oneof = E::descriptor()->FindOneofByName("body");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const int n = oneof->field(i)->number();
    const auto body = static_cast<E::BodyCase>(n);
    EXPECT_EQ(envelope_body_allowed(body, Sender::kAgent), agent.count(n) == 1) << oneof->field(i)->name();
    EXPECT_EQ(envelope_body_allowed(body, Sender::kGate), gate.count(n) == 1) << oneof->field(i)->name();
    EXPECT_FALSE(envelope_body_allowed(body, Sender::kAdminClient)) << oneof->field(i)->name();
    EXPECT_TRUE(agent.count(n) == 1 || gate.count(n) == 1) << "nobody may send " << oneof->field(i)->name();
  }
  EXPECT_FALSE(envelope_body_allowed(E::BODY_NOT_SET, Sender::kAgent));
  EXPECT_FALSE(envelope_body_allowed(E::BODY_NOT_SET, Sender::kGate));
}

TEST(Direction, AdminTable) {
  using A = ta::ipc::AdminEnvelope;
  const auto* oneof = A::descriptor()->FindOneofByName("body");
  ASSERT_NE(oneof, nullptr);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const auto* f = oneof->field(i);
    const auto body = static_cast<A::BodyCase>(f->number());
    const std::string& name = f->name();
    const bool request =
        name == "hello" || (name.size() > 8 && name.compare(name.size() - 8, 8, "_request") == 0);
    EXPECT_EQ(admin_body_allowed(body, Sender::kAdminClient), request) << f->name();
    EXPECT_EQ(admin_body_allowed(body, Sender::kGate), !request) << f->name();
    EXPECT_FALSE(admin_body_allowed(body, Sender::kAgent)) << f->name();
  }
}

std::string serialize(const google::protobuf::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

TEST(DecodeEnvelope, AcceptsAllowedBody) {
  ta::ipc::Envelope env;
  env.set_request_id(7);
  env.mutable_order_intent()->set_intent_id("i-1");
  ta::ipc::Envelope out;
  auto st = decode_envelope(serialize(env), Sender::kAgent, out);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(out.order_intent().intent_id(), "i-1");
  EXPECT_EQ(out.request_id(), 7u);
}

TEST(DecodeEnvelope, Refusals) {
  ta::ipc::Envelope out;
  // Undecodable: a length-delimited field running past the end.
  auto garbage = decode_envelope(std::string("\x62\x7f\x01", 3), Sender::kAgent, out);
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("undecodable"), std::string::npos) << garbage.error().message;

  auto empty = decode_envelope("", Sender::kAgent, out);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("no body"), std::string::npos);

  // Unknown field 99 (varint) at the top level.
  auto unknown = decode_envelope(std::string("\x98\x06\x01", 3), Sender::kAgent, out);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("99"), std::string::npos) << unknown.error().message;

  ta::ipc::Envelope decision;
  decision.mutable_decision()->set_intent_id("i-1");
  auto wrong = decode_envelope(serialize(decision), Sender::kAgent, out);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message, "decision may not be sent by the agent");
}

TEST(DecodeEnvelope, AdminMessagesOnGateSocketAreRefused) {
  ta::ipc::Envelope out;
  ta::ipc::AdminEnvelope hello;
  hello.mutable_hello()->set_protocol_version(1);
  auto h = decode_envelope(serialize(hello), Sender::kAgent, out);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("28"), std::string::npos) << h.error().message;

  ta::ipc::AdminEnvelope kill;
  kill.mutable_kill_request()->set_flatten(true);
  kill.mutable_kill_request()->set_reason("x");
  EXPECT_FALSE(decode_envelope(serialize(kill), Sender::kAgent, out).ok());

  ta::ipc::AdminEnvelope orders;
  orders.mutable_orders_request()->set_include_closed(true);
  auto o = decode_envelope(serialize(orders), Sender::kAgent, out);
  ASSERT_FALSE(o.ok()) << "orders_request must not pass as an order_intent";
  EXPECT_NE(o.error().message.find("unknown"), std::string::npos) << o.error().message;
}

TEST(DecodeEnvelope, AgentMessagesOnAdminSocketAreRefused) {
  ta::ipc::AdminEnvelope out;
  ta::ipc::Envelope intent;
  intent.mutable_order_intent()->set_intent_id("i-1");
  intent.mutable_order_intent()->set_quantity("1");
  auto st = decode_admin_envelope(serialize(intent), Sender::kAdminClient, out);
  ASSERT_FALSE(st.ok()) << "order_intent must not pass as an orders_request";

  ta::ipc::Envelope hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->set_client_name("agent");
  auto h = decode_admin_envelope(serialize(hello), Sender::kAdminClient, out);
  ASSERT_FALSE(h.ok()) << "an agent hello must not pass as a status_request";

  ta::ipc::AdminEnvelope reply;
  reply.mutable_status_reply()->set_ready(true);
  auto r = decode_admin_envelope(serialize(reply), Sender::kAdminClient, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "status_reply may not be sent by an admin client");
}

TEST(ValidateLimits, Bounds) {
  ConnectionLimits l;
  EXPECT_TRUE(validate_limits(l).ok());
  l.frame_size_max = kFrameSizeMaxCeiling;
  EXPECT_TRUE(validate_limits(l).ok());
  l.frame_size_max = kFrameSizeMaxCeiling + 1;
  EXPECT_FALSE(validate_limits(l).ok());
  l = {};
  l.frame_size_max = 0;
  EXPECT_FALSE(validate_limits(l).ok());
  l = {};
  l.outbound_queue_max = 0;
  EXPECT_FALSE(validate_limits(l).ok());
  l.outbound_queue_max = 1;
  EXPECT_TRUE(validate_limits(l).ok());
  EXPECT_EQ(read_pause_threshold(1), 1u);
  EXPECT_EQ(read_pause_threshold(2), 1u);
  EXPECT_EQ(read_pause_threshold(1024), 512u);
  l = {};
  l.read_idle_timeout_ms = 0;
  EXPECT_FALSE(validate_limits(l).ok());
  l = {};
  l.write_timeout_ms = -1;
  EXPECT_FALSE(validate_limits(l).ok());
  l = {};
  l.close_flush_timeout_ms = 0;
  EXPECT_FALSE(validate_limits(l).ok());
}

}  // namespace
}  // namespace ta::proto

namespace ta::proto {
namespace {

TEST(DecodeScratch, FreshMessagesAndLargeFrames) {
  DecodeScratch scratch;
  ta::ipc::Envelope small;
  small.mutable_order_intent()->set_intent_id("i-1");
  ta::ipc::Envelope large;
  large.mutable_order_update()->set_detail(std::string(3 * DecodeScratch::kBlockBytes, 'x'));
  for (int round = 0; round < 3; ++round) {
    ta::ipc::Envelope& a = scratch.fresh_envelope();
    ASSERT_TRUE(decode_envelope(serialize(small), Sender::kAgent, a).ok());
    EXPECT_EQ(a.order_intent().intent_id(), "i-1");
    ta::ipc::Envelope& b = scratch.fresh_envelope();
    EXPECT_FALSE(b.has_order_intent()) << "a fresh message is empty";
    ASSERT_TRUE(decode_envelope(serialize(large), Sender::kGate, b).ok()) << "spills past the first block";
    EXPECT_EQ(b.order_update().detail().size(), 3 * DecodeScratch::kBlockBytes);
    ta::ipc::AdminEnvelope& c = scratch.fresh_admin_envelope();
    EXPECT_EQ(c.body_case(), ta::ipc::AdminEnvelope::BODY_NOT_SET);
  }
}

}  // namespace
}  // namespace ta::proto
