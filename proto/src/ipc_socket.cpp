// Socket paths, peer credentials and the per-direction message tables.
#include "proto/ipc_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ta::proto {
namespace {

static_assert(kSocketPathBytesMax + 1 == sizeof(sockaddr_un::sun_path),
              "kSocketPathBytesMax must match the kernel's sun_path");

std::string errno_text(int err) { return std::strerror(err); }

// Fills `addr` for `path`; the caller has checked the length.
socklen_t make_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
}

Status check_path(const std::string& path) {
  if (path.empty()) return make_error("socket path is empty");
  if (path.size() > kSocketPathBytesMax) {
    return make_error("socket path " + path + " is " + std::to_string(path.size()) +
                      " bytes; the kernel limit is " + std::to_string(kSocketPathBytesMax));
  }
  if (path.find('\0') != std::string::npos) return make_error("socket path contains a NUL byte");
  return {};
}

std::string describe_file_type(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a socket";
}

// Makes `path` free for bind(): nothing there, or a stale socket that was
// removed. Everything else is refused.
Status clear_stale_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return make_error("cannot inspect " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(path + " exists and is " + describe_file_type(st.st_mode) +
                      ", not a socket; refusing to remove it");
  }
  // A socket file: is anybody listening on it?
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe.valid()) return make_error("socket(): " + errno_text(errno));
  sockaddr_un addr{};
  const socklen_t len = make_address(path, addr);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0 || errno == EAGAIN) {
    // EAGAIN: a listener whose backlog is full is still a live listener.
    return make_error("another server is already listening on " + path + "; refusing to replace it");
  }
  const int err = errno;
  if (err != ECONNREFUSED) return make_error("cannot probe " + path + ": " + errno_text(err));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_error("cannot remove stale socket " + path + ": " + errno_text(errno));
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() { reset(); }

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<UniqueFd> listen_unix(const ListenOptions& options) {
  if (auto st = check_path(options.path); !st) return st.error();
  if (options.mode > 0777) return make_error("socket mode " + std::to_string(options.mode) + " is not within 0..0777");
  if (options.backlog <= 0) return make_error("listen backlog must be positive");
  if (auto st = clear_stale_socket(options.path); !st) return st.error();

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return make_error("socket(): " + errno_text(errno));
  sockaddr_un addr{};
  const socklen_t len = make_address(options.path, addr);
  // The socket file is created with the umask applied; a umask that grants
  // exactly `mode` means the file is never wider than asked, not even between
  // bind() and chmod(). umask is process-wide, so this is done at start-up.
  const mode_t old_mask = ::umask(static_cast<mode_t>(0777 & ~options.mode));
  const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len);
  const int bind_err = errno;
  ::umask(old_mask);
  if (rc != 0) {
    if (bind_err == EADDRINUSE) {
      return make_error(options.path + " appeared while binding (another server starting?)");
    }
    return make_error("cannot bind " + options.path + ": " + errno_text(bind_err));
  }
  auto fail = [&](const std::string& what) -> Error {
    const int err = errno;
    ::unlink(options.path.c_str());
    return make_error(what + " " + options.path + ": " + errno_text(err));
  };
  if (options.group_id && ::chown(options.path.c_str(), static_cast<uid_t>(-1), *options.group_id) != 0) {
    return fail("cannot set group " + std::to_string(*options.group_id) + " on");
  }
  if (::chmod(options.path.c_str(), static_cast<mode_t>(options.mode)) != 0) return fail("cannot chmod");
  if (::listen(fd.get(), options.backlog) != 0) return fail("cannot listen on");
  return fd;
}

Result<UniqueFd> connect_unix(const std::string& path) {
  if (auto st = check_path(path); !st) return st.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return make_error("socket(): " + errno_text(errno));
  sockaddr_un addr{};
  const socklen_t len = make_address(path, addr);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) == 0) return fd;
  const int err = errno;
  switch (err) {
    case ENOENT:
      return make_error("no socket at " + path + " (is the server running? is the path right?)");
    case ECONNREFUSED:
      return make_error("connection refused at " + path + " (nothing is listening: the server is not running)");
    case EACCES:
    case EPERM:
      return make_error("permission denied connecting to " + path +
                        " (is your user in the socket's group? check the directory and socket modes)");
    case EAGAIN:
      return make_error("server at " + path + " is not accepting connections (listen backlog full)");
    default:
      return make_error("cannot connect to " + path + ": " + errno_text(err));
  }
}

