#include "journal_cli.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <deque>
#include <map>
#include <ostream>
#include <thread>

#include "journal_records.pb.h"

namespace ta::journal::cli {
namespace {

constexpr std::uint16_t kTypeGate = ta::ipc::JOURNAL_RECORD_TYPE_GATE;
constexpr std::uint16_t kTypeAgent = ta::ipc::JOURNAL_RECORD_TYPE_AGENT;

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                   static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string_view type_name(std::uint16_t type) {
  switch (type) {
    case kTypeGate: return "GateRecord";
    case kTypeAgent: return "AgentRecord";
    default: return "unknown";
  }
}

// The name of the oneof `body` field that is set, or "none".
std::string body_kind(const google::protobuf::Message& message) {
  const auto* oneof = message.GetDescriptor()->FindOneofByName("body");
  if (oneof == nullptr) return "none";
  const auto* field = message.GetReflection()->GetOneofFieldDescriptor(message, oneof);
  return field == nullptr ? "none" : field->name();
}

// Parses the payload of a known type; nullptr for other types.
std::unique_ptr<google::protobuf::Message> message_for(std::uint16_t type) {
  switch (type) {
    case kTypeGate: return std::make_unique<ta::ipc::GateRecord>();
    case kTypeAgent: return std::make_unique<ta::ipc::AgentRecord>();
    default: return nullptr;
  }
}

void print_tail_note(const Reader& reader, std::ostream& err) {
  if (const auto t = reader.tail()) {
    err << "trading-journal: note: torn tail in " << t->segment << " at offset " << t->offset << ": " << t->bytes
        << " bytes after the last whole record (cut when the journal is next opened for append)\n";
  }
}

Result<std::unique_ptr<Reader>> open_reader(const std::filesystem::path& dir) { return Reader::open(dir); }

}  // namespace

std::string record_json(const Record& record) {
  std::string j = "{\"seq\":" + std::to_string(record.seq) + ",\"ts_ns\":" + std::to_string(record.ts_ns) +
                  ",\"type\":" + std::to_string(record.type) + ",\"type_name\":\"" +
                  std::string(type_name(record.type)) + "\",\"hash\":\"" + to_hex(record.hash) + "\"";
  auto message = message_for(record.type);
  if (message) {
    std::string decoded;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (message->ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size())) &&
        google::protobuf::util::MessageToJsonString(*message, &decoded, options).ok()) {
      return j + ",\"payload\":" + decoded + "}";
    }
    j += ",\"payload_error\":\"does not parse as " + std::string(type_name(record.type)) + "\"";
  }
  return j + ",\"payload_base64\":\"" + base64(record.payload) + "\"}";
}

int run_verify(const std::filesystem::path& dir, std::ostream& out, std::ostream& err) {
  const Summary s = verify(dir);
  if (!s.ok()) {
    err << "trading-journal: verify " << dir.string() << ": " << s.problem->message() << " (after " << s.records
        << " good records)\n";
    return 1;
  }
  out << "ok: " << s.records << " records in " << s.segments << " segments, " << s.bytes << " bytes";
  if (s.records > 0) out << ", seq " << s.first_seq << ".." << s.last_seq;
  out << ", last hash " << to_hex(s.last_hash) << "\n";
  if (s.torn_tail) {
    out << "torn tail: " << s.torn_tail->segment << " offset " << s.torn_tail->offset << ", " << s.torn_tail->bytes
        << " bytes" << (s.torn_tail->whole_segment ? " (incomplete segment header)" : "")
        << "; cut when the journal is next opened for append\n";
  }
  return 0;
}

int run_dump(const std::filesystem::path& dir, std::ostream& out, std::ostream& err) {
  auto reader = open_reader(dir);
  if (!reader) {
    err << "trading-journal: dump: " << reader.error().message << "\n";
    return 1;
  }
  for (;;) {
    auto r = reader.value()->next();
    if (!r) {
      out.flush();
      err << "trading-journal: dump " << dir.string() << ": " << r.error().message << "\n";
      return 1;
    }
    if (!r.value()) break;
    out << record_json(*r.value()) << '\n';
  }
  print_tail_note(*reader.value(), err);
  return 0;
}

