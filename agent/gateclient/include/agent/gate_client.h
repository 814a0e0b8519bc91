// The agent's connection to trading-gate over gate.sock (docs/ipc.md).
//
// GateClient connects, says Hello, heartbeats on a fixed period, reconnects
// with exponential backoff and jitter when the connection ends, and keeps a
// bounded table of in-flight intents and cancels. An in-flight request is
// resent, with the same intent_id / cancel_id, after every reconnect until its
// Decision / CancelResult arrives: the gate's idempotency then answers with
// the original decision and never places a second order.
//
// Threading: runs on a boost::asio::io_context owned by the caller. Every
// method must be called, and every handler method is called, on the thread
// running that io_context. No Asio header is included here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "gate.pb.h"
#include "proto/ipc_socket.h"
#include "proto/result.h"

namespace boost::asio {
class io_context;
}

namespace ta::agent {

enum class GateConnectionState {
  kStopped,      // before start() or after stop()
  kConnecting,   // connect(2) in progress
  kHandshaking,  // Hello sent, waiting for the HelloAck
  kReady,        // HelloAck accepted; intents flow
  kBackoff,      // waiting before the next attempt
};
std::string_view gate_connection_state_name(GateConnectionState state);

// Receives what the gate sends. Every method has an empty default, so a
// handler overrides what it uses. Called on the io_context thread; a handler
// may call back into the GateClient.
class GateClientHandler {
 public:
  virtual ~GateClientHandler() = default;
  virtual void on_state_changed(GateConnectionState /*state*/) {}
  // The handshake succeeded. In-flight requests have just been resent.
  virtual void on_connected(const ta::ipc::HelloAck& /*ack*/) {}
  // The connection ended (or an attempt failed); a reconnect follows unless
  // stop() was called. `reason` is one line for logs.
  virtual void on_disconnected(const std::string& /*reason*/) {}
  // The answer to an intent; the intent has left the in-flight table.
  virtual void on_decision(const ta::ipc::Decision& /*decision*/) {}
  virtual void on_cancel_result(const ta::ipc::CancelResult& /*result*/) {}
  virtual void on_order_update(const ta::ipc::OrderUpdate& /*update*/) {}
  virtual void on_fill(const ta::ipc::Fill& /*fill*/) {}
  virtual void on_position_snapshot(const ta::ipc::PositionSnapshot& /*snapshot*/) {}
  // Every PositionSnapshot goes through here first, with the request_id of
  // its envelope: the id of the Bar it answers in SIM lockstep, 0 for one
  // the gate pushes on its own (after the HelloAck). The default forwards to
  // on_position_snapshot().
  virtual void on_position_snapshot_reply(const ta::ipc::PositionSnapshot& snapshot, std::uint64_t /*request_id*/) {
    on_position_snapshot(snapshot);
  }
  virtual void on_halt_state_changed(const ta::ipc::HaltStateChanged& /*change*/) {}
  virtual void on_parameter_change(const ta::ipc::ParameterChange& /*change*/) {}
  virtual void on_proposal_result(const ta::ipc::ProposalResult& /*result*/) {}
  // The gate refused something we sent; the gate closes the connection next.
  virtual void on_protocol_error(const ta::ipc::ProtocolError& /*error*/) {}
};

// Heartbeat period bounds. Below 10 ms the heartbeat is load, not liveness;
// above 60 s the dead-man's switch would be meaningless.
inline constexpr std::int64_t kHeartbeatPeriodMsMin = 10;
inline constexpr std::int64_t kHeartbeatPeriodMsMax = 60'000;
// Used when neither the HelloAck nor the options give a period.
inline constexpr std::int64_t kHeartbeatPeriodMsDefault = 1'000;
// Reconnect backoff: the first retry after 100 ms (a gate restart takes
// longer, so this is cheap), doubling up to 5 s so a long outage costs one
// attempt per ~5 s, with up to half of each delay removed at random so
// several clients do not retry in lockstep.
inline constexpr std::int64_t kReconnectDelayMsInitialDefault = 100;
inline constexpr std::int64_t kReconnectDelayMsMaxDefault = 5'000;
inline constexpr std::int64_t kReconnectDelayMsCeiling = 300'000;  // no config may exceed 5 min
// Requests (intents + cancels) awaiting their answer. A strategy has a few
// orders working at once; 256 unanswered means the gate is not answering,
// and refusing more is better than piling them up.
inline constexpr std::size_t kInflightMaxDefault = 256;
// The gate must answer a Hello this fast.
inline constexpr std::int64_t kHelloTimeoutMsDefault = 2'000;
// The gate echoes every heartbeat, so silence for this long means it is
// wedged: the client closes and reconnects. Must exceed the heartbeat period.
inline constexpr std::int64_t kGateSilenceTimeoutMsDefault = 10'000;

// Exponential backoff with jitter from a seeded generator. Delay n (from 0)
// is uniform in [d/2, d] where d = min(max, initial * 2^n). Deterministic for
// a seed.
class ReconnectBackoff {
 public:
  ReconnectBackoff(std::int64_t initial_ms, std::int64_t max_ms, std::uint64_t seed);
  std::int64_t next_delay_ms();
  void reset() { attempt_ = 0; }
  std::uint32_t attempt() const { return attempt_; }

