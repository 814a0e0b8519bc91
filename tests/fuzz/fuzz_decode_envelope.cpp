// Fuzzes the checks every IPC frame goes through (proto/ipc_socket.h):
// decode_envelope and decode_admin_envelope for each sender, into a reused
// DecodeScratch as the server does. Nothing may crash; an accepted frame must
// have a body that its sender may send and must re-encode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/ipc_socket.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static ta::proto::DecodeScratch scratch;
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  using ta::proto::Sender;
  for (Sender sender : {Sender::kAgent, Sender::kGate, Sender::kAdminClient}) {
    ta::ipc::Envelope& env = scratch.fresh_envelope();
    if (ta::proto::decode_envelope(payload, sender, env).ok()) {
      if (!ta::proto::envelope_body_allowed(env.body_case(), sender)) std::abort();
      std::string again;
      if (!ta::proto::encode_frame(env, again, ta::proto::kFrameSizeMaxCeiling).ok()) std::abort();
    }
    ta::ipc::AdminEnvelope& admin = scratch.fresh_admin_envelope();
    if (ta::proto::decode_admin_envelope(payload, sender, admin).ok()) {
      if (!ta::proto::admin_body_allowed(admin.body_case(), sender)) std::abort();
      std::string again;
      if (!ta::proto::encode_frame(admin, again, ta::proto::kFrameSizeMaxCeiling).ok()) std::abort();
    }
  }
  return 0;
}
