// Unix-socket plumbing shared by both ends of the IPC protocol (gate.sock and
// admin.sock, see docs/ipc.md):
//
//   * UniqueFd: an owned file descriptor.
//   * listen_unix() / connect_unix(): create a listening socket safely (stale
//     socket files are removed, anything else at the path is refused, a live
//     server is detected) and connect to one with clear error messages.
//   * peer_credentials(): who is on the other end (SO_PEERCRED + groups).
//   * Direction tables: which Envelope / AdminEnvelope bodies each side may
//     send, and check_envelope()/check_admin_envelope() that apply them.
//   * FramedConnection: one length-prefixed protobuf stream on a connected
//     socket, driven by a caller-owned boost::asio::io_context, with a read
//     deadline, frame_size_max, a capped outbound queue (backpressure) and a
//     write deadline.
//
// No Asio header is included here: Asio is compiled once in ta_asio and only
// this library's sources see it. io_context is forward-declared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin.pb.h"
#include "gate.pb.h"
#include "proto/framing.h"
#include "proto/result.h"

namespace boost::asio {
class io_context;
}

namespace ta::proto {

// ---------------------------------------------------------------------------
// File descriptors and socket paths.

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership; the caller must close the returned descriptor.
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// Longest socket path the kernel accepts (sizeof(sockaddr_un::sun_path) - 1
// for the terminating NUL). Longer paths are refused, never truncated.
inline constexpr std::size_t kSocketPathBytesMax = 107;
// Default mode of a listening socket file: owner and group may connect, others
// may not (DESIGN.md section 3: gate.sock and admin.sock are 0660).
inline constexpr std::uint32_t kSocketModeDefault = 0660;
// listen(2) backlog. Only a handful of local peers ever connect; 16 absorbs a
// reconnect storm while the gate is busy without holding many half-open slots.
inline constexpr int kListenBacklogDefault = 16;

struct ListenOptions {
  std::string path;
  // Permission bits of the socket file (0..0777). The file is created with
  // at most these bits (umask during bind) and then chmod-ed to exactly them.
  std::uint32_t mode = kSocketModeDefault;
  // When set, the socket file's group is changed to this gid (the daemon
  // must be a member). Lets a peer in that group connect through mode 0660.
  std::optional<std::uint32_t> group_id;
  int backlog = kListenBacklogDefault;
};

// Creates a listening, non-blocking, close-on-exec Unix stream socket at
// options.path. If something already exists at the path:
//   * a socket nobody listens on (a stale file from a crash) is removed;
//   * a socket with a live listener is refused ("another server is listening");
//   * a regular file, directory, symlink or anything else is refused and left
//     untouched.
// Fails with a one-line message naming the path on any system error.
[[nodiscard]] Result<UniqueFd> listen_unix(const ListenOptions& options);

// Connects a non-blocking, close-on-exec Unix stream socket to `path`.
// Messages say what is wrong and what to check: no socket at the path,
// connection refused (the server is not running), permission denied, backlog
// full. A Unix-socket connect completes or fails at once; it never waits.
[[nodiscard]] Result<UniqueFd> connect_unix(const std::string& path);

// Removes the socket file at `path` if, and only if, it is a socket. Used by
// a server on shutdown. Missing file: success.
[[nodiscard]] Status remove_socket_file(const std::string& path);

// ---------------------------------------------------------------------------
// Peer credentials.

// Supplementary groups are read into a buffer of this many entries first;
// when the peer has more, the exact count the kernel reports is read (the
// kernel bounds it by NGROUPS_MAX).
inline constexpr std::size_t kPeerGroupsFirstRead = 64;

struct PeerCredentials {
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;  // the peer's effective gid when it connected
  std::int32_t pid = 0;
  // Supplementary groups (SO_PEERGROUPS), so a member of an admin group whose
  // primary group differs is still recognised. Empty when the kernel does not
  // provide them.
  std::vector<std::uint32_t> groups;
};

// Credentials of the peer of connected Unix socket `fd`, as the kernel
// recorded them at connect time.
[[nodiscard]] Result<PeerCredentials> peer_credentials(int fd);

// An allow-list of uids and gids. A peer is allowed when its uid is listed,
// or its gid or any of its supplementary groups is listed. An empty list
// allows nobody (deny by default).
struct PeerAllowList {
  std::vector<std::uint32_t> uids;
  std::vector<std::uint32_t> gids;
};
bool peer_allowed(const PeerAllowList& allow, const PeerCredentials& peer);

// ---------------------------------------------------------------------------
// Who may send what (docs/ipc.md, "Allowed messages").

enum class Sender {
  kAgent,        // trading-agent on gate.sock
  kGate,         // trading-gate, on either socket
  kAdminClient,  // tradectl / trading-dash on admin.sock
};

// True when `sender` may put this body on the wire. gate.sock carries
// Envelope between kAgent and kGate; admin.sock carries AdminEnvelope between
// kAdminClient and kGate. Hello is allowed from clients only; whether it is
// in the right place (first frame, once) is the connection owner's check.
bool envelope_body_allowed(ta::ipc::Envelope::BodyCase body, Sender sender);
bool admin_body_allowed(ta::ipc::AdminEnvelope::BodyCase body, Sender sender);

// Bars in one BarBatch (SIM). A Bar of 1-minute crypto data encodes to
// about 70 to 90 bytes, so a full batch stays well under the default 64 KiB
// frame; 512 bars per frame already make the per-frame costs (a write, a
// read, a decode, a reply) small against the per-bar work. The gate refuses
// a larger batch as a protocol violation.
inline constexpr std::size_t kBarBatchBarsMax = 512;

// Field name of a body ("order_intent"), or "none" for an empty oneof.
std::string_view envelope_body_name(ta::ipc::Envelope::BodyCase body);
std::string_view admin_body_name(ta::ipc::AdminEnvelope::BodyCase body);

// Reusable storage for decoded frames: messages come from an arena whose
// first block is reused, so decoding a typical frame allocates nothing.
// fresh_*() invalidates the message the previous call returned. One per
// connection owner; not thread-safe.
class DecodeScratch {
 public:
  // Frames whose decoded form needs more than this spill into heap blocks,
  // released at the next fresh_*(). 16 KiB holds any intent or decision.
  static constexpr std::size_t kBlockBytes = 16 * 1024;
  DecodeScratch();
  ~DecodeScratch();
  DecodeScratch(const DecodeScratch&) = delete;
  DecodeScratch& operator=(const DecodeScratch&) = delete;
  ta::ipc::Envelope& fresh_envelope();
  ta::ipc::AdminEnvelope& fresh_admin_envelope();

