#include "proto/framing.h"

#include <google/protobuf/message_lite.h>

#include <cstring>

namespace ta::proto {
namespace {

void put_u32_le(char* out, std::uint32_t v) {
  out[0] = static_cast<char>(v & 0xff);
  out[1] = static_cast<char>((v >> 8) & 0xff);
  out[2] = static_cast<char>((v >> 16) & 0xff);
  out[3] = static_cast<char>((v >> 24) & 0xff);
}

std::uint32_t get_u32_le(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

}  // namespace

ta::Status encode_frame(const google::protobuf::MessageLite& message, std::string& out,
                        std::uint32_t frame_size_max) {
  const std::size_t size = message.ByteSizeLong();
  if (size > frame_size_max) {
    return make_error("frame of " + std::to_string(size) + " bytes exceeds frame_size_max " +
                      std::to_string(frame_size_max));
  }
  const std::size_t start = out.size();
  out.resize(start + kFrameHeaderBytes + size);
  put_u32_le(out.data() + start, static_cast<std::uint32_t>(size));
  if (!message.SerializeToArray(out.data() + start + kFrameHeaderBytes, static_cast<int>(size))) {
    out.resize(start);
    return make_error("protobuf serialization failed");
  }
  return {};
}

FrameDecoder::FrameDecoder(std::uint32_t frame_size_max)
    : frame_size_max_(frame_size_max < kFrameSizeMaxCeiling ? frame_size_max : kFrameSizeMaxCeiling) {}

void FrameDecoder::feed(const char* data, std::size_t size) {
  if (failed_ || size == 0) return;
  // Compact before growing so the buffer stays near one frame plus one read.
  if (read_ > 0 && read_ >= buffer_.size() / 2) {
    buffer_.erase(0, read_);
    read_ = 0;
  }
  buffer_.append(data, size);
}

FrameDecoder::Next FrameDecoder::next() {
  Next out;
  if (failed_) {
    out.status = Status::kError;
    out.error = error_;
    return out;
  }
  const std::size_t available = buffer_.size() - read_;
  if (available < kFrameHeaderBytes) return out;
  const std::uint32_t length = get_u32_le(buffer_.data() + read_);
  if (length > frame_size_max_) {
    failed_ = true;
    error_ = "frame at stream offset " + std::to_string(consumed_) + " declares " + std::to_string(length) +
             " bytes, over frame_size_max " + std::to_string(frame_size_max_);
    buffer_.clear();
    buffer_.shrink_to_fit();
    read_ = 0;
    out.status = Status::kError;
    out.error = error_;
    return out;
  }
  if (available < kFrameHeaderBytes + length) return out;
  out.status = Status::kFrame;
  out.payload = std::string_view(buffer_.data() + read_ + kFrameHeaderBytes, length);
  read_ += kFrameHeaderBytes + length;
  consumed_ += kFrameHeaderBytes + length;
  return out;
}

ta::Status parse_payload(std::string_view payload, google::protobuf::MessageLite& message) {
  if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return make_error("undecodable " + message.GetTypeName() + " of " + std::to_string(payload.size()) + " bytes");
  }
  return {};
}

}  // namespace ta::proto
