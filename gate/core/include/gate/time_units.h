// Time constants shared by the gate core. All times are int64 nanoseconds
// since the Unix epoch, UTC, passed in by the caller (never read from a
// clock here).
#pragma once

#include <cstdint>

namespace ta::gate {

inline constexpr std::int64_t kNanosPerMs = 1'000'000;
inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr std::int64_t kNanosPerMinute = 60 * kNanosPerSecond;
inline constexpr std::int64_t kNanosPerDay = 86'400 * kNanosPerSecond;

// Days since the epoch (UTC) of ts_ns, rounding toward minus infinity.
constexpr std::int64_t utc_day(std::int64_t ts_ns) {
  return ts_ns >= 0 ? ts_ns / kNanosPerDay : -((-ts_ns + kNanosPerDay - 1) / kNanosPerDay);
}

}  // namespace ta::gate