 private:
  std::unique_ptr<char[]> block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
};

// Parses one frame payload and checks it: decodable; no field this protocol
// version does not know, in the envelope or its body (an unknown field means
// the peer speaks another protocol, e.g. an admin message on gate.sock); a
// body is set; and `sender` may send it. On failure the message is the
// reason to put in a ProtocolError, and `out` may hold a partial parse.
[[nodiscard]] Status decode_envelope(std::string_view payload, Sender sender, ta::ipc::Envelope& out);
[[nodiscard]] Status decode_admin_envelope(std::string_view payload, Sender sender,
                                           ta::ipc::AdminEnvelope& out);

// ---------------------------------------------------------------------------
// One framed connection.

// Why a FramedConnection ended. The first reason given wins.
enum class CloseReason {
  kPeerClosed,          // orderly end of stream between frames
  kTruncatedFrame,      // end of stream in the middle of a frame
  kReadError,           // the socket failed while reading
  kWriteError,          // the socket failed while writing
  kIdleTimeout,         // no bytes within the read deadline
  kWriteTimeout,        // the peer did not drain our writes within the deadline
  kFrameOversize,       // a frame header declared more than frame_size_max
  kOutboundQueueFull,   // more than outbound_queue_max frames waiting
  kProtocolViolation,   // the owner refused a frame (undecodable, wrong direction...)
  kHandshakeRefused,    // Hello refused (version mismatch or by the application)
  kLocalClose,          // the owner closed it on purpose
  kShutdown,            // the owner is shutting down
};
std::string_view close_reason_name(CloseReason reason);

// Defaults. Each is a field of ConnectionLimits so a daemon's config can set it.
//
// Read deadline: a connection that sends no byte for this long is closed. The
// agent heartbeats every second by default, so 30 s of silence means it is
// wedged; the dead-man's switch (the gate's, shorter) acts before this.
inline constexpr std::int64_t kReadIdleTimeoutMsDefault = 30'000;
// Write deadline: a write that makes no progress for this long (the peer's
// receive buffer stays full) closes the connection as a slow consumer.
inline constexpr std::int64_t kWriteTimeoutMsDefault = 5'000;
// Outbound queue cap, in frames. Reading from the peer pauses while half of
// it is used (backpressure: a peer that does not read its replies cannot make
// more); queuing beyond the cap closes the connection, since dropping a fill
// silently would be worse than a reconnect and a fresh snapshot.
inline constexpr std::size_t kOutboundQueueMaxDefault = 1024;
// When closing with a final message (ProtocolError, refused HelloAck), how
// long queued frames may take to leave before the socket is closed anyway.
inline constexpr std::int64_t kCloseFlushTimeoutMsDefault = 1'000;
// Bytes read from the socket per read call.
inline constexpr std::size_t kReadChunkBytes = 64 * 1024;
// Replies to received frames are held back while a batch of them is handed
// out and written together in one call (see FramedConnection); at most this
// many received frames make one batch, so the first reply of a long burst
// waits for no more than 64 handler calls.
inline constexpr std::size_t kWriteBatchFramesMax = 64;

struct ConnectionLimits {
  std::uint32_t frame_size_max = kFrameSizeMaxDefault;
  std::int64_t read_idle_timeout_ms = kReadIdleTimeoutMsDefault;
  std::int64_t write_timeout_ms = kWriteTimeoutMsDefault;
  std::size_t outbound_queue_max = kOutboundQueueMaxDefault;
  std::int64_t close_flush_timeout_ms = kCloseFlushTimeoutMsDefault;
};

// Refuses limits outside sane bounds (zero or negative timeouts, a queue cap
// of 0, frame_size_max above kFrameSizeMaxCeiling or below a header's worth).
[[nodiscard]] Status validate_limits(const ConnectionLimits& limits);

// Reading pauses while at least this many frames wait to be written.
inline std::size_t read_pause_threshold(std::size_t outbound_queue_max) {
  return outbound_queue_max / 2 > 0 ? outbound_queue_max / 2 : 1;
}

// A framed stream on one connected Unix socket. Runs on the io_context given
// at construction; every method must be called on a thread running that
// io_context (normally the one thread that owns the daemon's state), and the
// callbacks are invoked on it. Not thread-safe.
//
// Lifetime: the object may be destroyed at any time, including from inside a
// callback; destruction closes the socket and no callback runs afterwards.
class FramedConnection {
 public:
  struct Callbacks {
    // One complete frame payload; valid only during the call. The callback
    // may send(), close() or destroy the connection.
    std::function<void(std::string_view payload)> on_frame;
    // The byte stream cannot be decoded any more (a header declared more
    // than frame_size_max). Called once, synchronously, before the
    // connection closes with kFrameOversize after a flush, so the owner can
    // queue a last message (a ProtocolError). Optional.
    std::function<void(const std::string& error)> on_stream_error;
    // Exactly once, after the socket is closed, posted to the io_context
    // (never from inside another call into this object).
    std::function<void(CloseReason reason, const std::string& detail)> on_closed;
  };

