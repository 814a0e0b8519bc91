// FramedConnection on a real socketpair: framing limits, deadlines, the
// outbound queue cap, backpressure and close semantics.
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "ipc_test_support.h"
#include "proto/ipc_socket.h"

namespace ta::proto {
namespace {

using ta::test::RawPeer;
using ta::test::run_until;

struct Closed {
  CloseReason reason;
  std::string detail;
};

// One FramedConnection (side A) and a raw peer (side B) on a socketpair.
struct Pair {
  explicit Pair(ConnectionLimits limits = {}) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    peer = std::make_unique<RawPeer>(UniqueFd(sv[1]));
    FramedConnection::Callbacks cb;
    cb.on_frame = [this](std::string_view p) {
      frames.emplace_back(p);
      if (on_frame) on_frame(p);
    };
    cb.on_closed = [this](CloseReason r, const std::string& d) {
      ++closed_calls;
      closed = Closed{r, d};
      closed_at = std::chrono::steady_clock::now();
    };
    cb.on_stream_error = [this](const std::string& e) { stream_errors.push_back(e); };
    conn = std::make_unique<FramedConnection>(io, UniqueFd(sv[0]), limits, std::move(cb));
  }

  static std::string frame(const std::string& payload) {
    std::string out(4, '\0');
    const auto n = static_cast<std::uint32_t>(payload.size());
    out[0] = static_cast<char>(n & 0xff);
    out[1] = static_cast<char>((n >> 8) & 0xff);
    out[2] = static_cast<char>((n >> 16) & 0xff);
    out[3] = static_cast<char>((n >> 24) & 0xff);
    return out + payload;
  }

  bool wait_closed(int timeout_ms = 2000) {
    return run_until(io, [&] { return closed.has_value(); }, timeout_ms);
  }

  boost::asio::io_context io;
  std::unique_ptr<RawPeer> peer;
  std::unique_ptr<FramedConnection> conn;
  std::vector<std::string> frames;
  std::vector<std::string> stream_errors;
  std::function<void(std::string_view)> on_frame;
  std::optional<Closed> closed;
  int closed_calls = 0;
  std::chrono::steady_clock::time_point closed_at;
};

TEST(FramedConnection, RoundTripInAnySplit) {
  Pair p;
  p.on_frame = [&](std::string_view payload) { ASSERT_TRUE(p.conn->send_frame(Pair::frame("re:" + std::string(payload))).ok()); };
  p.conn->start();
  const std::string wire = Pair::frame("one") + Pair::frame("") + Pair::frame(std::string(5000, 'x'));
  // Three writes that cut through headers and payloads.
  ASSERT_TRUE(p.peer->write_bytes(wire.substr(0, 2)));
  ta::test::run_for_ms(p.io, 5);
  ASSERT_TRUE(p.peer->write_bytes(wire.substr(2, 9)));
  ta::test::run_for_ms(p.io, 5);
  ASSERT_TRUE(p.peer->write_bytes(wire.substr(11)));
  ASSERT_TRUE(run_until(p.io, [&] { return p.frames.size() == 3; }));
  EXPECT_EQ(p.frames[0], "one");
  EXPECT_EQ(p.frames[1], "");
  EXPECT_EQ(p.frames[2], std::string(5000, 'x'));
  std::vector<std::string> back;
  ASSERT_TRUE(run_until(p.io, [&] {
    std::string f;
    while (p.peer->poll_frame(f)) back.push_back(f);
    return back.size() == 3;
  }));
  EXPECT_EQ(back[0], "re:one");
  EXPECT_EQ(back[2], "re:" + std::string(5000, 'x'));
  EXPECT_FALSE(p.closed.has_value());
}

// Bytes the raw peer could read now.
int readable_bytes(const RawPeer& peer) {
  int n = -1;
  EXPECT_EQ(::ioctl(peer.fd(), FIONREAD, &n), 0);
  return n;
}

// Replies made while a batch of received frames is handed out leave
// together when the batch ends, in order; a long burst is cut into batches
// of kWriteBatchFramesMax frames.
TEST(FramedConnection, RepliesToABatchLeaveTogetherInOrder) {
  Pair p;
  constexpr int kFrames = static_cast<int>(kWriteBatchFramesMax) + 10;
  std::vector<int> readable_at;  // what the peer could read when frame i arrived
  p.on_frame = [&](std::string_view payload) {
    readable_at.push_back(readable_bytes(*p.peer));
    ASSERT_TRUE(p.conn->send_frame(Pair::frame("re:" + std::string(payload))).ok());
  };
  std::string burst;
  for (int i = 0; i < kFrames; ++i) burst += Pair::frame(std::to_string(i));
  ASSERT_TRUE(p.peer->write_bytes(burst));
  p.conn->start();
  ASSERT_TRUE(run_until(p.io, [&] { return p.frames.size() == static_cast<std::size_t>(kFrames); }));
  ASSERT_EQ(readable_at.size(), static_cast<std::size_t>(kFrames));
  for (std::size_t i = 0; i < kWriteBatchFramesMax; ++i) EXPECT_EQ(readable_at[i], 0) << "frame " << i;
  EXPECT_GT(readable_at[kWriteBatchFramesMax], 0) << "the first batch's replies left before the next batch";
  std::vector<std::string> back;
  ASSERT_TRUE(run_until(p.io, [&] {
    std::string f;
    while (p.peer->poll_frame(f)) back.push_back(f);
    return back.size() == static_cast<std::size_t>(kFrames);
  }));
  for (int i = 0; i < kFrames; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)], "re:" + std::to_string(i));
}

