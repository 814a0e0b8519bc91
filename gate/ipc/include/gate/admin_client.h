// A blocking client for admin.sock, for tradectl and trading-dash: connect,
// Hello, then requests answered one at a time, each within a timeout.
//
// No event loop and no threads: every call blocks the caller for at most
// timeout_ms. Errors are one line for people, naming the socket and what to
// check (missing socket, refused, permission, timeout, closed by the gate).
#pragma once

#include <cstdint>
#include <string>

#include "admin.pb.h"
#include "proto/framing.h"
#include "proto/ipc_socket.h"
#include "proto/result.h"

namespace ta::gate {

// DESIGN.md section 11: --socket, then $TRADING_ADMIN_SOCKET, then this.
inline constexpr const char* kAdminSocketPathDefault = "/run/trading/admin.sock";
inline constexpr const char* kAdminSocketEnv = "TRADING_ADMIN_SOCKET";
// Each step (connect + handshake, one request) must finish within this. The
// gate answers admin requests from memory in microseconds; 5 s only fires
// when it is wedged.
inline constexpr std::int64_t kAdminTimeoutMsDefault = 5'000;
// Frames that are not the awaited reply (pushes to a dashboard) skipped while
// waiting for one reply before giving up.
inline constexpr std::size_t kAdminSkippedFramesMax = 64;

// $TRADING_ADMIN_SOCKET when set and non-empty, else kAdminSocketPathDefault.
std::string default_admin_socket_path();

struct AdminClientOptions {
  std::string socket_path = kAdminSocketPathDefault;
  std::int64_t timeout_ms = kAdminTimeoutMsDefault;
  std::uint32_t frame_size_max = ta::proto::kFrameSizeMaxDefault;
  std::string client_name = "tradectl";
  std::string client_version;
};

class AdminClient {
 public:
  // Connects to options.socket_path and completes the Hello handshake within
  // options.timeout_ms.
  [[nodiscard]] static ta::Result<AdminClient> connect(const AdminClientOptions& options);

  // Sends `request` (its request_id is replaced by the next id) and waits up
  // to timeout_ms for the reply with the same request_id. A ProtocolError
  // from the gate, a closed connection or a timeout is an error; after an
  // error the client is unusable (the stream position is unknown).
  [[nodiscard]] ta::Result<ta::ipc::AdminEnvelope> request(ta::ipc::AdminEnvelope request);

  // The gate's HelloAck (session id, mode, halt state, version).
  const ta::ipc::HelloAck& hello_ack() const { return ack_; }

  AdminClient(AdminClient&&) noexcept = default;
  AdminClient& operator=(AdminClient&&) noexcept = default;

 private:
  explicit AdminClient(const AdminClientOptions& options);
  ta::Status write_frame(const ta::ipc::AdminEnvelope& message, std::int64_t deadline_ms, const char* waiting_for);
  // The error for a gate that hung up before answering `waiting_for`.
  ta::Error closed_before(const char* waiting_for, const std::string& why) const;
  ta::Result<ta::ipc::AdminEnvelope> read_reply(std::uint64_t request_id, std::int64_t deadline_ms,
                                                const char* waiting_for);

  AdminClientOptions options_;
  ta::proto::UniqueFd fd_;
  ta::proto::FrameDecoder decoder_;
  ta::ipc::HelloAck ack_;
  std::uint64_t next_request_id_ = 1;
  bool broken_ = false;
};

// One-shot: connect, handshake, one request, its reply.
[[nodiscard]] ta::Result<ta::ipc::AdminEnvelope> admin_request(const AdminClientOptions& options,
                                                               ta::ipc::AdminEnvelope request);

}  // namespace ta::gate