Status remove_socket_file(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return make_error("cannot inspect " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error(path + " is " + describe_file_type(st.st_mode) + ", not a socket; leaving it");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_error("cannot remove " + path + ": " + errno_text(errno));
  }
  return {};
}

// ---------------------------------------------------------------------------

Result<PeerCredentials> peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred)) {
    return make_error("SO_PEERCRED: " + errno_text(errno));
  }
  PeerCredentials out;
  out.uid = cred.uid;
  out.gid = cred.gid;
  out.pid = cred.pid;

  std::vector<gid_t> groups(kPeerGroupsFirstRead);
  socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  int rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen);
  if (rc != 0 && errno == ERANGE) {
    // glen now holds the size needed; the kernel bounds it by NGROUPS_MAX.
    groups.resize(glen / sizeof(gid_t));
    rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen);
  }
  if (rc == 0) {
    groups.resize(glen / sizeof(gid_t));
    out.groups.assign(groups.begin(), groups.end());
  } else if (errno != ENOPROTOOPT) {
    return make_error("SO_PEERGROUPS: " + errno_text(errno));
  }
  return out;
}

bool peer_allowed(const PeerAllowList& allow, const PeerCredentials& peer) {
  auto listed = [](const std::vector<std::uint32_t>& list, std::uint32_t id) {
    return std::find(list.begin(), list.end(), id) != list.end();
  };
  if (listed(allow.uids, peer.uid) || listed(allow.gids, peer.gid)) return true;
  return std::any_of(peer.groups.begin(), peer.groups.end(),
                     [&](std::uint32_t g) { return listed(allow.gids, g); });
}

// ---------------------------------------------------------------------------

bool envelope_body_allowed(ta::ipc::Envelope::BodyCase body, Sender sender) {
  using E = ta::ipc::Envelope;
  const bool agent = sender == Sender::kAgent;
  const bool gate = sender == Sender::kGate;
  switch (body) {
    case E::kHello:
    case E::kOrderIntent:
    case E::kCancelIntent:
    case E::kBar:
    case E::kBarBatch:
    case E::kProposalSubmit:
    case E::kParameterChangeAck:
      return agent;
    case E::kHeartbeat:  // the agent's beat, and the gate's echo of it
      return agent || gate;
    case E::kHelloAck:
    case E::kDecision:
    case E::kCancelResult:
    case E::kOrderUpdate:
    case E::kFill:
    case E::kPositionSnapshot:
    case E::kHaltStateChanged:
    case E::kProposalResult:
    case E::kParameterChange:
    case E::kProtocolError:
      return gate;
    case E::BODY_NOT_SET:
      return false;
  }
  return false;
}

bool admin_body_allowed(ta::ipc::AdminEnvelope::BodyCase body, Sender sender) {
  using A = ta::ipc::AdminEnvelope;
  const bool client = sender == Sender::kAdminClient;
  const bool gate = sender == Sender::kGate;
  switch (body) {
    case A::kHello:
    case A::kStatusRequest:
    case A::kOrdersRequest:
    case A::kPositionsRequest:
    case A::kKillRequest:
    case A::kHaltRequest:
    case A::kResumeRequest:
    case A::kReduceRequest:
    case A::kRulesListRequest:
    case A::kRulesReloadRequest:
    case A::kProposalsListRequest:
    case A::kProposalDecisionRequest:
    case A::kHoldsListRequest:
    case A::kHoldDecisionRequest:
      return client;
    case A::kHelloAck:
    case A::kStatusReply:
    case A::kOrdersReply:
    case A::kPositionsReply:
    case A::kActionReply:
    case A::kRulesListReply:
    case A::kRulesReloadReply:
    case A::kProposalsListReply:
    case A::kHoldsListReply:
    case A::kProtocolError:
      return gate;
    case A::BODY_NOT_SET:
      return false;
  }
  return false;
}