// Outside a batch a frame is written at once, without a turn of the loop.
TEST(FramedConnection, SendOutsideABatchIsWrittenAtOnce) {
  Pair p;
  p.conn->start();
  ASSERT_TRUE(p.conn->send_frame(Pair::frame("now")).ok());
  EXPECT_EQ(readable_bytes(*p.peer), 4 + 3);
  EXPECT_EQ(p.conn->queued(), 0u);
}

TEST(FramedConnection, FrameSizeMaxAtBelowAndAbove) {
  ConnectionLimits l;
  l.frame_size_max = 100;
  Pair p(l);
  p.conn->start();
  ASSERT_TRUE(p.peer->write_bytes(Pair::frame(std::string(99, 'a')) + Pair::frame(std::string(100, 'b'))));
  ASSERT_TRUE(run_until(p.io, [&] { return p.frames.size() == 2; }));
  EXPECT_FALSE(p.closed.has_value());
  ASSERT_TRUE(p.peer->write_bytes(Pair::frame(std::string(101, 'c'))));
  ASSERT_TRUE(p.wait_closed());
  EXPECT_EQ(p.closed->reason, CloseReason::kFrameOversize);
  EXPECT_NE(p.closed->detail.find("101"), std::string::npos) << p.closed->detail;
  ASSERT_EQ(p.stream_errors.size(), 1u);
  EXPECT_EQ(p.frames.size(), 2u);
  EXPECT_TRUE(run_until(p.io, [&] { return p.peer->poll_closed(); }));
}

TEST(FramedConnection, SendRefusesOversizeButStaysOpen) {
  ConnectionLimits l;
  l.frame_size_max = 100;
  Pair p(l);
  p.conn->start();
  EXPECT_TRUE(p.conn->send_frame(Pair::frame(std::string(100, 'x'))).ok());
  EXPECT_FALSE(p.conn->send_frame(Pair::frame(std::string(101, 'x'))).ok());
  EXPECT_FALSE(p.conn->send_frame("abc").ok()) << "shorter than a header";
  EXPECT_TRUE(p.conn->open());
}

TEST(FramedConnection, TruncatedFrameThenClose) {
  Pair p;
  p.conn->start();
  const std::string f = Pair::frame(std::string(50, 'z'));
  ASSERT_TRUE(p.peer->write_bytes(f.substr(0, 20)));
  p.peer->close();
  ASSERT_TRUE(p.wait_closed());
  EXPECT_EQ(p.closed->reason, CloseReason::kTruncatedFrame);
  EXPECT_TRUE(p.frames.empty());
}

