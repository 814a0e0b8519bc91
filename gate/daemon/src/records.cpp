#include "records.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <fstream>

namespace ta::gate::daemon {

ipc::Mode mode_to_proto(Mode mode) {
  switch (mode) {
    case Mode::kSim:
      return ipc::MODE_SIM;
    case Mode::kPaper:
      return ipc::MODE_PAPER;
    case Mode::kLive:
      return ipc::MODE_LIVE;
  }
  return ipc::MODE_UNSPECIFIED;
}

ipc::OrderEventType to_proto(OrderEvent event) {
  switch (event) {
    case OrderEvent::kSubmit:
      return ipc::ORDER_EVENT_TYPE_SUBMIT;
    case OrderEvent::kAck:
      return ipc::ORDER_EVENT_TYPE_ACK;
    case OrderEvent::kReject:
      return ipc::ORDER_EVENT_TYPE_REJECT;
    case OrderEvent::kPartialFill:
      return ipc::ORDER_EVENT_TYPE_PARTIAL_FILL;
    case OrderEvent::kFill:
      return ipc::ORDER_EVENT_TYPE_FILL;
    case OrderEvent::kCancelRequest:
      return ipc::ORDER_EVENT_TYPE_CANCEL_REQUEST;
    case OrderEvent::kCancelAck:
      return ipc::ORDER_EVENT_TYPE_CANCEL_ACK;
    case OrderEvent::kExpire:
      return ipc::ORDER_EVENT_TYPE_EXPIRE;
    case OrderEvent::kLostContact:
      return ipc::ORDER_EVENT_TYPE_LOST_CONTACT;
    case OrderEvent::kReconcileOpen:
      return ipc::ORDER_EVENT_TYPE_RECONCILE_OPEN;
    case OrderEvent::kReconcilePartiallyFilled:
      return ipc::ORDER_EVENT_TYPE_RECONCILE_PARTIALLY_FILLED;
    case OrderEvent::kReconcileCancelled:
      return ipc::ORDER_EVENT_TYPE_RECONCILE_CANCELLED;
    case OrderEvent::kReconcileRejected:
      return ipc::ORDER_EVENT_TYPE_RECONCILE_REJECTED;
    case OrderEvent::kReconcileExpired:
      return ipc::ORDER_EVENT_TYPE_RECONCILE_EXPIRED;
  }
  return ipc::ORDER_EVENT_TYPE_UNSPECIFIED;
}

Result<OrderEvent> from_proto(ipc::OrderEventType event) {
  switch (event) {
    case ipc::ORDER_EVENT_TYPE_SUBMIT:
      return OrderEvent::kSubmit;
    case ipc::ORDER_EVENT_TYPE_ACK:
      return OrderEvent::kAck;
    case ipc::ORDER_EVENT_TYPE_REJECT:
      return OrderEvent::kReject;
    case ipc::ORDER_EVENT_TYPE_PARTIAL_FILL:
      return OrderEvent::kPartialFill;
    case ipc::ORDER_EVENT_TYPE_FILL:
      return OrderEvent::kFill;
    case ipc::ORDER_EVENT_TYPE_CANCEL_REQUEST:
      return OrderEvent::kCancelRequest;
    case ipc::ORDER_EVENT_TYPE_CANCEL_ACK:
      return OrderEvent::kCancelAck;
    case ipc::ORDER_EVENT_TYPE_EXPIRE:
      return OrderEvent::kExpire;
    case ipc::ORDER_EVENT_TYPE_LOST_CONTACT:
      return OrderEvent::kLostContact;
    case ipc::ORDER_EVENT_TYPE_RECONCILE_OPEN:
      return OrderEvent::kReconcileOpen;
    case ipc::ORDER_EVENT_TYPE_RECONCILE_PARTIALLY_FILLED:
      return OrderEvent::kReconcilePartiallyFilled;
    case ipc::ORDER_EVENT_TYPE_RECONCILE_CANCELLED:
      return OrderEvent::kReconcileCancelled;
    case ipc::ORDER_EVENT_TYPE_RECONCILE_REJECTED:
      return OrderEvent::kReconcileRejected;
    case ipc::ORDER_EVENT_TYPE_RECONCILE_EXPIRED:
      return OrderEvent::kReconcileExpired;
    case ipc::ORDER_EVENT_TYPE_UNSPECIFIED:
    case ipc::OrderEventType_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ipc::OrderEventType_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return make_error("order update without a known event (" + std::to_string(static_cast<int>(event)) + ")");
}

ipc::HaltCause to_proto_cause(HaltEvent event) {
  switch (event) {
    case HaltEvent::kOperatorHalt:
      return ipc::HALT_CAUSE_OPERATOR_HALT;
    case HaltEvent::kOperatorReduce:
      return ipc::HALT_CAUSE_OPERATOR_REDUCE;
    case HaltEvent::kOperatorResume:
      return ipc::HALT_CAUSE_OPERATOR_RESUME;
    case HaltEvent::kOperatorKill:
      return ipc::HALT_CAUSE_OPERATOR_KILL;
    case HaltEvent::kOperatorKillFlatten:
      return ipc::HALT_CAUSE_OPERATOR_KILL_FLATTEN;
    case HaltEvent::kHeartbeatTimeout:
      return ipc::HALT_CAUSE_HEARTBEAT_TIMEOUT;
    case HaltEvent::kDailyLossLimit:
      return ipc::HALT_CAUSE_DAILY_LOSS_LIMIT;
    case HaltEvent::kJournalUnwritable:
      return ipc::HALT_CAUSE_JOURNAL_UNWRITABLE;
    case HaltEvent::kVenueDisconnected:
      return ipc::HALT_CAUSE_VENUE_DISCONNECTED;
    case HaltEvent::kRuleHalt:
      return ipc::HALT_CAUSE_RULE_HALT;
    case HaltEvent::kCooldownElapsed:
      return ipc::HALT_CAUSE_COOLDOWN_ELAPSED;
    case HaltEvent::kInternalError:
      return ipc::HALT_CAUSE_INTERNAL_ERROR;
  }
  return ipc::HALT_CAUSE_UNSPECIFIED;
}

Result<HaltEvent> from_proto(ipc::HaltCause cause) {
  switch (cause) {
    case ipc::HALT_CAUSE_OPERATOR_HALT:
      return HaltEvent::kOperatorHalt;
    case ipc::HALT_CAUSE_OPERATOR_REDUCE:
      return HaltEvent::kOperatorReduce;
    case ipc::HALT_CAUSE_OPERATOR_RESUME:
      return HaltEvent::kOperatorResume;
    case ipc::HALT_CAUSE_OPERATOR_KILL:
      return HaltEvent::kOperatorKill;
    case ipc::HALT_CAUSE_OPERATOR_KILL_FLATTEN:
      return HaltEvent::kOperatorKillFlatten;
    case ipc::HALT_CAUSE_HEARTBEAT_TIMEOUT:
      return HaltEvent::kHeartbeatTimeout;
    case ipc::HALT_CAUSE_DAILY_LOSS_LIMIT:
      return HaltEvent::kDailyLossLimit;
    case ipc::HALT_CAUSE_JOURNAL_UNWRITABLE:
      return HaltEvent::kJournalUnwritable;
    case ipc::HALT_CAUSE_VENUE_DISCONNECTED:
      return HaltEvent::kVenueDisconnected;
    case ipc::HALT_CAUSE_RULE_HALT:
      return HaltEvent::kRuleHalt;
    case ipc::HALT_CAUSE_COOLDOWN_ELAPSED:
      return HaltEvent::kCooldownElapsed;
    case ipc::HALT_CAUSE_INTERNAL_ERROR:
      return HaltEvent::kInternalError;
    case ipc::HALT_CAUSE_UNSPECIFIED:
    case ipc::HaltCause_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ipc::HaltCause_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return make_error("halt change without a known cause (" + std::to_string(static_cast<int>(cause)) + ")");
}

std::optional<OrderEvent> order_event_of(VenueEventKind kind) {
  switch (kind) {
    case VenueEventKind::kAck:
      return OrderEvent::kAck;
    case VenueEventKind::kReject:
      return OrderEvent::kReject;
    case VenueEventKind::kFill:
      return OrderEvent::kFill;
    case VenueEventKind::kCancelled:
      return OrderEvent::kCancelAck;
    case VenueEventKind::kExpired:
      return OrderEvent::kExpire;
    case VenueEventKind::kTriggered:
      return std::nullopt;  // the order's state does not change
  }
  return std::nullopt;
}

Result<std::string> sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read " + path.string() + " to hash it");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    return make_error("SHA-256 is unavailable");
  }
  std::array<char, 64 * 1024> buf;
  while (in) {
    in.read(buf.data(), buf.size());
    const std::streamsize n = in.gcount();
    if (n > 0) EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(n));
  }
  const bool read_ok = in.eof() && !in.bad();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  if (!read_ok) return make_error("error reading " + path.string() + " to hash it");
  std::string hex;
  hex.reserve(2 * len);
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 0xf]);
  }
  return hex;
}