namespace {

template <class Envelope>
std::string_view body_name(int number) {
  if (number == 0) return "none";
  const auto* field = Envelope::descriptor()->FindFieldByNumber(number);
  if (field == nullptr) return "unknown";
  return field->name();
}

std::string_view sender_name(Sender sender) {
  switch (sender) {
    case Sender::kAgent:
      return "the agent";
    case Sender::kGate:
      return "the gate";
    case Sender::kAdminClient:
      return "an admin client";
  }
  return "?";
}

// Lists the numbers of the unknown fields of `message` ("" when none).
std::string unknown_field_numbers(const google::protobuf::Message& message) {
  const auto& unknown = message.GetReflection()->GetUnknownFields(message);
  std::string out;
  for (int i = 0; i < unknown.field_count(); ++i) {
    if (!out.empty()) out += ",";
    out += std::to_string(unknown.field(i).number());
  }
  return out;
}

bool has_unknown(const google::protobuf::Message& m) { return !m.GetReflection()->GetUnknownFields(m).empty(); }

// The body message of a decoded envelope, through the generated accessors
// (this runs for every frame; reflection would cost a descriptor walk).
const google::protobuf::Message* body_of(const ta::ipc::Envelope& e) {
  using E = ta::ipc::Envelope;
  switch (e.body_case()) {
    case E::kHello: return &e.hello();
    case E::kHelloAck: return &e.hello_ack();
    case E::kOrderIntent: return &e.order_intent();
    case E::kCancelIntent: return &e.cancel_intent();
    case E::kDecision: return &e.decision();
    case E::kCancelResult: return &e.cancel_result();
    case E::kOrderUpdate: return &e.order_update();
    case E::kFill: return &e.fill();
    case E::kPositionSnapshot: return &e.position_snapshot();
    case E::kHeartbeat: return &e.heartbeat();
    case E::kHaltStateChanged: return &e.halt_state_changed();
    case E::kBar: return &e.bar();
    case E::kBarBatch: return &e.bar_batch();
    case E::kProposalSubmit: return &e.proposal_submit();
    case E::kProposalResult: return &e.proposal_result();
    case E::kParameterChange: return &e.parameter_change();
    case E::kParameterChangeAck: return &e.parameter_change_ack();
    case E::kProtocolError: return &e.protocol_error();
    case E::BODY_NOT_SET: return nullptr;
  }
  return nullptr;
}

const google::protobuf::Message* body_of(const ta::ipc::AdminEnvelope& e) {
  using A = ta::ipc::AdminEnvelope;
  switch (e.body_case()) {
    case A::kStatusRequest: return &e.status_request();
    case A::kStatusReply: return &e.status_reply();
    case A::kOrdersRequest: return &e.orders_request();
    case A::kOrdersReply: return &e.orders_reply();
    case A::kPositionsRequest: return &e.positions_request();
    case A::kPositionsReply: return &e.positions_reply();
    case A::kKillRequest: return &e.kill_request();
    case A::kHaltRequest: return &e.halt_request();
    case A::kResumeRequest: return &e.resume_request();
    case A::kReduceRequest: return &e.reduce_request();
    case A::kActionReply: return &e.action_reply();
    case A::kRulesListRequest: return &e.rules_list_request();
    case A::kRulesListReply: return &e.rules_list_reply();
    case A::kRulesReloadRequest: return &e.rules_reload_request();
    case A::kRulesReloadReply: return &e.rules_reload_reply();
    case A::kProposalsListRequest: return &e.proposals_list_request();
    case A::kProposalsListReply: return &e.proposals_list_reply();
    case A::kProposalDecisionRequest: return &e.proposal_decision_request();
    case A::kHoldsListRequest: return &e.holds_list_request();
    case A::kHoldsListReply: return &e.holds_list_reply();
    case A::kHoldDecisionRequest: return &e.hold_decision_request();
    case A::kProtocolError: return &e.protocol_error();
    case A::kHello: return &e.hello();
    case A::kHelloAck: return &e.hello_ack();
    case A::BODY_NOT_SET: return nullptr;
  }
  return nullptr;
}

// Shared checks of decode_envelope and decode_admin_envelope. The cheap
// checks run first; messages are built only on the failure paths.
template <class Envelope, class Allowed>
Status decode_checked(std::string_view payload, Sender sender, Envelope& out, std::string_view type,
                      Allowed allowed) {
  if (!out.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return make_error("undecodable " + std::string(type) + " (" + std::to_string(payload.size()) + " bytes)");
  }
  auto unknown = [&](const google::protobuf::Message& m, std::string_view what) {
    return make_error(std::string(what) + " carries field(s) " + unknown_field_numbers(m) +
                      " unknown to protocol version " + std::to_string(ta::ipc::PROTOCOL_VERSION_CURRENT) +
                      " (wrong socket, or a peer speaking another protocol)");
  };
  if (has_unknown(out)) return unknown(out, type);
  const google::protobuf::Message* body = body_of(out);
  if (body == nullptr) return make_error(std::string(type) + " has no body (empty or unknown message type)");
  auto name = [&] { return body_name<Envelope>(static_cast<int>(out.body_case())); };
  if (has_unknown(*body)) return unknown(*body, name());
  if (!allowed(out.body_case(), sender)) {
    return make_error(std::string(name()) + " may not be sent by " + std::string(sender_name(sender)));
  }
  return {};
}

}  // namespace