TEST(FramedConnection, PeerClosedBetweenFrames) {
  Pair p;
  p.conn->start();
  ASSERT_TRUE(p.peer->write_bytes(Pair::frame("last")));
  p.peer->close();
  ASSERT_TRUE(p.wait_closed());
  EXPECT_EQ(p.closed->reason, CloseReason::kPeerClosed);
  EXPECT_EQ(p.frames.size(), 1u);
  EXPECT_EQ(p.closed_calls, 1);
}

TEST(FramedConnection, IdleTimeoutClosesSilentPeer) {
  ConnectionLimits l;
  l.read_idle_timeout_ms = 60;
  Pair p(l);
  const auto start = std::chrono::steady_clock::now();
  p.conn->start();
  ASSERT_TRUE(p.wait_closed());
  EXPECT_EQ(p.closed->reason, CloseReason::kIdleTimeout);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(p.closed_at - start).count();
  EXPECT_GE(waited, 55);  // never early (the clock granularity aside)
}

TEST(FramedConnection, ActivityKeepsConnectionOpen) {
  ConnectionLimits l;
  l.read_idle_timeout_ms = 80;
  Pair p(l);
  p.conn->start();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(p.peer->write_bytes(Pair::frame("beat")));
    ta::test::run_for_ms(p.io, 20);
  }
  EXPECT_FALSE(p.closed.has_value());
  EXPECT_EQ(p.frames.size(), 10u);
  // Moving the deadline (as after a Hello) takes effect from now.
  p.conn->set_read_idle_timeout_ms(30);
  ASSERT_TRUE(p.wait_closed(1000));
  EXPECT_EQ(p.closed->reason, CloseReason::kIdleTimeout);
}

TEST(FramedConnection, OutboundQueueCapAtAndAbove) {
  ConnectionLimits l;
  l.outbound_queue_max = 4;
  Pair p(l);
  // Not started: nothing leaves, so the queue holds exactly what was sent.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(p.conn->send_frame(Pair::frame("x")).ok());
  EXPECT_EQ(p.conn->queued(), 3u);
  ASSERT_TRUE(p.conn->send_frame(Pair::frame("x")).ok()) << "at the limit";
  EXPECT_EQ(p.conn->queued(), 4u);
  EXPECT_FALSE(p.conn->send_frame(Pair::frame("x")).ok()) << "one above";
  EXPECT_FALSE(p.conn->open());
  ASSERT_TRUE(p.wait_closed());
  EXPECT_EQ(p.closed->reason, CloseReason::kOutboundQueueFull);
}

// A peer that sends requests but never reads the replies: reading pauses once
// the queue is half full, then the stalled write hits its deadline.
TEST(FramedConnection, BackpressureThenWriteTimeout) {
  ConnectionLimits l;
  l.outbound_queue_max = 8;
  l.write_timeout_ms = 150;
  Pair p(l);
  bool saw_pause = false;
  const std::string big = Pair::frame(std::string(60000, 'r'));
  p.on_frame = [&](std::string_view) { (void)p.conn->send_frame(big); };
  p.conn->start();
  const int sent = 200;
  std::string requests;
  for (int i = 0; i < sent; ++i) requests += Pair::frame("req");
  ASSERT_TRUE(p.peer->write_bytes(requests));
  ASSERT_TRUE(run_until(p.io, [&] {
    saw_pause = saw_pause || p.conn->reading_paused();
    return p.closed.has_value();
  }));
  EXPECT_TRUE(saw_pause);
  EXPECT_EQ(p.closed->reason, CloseReason::kWriteTimeout);
  EXPECT_LT(p.frames.size(), static_cast<std::size_t>(sent)) << "reading must stop when replies pile up";
  EXPECT_GE(p.frames.size(), read_pause_threshold(l.outbound_queue_max));
}

