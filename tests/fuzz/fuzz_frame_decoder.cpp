// Fuzzes the frame decoder and Envelope parsing: the input is split into
// chunks by its own first byte, fed incrementally, and every whole frame is
// parsed as an Envelope and re-encoded. Nothing may crash, and a frame that
// parsed must re-encode within the size limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "gate.pb.h"
#include "proto/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  ta::proto::FrameDecoder decoder(4096);
  const char* bytes = reinterpret_cast<const char*>(data + 1);
  std::size_t left = size - 1;
  while (left > 0) {
    const std::size_t take = left < chunk ? left : chunk;
    decoder.feed(bytes, take);
    bytes += take;
    left -= take;
    for (;;) {
      auto next = decoder.next();
      if (next.status != ta::proto::FrameDecoder::Status::kFrame) break;
      ta::ipc::Envelope env;
      if (ta::proto::parse_payload(next.payload, env).ok()) {
        std::string again;
        // Re-encoding can legitimately grow (unknown fields are kept), but
        // never beyond the ceiling.
        if (!ta::proto::encode_frame(env, again, ta::proto::kFrameSizeMaxCeiling).ok()) std::abort();
      }
    }
    if (decoder.failed()) break;
  }
  return 0;
}
