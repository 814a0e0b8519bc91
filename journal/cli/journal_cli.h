// The verbs of trading-journal, separated from flag parsing (main.cpp) so
// each is a plain function of its arguments and output streams.
// Every verb returns the process exit code: 0 success, 1 failed (one line on
// `err` says why).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

#include "journal/journal.h"

namespace ta::journal::cli {

// tail: how many records to print before following. The ring of remembered
// records is bounded by this.
inline constexpr std::uint64_t kTailLinesDefault = 10;
inline constexpr std::uint64_t kTailLinesMax = 100'000;
// tail -f: pause between looks at the directory when nothing is new. 10 ms
// at least (busy polling wastes a core on a 2-core box), 10 s at most (a
// follower should notice new records promptly).
inline constexpr std::uint32_t kPollMsDefault = 200;
inline constexpr std::uint32_t kPollMsMin = 10;
inline constexpr std::uint32_t kPollMsMax = 10'000;

// One JSON object (no newline): seq, ts_ns, type, type_name, hash, and the
// payload decoded as GateRecord (type 1) or AgentRecord (type 2) under
// "payload"; other types, or payloads that do not parse, as
// "payload_base64" (with "payload_error" saying why for known types).
std::string record_json(const Record& record);

int run_verify(const std::filesystem::path& dir, std::ostream& out, std::ostream& err);
int run_dump(const std::filesystem::path& dir, std::ostream& out, std::ostream& err);
int run_stats(const std::filesystem::path& dir, bool json, std::ostream& out, std::ostream& err);
// Prints the last `lines` records as JSON lines; with `follow`, keeps
// printing new records (polling every poll_ms) until `stop` becomes true.
int run_tail(const std::filesystem::path& dir, std::uint64_t lines, bool follow, std::uint32_t poll_ms,
             const std::atomic<bool>& stop, std::ostream& out, std::ostream& err);

}  // namespace ta::journal::cli
