// The gate's IPC server: gate.sock for the agent, admin.sock for tradectl and
// trading-dash (DESIGN.md section 3, docs/ipc.md).
//
// The server owns the transport only: listening sockets, peer allow-lists,
// framing, deadlines, the Hello handshake and the per-socket direction rules.
// Everything a message means is the IpcHandler's business (the gate core).
//
// Threading: the server runs on a boost::asio::io_context owned by the
// caller. Every method must be called, and every handler method is called, on
// the one thread that runs that io_context: the gate's state has one owner
// and no mutexes. No Asio header is included here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin.pb.h"
#include "gate.pb.h"
#include "proto/ipc_socket.h"
#include "proto/result.h"

namespace boost::asio {
class io_context;
}

namespace ta::gate {

// Unique per server for its lifetime, across both sockets; never 0.
using SessionId = std::uint64_t;

enum class IpcChannel {
  kAgent,  // gate.sock
  kAdmin,  // admin.sock
};
std::string_view ipc_channel_name(IpcChannel channel);

// Why a connecting peer was turned away before any byte was read.
enum class PeerRefusal {
  kNotAllowed,              // uid/gid not in the socket's allow-list
  kTooManyConnections,      // the socket's connections_max reached
  kCredentialsUnavailable,  // SO_PEERCRED failed
  kShuttingDown,            // accepted while the server was stopping
};
std::string_view peer_refusal_name(PeerRefusal refusal);

// Why a session ended: a typed reason plus one line for people.
struct SessionClose {
  ta::proto::CloseReason reason = ta::proto::CloseReason::kLocalClose;
  std::string detail;
};

// What the gate implements. Called on the io_context thread; a handler may
// call back into the IpcServer (send, close_session, broadcast...) from any of
// these methods.
class IpcHandler {
 public:
  virtual ~IpcHandler() = default;

  // --- gate.sock (the agent) ---

  // A peer on gate.sock sent a Hello with the current protocol version. `ack`
  // arrives with accepted=true, protocol_version and session_id set; fill in
  // gate_version, mode, halt_state and the heartbeat period/timeout. Setting
  // accepted=false (with a reason) refuses the session: the ack is sent and
  // the connection closed, and on_agent_disconnected is not called.
  // Messages sent to the session from inside this call (a first
  // PositionSnapshot) are held and follow the HelloAck.
  virtual void on_agent_connected(SessionId session, const ta::proto::PeerCredentials& peer,
                                  const ta::ipc::Hello& hello, ta::ipc::HelloAck& ack) = 0;
  // Every frame after the handshake that the agent may send: OrderIntent,
  // CancelIntent, Heartbeat, Bar, ProposalSubmit, ParameterChangeAck. The
  // frame is already decoded and direction-checked; field values are not.
  // After the handler returns, the server echoes a Heartbeat back to the agent
  // (same request_id, sequence and ts_ns) so the agent can tell the gate is
  // alive.
  virtual void on_agent_message(SessionId session, const ta::ipc::Envelope& message) = 0;
  // An accepted agent session ended (peer closed, timeout, protocol
  // violation, close_session, shutdown...).
  virtual void on_agent_disconnected(SessionId session, const SessionClose& why) = 0;

  // --- admin.sock (tradectl, trading-dash) ---

  // Like on_agent_connected, for admin.sock. The default accepts.
  virtual void on_admin_connected(SessionId session, const ta::proto::PeerCredentials& peer,
                                  const ta::ipc::Hello& hello, ta::ipc::HelloAck& ack);
  // One request (StatusRequest, KillRequest...). Return the reply to send it
  // at once (its request_id is set to the request's), or std::nullopt to
  // answer later with IpcServer::send_admin (then set request_id yourself).
  virtual std::optional<ta::ipc::AdminEnvelope> on_admin_request(SessionId session,
                                                                 const ta::ipc::AdminEnvelope& request) = 0;
  // An accepted admin session ended. The default does nothing.
  virtual void on_admin_disconnected(SessionId session, const SessionClose& why);

  // --- both ---

