// Helpers for the IPC tests: a temporary directory for socket files, a way to
// run an io_context until a condition holds (with a deadline), and a raw
// non-blocking peer that writes arbitrary bytes and reads frames, for poking a
// server without a real client library.
#pragma once

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "proto/framing.h"
#include "proto/ipc_socket.h"

namespace ta::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ta-ipc-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `io` in short slices until `done()` is true or `timeout_ms` passes.
// Returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, int timeout_ms = 2000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    io.restart();
    if (io.run_for(std::chrono::milliseconds(1)) == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return done();
}

// Runs `io` for about `ms` milliseconds.
inline void run_for_ms(boost::asio::io_context& io, int ms) {
  run_until(io, [] { return false; }, ms);
}

// A raw client socket. Writes are non-blocking (test payloads are small
// enough to fit the socket buffer); reads are polled.
class RawPeer {
 public:
  explicit RawPeer(ta::proto::UniqueFd fd, std::uint32_t frame_size_max = ta::proto::kFrameSizeMaxCeiling)
      : fd_(std::move(fd)), decoder_(frame_size_max) {}

  static RawPeer connect(const std::string& path) {
    auto fd = ta::proto::connect_unix(path);
    return RawPeer(fd.ok() ? std::move(fd).value() : ta::proto::UniqueFd());
  }

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  // Writes all of `bytes`; false if the socket would block or failed.
  bool write_bytes(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  bool write_message(const google::protobuf::MessageLite& message) {
    std::string frame;
    if (!ta::proto::encode_frame(message, frame, ta::proto::kFrameSizeMaxCeiling).ok()) return false;
    return write_bytes(frame);
  }

  // Reads what is available; true when a whole frame is ready in `payload`.
  bool poll_frame(std::string& payload) {
    pump();
    auto next = decoder_.next();
    if (next.status != ta::proto::FrameDecoder::Status::kFrame) return false;
    payload.assign(next.payload.data(), next.payload.size());
    return true;
  }

  template <class Message>
  bool poll_message(Message& out) {
    std::string payload;
    if (!poll_frame(payload)) return false;
    return out.ParseFromString(payload);
  }

  // Reads what is available; true once the peer closed (EOF or reset).
  bool poll_closed() {
    pump();
    return closed_;
  }

  void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }
  void close() { fd_.reset(); }

 private:
  void pump() {
    if (closed_ || !fd_.valid()) return;
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        decoder_.feed(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed_ = true;
      return;
    }
  }

  ta::proto::UniqueFd fd_;
  ta::proto::FrameDecoder decoder_;
  bool closed_ = false;
};

}  // namespace ta::test
