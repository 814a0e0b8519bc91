// Market data for a backtest: 1-minute bars of several products, merged
// into one stream ordered by (open time, product), with every bar also in
// the gate's fixed-point form. Gaps stay gaps: a minute without a bar has
// no bar, nothing is forward-filled, and the timeline of a run is the set of
// minutes that have at least one bar.
//
// Sources: bar CSV files with an explicit product each
// (`--data BTC-USD=path.csv`), or the agent's SQLite candle store. Input is
// refused, with a message naming the file and line, when a file is missing
// or empty, when rows are unsorted or repeated (also identical repeats,
// which the agent's importer tolerates: a backtest on silently deduplicated
// data would hide a broken download), or when a product is named twice.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gate/sim_venue.h"
#include "market/bar.h"
#include "proto/result.h"

namespace ta::backtest {

// Data sources per run: one per product, and a run has at most
// kRunProductsMax products.
inline constexpr std::size_t kDataSourcesMax = 32;

struct CsvSource {
  agent::ProductId product;
  std::filesystem::path path;
};

// One --data argument: "PRODUCT=PATH" names a CSV file of that product;
// a bare PATH is a candle store (refused unless it is an SQLite file).
struct DataArgument {
  bool is_store = false;
  agent::ProductId product;  // CSV only
  std::filesystem::path path;
};
[[nodiscard]] Result<DataArgument> parse_data_argument(std::string_view text);

// What the run knows about one product's data.
struct ProductData {
  agent::ProductId product;
  std::string source;  // the file, or "STORE (candles)"
  std::uint64_t bars = 0;
  std::int64_t first_open_ts_s = 0;
  std::int64_t last_open_ts_s = 0;
  std::int64_t gap_count = 0;        // holes between consecutive bars
  std::int64_t missing_minutes = 0;  // minutes in those holes
};

struct MarketData {
  // Ordered by (open_ts_s, product); each product strictly increasing.
  std::vector<agent::Bar> bars;
  // gate_bars[i] is bars[i] in fixed point (to_gate_bar).
  std::vector<gate::Bar> gate_bars;
  // One entry per product, in ProductId order.
  std::vector<ProductData> products;
};

// Reads every CSV file strictly (agent/market/csv.h) and refuses: a
// missing file, a file without bars, unsorted, conflicting or repeated
// rows (with file:line:column), a product given twice, more than
// kDataSourcesMax sources.
//
// With a `cache_dir` (created when missing), the validated bars of each
// file are also written to a binary cache file named after the product and
// a 64-bit hash of the CSV's bytes (and its size). A later load of the same
// bytes reads that file instead of parsing the text; a cache file that is
// truncated, corrupt or from another format version is ignored and
// rewritten. The cache only ever saves time: the bars are the same.
[[nodiscard]] Result<MarketData> load_csv_data(std::span<const CsvSource> sources,
                                               const std::filesystem::path& cache_dir = {});

// Reads bars of `products` with from_ts_s <= open_ts_s < to_ts_s from the
// candle store at `path` (which must exist; it is never created). An empty
// `products` means every product in the store. A product without bars in
// the range is refused.
[[nodiscard]] Result<MarketData> load_store_data(const std::filesystem::path& path,
                                                 std::span<const agent::ProductId> products, std::int64_t from_ts_s,
                                                 std::int64_t to_ts_s);

// Builds MarketData from per-product series already in memory (tests,
// Loop 2). Each series must be non-empty, of one product, strictly
// increasing and pass check_bar(); products must be distinct. `sources`
// names each series for reports (same length as `series`, or empty).
[[nodiscard]] Result<MarketData> make_market_data(std::vector<std::vector<agent::Bar>> series,
                                                  std::vector<std::string> sources = {});

// The gate's fixed-point form of an agent bar: every price and the volume
// rounded half-even to 1e-8 (Decimal::from_double), the quote as bid/ask
// when present, open time in nanoseconds. It equals
// gate::parse_bar(agent::to_ipc_bar(bar)), the path a bar takes from the
// agent to the gate in SIM mode; the backtester skips the protobuf step.
[[nodiscard]] Result<gate::Bar> to_gate_bar(const agent::Bar& bar);

// Parses a time for --from/--to: Unix seconds ("1752105600"), a UTC date
// ("2025-07-10", midnight) or a UTC time ("2025-07-10T12:30:00Z",
// "2025-07-10T12:30Z").
[[nodiscard]] Result<std::int64_t> parse_time_s(std::string_view text);

}  // namespace ta::backtest