DecodeScratch::DecodeScratch() : block_(new char[kBlockBytes]) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block_.get();
  options.initial_block_size = kBlockBytes;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
}

DecodeScratch::~DecodeScratch() = default;

ta::ipc::Envelope& DecodeScratch::fresh_envelope() {
  arena_->Reset();
  return *google::protobuf::Arena::CreateMessage<ta::ipc::Envelope>(arena_.get());
}

ta::ipc::AdminEnvelope& DecodeScratch::fresh_admin_envelope() {
  arena_->Reset();
  return *google::protobuf::Arena::CreateMessage<ta::ipc::AdminEnvelope>(arena_.get());
}

std::string_view envelope_body_name(ta::ipc::Envelope::BodyCase body) {
  return body_name<ta::ipc::Envelope>(static_cast<int>(body));
}

std::string_view admin_body_name(ta::ipc::AdminEnvelope::BodyCase body) {
  return body_name<ta::ipc::AdminEnvelope>(static_cast<int>(body));
}

Status decode_envelope(std::string_view payload, Sender sender, ta::ipc::Envelope& out) {
  return decode_checked(payload, sender, out, "Envelope", envelope_body_allowed);
}

Status decode_admin_envelope(std::string_view payload, Sender sender, ta::ipc::AdminEnvelope& out) {
  return decode_checked(payload, sender, out, "AdminEnvelope", admin_body_allowed);
}

std::string_view close_reason_name(CloseReason reason) {
  switch (reason) {
    case CloseReason::kPeerClosed:
      return "peer_closed";
    case CloseReason::kTruncatedFrame:
      return "truncated_frame";
    case CloseReason::kReadError:
      return "read_error";
    case CloseReason::kWriteError:
      return "write_error";
    case CloseReason::kIdleTimeout:
      return "idle_timeout";
    case CloseReason::kWriteTimeout:
      return "write_timeout";
    case CloseReason::kFrameOversize:
      return "frame_oversize";
    case CloseReason::kOutboundQueueFull:
      return "outbound_queue_full";
    case CloseReason::kProtocolViolation:
      return "protocol_violation";
    case CloseReason::kHandshakeRefused:
      return "handshake_refused";
    case CloseReason::kLocalClose:
      return "local_close";
    case CloseReason::kShutdown:
      return "shutdown";
  }
  return "unknown";
}

Status validate_limits(const ConnectionLimits& limits) {
  if (limits.frame_size_max < 1 || limits.frame_size_max > kFrameSizeMaxCeiling) {
    return make_error("frame_size_max " + std::to_string(limits.frame_size_max) + " is not within 1.." +
                      std::to_string(kFrameSizeMaxCeiling));
  }
  if (limits.read_idle_timeout_ms <= 0) return make_error("read_idle_timeout_ms must be positive");
  if (limits.write_timeout_ms <= 0) return make_error("write_timeout_ms must be positive");
  if (limits.close_flush_timeout_ms <= 0) return make_error("close_flush_timeout_ms must be positive");
  if (limits.outbound_queue_max == 0) return make_error("outbound_queue_max must be at least 1");
  return {};
}

}  // namespace ta::proto
