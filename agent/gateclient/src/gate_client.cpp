// GateClient: a small state machine driven by callbacks on the caller's
// io_context. One FramedConnection at a time; each connection attempt has a
// generation number so late callbacks of an old connection are ignored.
#include "agent/gate_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace ta::agent {
namespace {

namespace asio = boost::asio;
using ta::proto::CloseReason;
using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> client_log() {
  static const std::shared_ptr<spdlog::logger> log = [] {
    if (auto existing = spdlog::get("agent.gateclient")) return existing;
    auto created = spdlog::default_logger()->clone("agent.gateclient");
    spdlog::register_logger(created);
    return created;
  }();
  return log;
}

std::int64_t wall_clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view gate_connection_state_name(GateConnectionState state) {
  switch (state) {
    case GateConnectionState::kStopped:
      return "stopped";
    case GateConnectionState::kConnecting:
      return "connecting";
    case GateConnectionState::kHandshaking:
      return "handshaking";
    case GateConnectionState::kReady:
      return "ready";
    case GateConnectionState::kBackoff:
      return "backoff";
  }
  return "?";
}

// ---------------------------------------------------------------------------

ReconnectBackoff::ReconnectBackoff(std::int64_t initial_ms, std::int64_t max_ms, std::uint64_t seed)
    : initial_ms_(std::max<std::int64_t>(1, initial_ms)), max_ms_(std::max(initial_ms_, max_ms)), rng_(seed) {}

std::int64_t ReconnectBackoff::next_delay_ms() {
  std::int64_t d = initial_ms_;
  for (std::uint32_t i = 0; i < attempt_ && d < max_ms_; ++i) d *= 2;
  d = std::min(d, max_ms_);
  // Stop counting once the cap is reached so the counter cannot overflow.
  if (d < max_ms_) ++attempt_;
  std::uniform_int_distribution<std::int64_t> jitter(d / 2, d);
  return jitter(rng_);
}

ta::Status validate_options(const GateClientOptions& o) {
  if (o.socket_path.empty()) return make_error("gate client: socket_path is empty");
  if (o.heartbeat_period_ms <= 0) return make_error("gate client: heartbeat_period_ms must be positive");
  if (o.hello_timeout_ms <= 0) return make_error("gate client: hello_timeout_ms must be positive");
  if (o.gate_silence_timeout_ms <= 0) return make_error("gate client: gate_silence_timeout_ms must be positive");
  if (o.reconnect_delay_ms_initial <= 0) return make_error("gate client: reconnect_delay_ms_initial must be positive");
  if (o.reconnect_delay_ms_max < o.reconnect_delay_ms_initial || o.reconnect_delay_ms_max > kReconnectDelayMsCeiling) {
    return make_error("gate client: reconnect_delay_ms_max must be within reconnect_delay_ms_initial.." +
                      std::to_string(kReconnectDelayMsCeiling));
  }
  if (o.inflight_max < 1) return make_error("gate client: inflight_max must be at least 1");
  if (auto st = ta::proto::validate_limits(o.limits); !st) return make_error("gate client: " + st.error().message);
  return {};
}

// ---------------------------------------------------------------------------

class GateClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, GateClientOptions options, GateClientHandler& handler)
      : io_(io),
        options_(std::move(options)),
        handler_(handler),
        backoff_(options_.reconnect_delay_ms_initial, options_.reconnect_delay_ms_max, options_.reconnect_seed),
        reconnect_timer_(io),
        heartbeat_timer_(io) {}

  void destroy() {
    running_ = false;
    ++generation_;
    conn_.reset();  // detached: no callbacks
    reconnect_timer_.cancel();
    heartbeat_timer_.cancel();
  }

  ta::Status start() {
    if (running_) return make_error("gate client already started");
    if (auto st = validate_options(options_); !st) return st;
    running_ = true;
    client_log()->info("starting path={} reconnect_seed={}", options_.socket_path, options_.reconnect_seed);
    backoff_.reset();
    if (conn_ == nullptr) connect_now();  // else: the old connection's close leads to a reconnect
    return {};
  }

  void stop() {
    running_ = false;
    reconnect_timer_.cancel();
    heartbeat_timer_.cancel();
    if (conn_ != nullptr) {
      conn_->close(CloseReason::kLocalClose, "client stopping", true);
      return;  // kStopped when the close completes
    }
    set_state(GateConnectionState::kStopped);
  }

  ta::Status submit_intent(const ta::ipc::OrderIntent& intent) {
    if (intent.intent_id().empty()) return make_error("intent_id is empty");
    // The envelope borrows the caller's intent for the encoding instead of
    // copying it (unsafe_arena_* only moves the pointer; nothing writes
    // through it), and gives it back before the envelope is destroyed.
    ta::ipc::Envelope env;
    env.unsafe_arena_set_allocated_order_intent(const_cast<ta::ipc::OrderIntent*>(&intent));
    auto st = track(intents_, intent.intent_id(), env);
    env.unsafe_arena_release_order_intent();
    return st;
  }

  ta::Status submit_cancel(const ta::ipc::CancelIntent& cancel) {
    if (cancel.cancel_id().empty()) return make_error("cancel_id is empty");
    ta::ipc::Envelope env;
    *env.mutable_cancel_intent() = cancel;
    return track(cancels_, cancel.cancel_id(), env);
  }

  // Sets the message's request_id when it is 0, encodes and sends it
  // without copying it.
  ta::Result<std::uint64_t> send(ta::ipc::Envelope& message) {
    const auto body = message.body_case();
    if (body != ta::ipc::Envelope::kBar && body != ta::ipc::Envelope::kBarBatch &&
        body != ta::ipc::Envelope::kProposalSubmit &&
        body != ta::ipc::Envelope::kParameterChangeAck) {
      return make_error(std::string(ta::proto::envelope_body_name(body)) +
                        " is not sent with GateClient::send (use submit_intent/submit_cancel; hello and "
                        "heartbeat are the client's own)");
    }
    if (state_ != GateConnectionState::kReady || conn_ == nullptr) return make_error("not connected to the gate");
    if (message.request_id() == 0) message.set_request_id(next_request_id_++);
    if (auto st = conn_->send(message); !st) return st.error();
    return message.request_id();
  }

  GateConnectionState state() const { return state_; }
  const ta::ipc::HelloAck& hello_ack() const { return ack_; }
  std::size_t inflight_count() const { return intents_.size() + cancels_.size(); }
  bool inflight(std::string_view id) const {
    const std::string key(id);
    return intents_.count(key) > 0 || cancels_.count(key) > 0;
  }
  std::int64_t heartbeat_period_ms() const { return heartbeat_period_ms_; }
  std::uint64_t heartbeats_sent() const { return heartbeats_sent_; }
  std::uint64_t connects() const { return connects_; }
  std::uint64_t resends() const { return resends_; }

  void release_inflight() {
    if (!holding_) return;
    holding_ = false;
    if (state_ == GateConnectionState::kReady) resend_inflight();
  }

 private:
  struct Inflight {
    std::uint64_t order = 0;  // submission order, for resending in order
    std::string frame;        // encoded once; resent byte for byte
  };
  using InflightTable = std::map<std::string, Inflight>;

  ta::Status track(InflightTable& table, const std::string& id, ta::ipc::Envelope& env) {
    if (table.count(id) > 0) return make_error("'" + id + "' is already in flight");
    if (inflight_count() >= options_.inflight_max) {
      return make_error("in-flight table full (inflight_max " + std::to_string(options_.inflight_max) +
                        "); the gate is not answering");
    }
    env.set_request_id(next_request_id_);
    std::string frame;
    if (auto st = ta::proto::encode_frame(env, frame, options_.limits.frame_size_max); !st) return st;
    ++next_request_id_;
    Inflight& entry = table[id];
    entry.order = next_order_++;
    entry.frame = std::move(frame);
    if (state_ == GateConnectionState::kReady && conn_ != nullptr && !holding_) {
      // A failure here closes the connection; the entry is resent after the
      // reconnect, so it is not an error for the caller.
      (void)conn_->send_frame(entry.frame);
    }
    return {};
  }

  void set_state(GateConnectionState s) {
    if (s == state_) return;
    state_ = s;
    handler_.on_state_changed(s);
  }

  void connect_now() {
    if (!running_) return;
    set_state(GateConnectionState::kConnecting);
    auto fd = ta::proto::connect_unix(options_.socket_path);
    if (!fd) {
      client_log()->warn("connect failed reason=\"{}\"", fd.error().message);
      handler_.on_disconnected(fd.error().message);
      schedule_reconnect();
      return;
    }
    const std::uint64_t gen = ++generation_;
    ta::proto::ConnectionLimits limits = options_.limits;
    limits.read_idle_timeout_ms = options_.hello_timeout_ms;
    ta::proto::FramedConnection::Callbacks cb;
    cb.on_frame = [this, gen](std::string_view payload) {
      if (gen == generation_) on_frame(payload);
    };
    cb.on_closed = [this, gen](CloseReason reason, const std::string& detail) {
      if (gen == generation_) on_closed(reason, detail);
    };
    conn_ = std::make_unique<ta::proto::FramedConnection>(io_, std::move(fd).value(), limits, std::move(cb));
    conn_->start();
    ta::ipc::Envelope hello;
    hello.set_request_id(next_request_id_++);
    auto* h = hello.mutable_hello();
    h->set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
    h->set_client_name(options_.client_name);
    h->set_client_version(options_.client_version);
    set_state(GateConnectionState::kHandshaking);
    (void)conn_->send(hello);  // a failure closes the connection and we retry
  }

  void schedule_reconnect() {
    if (!running_) {
      set_state(GateConnectionState::kStopped);
      return;
    }
    const std::int64_t delay = backoff_.next_delay_ms();
    set_state(GateConnectionState::kBackoff);
    client_log()->info("reconnecting delay_ms={} attempt={}", delay, backoff_.attempt());
    reconnect_timer_.expires_after(std::chrono::milliseconds(delay));
    reconnect_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->connect_now();
    });
  }

  void on_closed(CloseReason reason, const std::string& detail) {
    conn_.reset();
    heartbeat_timer_.cancel();
    ack_.Clear();
    const std::string why = std::string(ta::proto::close_reason_name(reason)) + ": " + detail;
    client_log()->log(reason == CloseReason::kLocalClose ? spdlog::level::info : spdlog::level::warn,
                      "disconnected reason={} detail=\"{}\" inflight={}", ta::proto::close_reason_name(reason), detail,
                      inflight_count());
    handler_.on_disconnected(why);
    schedule_reconnect();
  }

  void violation(const std::string& message) {
    client_log()->warn("gate broke the protocol detail=\"{}\"", message);
    if (conn_ != nullptr) conn_->close(CloseReason::kProtocolViolation, message, false);
  }

  void on_frame(std::string_view payload) {
    ta::ipc::Envelope& env = scratch_.fresh_envelope();
    if (auto st = ta::proto::decode_envelope(payload, ta::proto::Sender::kGate, env); !st) {
      violation(st.error().message);
      return;
    }
    if (state_ == GateConnectionState::kHandshaking) {
      if (env.body_case() == ta::ipc::Envelope::kProtocolError) {
        client_log()->error("gate refused the connection detail=\"{}\"", env.protocol_error().message());
        handler_.on_protocol_error(env.protocol_error());
        return;  // the gate closes next
      }
      if (env.body_case() != ta::ipc::Envelope::kHelloAck) {
        violation("expected hello_ack, got " + std::string(ta::proto::envelope_body_name(env.body_case())));
        return;
      }
      on_hello_ack(env.hello_ack());
      return;
    }
    dispatch(env);
  }

  void on_hello_ack(const ta::ipc::HelloAck& ack) {
    if (!ack.accepted()) {
      client_log()->error("hello refused reason=\"{}\"", ack.reason());
      if (conn_ != nullptr) conn_->close(CloseReason::kHandshakeRefused, "gate refused the hello: " + ack.reason(), false);
      return;
    }
    ack_ = ack;
    ++connects_;
    backoff_.reset();
    std::int64_t period = options_.heartbeat_period_ms;
    if (options_.use_gate_heartbeat_period && ack.heartbeat_period_ms() > 0) period = ack.heartbeat_period_ms();
    heartbeat_period_ms_ = std::clamp(period, kHeartbeatPeriodMsMin, kHeartbeatPeriodMsMax);
    // The gate echoes heartbeats; leave room for at least three of them.
    conn_->set_read_idle_timeout_ms(std::max(options_.gate_silence_timeout_ms, 3 * heartbeat_period_ms_));
    set_state(GateConnectionState::kReady);
    client_log()->info("connected session={} heartbeat_period_ms={} inflight={}", ack.session_id(),
                       heartbeat_period_ms_, inflight_count());
    if (options_.hold_inflight_after_connect) {
      holding_ = true;  // until release_inflight()
    } else {
      resend_inflight();
    }
    heartbeat_due_ = Clock::now();
    const std::uint64_t gen = generation_;
    schedule_heartbeat(gen);
    handler_.on_connected(ack_);
  }

  void resend_inflight() {
    std::vector<const Inflight*> pending;
    pending.reserve(inflight_count());
    for (const auto& [id, e] : intents_) pending.push_back(&e);
    for (const auto& [id, e] : cancels_) pending.push_back(&e);
    std::sort(pending.begin(), pending.end(), [](const Inflight* a, const Inflight* b) { return a->order < b->order; });
    for (const Inflight* e : pending) {
      if (conn_ == nullptr || !conn_->open()) return;
      if (conn_->send_frame(e->frame).ok()) ++resends_;
    }
  }

  void schedule_heartbeat(std::uint64_t gen) {
    // Fixed period: each beat is due one period after the previous one was
    // due, not after it was sent, so the period does not drift.
    const auto now = Clock::now();
    heartbeat_due_ += std::chrono::milliseconds(heartbeat_period_ms_);
    if (heartbeat_due_ <= now) heartbeat_due_ = now + std::chrono::milliseconds(heartbeat_period_ms_);
    heartbeat_timer_.expires_at(heartbeat_due_);
    heartbeat_timer_.async_wait([weak = weak_from_this(), gen](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || gen != self->generation_) return;
      self->send_heartbeat();
      self->schedule_heartbeat(gen);
    });
  }

  void send_heartbeat() {
    if (state_ != GateConnectionState::kReady || conn_ == nullptr) return;
    ta::ipc::Envelope env;
    env.set_request_id(next_request_id_++);
    auto* hb = env.mutable_heartbeat();
    hb->set_sequence(++heartbeat_sequence_);
    hb->set_ts_ns(options_.now_ns ? options_.now_ns() : wall_clock_ns());
    if (conn_->send(env).ok()) ++heartbeats_sent_;
  }

  void dispatch(const ta::ipc::Envelope& env) {
    using E = ta::ipc::Envelope;
    switch (env.body_case()) {
      case E::kDecision:
        intents_.erase(env.decision().intent_id());
        handler_.on_decision(env.decision());
        return;
      case E::kCancelResult:
        cancels_.erase(env.cancel_result().cancel_id());
        handler_.on_cancel_result(env.cancel_result());
        return;
      case E::kOrderUpdate:
        handler_.on_order_update(env.order_update());
        return;
      case E::kFill:
        handler_.on_fill(env.fill());
        return;
      case E::kPositionSnapshot:
        handler_.on_position_snapshot_reply(env.position_snapshot(), env.request_id());
        return;
      case E::kHaltStateChanged:
        handler_.on_halt_state_changed(env.halt_state_changed());
        return;
      case E::kParameterChange:
        handler_.on_parameter_change(env.parameter_change());
        return;
      case E::kProposalResult:
        handler_.on_proposal_result(env.proposal_result());
        return;
      case E::kProtocolError:
        client_log()->warn("gate reported a protocol error detail=\"{}\"", env.protocol_error().message());
        handler_.on_protocol_error(env.protocol_error());
        return;
      case E::kHeartbeat:
        return;  // the gate's echo; receiving it already refreshed the read deadline
      case E::kHelloAck:
        violation("hello_ack after the handshake");
        return;
      case E::kHello:
      case E::kOrderIntent:
      case E::kCancelIntent:
      case E::kBar:
      case E::kBarBatch:
      case E::kProposalSubmit:
      case E::kParameterChangeAck:
      case E::BODY_NOT_SET:
        // decode_envelope already refused these from the gate.
        violation("unexpected " + std::string(ta::proto::envelope_body_name(env.body_case())));
        return;
    }
  }

  asio::io_context& io_;
  GateClientOptions options_;
  GateClientHandler& handler_;
  ReconnectBackoff backoff_;
  asio::steady_timer reconnect_timer_;
  asio::steady_timer heartbeat_timer_;
  std::unique_ptr<ta::proto::FramedConnection> conn_;
  std::uint64_t generation_ = 0;
  GateConnectionState state_ = GateConnectionState::kStopped;
  bool running_ = false;
  ta::ipc::HelloAck ack_;
  ta::proto::DecodeScratch scratch_;  // the frame being dispatched
  InflightTable intents_;
  InflightTable cancels_;
  std::uint64_t next_order_ = 1;
  std::uint64_t next_request_id_ = 1;
  std::uint64_t heartbeat_sequence_ = 0;
  Clock::time_point heartbeat_due_{};
  std::int64_t heartbeat_period_ms_ = 0;
  std::uint64_t heartbeats_sent_ = 0;
  std::uint64_t connects_ = 0;
  std::uint64_t resends_ = 0;
  bool holding_ = false;  // hold_inflight_after_connect: requests wait for release_inflight()
};

