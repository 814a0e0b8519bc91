// FramedConnection: three coroutines per connection on the owner's
// io_context.
//
//   reader   - reads into a fixed chunk, feeds the FrameDecoder, hands each
//              frame to on_frame; pauses while the outbound queue is at the
//              pause threshold (backpressure).
//   writer   - gathers queued frames into one write_some; waits on a signal
//              timer when the queue is empty.
//   watchdog - one timer for all deadlines (read idle, write progress, close
//              flush). Reads and writes only move time points; the timer is
//              re-armed only when a deadline moves earlier than its expiry,
//              so the hot path does not touch the timer queue.
//
// Errors inside the loop are values (as_tuple), never exceptions.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <vector>

#include "proto/ipc_socket.h"

namespace ta::proto {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

Clock::duration ms(std::int64_t v) { return std::chrono::milliseconds(v); }

}  // namespace

class FramedConnection::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, UniqueFd fd, const ConnectionLimits& limits, Callbacks callbacks)
      : io_(io),
        socket_(io),
        watchdog_(io),
        write_signal_(io),
        resume_signal_(io),
        limits_(limits),
        callbacks_(std::move(callbacks)),
        decoder_(limits.frame_size_max),
        read_buf_(kReadChunkBytes) {
    boost::system::error_code ec;
    socket_.assign(asio::local::stream_protocol(), fd.get(), ec);
    if (ec) {
      assign_error_ = "cannot adopt socket: " + ec.message();
      return;  // fd still owned by `fd` and closed by it
    }
    fd.release();
    socket_.non_blocking(true, ec);
  }

  void start() {
    if (started_) return;
    started_ = true;
    if (!assign_error_.empty()) {
      close(CloseReason::kReadError, assign_error_, false);
      return;
    }
    read_deadline_ = Clock::now() + ms(limits_.read_idle_timeout_ms);
    auto self = shared_from_this();
    asio::co_spawn(io_, read_loop(self), asio::detached);
    asio::co_spawn(io_, write_loop(self), asio::detached);
    asio::co_spawn(io_, watchdog_loop(self), asio::detached);
  }

  // Writes `frame` at once when nothing is ahead of it, otherwise (or for
  // what did not fit) copies it into the queue for the writer.
  Status enqueue(std::string_view frame) {
    if (closing_) return make_error("connection is closed");
    if (queue_.size() >= limits_.outbound_queue_max) {
      close(CloseReason::kOutboundQueueFull,
            "outbound queue holds " + std::to_string(queue_.size()) + " frames (outbound_queue_max " +
                std::to_string(limits_.outbound_queue_max) + "); the peer is not draining",
            false);
      return make_error("outbound queue full; connection closed");
    }
    if (started_ && queue_.empty() && !writing_) {
      // Nothing ahead of this frame: try to write it now rather than wake the
      // writer, which saves a trip through the event loop per reply.
      boost::system::error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(frame), ec);
      if (!ec && n == frame.size()) return {};
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
        write_failed(ec);
        return make_error("write failed: " + ec.message());
      }
      if (!ec) front_offset_ = n;
    }
    queue_.emplace_back(frame);
    write_signal_.cancel();
    return {};
  }

  // Reused for every send() so encoding does not allocate.
  std::string& encode_buffer() {
    encode_buf_.clear();
    return encode_buf_;
  }

  void close(CloseReason reason, std::string detail, bool flush) {
    if (closed_) return;
    if (closing_ && flush) return;  // already flushing
    if (!closing_) {
      reason_ = reason;
      detail_ = std::move(detail);
      closing_ = true;
    }
    if (flush && started_ && !queue_.empty()) {
      flush_deadline_ = Clock::now() + ms(limits_.close_flush_timeout_ms);
      poke_watchdog(flush_deadline_);
      resume_signal_.cancel();  // a paused reader sees closing_ and ends
      write_signal_.cancel();
      return;
    }
    finish_close();
  }

  void detach() {
    detached_ = true;
    if (!closing_) {
      reason_ = CloseReason::kLocalClose;
      detail_ = "connection object destroyed";
      closing_ = true;
    }
    finish_close();
  }

  void set_read_idle_timeout_ms(std::int64_t timeout_ms) {
    limits_.read_idle_timeout_ms = timeout_ms;
    read_deadline_ = Clock::now() + ms(timeout_ms);
    poke_watchdog(read_deadline_);
  }

  bool open() const { return !closing_; }
  std::uint32_t frame_size_max() const { return limits_.frame_size_max; }
  std::size_t queued() const { return queue_.size(); }
  bool paused() const { return paused_; }

 private:
  std::size_t pause_threshold() const { return read_pause_threshold(limits_.outbound_queue_max); }

  void finish_close() {
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    boost::system::error_code ec;
    socket_.close(ec);
    watchdog_.cancel();
    write_signal_.cancel();
    resume_signal_.cancel();
    if (!detached_) {
      asio::post(io_, [self = shared_from_this()] {
        if (!self->detached_ && self->callbacks_.on_closed) self->callbacks_.on_closed(self->reason_, self->detail_);
      });
    }
  }

  // Moves the watchdog's wake-up earlier when `deadline` is before it.
  void poke_watchdog(Clock::time_point deadline) {
    if (started_ && deadline < watchdog_.expiry()) watchdog_.expires_at(deadline);
  }

  Clock::time_point next_deadline() const {
    Clock::time_point next = Clock::time_point::max();
    if (!closing_ && !paused_) next = read_deadline_;
    if (writing_) next = std::min(next, write_deadline_);
    if (closing_) next = std::min(next, flush_deadline_);
    return next;
  }

  static awaitable<void> read_loop(std::shared_ptr<Impl> self) { co_await self->read_body(); }
  static awaitable<void> write_loop(std::shared_ptr<Impl> self) { co_await self->write_body(); }
  static awaitable<void> watchdog_loop(std::shared_ptr<Impl> self) { co_await self->watchdog_body(); }

  awaitable<void> read_body() {
    for (;;) {
      // Hand out every complete frame already buffered, pausing while the
      // peer's replies are piling up.
      for (;;) {
        if (closing_) co_return;
        if (queue_.size() >= pause_threshold()) {
          paused_ = true;
          resume_signal_.expires_at(Clock::time_point::max());
          co_await resume_signal_.async_wait(kNoThrow);
          continue;
        }
        if (paused_) {
          paused_ = false;
          read_deadline_ = Clock::now() + ms(limits_.read_idle_timeout_ms);
          poke_watchdog(read_deadline_);
        }
        auto next = decoder_.next();
        if (next.status == FrameDecoder::Status::kNeedMore) break;
        if (next.status == FrameDecoder::Status::kError) {
          if (callbacks_.on_stream_error && !detached_) callbacks_.on_stream_error(next.error);
          close(CloseReason::kFrameOversize, next.error, true);
          co_return;
        }
        if (callbacks_.on_frame && !detached_) callbacks_.on_frame(next.payload);
      }
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_buf_), kNoThrow);
      if (closing_) co_return;
      if (ec == asio::error::eof) {
        if (decoder_.buffered() > 0) {
          close(CloseReason::kTruncatedFrame,
                "peer closed in the middle of a frame (" + std::to_string(decoder_.buffered()) + " bytes pending)",
                false);
        } else {
          // Replies already queued may still be wanted by a peer that only
          // shut down its sending side.
          close(CloseReason::kPeerClosed, "peer closed the connection", true);
        }
        co_return;
      }
      if (ec) {
        close(CloseReason::kReadError, "read failed: " + ec.message(), false);
        co_return;
      }
      read_deadline_ = Clock::now() + ms(limits_.read_idle_timeout_ms);
      decoder_.feed(read_buf_.data(), n);
    }
  }

  awaitable<void> write_body() {
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(kWriteBatchFramesMax);
    for (;;) {
      if (closed_) co_return;
      if (queue_.empty()) {
        if (closing_) {
          finish_close();  // flush complete
          co_return;
        }
        write_signal_.expires_at(Clock::time_point::max());
        co_await write_signal_.async_wait(kNoThrow);
        continue;
      }
      buffers.clear();
      for (std::size_t i = 0; i < queue_.size() && i < kWriteBatchFramesMax; ++i) {
        const std::string& f = queue_[i];
        const std::size_t skip = i == 0 ? front_offset_ : 0;
        buffers.emplace_back(f.data() + skip, f.size() - skip);
      }
      writing_ = true;
      write_deadline_ = Clock::now() + ms(limits_.write_timeout_ms);
      poke_watchdog(write_deadline_);
      auto [ec, n] = co_await socket_.async_write_some(buffers, kNoThrow);
      writing_ = false;
      if (closed_) co_return;
      if (ec) {
        write_failed(ec);
        co_return;
      }
      consume(n);
      if (paused_ && queue_.size() < pause_threshold()) resume_signal_.cancel();
    }
  }

  // A peer that went away shows up as EPIPE/ECONNRESET on the next write:
  // that is an end of stream, not a fault.
  void write_failed(const boost::system::error_code& ec) {
    if (ec == asio::error::broken_pipe || ec == asio::error::connection_reset) {
      close(CloseReason::kPeerClosed, "peer closed the connection (" + ec.message() + " on write)", false);
      return;
    }
    close(CloseReason::kWriteError, "write failed: " + ec.message(), false);
  }

  // Drops `n` written bytes from the front of the queue.
  void consume(std::size_t n) {
    while (n > 0 && !queue_.empty()) {
      const std::size_t left = queue_.front().size() - front_offset_;
      if (n < left) {
        front_offset_ += n;
        return;
      }
      n -= left;
      queue_.pop_front();
      front_offset_ = 0;
    }
  }

  awaitable<void> watchdog_body() {
    while (!closed_) {
      watchdog_.expires_at(next_deadline());
      co_await watchdog_.async_wait(kNoThrow);
      if (closed_) co_return;
      const auto now = Clock::now();
      if (closing_ && now >= flush_deadline_) {
        finish_close();  // flush did not finish in time
        co_return;
      }
      if (writing_ && now >= write_deadline_) {
        close(CloseReason::kWriteTimeout,
              "peer did not drain writes within " + std::to_string(limits_.write_timeout_ms) + " ms", false);
        co_return;
      }
      if (!closing_ && !paused_ && now >= read_deadline_) {
        close(CloseReason::kIdleTimeout,
              "no data from peer within " + std::to_string(limits_.read_idle_timeout_ms) + " ms", false);
        co_return;
      }
    }
  }

  asio::io_context& io_;
  asio::local::stream_protocol::socket socket_;
  asio::steady_timer watchdog_;
  asio::steady_timer write_signal_;   // cancelled to wake an idle writer
  asio::steady_timer resume_signal_;  // cancelled to wake a paused reader
  ConnectionLimits limits_;
  Callbacks callbacks_;
  FrameDecoder decoder_;
  std::vector<char> read_buf_;
  std::deque<std::string> queue_;  // encoded frames; deque keeps their addresses stable
  std::size_t front_offset_ = 0;   // bytes of queue_.front() already written
  std::string assign_error_;
  std::string encode_buf_;

  Clock::time_point read_deadline_ = Clock::time_point::max();
  Clock::time_point write_deadline_ = Clock::time_point::max();
  Clock::time_point flush_deadline_ = Clock::time_point::max();

  bool started_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool closing_ = false;  // no more reading or sending; may still flush
  bool closed_ = false;   // socket closed
  bool detached_ = false;  // owner gone: no more callbacks
  CloseReason reason_ = CloseReason::kLocalClose;
  std::string detail_;
};

