// IpcServer: two accept loops (gate.sock, admin.sock), one FramedConnection
// per session, the Hello handshake and the direction checks. Everything runs
// on the caller's io_context thread.
#include "gate/ipc_server.h"

#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace ta::gate {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using ta::proto::CloseReason;
using ta::proto::FramedConnection;
using ta::proto::PeerCredentials;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// After accept() fails for a reason other than cancellation (EMFILE, ENFILE,
// ENOMEM), wait this long before accepting again so the loop cannot spin.
constexpr std::int64_t kAcceptErrorPauseMs = 100;

// uid/gid reported for a peer whose credentials could not be read.
constexpr std::uint32_t kUnknownId = static_cast<std::uint32_t>(-1);

std::shared_ptr<spdlog::logger> ipc_log() {
  static const std::shared_ptr<spdlog::logger> log = [] {
    if (auto existing = spdlog::get("gate.ipc")) return existing;
    auto created = spdlog::default_logger()->clone("gate.ipc");
    spdlog::register_logger(created);
    return created;
  }();
  return log;
}

std::string version_text() { return std::to_string(ta::ipc::PROTOCOL_VERSION_CURRENT); }

}  // namespace

std::string_view ipc_channel_name(IpcChannel channel) {
  switch (channel) {
    case IpcChannel::kAgent:
      return "agent";
    case IpcChannel::kAdmin:
      return "admin";
  }
  return "?";
}

std::string_view peer_refusal_name(PeerRefusal refusal) {
  switch (refusal) {
    case PeerRefusal::kNotAllowed:
      return "not_allowed";
    case PeerRefusal::kTooManyConnections:
      return "too_many_connections";
    case PeerRefusal::kCredentialsUnavailable:
      return "credentials_unavailable";
    case PeerRefusal::kShuttingDown:
      return "shutting_down";
  }
  return "?";
}

void IpcHandler::on_admin_connected(SessionId, const ta::proto::PeerCredentials&, const ta::ipc::Hello&,
                                    ta::ipc::HelloAck&) {}

void IpcHandler::on_admin_disconnected(SessionId, const SessionClose&) {}

IpcServerOptions::IpcServerOptions() {
  admin.connections_max = kAdminConnectionsMaxDefault;
  admin.limits.read_idle_timeout_ms = kAdminReadIdleTimeoutMsDefault;
}

namespace {

ta::Status validate_channel(const ChannelOptions& c, std::string_view name) {
  const std::string where = std::string(name) + " socket: ";
  if (c.socket_path.empty()) return make_error(where + "socket_path is empty");
  if (c.socket_mode > 0777) return make_error(where + "socket_mode is not within 0..0777");
  if (c.connections_max < 1) return make_error(where + "connections_max must be at least 1");
  if (c.hello_timeout_ms <= 0) return make_error(where + "hello_timeout_ms must be positive");
  if (auto st = ta::proto::validate_limits(c.limits); !st) return make_error(where + st.error().message);
  return {};
}

}  // namespace

ta::Status validate_options(const IpcServerOptions& options) {
  if (auto st = validate_channel(options.agent, "agent"); !st) return st;
  if (auto st = validate_channel(options.admin, "admin"); !st) return st;
  if (options.agent.socket_path == options.admin.socket_path) {
    return make_error("agent and admin sockets must have different paths (both are " + options.agent.socket_path +
                      ")");
  }
  return {};
}

// ---------------------------------------------------------------------------

class IpcServer::Impl {
 public:
  Impl(asio::io_context& io, IpcServerOptions options, IpcHandler& handler)
      : io_(io), options_(std::move(options)), handler_(handler), grace_timer_(io) {}

  ~Impl() {
    *alive_ = false;
    for (auto& l : listeners_) close_listener(*l);
    remove_socket_files();
    // Destroying the connections detaches them: no callback runs after this.
    sessions_.clear();
    timers_.clear();
  }