namespace {

// Length of the valid UTF-8 sequence starting at text[i], 0 if none
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string utf8_clean(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += '?';
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t n = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the
  // sequence that the cut would split.
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return std::string(text.substr(0, n));
}

ipc::CompileError to_proto(const rules::Diagnostic& d) {
  ipc::CompileError e;
  e.set_file(utf8_clean(d.file));
  e.set_line(d.line);
  e.set_column(d.column);
  e.set_message(utf8_clean(d.message));
  e.set_source_line(utf8_prefix(utf8_clean(d.source_line), kSourceLineKeptMax));
  return e;
}

ipc::RulesLoaded rules_loaded_record(const rules::LoadedRules& loaded, std::string_view cause) {
  ipc::RulesLoaded r;
  for (const rules::RuleFile& f : loaded.files) {
    ipc::RulesLoaded::File* file = r.add_files();
    file->set_path(utf8_clean(f.path));
    file->set_sha256(f.sha256);
  }
  for (std::size_t i = 0; i < loaded.rules.size(); ++i) {
    ipc::RulesLoaded::Rule* rule = r.add_rules();
    rule->set_id(loaded.rules.rule(i).id);
    rule->set_version(loaded.rules.rule(i).version);
  }
  r.set_rule_count(static_cast<std::uint32_t>(loaded.rules.size()));
  r.set_cause(utf8_clean(cause));
  return r;
}

ipc::RulesLoaded rules_failed_record(const std::vector<rules::Diagnostic>& errors, std::string_view cause) {
  ipc::RulesLoaded r;
  r.set_failed(true);
  r.set_cause(utf8_clean(cause));
  for (const rules::Diagnostic& d : errors) *r.add_errors() = to_proto(d);
  return r;
}

std::shared_ptr<spdlog::logger> logger(const char* name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto created = spdlog::default_logger()->clone(name);
  spdlog::register_logger(created);
  return created;
}

std::string_view side_name(ipc::Side side) {
  switch (side) {
    case ipc::SIDE_BUY:
      return "BUY";
    case ipc::SIDE_SELL:
      return "SELL";
    case ipc::SIDE_UNSPECIFIED:
    case ipc::Side_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ipc::Side_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return "UNSPECIFIED";
}

std::string_view type_name(ipc::OrderType type) {
  switch (type) {
    case ipc::ORDER_TYPE_MARKET:
      return "MARKET";
    case ipc::ORDER_TYPE_LIMIT:
      return "LIMIT";
    case ipc::ORDER_TYPE_STOP_LIMIT:
      return "STOP_LIMIT";
    case ipc::ORDER_TYPE_UNSPECIFIED:
    case ipc::OrderType_INT_MIN_SENTINEL_DO_NOT_USE_:
    case ipc::OrderType_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return "UNSPECIFIED";
}

std::string_view reason_name(ipc::DenyReason reason) {
  if (!ipc::DenyReason_IsValid(reason)) return "UNKNOWN";
  std::string_view name = ipc::DenyReason_Name(reason);
  constexpr std::string_view kPrefix = "DENY_REASON_";
  if (name.substr(0, kPrefix.size()) == kPrefix) name.remove_prefix(kPrefix.size());
  return name;
}

void append_quoted(fmt::memory_buffer& out, std::string_view text) {
  out.push_back('"');
  const std::size_t n = std::min(text.size(), kLogQuoteLengthMax);
  std::size_t run = 0;  // start of the characters copied as they are
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[i];
    const bool escape = c == '"' || c == '\\';
    const bool replace = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (!escape && !replace) continue;
    append_text(out, text.substr(run, i - run));
    if (escape) {
      out.push_back('\\');
      out.push_back(c);
    } else {
      out.push_back('?');
    }
    run = i + 1;
  }
  append_text(out, text.substr(run, n - run));
  if (text.size() > kLogQuoteLengthMax) append_text(out, "...");
  out.push_back('"');
}

std::string log_text(std::string_view text) {
  fmt::memory_buffer out;
  append_quoted(out, text);
  return std::string(out.data(), out.size());
}

}  // namespace ta::gate::daemon
