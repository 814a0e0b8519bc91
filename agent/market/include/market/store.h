// Candle store: 1-minute bars in the agent's SQLite database.
//
// Schema (created on open when missing; WAL journal mode):
//   CREATE TABLE candles (product TEXT NOT NULL, ts INTEGER NOT NULL,
//     open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL,
//     close REAL NOT NULL, volume REAL NOT NULL,
//     PRIMARY KEY (product, ts)) WITHOUT ROWID;
// plus a row in ta_schema(component, version) that records the layout
// version; a database with another version is refused, not migrated.
// The candles table only ever holds bars that passed check_bar(). Missing
// minutes are absent rows; nothing is ever forward-filled.
//
// Imports are atomic and idempotent: a bar already stored with identical
// values counts as already present; a bar stored with different values is a
// conflict, and any conflict aborts the whole import (nothing is written,
// the conflicts are reported). Stored values are never overwritten.
//
// A CandleStore owns one SQLite connection; use it from one thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "market/bar.h"
#include "market/csv.h"

namespace ta::agent {

struct ImportConflict {
  Bar stored;
  Bar incoming;
};

struct ImportReport {
  // Conflicts listed in `conflicts`; conflict_count counts them all.
  static constexpr std::size_t kConflictsListedMax = 20;
  std::uint64_t rows_inserted = 0;
  std::uint64_t rows_already_present = 0;  // identical, nothing to do
  std::uint64_t conflict_count = 0;
  std::vector<ImportConflict> conflicts;
  bool committed = false;  // false when conflicts aborted the import
};

class CandleStore {
 public:
  // Bars returned by one load(): 10 million minutes (19 years) of one
  // product is far beyond any backtest and bounds memory at ~900 MB.
  static constexpr std::size_t kLoadRowsMax = 10'000'000;
  // products() refuses to list more: a real store holds a handful, so more
  // means a corrupt or foreign database.
  static constexpr std::size_t kProductsMax = 10'000;
  static constexpr int kSchemaVersion = 1;

  // Opens or creates the database at `path` (parent directory must exist),
  // switches it to WAL and creates the schema. Errors name the path.
  static Result<CandleStore> open(const std::filesystem::path& path);

  CandleStore(CandleStore&&) noexcept;
  CandleStore& operator=(CandleStore&&) noexcept;
  ~CandleStore();

  // Inserts bars of any products in one transaction (see the header
  // comment). Every bar must pass check_bar() and name a product; otherwise
  // the call fails without writing.
  Result<ImportReport> insert(std::span<const Bar> bars);

  // Bars of `product` with from_ts_s <= open_ts_s < to_ts_s, increasing.
  // Fails when more than rows_max bars match.
  Result<std::vector<Bar>> load(ProductId product, std::int64_t from_ts_s, std::int64_t to_ts_s,
                                std::size_t rows_max = kLoadRowsMax) const;
  Result<std::uint64_t> count(ProductId product) const;
  // Products with at least one bar, in ProductId order; fails above
  // kProductsMax.
  Result<std::vector<ProductId>> products() const;

 private:
  struct Impl;
  explicit CandleStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct CsvImportReport {
  CsvReport csv;
  ImportReport store;
  GapReport gaps;  // gaps inside the file's own time range
};

// Reads `file` as bars of `product` (validation per `options`, strict by
// default), inserts them and reports. A CSV error is returned as the error;
// conflicts are in the report (store.committed == false).
Result<CsvImportReport> import_csv(CandleStore& store, const std::filesystem::path& file,
                                   ProductId product, const CsvOptions& options = {});

}  // namespace ta::agent