 private:
  std::int64_t initial_ms_;
  std::int64_t max_ms_;
  std::uint32_t attempt_ = 0;
  std::mt19937_64 rng_;
};

struct GateClientOptions {
  std::string socket_path;
  std::string client_name = "trading-agent";
  std::string client_version;
  // The heartbeat period: the HelloAck's heartbeat_period_ms when it is
  // positive and use_gate_heartbeat_period is set, otherwise this. Clamped to
  // [kHeartbeatPeriodMsMin, kHeartbeatPeriodMsMax].
  std::int64_t heartbeat_period_ms = kHeartbeatPeriodMsDefault;
  bool use_gate_heartbeat_period = true;
  std::int64_t hello_timeout_ms = kHelloTimeoutMsDefault;
  std::int64_t gate_silence_timeout_ms = kGateSilenceTimeoutMsDefault;
  std::int64_t reconnect_delay_ms_initial = kReconnectDelayMsInitialDefault;
  std::int64_t reconnect_delay_ms_max = kReconnectDelayMsMaxDefault;
  std::uint64_t reconnect_seed = 1;  // jitter; log it
  std::size_t inflight_max = kInflightMaxDefault;
  // frame_size_max, write deadline, outbound queue cap. read_idle_timeout_ms
  // is ignored: the hello and silence timeouts above are used instead.
  ta::proto::ConnectionLimits limits;
  // Heartbeat.ts_ns; the agent passes its market clock. Default: wall clock.
  std::function<std::int64_t()> now_ns;
  // After a handshake, keep the in-flight requests (and new submissions)
  // back until release_inflight(), instead of sending them at once. The SIM
  // agent first sends the bars the gate has not processed yet, so that a
  // resent intent is decided after the bar it was computed on.
  bool hold_inflight_after_connect = false;
};

// Checks ranges (path set, positive timeouts, initial <= max <= ceiling,
// inflight_max >= 1, limits valid).
[[nodiscard]] ta::Status validate_options(const GateClientOptions& options);

class GateClient {
 public:
  // `io` and `handler` must outlive the client. Do not destroy the client
  // from inside a handler call; call stop() there instead.
  GateClient(boost::asio::io_context& io, GateClientOptions options, GateClientHandler& handler);
  // Closes the connection at once; no handler call happens afterwards.
  ~GateClient();
  GateClient(const GateClient&) = delete;
  GateClient& operator=(const GateClient&) = delete;

  // Validates the options and starts connecting (asynchronously). Fails on
  // bad options or when already started.
  [[nodiscard]] ta::Status start();
  // Stops reconnecting and closes the connection after queued frames leave.
  // In-flight requests stay in the table (a later start() resends them).
  void stop();

  // Sends an intent now when ready, otherwise when the next handshake
  // completes; keeps it until its Decision arrives and resends it after each
  // reconnect. Fails on an empty intent_id, an intent_id already in flight,
  // or a full table (inflight_max).
  [[nodiscard]] ta::Status submit_intent(const ta::ipc::OrderIntent& intent);
  // Same for a cancel, keyed by cancel_id and answered by a CancelResult.
  [[nodiscard]] ta::Status submit_cancel(const ta::ipc::CancelIntent& cancel);
  // Fire-and-forget messages (Bar, BarBatch, ProposalSubmit, ParameterChangeAck): sent
  // now if ready, otherwise refused. Not resent.
  [[nodiscard]] ta::Status send(const ta::ipc::Envelope& message);
  // Same, without copying the message, and returns the request_id it went
  // out with: the message's own when non-zero, otherwise the next one of
  // the client's sequence, which is written into `message`. A reply can be
  // matched to it.
  [[nodiscard]] ta::Result<std::uint64_t> send_with_id(ta::ipc::Envelope& message);
  // With hold_inflight_after_connect: sends the in-flight requests, in
  // submission order, and stops holding until the next handshake. Harmless
  // when nothing is held.
  void release_inflight();

  GateConnectionState state() const;
  // The accepted HelloAck of the current session (default when not ready).
  const ta::ipc::HelloAck& hello_ack() const;
  std::size_t inflight_count() const;
  bool inflight(std::string_view intent_or_cancel_id) const;
  // The period in use (after the HelloAck), in ms.
  std::int64_t heartbeat_period_ms() const;
  // Counters for tests and the agent's status.
  std::uint64_t heartbeats_sent() const;
  std::uint64_t connects() const;    // successful handshakes
  std::uint64_t resends() const;     // requests sent again after a reconnect

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ta::agent
