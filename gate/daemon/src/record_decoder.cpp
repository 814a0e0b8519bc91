#include "record_decoder.h"

namespace ta::gate::daemon {
namespace {

// Reads one message's wire format. Any surprise (a truncated varint, a
// length past the end) is reported as false; the caller then falls back to
// the full parser, which decides what the bytes mean.
struct WireCursor {
  const char* at;
  const char* end;

  bool done() const { return at == end; }

  bool varint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at == end) return false;
      const auto byte = static_cast<std::uint8_t>(*at++);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // The bytes of a length-delimited field.
  bool bytes(std::string_view& out) {
    std::uint64_t size = 0;
    if (!varint(size) || size > static_cast<std::uint64_t>(end - at)) return false;
    out = std::string_view(at, static_cast<std::size_t>(size));
    at += size;
    return true;
  }
};

constexpr std::uint64_t kVarint = 0;
constexpr std::uint64_t kLengthDelimited = 2;
constexpr std::uint64_t tag(int field, std::uint64_t wire_type) {
  return (static_cast<std::uint64_t>(field) << 3) | wire_type;
}

template <typename Message>
bool parse_into(Message& message, std::string_view bytes) {
  return message.ParseFromArray(bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

bool GateRecordDecoder::decode(std::string_view payload) {
  fast_ = false;
  WireCursor c{payload.data(), payload.data() + payload.size()};
  std::uint64_t ts = 0;
  bool seen_ts = false;
  std::string_view body;
  bool seen_body = false;
  bool canonical = true;
  while (canonical && !c.done()) {
    std::uint64_t t = 0;
    if (!c.varint(t)) {
      canonical = false;
    } else if (t == tag(ipc::GateRecord::kTsNsFieldNumber, kVarint) && !seen_ts) {
      canonical = c.varint(ts);
      seen_ts = true;
    } else if (t == tag(ipc::GateRecord::kIntentDecidedFieldNumber, kLengthDelimited) && !seen_body) {
      canonical = c.bytes(body);
      seen_body = true;
    } else {
      canonical = false;
    }
  }
  if (canonical && seen_body && decode_intent_decided(body)) {
    body_ = ipc::GateRecord::kIntentDecided;
    ts_ns_ = static_cast<std::int64_t>(ts);
    fast_ = true;
    return true;
  }
  if (!parse_into(record_, payload)) return false;
  body_ = record_.body_case();
  ts_ns_ = record_.ts_ns();
  return true;
}

bool GateRecordDecoder::decode_intent_decided(std::string_view body) {
  WireCursor c{body.data(), body.data() + body.size()};
  std::string_view parts[3];
  bool seen[3] = {false, false, false};
  static_assert(ipc::IntentDecided::kIntentFieldNumber == 1 && ipc::IntentDecided::kDecisionFieldNumber == 2 &&
                ipc::IntentDecided::kRuleFactsFieldNumber == 3);
  while (!c.done()) {
    std::uint64_t t = 0;
    if (!c.varint(t) || (t & 7) != kLengthDelimited) return false;
    const std::uint64_t field = t >> 3;
    if (field < 1 || field > 3 || seen[field - 1]) return false;
    if (!c.bytes(parts[field - 1])) return false;
    seen[field - 1] = true;
  }
  // An absent intent or decision reads as the empty message, as it does
  // through the GateRecord.
  if (!parse_into(intent_, parts[0]) || !parse_into(decision_, parts[1])) return false;
  has_rule_facts_ = seen[2];
  return !seen[2] || parse_into(rule_facts_, parts[2]);
}

}  // namespace ta::gate::daemon