  ta::Status start() {
    if (started_) return make_error("IpcServer already started");
    if (auto st = validate_options(options_); !st) return st;
    std::vector<ta::proto::UniqueFd> fds;
    for (const ChannelOptions* c : {&options_.agent, &options_.admin}) {
      ta::proto::ListenOptions lo;
      lo.path = c->socket_path;
      lo.mode = c->socket_mode;
      lo.group_id = c->socket_group_id;
      auto fd = ta::proto::listen_unix(lo);
      if (!fd) {
        // The agent socket may already exist; leave nothing behind.
        if (!fds.empty()) (void)ta::proto::remove_socket_file(options_.agent.socket_path);
        return fd.error();
      }
      fds.push_back(std::move(fd).value());
    }
    started_ = true;
    const IpcChannel channels[] = {IpcChannel::kAgent, IpcChannel::kAdmin};
    for (std::size_t i = 0; i < 2; ++i) {
      auto l = std::make_shared<Listener>(io_);
      l->channel = channels[i];
      l->impl = this;
      l->alive = alive_;
      boost::system::error_code ec;
      l->acceptor.assign(asio::local::stream_protocol(), fds[i].get(), ec);
      if (ec) {
        for (auto& other : listeners_) close_listener(*other);
        remove_socket_files();
        return make_error("cannot adopt listening socket: " + ec.message());
      }
      fds[i].release();
      listeners_.push_back(l);
      asio::co_spawn(io_, accept_loop(l), asio::detached);
      ipc_log()->info("listening channel={} path={} mode={:o} connections_max={}", ipc_channel_name(l->channel),
                      channel(l->channel).socket_path, channel(l->channel).socket_mode,
                      channel(l->channel).connections_max);
    }
    return {};
  }

  ta::Status send(SessionId id, const ta::ipc::Envelope& message) {
    Session* s = find(id);
    if (s == nullptr || s->channel != IpcChannel::kAgent) {
      return make_error("no agent session " + std::to_string(id));
    }
    if (!ta::proto::envelope_body_allowed(message.body_case(), ta::proto::Sender::kGate)) {
      return make_error(std::string(ta::proto::envelope_body_name(message.body_case())) +
                        " may not be sent by the gate");
    }
    if (s->in_connect_handler) return hold(*s, message);
    if (!s->ready) return make_error("agent session " + std::to_string(id) + " has not finished its handshake");
    return s->conn->send(message);
  }

  std::size_t broadcast(const ta::ipc::Envelope& message) {
    if (!ta::proto::envelope_body_allowed(message.body_case(), ta::proto::Sender::kGate)) {
      ipc_log()->error("broadcast refused body={} reason=\"may not be sent by the gate\"",
                       ta::proto::envelope_body_name(message.body_case()));
      return 0;
    }
    std::string frame;
    if (auto st = ta::proto::encode_frame(message, frame, options_.agent.limits.frame_size_max); !st) {
      ipc_log()->error("broadcast refused body={} reason=\"{}\"", ta::proto::envelope_body_name(message.body_case()),
                       st.error().message);
      return 0;
    }
    std::size_t sent = 0;
    for (SessionId id : agent_sessions()) {
      Session* s = find(id);
      if (s != nullptr && s->conn->send_frame(frame).ok()) ++sent;
    }
    return sent;
  }

  ta::Status send_admin(SessionId id, const ta::ipc::AdminEnvelope& message) {
    Session* s = find(id);
    if (s == nullptr || s->channel != IpcChannel::kAdmin) {
      return make_error("no admin session " + std::to_string(id));
    }
    if (!ta::proto::admin_body_allowed(message.body_case(), ta::proto::Sender::kGate)) {
      return make_error(std::string(ta::proto::admin_body_name(message.body_case())) +
                        " may not be sent by the gate");
    }
    if (s->in_connect_handler) return hold(*s, message);
    if (!s->ready) return make_error("admin session " + std::to_string(id) + " has not finished its handshake");
    return s->conn->send(message);
  }

  void close_session(SessionId id, const std::string& reason) {
    Session* s = find(id);
    if (s == nullptr) return;
    ipc_log()->info("closing session channel={} session={} reason=\"{}\"", ipc_channel_name(s->channel), id, reason);
    s->conn->close(CloseReason::kLocalClose, reason, true);
  }