  // Takes ownership of the connected socket `fd` (made non-blocking).
  // Precondition: validate_limits(limits) succeeded.
  FramedConnection(boost::asio::io_context& io, UniqueFd fd, const ConnectionLimits& limits,
                   Callbacks callbacks);
  ~FramedConnection();
  FramedConnection(const FramedConnection&) = delete;
  FramedConnection& operator=(const FramedConnection&) = delete;

  // Starts reading, writing and the deadlines. Call once.
  void start();

  // Encodes one message into the outbound buffer. It is written at once when
  // nothing is ahead of it; a send made while this connection hands out a
  // batch of received frames (from inside its on_frame) leaves with the
  // batch's other replies when the batch ends. Fails when the connection is
  // closing or closed, when the message exceeds frame_size_max (the
  // connection stays open), or when the queue already holds
  // outbound_queue_max frames (the connection is then closed with
  // kOutboundQueueFull).
  [[nodiscard]] Status send(const google::protobuf::MessageLite& message);
  // Queues an already encoded frame (header + payload), e.g. one broadcast to
  // many peers or a stored request sent again; the bytes are copied into the
  // outbound buffer. Same failures and timing as send().
  [[nodiscard]] Status send_frame(std::string_view frame);

  // Closes the connection. With flush, reading stops at once but queued
  // frames get up to close_flush_timeout_ms to leave first. Idempotent: the
  // first reason is kept; a close without flush cuts a flushing close short.
  void close(CloseReason reason, std::string detail, bool flush);

  // Replaces the read deadline (e.g. a short Hello deadline, then the idle
  // one); takes effect from now.
  void set_read_idle_timeout_ms(std::int64_t timeout_ms);

  bool open() const;            // neither closing nor closed
  std::size_t queued() const;   // frames waiting to be written, including a partial one
  bool reading_paused() const;  // backpressure is on

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ta::proto
