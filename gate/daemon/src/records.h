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

#include "gate.pb.h"
#include "gate/config.h"
#include "gate/halt.h"
#include "gate/orders.h"
#include "gate/sim_venue.h"
#include "journal_records.pb.h"
#include "proto/result.h"

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
// (GateState::apply_fill decides which).
OrderEvent order_event_of(VenueEventKind kind);

// Lowercase hex SHA-256 of a file's bytes; error names the file.
Result<std::string> sha256_file(const std::filesystem::path& path);

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