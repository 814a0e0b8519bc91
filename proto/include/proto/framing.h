// Length-prefixed framing for the gate and admin sockets.
//
// A frame is a 4-byte little-endian unsigned payload length followed by that
// many bytes of one serialized protobuf Envelope (or AdminEnvelope). A
// length above the decoder's frame_size_max is refused as soon as the header
// is read, before any payload is buffered; the connection must then be
// closed, because the stream cannot be resynchronised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/result.h"

namespace google::protobuf {
class MessageLite;
}

namespace ta::proto {

inline constexpr std::size_t kFrameHeaderBytes = 4;
// Default frame_size_max: 64 KiB. The largest legitimate message (a rules
// listing with sources, or a proposal carrying a rule file) stays well below
// it; anything bigger is a bug or an attack.
inline constexpr std::uint32_t kFrameSizeMaxDefault = 64 * 1024;
// Hard ceiling for any configured frame_size_max: 16 MiB.
inline constexpr std::uint32_t kFrameSizeMaxCeiling = 16 * 1024 * 1024;

// Appends one frame holding `message` to `out`. Fails, leaving `out`
// unchanged, when the serialized size exceeds `frame_size_max`.
Status encode_frame(const google::protobuf::MessageLite& message, std::string& out,
                    std::uint32_t frame_size_max = kFrameSizeMaxDefault);

// Incremental decoder: feed() bytes as they arrive, in any split, then call
// next() until it returns kNeedMore. Not thread-safe; one per connection.
class FrameDecoder {
 public:
  enum class Status { kFrame, kNeedMore, kError };
  struct Next {
    Status status = Status::kNeedMore;
    // kFrame: the payload; valid until the next feed() or next().
    std::string_view payload;
    // kError: what went wrong and at which stream offset.
    std::string error;
  };

  explicit FrameDecoder(std::uint32_t frame_size_max = kFrameSizeMaxDefault);

  // Appends received bytes. After an error the decoder refuses everything.
  void feed(const char* data, std::size_t size);
  void feed(std::string_view bytes) { feed(bytes.data(), bytes.size()); }
  Next next();

  bool failed() const { return failed_; }
  // Bytes fed but not yet returned as frames.
  std::size_t buffered() const { return buffer_.size() - read_; }
  // Total bytes consumed as whole frames since construction.
  std::uint64_t stream_offset() const { return consumed_; }

 private:
  std::uint32_t frame_size_max_;
  std::string buffer_;
  std::size_t read_ = 0;
  std::uint64_t consumed_ = 0;
  bool failed_ = false;
  std::string error_;
};

// Convenience: decode one complete payload into `message`; false with an
// error when it does not parse.
ta::Status parse_payload(std::string_view payload, google::protobuf::MessageLite& message);

}  // namespace ta::proto