// ---------------------------------------------------------------------------

GateClient::GateClient(boost::asio::io_context& io, GateClientOptions options, GateClientHandler& handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), handler)) {}

GateClient::~GateClient() { impl_->destroy(); }

ta::Status GateClient::start() { return impl_->start(); }
void GateClient::stop() { impl_->stop(); }
ta::Status GateClient::submit_intent(const ta::ipc::OrderIntent& intent) { return impl_->submit_intent(intent); }
ta::Status GateClient::submit_cancel(const ta::ipc::CancelIntent& cancel) { return impl_->submit_cancel(cancel); }
ta::Status GateClient::send(const ta::ipc::Envelope& message) {
  ta::ipc::Envelope copy = message;
  auto id = impl_->send(copy);
  if (!id) return id.error();
  return {};
}
ta::Result<std::uint64_t> GateClient::send_with_id(ta::ipc::Envelope& message) { return impl_->send(message); }
void GateClient::release_inflight() { impl_->release_inflight(); }
GateConnectionState GateClient::state() const { return impl_->state(); }
const ta::ipc::HelloAck& GateClient::hello_ack() const { return impl_->hello_ack(); }
std::size_t GateClient::inflight_count() const { return impl_->inflight_count(); }
bool GateClient::inflight(std::string_view id) const { return impl_->inflight(id); }
std::int64_t GateClient::heartbeat_period_ms() const { return impl_->heartbeat_period_ms(); }
std::uint64_t GateClient::heartbeats_sent() const { return impl_->heartbeats_sent(); }
std::uint64_t GateClient::connects() const { return impl_->connects(); }
std::uint64_t GateClient::resends() const { return impl_->resends(); }

}  // namespace ta::agent