  void shutdown(std::int64_t grace_ms, std::function<void()> done) {
    if (done) shutdown_done_.push_back(std::move(done));
    if (shutdown_finished_) {
      finish_shutdown();  // a second call after the first completed
      return;
    }
    if (shutting_down_) return;
    shutting_down_ = true;
    grace_ms = std::clamp<std::int64_t>(grace_ms, 0, kShutdownGraceMsMax);
    ipc_log()->info("shutdown sessions={} grace_ms={}", sessions_.size(), grace_ms);
    for (auto& l : listeners_) close_listener(*l);
    remove_socket_files();
    timers_.clear();
    for (auto& [id, s] : sessions_) {
      send_protocol_error(*s, 0, "gate shutting down");
      s->conn->close(CloseReason::kShutdown, "gate shutting down", true);
    }
    if (sessions_.empty()) {
      finish_shutdown();
      return;
    }
    grace_timer_.expires_after(std::chrono::milliseconds(grace_ms));
    grace_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
      if (!*alive || ec) return;
      for (auto& [id, s] : sessions_) {
        ipc_log()->warn("forcing close after grace period channel={} session={} queued={}",
                        ipc_channel_name(s->channel), id, s->conn->queued());
        s->conn->close(CloseReason::kShutdown, "gate shutting down (grace period over)", false);
      }
    });
  }

  ta::Result<std::uint64_t> schedule_after(std::int64_t delay_ms, std::function<void()> fn) {
    if (shutting_down_) return make_error("server is shutting down");
    if (delay_ms < 0) return make_error("delay_ms must not be negative");
    if (timers_.size() >= kScheduledTimersMax) {
      return make_error("kScheduledTimersMax (" + std::to_string(kScheduledTimersMax) + ") timers already pending");
    }
    const std::uint64_t id = next_timer_id_++;
    auto t = std::make_unique<ScheduledTimer>(io_);
    t->fn = std::move(fn);
    t->timer.expires_after(std::chrono::milliseconds(delay_ms));
    t->timer.async_wait([this, id, alive = alive_](boost::system::error_code ec) {
      if (!*alive || ec) return;
      auto it = timers_.find(id);
      if (it == timers_.end()) return;
      auto fn_to_run = std::move(it->second->fn);
      timers_.erase(it);
      if (fn_to_run) fn_to_run();
    });
    timers_.emplace(id, std::move(t));
    return id;
  }

  bool cancel_timer(std::uint64_t id) { return timers_.erase(id) > 0; }

  std::size_t session_count(IpcChannel channel) const {
    return static_cast<std::size_t>(std::count_if(sessions_.begin(), sessions_.end(),
                                                  [&](const auto& kv) { return kv.second->channel == channel; }));
  }

  std::vector<SessionId> agent_sessions() const {
    std::vector<SessionId> out;
    for (const auto& [id, s] : sessions_) {
      if (s->channel == IpcChannel::kAgent && s->ready && s->conn->open()) out.push_back(id);
    }
    return out;
  }

  std::optional<PeerCredentials> peer(SessionId id) const {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return std::nullopt;
    return it->second->peer;
  }

 private:
  struct Session {
    SessionId id = 0;
    IpcChannel channel = IpcChannel::kAgent;
    PeerCredentials peer;
    bool ready = false;  // handshake accepted
    // While the connect handler runs, sends are held here and go out right
    // after the HelloAck (dropped if the handler refuses the session).
    bool in_connect_handler = false;
    std::vector<std::string> held;
    std::unique_ptr<FramedConnection> conn;
  };

  // Shared with the accept coroutine, which may outlive the Impl by one
  // completion; it checks `alive` before touching `impl`.
  struct Listener {
    explicit Listener(asio::io_context& io) : acceptor(io), pause(io) {}
    asio::local::stream_protocol::acceptor acceptor;
    asio::steady_timer pause;
    IpcChannel channel = IpcChannel::kAgent;
    Impl* impl = nullptr;
    std::shared_ptr<bool> alive;
  };

  struct ScheduledTimer {
    explicit ScheduledTimer(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::function<void()> fn;
  };

  const ChannelOptions& channel(IpcChannel c) const {
    switch (c) {
      case IpcChannel::kAgent:
        return options_.agent;
      case IpcChannel::kAdmin:
        return options_.admin;
    }
    return options_.agent;
  }

  // Pushes sent from inside on_*_connected: the HelloAck must be the first
  // frame, and it is only complete once the handler returns.
  ta::Status hold(Session& s, const google::protobuf::MessageLite& message) {
    if (s.held.size() >= channel(s.channel).limits.outbound_queue_max) {
      return make_error("too many messages sent during the connect handler (outbound_queue_max)");
    }
    std::string frame;
    if (auto st = ta::proto::encode_frame(message, frame, channel(s.channel).limits.frame_size_max); !st) return st;
    s.held.push_back(std::move(frame));
    return {};
  }

  Session* find(SessionId id) {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.get();
  }

  static void close_listener(Listener& l) {
    boost::system::error_code ec;
    l.acceptor.close(ec);
    l.pause.cancel();
  }

  void remove_socket_files() {
    if (!started_ || sockets_removed_) return;
    sockets_removed_ = true;
    for (const ChannelOptions* c : {&options_.agent, &options_.admin}) {
      if (auto st = ta::proto::remove_socket_file(c->socket_path); !st) {
        ipc_log()->warn("cannot remove socket file path={} reason=\"{}\"", c->socket_path, st.error().message);
      }
    }
  }

  static awaitable<void> accept_loop(std::shared_ptr<Listener> l) {
    for (;;) {
      auto [ec, socket] = co_await l->acceptor.async_accept(kNoThrow);
      if (!*l->alive || !l->acceptor.is_open()) co_return;
      if (ec) {
        ipc_log()->error("accept failed channel={} reason=\"{}\"", ipc_channel_name(l->channel), ec.message());
        l->pause.expires_after(std::chrono::milliseconds(kAcceptErrorPauseMs));
        co_await l->pause.async_wait(kNoThrow);
        if (!*l->alive || !l->acceptor.is_open()) co_return;
        continue;
      }
      boost::system::error_code rec;
      ta::proto::UniqueFd fd(socket.release(rec));
      if (rec) {
        ipc_log()->error("cannot take accepted socket channel={} reason=\"{}\"", ipc_channel_name(l->channel),
                         rec.message());
        continue;
      }
      l->impl->on_accept(l->channel, std::move(fd));
    }
  }

  void refuse(IpcChannel ch, ta::proto::UniqueFd fd, const PeerCredentials& peer, PeerRefusal why,
              const std::string& detail, bool tell_peer) {
    ipc_log()->warn("peer refused channel={} uid={} gid={} pid={} refusal={} detail=\"{}\"", ipc_channel_name(ch),
                    peer.uid, peer.gid, peer.pid, peer_refusal_name(why), detail);
    if (tell_peer) {
      // Best effort, non-blocking: the peer is allowed but cannot be served.
      std::string frame;
      ta::ipc::Envelope env;
      ta::ipc::AdminEnvelope aenv;
      env.mutable_protocol_error()->set_message(detail);
      aenv.mutable_protocol_error()->set_message(detail);
      const auto& msg = ch == IpcChannel::kAgent ? static_cast<const google::protobuf::MessageLite&>(env)
                                                 : static_cast<const google::protobuf::MessageLite&>(aenv);
      if (ta::proto::encode_frame(msg, frame).ok()) {
        [[maybe_unused]] auto n = ::send(fd.get(), frame.data(), frame.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    fd.reset();
    handler_.on_peer_refused(ch, peer, why, detail);
  }

  void on_accept(IpcChannel ch, ta::proto::UniqueFd fd) {
    const ChannelOptions& opts = channel(ch);
    auto creds = ta::proto::peer_credentials(fd.get());
    if (!creds) {
      PeerCredentials unknown;
      unknown.uid = kUnknownId;
      unknown.gid = kUnknownId;
      refuse(ch, std::move(fd), unknown, PeerRefusal::kCredentialsUnavailable, creds.error().message, false);
      return;
    }
    const PeerCredentials& peer = creds.value();
    if (!ta::proto::peer_allowed(opts.allow, peer)) {
      refuse(ch, std::move(fd), peer, PeerRefusal::kNotAllowed,
             "uid " + std::to_string(peer.uid) + " gid " + std::to_string(peer.gid) + " is not in the " +
                 std::string(ipc_channel_name(ch)) + " socket's allow-list",
             false);
      return;
    }
    if (shutting_down_) {
      refuse(ch, std::move(fd), peer, PeerRefusal::kShuttingDown, "gate shutting down", true);
      return;
    }
    if (session_count(ch) >= opts.connections_max) {
      refuse(ch, std::move(fd), peer, PeerRefusal::kTooManyConnections,
             "too many connections on the " + std::string(ipc_channel_name(ch)) + " socket (connections_max " +
                 std::to_string(opts.connections_max) + ")",
             true);
      return;
    }
    const SessionId id = next_session_id_++;
    auto s = std::make_unique<Session>();
    s->id = id;
    s->channel = ch;
    s->peer = peer;
    ta::proto::ConnectionLimits limits = opts.limits;
    limits.read_idle_timeout_ms = opts.hello_timeout_ms;  // until the Hello arrives
    FramedConnection::Callbacks cb;
    cb.on_frame = [this, id](std::string_view payload) { on_frame(id, payload); };
    cb.on_closed = [this, id](CloseReason reason, const std::string& detail) { on_closed(id, reason, detail); };
    cb.on_stream_error = [this, id](const std::string& error) {
      if (Session* bad = find(id)) {
        ipc_log()->warn("protocol violation channel={} session={} uid={} pid={} detail=\"{}\"",
                        ipc_channel_name(bad->channel), id, bad->peer.uid, bad->peer.pid, error);
        send_protocol_error(*bad, 0, error);
      }
    };
    s->conn = std::make_unique<FramedConnection>(io_, std::move(fd), limits, std::move(cb));
    Session& ref = *s;
    sessions_.emplace(id, std::move(s));
    ipc_log()->info("peer connected channel={} session={} uid={} gid={} pid={}", ipc_channel_name(ch), id, peer.uid,
                    peer.gid, peer.pid);
    ref.conn->start();
  }

  void on_frame(SessionId id, std::string_view payload) {
    Session* s = find(id);
    if (s == nullptr) return;
    switch (s->channel) {
      case IpcChannel::kAgent:
        on_agent_frame(*s, payload);
        return;
      case IpcChannel::kAdmin:
        on_admin_frame(*s, payload);
        return;
    }
  }

  void on_agent_frame(Session& s, std::string_view payload) {
    ta::ipc::Envelope& env = scratch_.fresh_envelope();
    if (auto st = ta::proto::decode_envelope(payload, ta::proto::Sender::kAgent, env); !st) {
      violation(s, env.request_id(), st.error().message);
      return;
    }
    const auto body = env.body_case();
    if (!s.ready) {
      if (body != ta::ipc::Envelope::kHello) {
        violation(s, env.request_id(),
                  "first frame must be hello, got " + std::string(ta::proto::envelope_body_name(body)));
        return;
      }
      ta::ipc::Envelope reply;
      reply.set_request_id(env.request_id());
      handshake(s, env.hello(), *reply.mutable_hello_ack(), reply);
      return;
    }
    if (body == ta::ipc::Envelope::kHello) {
      violation(s, env.request_id(), "hello after the handshake");
      return;
    }
    const SessionId id = s.id;
    handler_.on_agent_message(id, env);
    if (body == ta::ipc::Envelope::kHeartbeat) {
      Session* again = find(id);  // the handler may have closed it
      if (again == nullptr || !again->conn->open()) return;
      ta::ipc::Envelope echo;
      echo.set_request_id(env.request_id());
      *echo.mutable_heartbeat() = env.heartbeat();
      (void)again->conn->send(echo);  // a full queue closes the session itself
    }
  }

  void on_admin_frame(Session& s, std::string_view payload) {
    ta::ipc::AdminEnvelope& env = scratch_.fresh_admin_envelope();
    if (auto st = ta::proto::decode_admin_envelope(payload, ta::proto::Sender::kAdminClient, env); !st) {
      violation(s, env.request_id(), st.error().message);
      return;
    }
    const auto body = env.body_case();
    if (!s.ready) {
      if (body != ta::ipc::AdminEnvelope::kHello) {
        violation(s, env.request_id(),
                  "first frame must be hello, got " + std::string(ta::proto::admin_body_name(body)));
        return;
      }
      ta::ipc::AdminEnvelope reply;
      reply.set_request_id(env.request_id());
      handshake(s, env.hello(), *reply.mutable_hello_ack(), reply);
      return;
    }
    if (body == ta::ipc::AdminEnvelope::kHello) {
      violation(s, env.request_id(), "hello after the handshake");
      return;
    }
    const SessionId id = s.id;
    auto reply = handler_.on_admin_request(id, env);
    if (!reply) return;
    reply->set_request_id(env.request_id());
    if (auto st = send_admin(id, *reply); !st) {
      ipc_log()->error("admin reply not sent session={} request={} reason=\"{}\"", id,
                       ta::proto::admin_body_name(body), st.error().message);
    }
  }

  // Answers a Hello. `ack` lives inside `reply` (an Envelope or an
  // AdminEnvelope, matching the session's channel).
  void handshake(Session& s, const ta::ipc::Hello& hello, ta::ipc::HelloAck& ack,
                 const google::protobuf::MessageLite& reply) {
    const SessionId id = s.id;
    const IpcChannel ch = s.channel;
    ack.set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
    ack.set_session_id(id);
    if (hello.protocol_version() != ta::ipc::PROTOCOL_VERSION_CURRENT) {
      const std::string reason = "protocol version " + std::to_string(hello.protocol_version()) +
                                 " not supported; gate speaks " + version_text();
      ack.set_accepted(false);
      ack.set_reason(reason);
      ipc_log()->warn("hello refused channel={} session={} client=\"{}\" reason=\"{}\"", ipc_channel_name(ch), id,
                      hello.client_name(), reason);
      (void)s.conn->send(reply);
      s.conn->close(CloseReason::kHandshakeRefused, reason, true);
      return;
    }
    ack.set_accepted(true);
    s.in_connect_handler = true;
    switch (ch) {
      case IpcChannel::kAgent:
        handler_.on_agent_connected(id, s.peer, hello, ack);
        break;
      case IpcChannel::kAdmin:
        handler_.on_admin_connected(id, s.peer, hello, ack);
        break;
    }
    ack.set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
    ack.set_session_id(id);
    Session* again = find(id);
    if (again == nullptr) return;
    again->in_connect_handler = false;
    std::vector<std::string> held = std::move(again->held);
    again->held.clear();
    (void)again->conn->send(reply);
    if (!ack.accepted()) {
      const std::string reason = "refused by the gate: " + ack.reason();
      ipc_log()->warn("hello refused channel={} session={} client=\"{}\" reason=\"{}\"", ipc_channel_name(ch), id,
                      hello.client_name(), reason);
      again->conn->close(CloseReason::kHandshakeRefused, reason, true);
      return;
    }
    for (const std::string& frame : held) {
      if (!again->conn->send_frame(frame).ok()) break;  // a full queue closes the session itself
    }
    again->ready = true;
    again->conn->set_read_idle_timeout_ms(channel(ch).limits.read_idle_timeout_ms);
    ipc_log()->info("session ready channel={} session={} client=\"{}\" client_version=\"{}\"", ipc_channel_name(ch),
                    id, hello.client_name(), hello.client_version());
  }

  void send_protocol_error(Session& s, std::uint64_t request_id, const std::string& message) {
    switch (s.channel) {
      case IpcChannel::kAgent: {
        ta::ipc::Envelope env;
        env.set_request_id(request_id);
        env.mutable_protocol_error()->set_message(message);
        (void)s.conn->send(env);
        return;
      }
      case IpcChannel::kAdmin: {
        ta::ipc::AdminEnvelope env;
        env.set_request_id(request_id);
        env.mutable_protocol_error()->set_message(message);
        (void)s.conn->send(env);
        return;
      }
    }
  }

  // Refuses a frame: a ProtocolError (best effort), then close.
  void violation(Session& s, std::uint64_t request_id, const std::string& message) {
    ipc_log()->warn("protocol violation channel={} session={} uid={} pid={} detail=\"{}\"",
                    ipc_channel_name(s.channel), s.id, s.peer.uid, s.peer.pid, message);
    send_protocol_error(s, request_id, message);
    s.conn->close(CloseReason::kProtocolViolation, message, true);
  }

  void on_closed(SessionId id, CloseReason reason, const std::string& detail) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    std::unique_ptr<Session> s = std::move(it->second);
    sessions_.erase(it);
    const bool quiet = reason == CloseReason::kPeerClosed || reason == CloseReason::kShutdown ||
                       reason == CloseReason::kLocalClose;
    ipc_log()->log(quiet ? spdlog::level::info : spdlog::level::warn,
                   "session closed channel={} session={} reason={} detail=\"{}\"", ipc_channel_name(s->channel), id,
                   ta::proto::close_reason_name(reason), detail);
    if (s->ready) {
      SessionClose why{reason, detail};
      switch (s->channel) {
        case IpcChannel::kAgent:
          handler_.on_agent_disconnected(id, why);
          break;
        case IpcChannel::kAdmin:
          handler_.on_admin_disconnected(id, why);
          break;
      }
    }
    if (shutting_down_ && sessions_.empty()) finish_shutdown();
  }

  void finish_shutdown() {
    shutdown_finished_ = true;
    grace_timer_.cancel();
    asio::post(io_, [this, alive = alive_] {
      if (!*alive) return;
      auto done = std::move(shutdown_done_);
      shutdown_done_.clear();
      ipc_log()->info("shutdown complete");
      for (auto& fn : done) fn();
    });
  }

  asio::io_context& io_;
  IpcServerOptions options_;
  IpcHandler& handler_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<std::shared_ptr<Listener>> listeners_;
  // Ordered maps: iteration order (broadcast, shutdown) is creation order.
  std::map<SessionId, std::unique_ptr<Session>> sessions_;
  std::map<std::uint64_t, std::unique_ptr<ScheduledTimer>> timers_;
  asio::steady_timer grace_timer_;
  std::vector<std::function<void()>> shutdown_done_;
  ta::proto::DecodeScratch scratch_;  // the frame being handled; valid during its handler call
  SessionId next_session_id_ = 1;
  std::uint64_t next_timer_id_ = 1;
  bool started_ = false;
  bool sockets_removed_ = false;
  bool shutting_down_ = false;
  bool shutdown_finished_ = false;
};

// ---------------------------------------------------------------------------

IpcServer::IpcServer(boost::asio::io_context& io, IpcServerOptions options, IpcHandler& handler)
    : impl_(std::make_unique<Impl>(io, std::move(options), handler)) {}

IpcServer::~IpcServer() = default;

ta::Status IpcServer::start() { return impl_->start(); }

ta::Status IpcServer::send(SessionId session, const ta::ipc::Envelope& message) {
  return impl_->send(session, message);
}

std::size_t IpcServer::broadcast(const ta::ipc::Envelope& message) { return impl_->broadcast(message); }

ta::Status IpcServer::send_admin(SessionId session, const ta::ipc::AdminEnvelope& message) {
  return impl_->send_admin(session, message);
}

void IpcServer::close_session(SessionId session, const std::string& reason) { impl_->close_session(session, reason); }

void IpcServer::shutdown(std::int64_t grace_ms, std::function<void()> done) {
  impl_->shutdown(grace_ms, std::move(done));
}

ta::Result<std::uint64_t> IpcServer::schedule_after(std::int64_t delay_ms, std::function<void()> fn) {
  return impl_->schedule_after(delay_ms, std::move(fn));
}

bool IpcServer::cancel_timer(std::uint64_t timer_id) { return impl_->cancel_timer(timer_id); }

std::size_t IpcServer::session_count(IpcChannel channel) const { return impl_->session_count(channel); }

std::vector<SessionId> IpcServer::agent_sessions() const { return impl_->agent_sessions(); }

std::optional<ta::proto::PeerCredentials> IpcServer::peer(SessionId session) const { return impl_->peer(session); }

}  // namespace ta::gate
