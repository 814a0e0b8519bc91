// Reading 1-minute bar CSV files.
//
// Format (the files in shared/data and data/demo): a header line exactly
// `ts,open,high,low,close,volume`, then one bar per line, `ts` = bar open
// time in Unix seconds UTC (an integer), the rest decimal numbers. Lines end
// in "\n" or "\r\n"; the last newline is optional; blank lines are ignored
// (counted). One file holds one product, which the caller names: nothing
// is guessed from the file name (BTCUSDT data is imported as BTC-USD only
// because the operator says so).
//
// Validation, per case:
//   always an error (policy does not matter): unreadable file, file larger
//     than file_size_max_bytes, a line longer than line_length_max, more than
//     rows_max data lines, a missing or different header;
//   identical repeated row (same ts, same values as the previous row): skipped
//     and counted as a duplicate under either policy (harmless overlap of
//     concatenated downloads);
//   every other bad row (RowDefect): under BadRowPolicy::kStrict, the default,
//     an error "file:line:column: reason"; under kSkip, the row is skipped,
//     counted per defect, logged (first kIssuesListedMax) and reading goes on.
// Rows are kept in file order; a row whose ts is below the previous accepted
// row's is a defect (kTimestampUnsorted), never re-sorted.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "market/bar.h"

namespace ta::agent {

enum class BadRowPolicy { kStrict, kSkip };

struct CsvLimits {
  // The longest real row is under 100 bytes; 256 leaves room for long
  // decimals and refuses binary junk early.
  std::size_t line_length_max = 256;
  // 512 MiB is about 7 million rows, beyond rows_max; a bigger file is not
  // a bar file.
  std::uint64_t file_size_max_bytes = 512ull << 20;
  // 5 million minutes is 9.5 years of one product (about 450 MB of bars).
  std::uint64_t rows_max = 5'000'000;
};

struct CsvOptions {
  BadRowPolicy policy = BadRowPolicy::kStrict;
  CsvLimits limits;
};

enum class RowDefect {
  kColumnCount,
  kNumberSyntax,     // not a number, or trailing characters
  kNotFinite,        // nan, inf
  kTimestampNotMinute,
  kTimestampOutOfRange,
  kPriceNotPositive,
  kVolumeNegative,
  kHighBelowLow,
  kOpenOutsideRange,
  kCloseOutsideRange,
  kTimestampUnsorted,  // below the previous accepted row's ts
  kTimestampConflict,  // same ts as the previous row, different values
};
inline constexpr std::size_t kRowDefectCount = 12;
std::string_view describe(RowDefect defect);

struct CsvReport {
  // Messages kept in `issues`; the counters always count everything.
  static constexpr std::size_t kIssuesListedMax = 20;
  std::uint64_t rows_read = 0;  // data lines, excluding header and blanks
  std::uint64_t rows_accepted = 0;
  std::uint64_t rows_skipped = 0;  // bad rows under kSkip
  std::uint64_t duplicates = 0;    // identical repeated rows
  std::uint64_t blank_lines = 0;
  std::array<std::uint64_t, kRowDefectCount> skipped_by_defect{};
  std::vector<std::string> issues;  // "file:line:column: reason"
};

struct CsvBars {
  std::vector<Bar> bars;  // strictly increasing open_ts_s, all of `product`
  CsvReport report;
};

// Reads and validates a whole file. `product` must not be empty.
Result<CsvBars> read_bars_csv(const std::filesystem::path& path, ProductId product,
                              const CsvOptions& options = {});

// Same on text in memory; `source_name` is used in messages in place of the
// file name. The file-size limit applies to text.size().
Result<CsvBars> parse_bars_csv(std::string_view text, std::string_view source_name,
                               ProductId product, const CsvOptions& options = {});

// Writes bars in the same format (prices with up to 17 significant digits,
// enough to read back the same doubles). For tests and tools.
std::string format_bars_csv(std::span<const Bar> bars);

}  // namespace ta::agent