  // A connecting peer was refused before the handshake. The gate journals
  // this (DESIGN.md section 3: anything else is closed and journaled).
  virtual void on_peer_refused(IpcChannel channel, const ta::proto::PeerCredentials& peer, PeerRefusal refusal,
                               const std::string& detail) = 0;
};

// Connections per socket. One agent is expected on gate.sock; 4 leaves room
// for a reconnect that races the teardown of its old session and for a
// diagnostic client.
inline constexpr std::size_t kAgentConnectionsMaxDefault = 4;
// tradectl invocations and dashboards are short-lived and few.
inline constexpr std::size_t kAdminConnectionsMaxDefault = 16;
// A peer must send its Hello this soon after connecting; a client that
// connects and says nothing holds a connection slot for no more than this.
inline constexpr std::int64_t kHelloTimeoutMsDefault = 5'000;
// admin.sock peers are request/reply; a dashboard polls every few seconds.
inline constexpr std::int64_t kAdminReadIdleTimeoutMsDefault = 60'000;
// Upper bound of shutdown()'s grace period.
inline constexpr std::int64_t kShutdownGraceMsMax = 60'000;
// Timers registered with schedule_after() at once. The gate needs a handful
// (heartbeat check, reconciliation, snapshots); more is a leak.
inline constexpr std::size_t kScheduledTimersMax = 1024;

struct ChannelOptions {
  std::string socket_path;
  std::uint32_t socket_mode = ta::proto::kSocketModeDefault;
  std::optional<std::uint32_t> socket_group_id;
  // Deny by default: an empty allow-list refuses everybody.
  ta::proto::PeerAllowList allow;
  std::size_t connections_max = kAgentConnectionsMaxDefault;
  std::int64_t hello_timeout_ms = kHelloTimeoutMsDefault;
  ta::proto::ConnectionLimits limits;
};

struct IpcServerOptions {
  ChannelOptions agent;
  ChannelOptions admin;
  IpcServerOptions();  // admin gets kAdminConnectionsMaxDefault and kAdminReadIdleTimeoutMsDefault
};

// Checks both channels' options (paths set and different, limits sane,
// connections_max >= 1, hello_timeout_ms > 0).
[[nodiscard]] ta::Status validate_options(const IpcServerOptions& options);

class IpcServer {
 public:
  // `io` and `handler` must outlive the server. Do not destroy the server
  // from inside a handler call; call shutdown() there instead.
  IpcServer(boost::asio::io_context& io, IpcServerOptions options, IpcHandler& handler);
  // Closes every socket at once; no handler call happens afterwards. Prefer
  // shutdown() first for a graceful stop.
  ~IpcServer();
  IpcServer(const IpcServer&) = delete;
  IpcServer& operator=(const IpcServer&) = delete;

  // Validates the options, creates both listening sockets (see
  // ta::proto::listen_unix for the stale-file rules) and starts accepting.
  // Fails without side effects other than removing stale socket files.
  [[nodiscard]] ta::Status start();

  // Queues a message to one agent session. Fails when the session does not
  // exist, is not past its handshake, is closing, the body may not be sent by
  // the gate, or the session's outbound queue is full (which closes it).
  [[nodiscard]] ta::Status send(SessionId session, const ta::ipc::Envelope& message);
  // Queues a message to every agent session past its handshake; encodes it
  // once. Returns how many sessions took it.
  std::size_t broadcast(const ta::ipc::Envelope& message);
  // Queues a reply or push to one admin session.
  [[nodiscard]] ta::Status send_admin(SessionId session, const ta::ipc::AdminEnvelope& message);

  // Closes a session after letting its queued frames leave (bounded by the
  // session's close_flush_timeout_ms). The disconnect callback follows.
  void close_session(SessionId session, const std::string& reason);

  // Graceful stop: stops accepting and removes the socket files, cancels the
  // scheduled timers, closes every session after a flush, waits up to
  // `grace_ms` (at most kShutdownGraceMsMax) for them to end, force-closes the
  // rest, then calls `done` on the io_context thread. Disconnect callbacks run
  // for every session before `done`. Calling it twice is harmless.
  void shutdown(std::int64_t grace_ms, std::function<void()> done);

  // Runs `fn` on the io_context thread after `delay_ms` (>= 0), unless
  // cancelled first. Returns an id for cancel_timer, or an error when
  // kScheduledTimersMax timers are pending or the server is stopping.
  [[nodiscard]] ta::Result<std::uint64_t> schedule_after(std::int64_t delay_ms, std::function<void()> fn);
  // True when the timer was pending and is now cancelled.
  bool cancel_timer(std::uint64_t timer_id);

  // Sessions currently open on a channel (handshake done or not).
  std::size_t session_count(IpcChannel channel) const;
  // Ids of agent sessions past their handshake, in creation order.
  std::vector<SessionId> agent_sessions() const;
  // Who is on the other end of a session.
  std::optional<ta::proto::PeerCredentials> peer(SessionId session) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ta::gate