FramedConnection::FramedConnection(boost::asio::io_context& io, UniqueFd fd, const ConnectionLimits& limits,
                                   Callbacks callbacks)
    : impl_(std::make_shared<Impl>(io, std::move(fd), limits, std::move(callbacks))) {}

FramedConnection::~FramedConnection() { impl_->detach(); }

void FramedConnection::start() { impl_->start(); }

Status FramedConnection::send(const google::protobuf::MessageLite& message) {
  if (!impl_->open()) return make_error("connection is closed");
  std::string& frame = impl_->encode_buffer();
  if (auto st = encode_frame(message, frame, impl_->frame_size_max()); !st) return st;
  return impl_->enqueue(frame);
}

Status FramedConnection::send_frame(std::string_view frame) {
  if (frame.size() < kFrameHeaderBytes || frame.size() - kFrameHeaderBytes > impl_->frame_size_max()) {
    return make_error("frame of " + std::to_string(frame.size()) + " bytes does not fit frame_size_max " +
                      std::to_string(impl_->frame_size_max()));
  }
  return impl_->enqueue(frame);
}

void FramedConnection::close(CloseReason reason, std::string detail, bool flush) {
  impl_->close(reason, std::move(detail), flush);
}

void FramedConnection::set_read_idle_timeout_ms(std::int64_t timeout_ms) {
  impl_->set_read_idle_timeout_ms(timeout_ms);
}

bool FramedConnection::open() const { return impl_->open(); }
std::size_t FramedConnection::queued() const { return impl_->queued(); }
bool FramedConnection::reading_paused() const { return impl_->paused(); }

}  // namespace ta::proto
