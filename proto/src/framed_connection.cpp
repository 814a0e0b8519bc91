// FramedConnection: three coroutines per connection on the owner's
// io_context.
//
//   reader   - reads into a fixed chunk, feeds the FrameDecoder, hands each
//              frame to on_frame; pauses while the outbound queue is at the
//              pause threshold (backpressure). While bytes keep arriving it
//              reads again at once, without a trip through the event loop
//              (at most kReadsPerTurnMax reads in a row, then it yields).
//   writer   - writes what the owner could not write at once; waits on a
//              signal timer while nothing is pending.
//
// Outbound frames are encoded straight into one byte buffer. Replies made
// while a batch of received frames is handed out are "corked": they leave
// together in one send when the batch ends (or every kWriteBatchFramesMax
// frames), so a burst of requests costs one write, not one per reply. A
// frame sent outside a batch is written at once when nothing is ahead of it.
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

// Reads done at once, without waiting on the event loop, before the reader
// yields to it. Each read takes up to kReadChunkBytes, so a peer that keeps
// the socket full gets at most 16 reads (1 MiB) per turn; other connections
// and timers then run.
constexpr std::size_t kReadsPerTurnMax = 16;
// Written bytes are dropped from the front of the outbound buffer once they
// are at least this many and half of it (when all of it is written, at once).
constexpr std::size_t kCompactBytes = 64 * 1024;

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

  // Encodes `message` as one frame at the end of the outbound bytes.
  Status send(const google::protobuf::MessageLite& message) {
    if (auto st = admit(); !st) return st;
    std::string& buf = append_target();
    const std::size_t before = buf.size();
    if (auto st = encode_frame(message, buf, limits_.frame_size_max); !st) return st;
    return queued_frame(buf.size() - before);
  }

  // Queues an already encoded frame.
  Status send_frame(std::string_view frame) {
    if (auto st = admit(); !st) return st;
    append_target().append(frame);
    return queued_frame(frame.size());
  }

  void close(CloseReason reason, std::string detail, bool flush) {
    if (closed_) return;
    if (closing_ && flush) return;  // already flushing
    if (!closing_) {
      reason_ = reason;
      detail_ = std::move(detail);
      closing_ = true;
    }
    if (flush && started_ && has_output()) {
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
  std::size_t queued() const { return frame_ends_.size(); }
  bool paused() const { return paused_; }

 private:
  std::size_t pause_threshold() const { return read_pause_threshold(limits_.outbound_queue_max); }

  bool has_output() const { return written_ < appended_; }

  // Refuses a frame when closing, or when the queue is already at its cap
  // (which closes the connection).
  Status admit() {
    if (closing_) return make_error("connection is closed");
    if (frame_ends_.size() >= limits_.outbound_queue_max) {
      close(CloseReason::kOutboundQueueFull,
            "outbound queue holds " + std::to_string(frame_ends_.size()) + " frames (outbound_queue_max " +
                std::to_string(limits_.outbound_queue_max) + "); the peer is not draining",
            false);
      return make_error("outbound queue full; connection closed");
    }
    return {};
  }

  // Where new frames go: out_, unless a write from out_ is in flight (its
  // bytes must not move), then spill_, which joins out_ when it completes.
  std::string& append_target() { return writing_ ? spill_ : out_; }

  Status queued_frame(std::size_t bytes) {
    appended_ += bytes;
    frame_ends_.push_back(appended_);
    if (!corked_) return write_now();
    return {};
  }

  // Writes pending bytes now, without blocking, unless the writer has a write
  // in flight; hands what does not fit to the writer.
  Status write_now() {
    if (!started_ || writing_ || closed_ || !has_output()) return {};
    boost::system::error_code ec;
    const std::size_t at = static_cast<std::size_t>(written_ - out_base_);
    const std::size_t n = socket_.write_some(asio::buffer(out_.data() + at, out_.size() - at), ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      write_failed(ec);
      return make_error("write failed: " + ec.message());
    }
    if (!ec) consume(n);
    if (has_output()) write_signal_.cancel();
    return {};
  }

  // Ends a batch of received frames: what its replies queued leaves now.
  void uncork() {
    corked_ = false;
    if (!detached_) static_cast<void>(write_now());
  }

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
    std::size_t reads_in_turn = 0;
    for (;;) {
      // Hand out every complete frame already buffered, pausing while the
      // peer's replies are piling up. Replies are corked meanwhile.
      corked_ = true;
      std::size_t batch = 0;
      for (;;) {
        if (closing_) {
          uncork();
          co_return;
        }
        if (frame_ends_.size() >= pause_threshold()) {
          uncork();
          if (frame_ends_.size() >= pause_threshold()) {
            paused_ = true;
            resume_signal_.expires_at(Clock::time_point::max());
            co_await resume_signal_.async_wait(kNoThrow);
          }
          corked_ = true;
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
          uncork();
          if (callbacks_.on_stream_error && !detached_) callbacks_.on_stream_error(next.error);
          close(CloseReason::kFrameOversize, next.error, true);
          co_return;
        }
        if (callbacks_.on_frame && !detached_) callbacks_.on_frame(next.payload);
        if (++batch >= kWriteBatchFramesMax) {
          uncork();
          corked_ = true;
          batch = 0;
        }
      }
      uncork();
      if (closing_) co_return;
      // More bytes: read again at once while the peer keeps sending; wait
      // for the socket to become readable only when it has nothing. After
      // kReadsPerTurnMax reads in a row the read goes through the event
      // loop, so other connections and timers get their turn.
      boost::system::error_code ec;
      std::size_t n = 0;
      if (reads_in_turn >= kReadsPerTurnMax) {
        reads_in_turn = 0;
        auto [rec, rn] = co_await socket_.async_read_some(asio::buffer(read_buf_), kNoThrow);
        ec = rec;
        n = rn;
      } else {
        ++reads_in_turn;
        n = socket_.read_some(asio::buffer(read_buf_), ec);
        while (ec == asio::error::would_block || ec == asio::error::try_again) {
          reads_in_turn = 0;
          auto [wec] = co_await socket_.async_wait(asio::socket_base::wait_read, kNoThrow);
          if (closing_) co_return;
          if (wec) {
            ec = wec;
            break;
          }
          n = socket_.read_some(asio::buffer(read_buf_), ec);
        }
      }
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
    for (;;) {
      if (closed_) co_return;
      if (!has_output()) {
        if (closing_) {
          finish_close();  // flush complete
          co_return;
        }
        write_signal_.expires_at(Clock::time_point::max());
        co_await write_signal_.async_wait(kNoThrow);
        continue;
      }
      const std::size_t at = static_cast<std::size_t>(written_ - out_base_);
      writing_ = true;
      write_deadline_ = Clock::now() + ms(limits_.write_timeout_ms);
      poke_watchdog(write_deadline_);
      auto [ec, n] = co_await socket_.async_write_some(asio::buffer(out_.data() + at, out_.size() - at), kNoThrow);
      writing_ = false;
      if (closed_) co_return;
      if (ec) {
        write_failed(ec);
        co_return;
      }
      consume(n);
      if (!spill_.empty()) {  // queued during the write; follows out_ in the stream
        out_.append(spill_);
        spill_.clear();
      }
      if (paused_ && frame_ends_.size() < pause_threshold()) resume_signal_.cancel();
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

  // Marks `n` more bytes of out_ written: frames that have fully left are
  // no longer queued, and written bytes are dropped from out_.
  void consume(std::size_t n) {
    written_ += n;
    while (!frame_ends_.empty() && frame_ends_.front() <= written_) frame_ends_.pop_front();
    const std::size_t done = static_cast<std::size_t>(written_ - out_base_);
    if (done == out_.size()) {
      out_.clear();
      out_base_ = written_;
    } else if (done >= kCompactBytes && done >= out_.size() / 2) {
      out_.erase(0, done);
      out_base_ = written_;
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
  // Outbound bytes, as one stream: out_ holds stream offsets [out_base_,
  // out_base_ + out_.size()), of which everything before written_ has been
  // written; spill_ follows out_ while a write from out_ is in flight.
  std::string out_;
  std::string spill_;
  std::uint64_t out_base_ = 0;
  std::uint64_t written_ = 0;
  std::uint64_t appended_ = 0;
  std::deque<std::uint64_t> frame_ends_;  // stream offset where each waiting frame ends
  std::string assign_error_;

  Clock::time_point read_deadline_ = Clock::time_point::max();
  Clock::time_point write_deadline_ = Clock::time_point::max();
  Clock::time_point flush_deadline_ = Clock::time_point::max();

  bool started_ = false;
  bool writing_ = false;   // an asynchronous write from out_ is in flight
  bool corked_ = false;    // a batch of received frames is being handed out
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

Status FramedConnection::send(const google::protobuf::MessageLite& message) { return impl_->send(message); }

Status FramedConnection::send_frame(std::string_view frame) {
  if (frame.size() < kFrameHeaderBytes || frame.size() - kFrameHeaderBytes > impl_->frame_size_max()) {
    return make_error("frame of " + std::to_string(frame.size()) + " bytes does not fit frame_size_max " +
                      std::to_string(impl_->frame_size_max()));
  }
  return impl_->send_frame(frame);
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
