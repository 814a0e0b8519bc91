// Private helpers of ta_gate_daemon: the mapping between the core's enums
// and their journal/wire forms, named loggers, hashing and small formatting.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gate.pb.h"
#include "gate/config.h"
#include "gate/halt.h"
#include "gate/orders.h"
#include "gate/sim_venue.h"
#include "journal_records.pb.h"
#include "proto/result.h"
#include "rules/rules.h"

namespace ta::gate::daemon {

// Journal record type of the gate's records (journal_records.proto).
inline constexpr std::uint16_t kGateRecordType = ipc::JOURNAL_RECORD_TYPE_GATE;

ipc::Mode mode_to_proto(Mode mode);
ipc::OrderEventType to_proto(OrderEvent event);
// Fails on ORDER_EVENT_TYPE_UNSPECIFIED and unknown numbers.
Result<OrderEvent> from_proto(ipc::OrderEventType event);
ipc::HaltCause to_proto_cause(HaltEvent event);
Result<HaltEvent> from_proto(ipc::HaltCause cause);

// The order event a venue event stands for; kFill covers both fill events
// (GateState::apply_fill decides which); none for kTriggered, which changes
// no order state.
std::optional<OrderEvent> order_event_of(VenueEventKind kind);

// Lowercase hex SHA-256 of a file's bytes; error names the file.
Result<std::string> sha256_file(const std::filesystem::path& path);

// Rule (re)loads in the journal. A source line kept with a compile error
// is cut to kSourceLineKeptMax bytes: enough to show the caret for any
// readable rule, and a one-line 32 KiB file cannot bloat a record.
inline constexpr std::size_t kSourceLineKeptMax = 200;
// Protobuf string fields must hold valid UTF-8, or the record does not
// parse back (and a journal that does not replay stops the gate). File
// names are arbitrary bytes, so text from the file system goes through
// utf8_clean(): every byte that is not part of a valid UTF-8 sequence
// becomes '?'.
std::string utf8_clean(std::string_view text);
// The longest prefix of valid UTF-8 `text` of at most max_bytes that does
// not cut a sequence.
std::string utf8_prefix(std::string_view text, std::size_t max_bytes);
ipc::CompileError to_proto(const rules::Diagnostic& d);
// RulesLoaded for a set that compiled: every file with its SHA-256, every
// rule's id and version, and the cause.
ipc::RulesLoaded rules_loaded_record(const rules::LoadedRules& loaded, std::string_view cause);
// RulesLoaded for a reload that failed: failed set, the errors, the cause.
ipc::RulesLoaded rules_failed_record(const std::vector<rules::Diagnostic>& errors, std::string_view cause);

// A named logger ("gate.app", "gate.journal", ...) sharing the default
// logger's sinks and level; created once.
std::shared_ptr<spdlog::logger> logger(const char* name);

// Short names for log lines: "BUY", "LIMIT", "PRODUCT_NOT_ALLOWED".
std::string_view side_name(ipc::Side side);
std::string_view type_name(ipc::OrderType type);
std::string_view reason_name(ipc::DenyReason reason);

// Text quoted for a key="value" log field: quotes and backslashes escaped,
// control characters replaced, cut at kLogQuoteLengthMax characters.
inline constexpr std::size_t kLogQuoteLengthMax = 200;
std::string log_text(std::string_view text);

// Appends `text` to `out`, quoted as log_text() does, without a temporary
// string.
void append_quoted(fmt::memory_buffer& out, std::string_view text);
inline void append_text(fmt::memory_buffer& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

}  // namespace ta::gate::daemon