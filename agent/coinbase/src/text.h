// Strict text parsers shared by the WebSocket and REST code.
#pragma once

#include <cstdint>
#include <string_view>

#include "proto/result.h"

namespace ta::agent::coinbase::detail {

// See the public wrappers in coinbase/ws_message.h for the accepted syntax.
Result<double> parse_decimal(std::string_view text);
Result<std::uint64_t> parse_uint(std::string_view text);
// A decimal int64 with an optional '-' (Unix seconds in candle rows).
Result<std::int64_t> parse_int(std::string_view text);
Result<std::int64_t> parse_rfc3339(std::string_view text);
Result<std::int64_t> parse_go_time(std::string_view text);

// Days since 1970-01-01 of a proleptic Gregorian date (any valid date).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

}  // namespace ta::agent::coinbase::detail