// The same peer starts reading after a while: reading resumes and every
// request is served.
TEST(FramedConnection, BackpressureReleasesWhenPeerDrains) {
  ConnectionLimits l;
  l.outbound_queue_max = 8;
  l.write_timeout_ms = 2000;
  Pair p(l);
  const std::string big = Pair::frame(std::string(60000, 'r'));
  p.on_frame = [&](std::string_view) { ASSERT_TRUE(p.conn->send_frame(big).ok()); };
  p.conn->start();
  const int sent = 100;
  std::string requests;
  for (int i = 0; i < sent; ++i) requests += Pair::frame("req");
  ASSERT_TRUE(p.peer->write_bytes(requests));
  ASSERT_TRUE(run_until(p.io, [&] { return p.conn->reading_paused(); }));
  const std::size_t served_while_paused = p.frames.size();
  EXPECT_LT(served_while_paused, static_cast<std::size_t>(sent));
  int replies = 0;
  ASSERT_TRUE(run_until(p.io, [&] {
    std::string f;
    while (p.peer->poll_frame(f)) ++replies;
    return replies == sent;
  }, 5000));
  EXPECT_EQ(p.frames.size(), static_cast<std::size_t>(sent));
  EXPECT_FALSE(p.closed.has_value());
}

TEST(FramedConnection, CloseWithFlushDeliversQueuedFrames) {
  Pair p;
  p.conn->start();
  ASSERT_TRUE(p.conn->send_frame(Pair::frame("goodbye")).ok());
  p.conn->close(CloseReason::kLocalClose, "done", true);
  EXPECT_FALSE(p.conn->send_frame(Pair::frame("late")).ok());
  ASSERT_TRUE(p.wait_closed());
  EXPECT_EQ(p.closed->reason, CloseReason::kLocalClose);
  std::string f;
  ASSERT_TRUE(run_until(p.io, [&] { return p.peer->poll_frame(f); }));
  EXPECT_EQ(f, "goodbye");
  EXPECT_TRUE(run_until(p.io, [&] { return p.peer->poll_closed(); }));
  // Closing again changes nothing.
  p.conn->close(CloseReason::kShutdown, "again", false);
  ta::test::run_for_ms(p.io, 10);
  EXPECT_EQ(p.closed_calls, 1);
  EXPECT_EQ(p.closed->reason, CloseReason::kLocalClose);
}

TEST(FramedConnection, FlushIsBoundedByCloseFlushTimeout) {
  ConnectionLimits l;
  l.close_flush_timeout_ms = 80;
  l.write_timeout_ms = 10'000;
  Pair p(l);
  p.conn->start();
  const std::string big = Pair::frame(std::string(60000, 'q'));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(p.conn->send_frame(big).ok());
  ASSERT_TRUE(run_until(p.io, [&] { return p.conn->queued() > 0; }));
  const auto start = std::chrono::steady_clock::now();
  p.conn->close(CloseReason::kLocalClose, "bye", true);
  ASSERT_TRUE(p.wait_closed());
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(p.closed_at - start).count();
  EXPECT_GE(waited, 70);
  EXPECT_LT(waited, 2000);
}

TEST(FramedConnection, DestroyInsideCallbackIsSafe) {
  Pair p;
  p.on_frame = [&](std::string_view) { p.conn.reset(); };
  auto* raw = p.conn.get();
  raw->start();
  ASSERT_TRUE(p.peer->write_bytes(Pair::frame("a") + Pair::frame("b")));
  ASSERT_TRUE(run_until(p.io, [&] { return p.conn == nullptr; }));
  ta::test::run_for_ms(p.io, 20);
  EXPECT_EQ(p.frames.size(), 1u);
  EXPECT_EQ(p.closed_calls, 0) << "no callback after destruction";
  EXPECT_TRUE(run_until(p.io, [&] { return p.peer->poll_closed(); }));
}

}  // namespace
}  // namespace ta::proto
