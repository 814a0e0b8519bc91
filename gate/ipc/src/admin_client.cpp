// Blocking admin client: non-blocking socket + poll(2) with a deadline per
// step, so no call can hang.
#include "gate/admin_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace ta::gate {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Waits for `events` on `fd` until `deadline_ms`. false on timeout.
ta::Result<bool> wait_for(int fd, short events, std::int64_t deadline_ms) {
  for (;;) {
    const std::int64_t left = deadline_ms - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return make_error(std::string("poll: ") + std::strerror(errno));
  }
}

}  // namespace

std::string default_admin_socket_path() {
  const char* env = std::getenv(kAdminSocketEnv);
  if (env != nullptr && env[0] != '\0') return env;
  return kAdminSocketPathDefault;
}

AdminClient::AdminClient(const AdminClientOptions& options)
    : options_(options), decoder_(options.frame_size_max) {}

ta::Result<AdminClient> AdminClient::connect(const AdminClientOptions& options) {
  if (options.timeout_ms <= 0) return make_error("admin client timeout_ms must be positive");
  const std::int64_t deadline = now_ms() + options.timeout_ms;
  AdminClient client(options);
  auto fd = ta::proto::connect_unix(options.socket_path);
  if (!fd) return fd.error();
  client.fd_ = std::move(fd).value();

  ta::ipc::AdminEnvelope hello;
  hello.set_request_id(client.next_request_id_++);
  auto* h = hello.mutable_hello();
  h->set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
  h->set_client_name(options.client_name);
  h->set_client_version(options.client_version);
  if (auto st = client.write_frame(hello, deadline, "the hello"); !st) return st.error();
  auto reply = client.read_reply(hello.request_id(), deadline, "the hello");
  if (!reply) return reply.error();
  if (reply->body_case() != ta::ipc::AdminEnvelope::kHelloAck) {
    return make_error("trading-gate at " + options.socket_path + " answered the hello with " +
                      std::string(ta::proto::admin_body_name(reply->body_case())));
  }
  if (!reply->hello_ack().accepted()) {
    return make_error("trading-gate at " + options.socket_path + " refused the hello: " + reply->hello_ack().reason());
  }
  client.ack_ = reply->hello_ack();
  return client;
}

ta::Result<ta::ipc::AdminEnvelope> AdminClient::request(ta::ipc::AdminEnvelope request) {
  if (broken_ || !fd_.valid()) return make_error("admin connection is unusable after an earlier error");
  const std::int64_t deadline = now_ms() + options_.timeout_ms;
  request.set_request_id(next_request_id_++);
  if (auto st = write_frame(request, deadline, "the request"); !st) return st.error();
  return read_reply(request.request_id(), deadline, "the request");
}

ta::Status AdminClient::write_frame(const ta::ipc::AdminEnvelope& message, std::int64_t deadline_ms,
                                    const char* waiting_for) {
  std::string frame;
  if (auto st = ta::proto::encode_frame(message, frame, options_.frame_size_max); !st) return st;
  std::size_t off = 0;
  while (off < frame.size()) {
    const ssize_t n = ::send(fd_.get(), frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto ready = wait_for(fd_.get(), POLLOUT, deadline_ms);
      if (!ready) return ready.error();
      if (!*ready) {
        broken_ = true;
        return make_error("trading-gate at " + options_.socket_path + " did not accept the request within " +
                          std::to_string(options_.timeout_ms) + " ms");
      }
      continue;
    }
    broken_ = true;
    // A gate that refuses the peer closes at once; whether that shows here
    // or in read_reply() is a race, so both say the same.
    if (errno == EPIPE || errno == ECONNRESET) return closed_before(waiting_for, std::strerror(errno));
    return make_error("cannot send to trading-gate at " + options_.socket_path + ": " + std::strerror(errno));
  }
  return {};
}

ta::Result<ta::ipc::AdminEnvelope> AdminClient::read_reply(std::uint64_t request_id, std::int64_t deadline_ms,
                                                           const char* waiting_for) {
  std::size_t skipped = 0;
  char buf[16 * 1024];
  for (;;) {
    auto next = decoder_.next();
    if (next.status == ta::proto::FrameDecoder::Status::kError) {
      broken_ = true;
      return make_error("bad frame from trading-gate at " + options_.socket_path + ": " + next.error);
    }
    if (next.status == ta::proto::FrameDecoder::Status::kFrame) {
      ta::ipc::AdminEnvelope reply;
      if (auto st = ta::proto::decode_admin_envelope(next.payload, ta::proto::Sender::kGate, reply); !st) {
        broken_ = true;
        return make_error("bad reply from trading-gate at " + options_.socket_path + ": " + st.error().message);
      }
      if (reply.body_case() == ta::ipc::AdminEnvelope::kProtocolError) {
        broken_ = true;
        return make_error("trading-gate at " + options_.socket_path +
                          " refused: " + reply.protocol_error().message());
      }
      if (reply.request_id() == request_id) return reply;
      if (++skipped > kAdminSkippedFramesMax) {
        broken_ = true;
        return make_error("no reply to " + std::string(waiting_for) + " among " +
                          std::to_string(kAdminSkippedFramesMax) + " frames from trading-gate");
      }
      continue;
    }
    auto ready = wait_for(fd_.get(), POLLIN, deadline_ms);
    if (!ready) return ready.error();
    if (!*ready) {
      broken_ = true;
      return make_error("no answer to " + std::string(waiting_for) + " from trading-gate at " + options_.socket_path +
                        " within " + std::to_string(options_.timeout_ms) + " ms");
    }
    const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      decoder_.feed(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    broken_ = true;
    return closed_before(waiting_for, n == 0 ? "closed the connection" : std::strerror(errno));
  }
}

ta::Error AdminClient::closed_before(const char* waiting_for, const std::string& why) const {
  return make_error("trading-gate at " + options_.socket_path + " " + why + " before answering " + waiting_for +
                    " (is your user in the admin allow-list? see the gate's log)");
}

ta::Result<ta::ipc::AdminEnvelope> admin_request(const AdminClientOptions& options, ta::ipc::AdminEnvelope request) {
  auto client = AdminClient::connect(options);
  if (!client) return client.error();
  return client.value().request(std::move(request));
}

}  // namespace ta::gate