int run_stats(const std::filesystem::path& dir, bool json, std::ostream& out, std::ostream& err) {
  auto reader = open_reader(dir);
  if (!reader) {
    err << "trading-journal: stats: " << reader.error().message << "\n";
    return 1;
  }
  std::map<std::uint16_t, std::uint64_t> per_type;
  std::map<std::string, std::uint64_t> gate_bodies;
  std::map<std::string, std::uint64_t> agent_bodies;
  std::uint64_t undecodable = 0;
  ta::ipc::GateRecord gate;
  ta::ipc::AgentRecord agent;
  for (;;) {
    auto r = reader.value()->next();
    if (!r) {
      err << "trading-journal: stats " << dir.string() << ": " << r.error().message << "\n";
      return 1;
    }
    if (!r.value()) break;
    const Record& rec = *r.value();
    ++per_type[rec.type];
    const auto size = static_cast<int>(rec.payload.size());
    if (rec.type == kTypeGate) {
      if (gate.ParseFromArray(rec.payload.data(), size)) {
        ++gate_bodies[body_kind(gate)];
      } else {
        ++undecodable;
      }
    } else if (rec.type == kTypeAgent) {
      if (agent.ParseFromArray(rec.payload.data(), size)) {
        ++agent_bodies[body_kind(agent)];
      } else {
        ++undecodable;
      }
    }
  }
  // verify() repeats the scan for the segment and byte totals; the reader
  // above already proved the journal whole.
  const Summary s = verify(dir);
  if (!s.ok()) {
    err << "trading-journal: stats " << dir.string() << ": " << s.problem->message() << "\n";
    return 1;
  }
  if (json) {
    out << "{\"records\":" << s.records << ",\"segments\":" << s.segments << ",\"bytes\":" << s.bytes
        << ",\"first_seq\":" << s.first_seq << ",\"last_seq\":" << s.last_seq << ",\"first_ts_ns\":" << s.first_ts_ns
        << ",\"last_ts_ns\":" << s.last_ts_ns << ",\"types\":{";
    const char* sep = "";
    for (const auto& [type, n] : per_type) {
      out << sep << "\"" << type << "\":" << n;
      sep = ",";
    }
    out << "},\"gate_bodies\":{";
    sep = "";
    for (const auto& [kind, n] : gate_bodies) {
      out << sep << "\"" << kind << "\":" << n;
      sep = ",";
    }
    out << "},\"agent_bodies\":{";
    sep = "";
    for (const auto& [kind, n] : agent_bodies) {
      out << sep << "\"" << kind << "\":" << n;
      sep = ",";
    }
    out << "},\"undecodable\":" << undecodable << ",\"torn_tail_bytes\":" << (s.torn_tail ? s.torn_tail->bytes : 0)
        << "}\n";
  } else {
    out << "records: " << s.records << "\n"
        << "segments: " << s.segments << "\n"
        << "bytes: " << s.bytes << "\n"
        << "first_seq: " << s.first_seq << "\n"
        << "last_seq: " << s.last_seq << "\n"
        << "first_ts_ns: " << s.first_ts_ns << "\n"
        << "last_ts_ns: " << s.last_ts_ns << "\n";
    for (const auto& [type, n] : per_type) out << "type " << type << " (" << type_name(type) << "): " << n << "\n";
    for (const auto& [kind, n] : gate_bodies) out << "gate body " << kind << ": " << n << "\n";
    for (const auto& [kind, n] : agent_bodies) out << "agent body " << kind << ": " << n << "\n";
    if (undecodable > 0) out << "undecodable payloads: " << undecodable << "\n";
  }
  print_tail_note(*reader.value(), err);
  return 0;
}

int run_tail(const std::filesystem::path& dir, std::uint64_t lines, bool follow, std::uint32_t poll_ms,
             const std::atomic<bool>& stop, std::ostream& out, std::ostream& err) {
  auto reader = open_reader(dir);
  if (!reader) {
    err << "trading-journal: tail: " << reader.error().message << "\n";
    return 1;
  }
  std::deque<std::string> last;
  bool caught_up = false;
  while (!stop.load()) {
    auto r = reader.value()->next();
    if (!r) {
      for (const auto& line : last) out << line << '\n';
      out.flush();
      err << "trading-journal: tail " << dir.string() << ": " << r.error().message << "\n";
      return 1;
    }
    if (r.value()) {
      if (caught_up) {
        out << record_json(*r.value()) << '\n';
        out.flush();
        continue;
      }
      if (lines == 0) continue;
      if (last.size() == lines) last.pop_front();
      last.push_back(record_json(*r.value()));
      continue;
    }
    if (!caught_up) {
      for (const auto& line : last) out << line << '\n';
      out.flush();
      last.clear();
      caught_up = true;
    }
    if (!follow) break;
    // Sleep in short steps so a stop request is seen promptly.
    for (std::uint32_t slept = 0; slept < poll_ms && !stop.load(); slept += kPollMsMin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMsMin));
    }
  }
  if (!follow) print_tail_note(*reader.value(), err);
  return 0;
}

}  // namespace ta::journal::cli
