// `trading-agent data ...`: market-data maintenance commands.
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "market/market.h"

namespace ta::agent::app {
namespace {

struct ImportArgs {
  std::string file;
  std::string product;
  std::string db;
  bool skip_bad_rows = false;
};

std::string ohlcv(const Bar& b) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.17g/%.17g/%.17g/%.17g/%.17g", b.open, b.high, b.low, b.close, b.volume);
  return buf;
}

void print_report(const ImportArgs& args, const CsvImportReport& r) {
  std::printf(
      "file=%s product=%s db=%s rows_read=%llu imported=%llu already_present=%llu skipped=%llu "
      "duplicates=%llu conflicts=%llu gaps=%lld missing_minutes=%lld\n",
      args.file.c_str(), args.product.c_str(), args.db.c_str(),
      static_cast<unsigned long long>(r.csv.rows_read), static_cast<unsigned long long>(r.store.rows_inserted),
      static_cast<unsigned long long>(r.store.rows_already_present),
      static_cast<unsigned long long>(r.csv.rows_skipped), static_cast<unsigned long long>(r.csv.duplicates),
      static_cast<unsigned long long>(r.store.conflict_count), static_cast<long long>(r.gaps.gap_count),
      static_cast<long long>(r.gaps.missing_minutes));
  for (std::size_t i = 0; i < kRowDefectCount; ++i) {
    if (r.csv.skipped_by_defect[i] == 0) continue;
    std::printf("skipped reason=\"%s\" rows=%llu\n", std::string(describe(static_cast<RowDefect>(i))).c_str(),
                static_cast<unsigned long long>(r.csv.skipped_by_defect[i]));
  }
  for (const std::string& issue : r.csv.issues) std::printf("skipped %s\n", issue.c_str());
  for (const Gap& g : r.gaps.gaps) {
    std::printf("gap start=%s end=%s minutes=%lld\n", format_utc(g.start_ts_s).c_str(),
                format_utc(g.end_ts_s).c_str(), static_cast<long long>(g.minutes()));
  }
  if (r.gaps.gap_count > static_cast<std::int64_t>(r.gaps.gaps.size())) {
    std::printf("gaps_not_listed=%lld\n", static_cast<long long>(r.gaps.gap_count) -
                                              static_cast<long long>(r.gaps.gaps.size()));
  }
  for (const ImportConflict& c : r.store.conflicts) {
    std::printf("conflict ts=%s stored=%s incoming=%s\n", format_utc(c.stored.open_ts_s).c_str(),
                ohlcv(c.stored).c_str(), ohlcv(c.incoming).c_str());
  }
}

int run_import(const ImportArgs& args) {
  auto product = ProductId::parse(args.product);
  if (!product) {
    std::fprintf(stderr, "trading-agent: data import: %s\n", product.error().message.c_str());
    return kExitUsage;
  }
  auto store = CandleStore::open(args.db);
  if (!store) {
    std::fprintf(stderr, "trading-agent: data import: %s\n", store.error().message.c_str());
    return kExitFailed;
  }
  CsvOptions options;
  options.policy = args.skip_bad_rows ? BadRowPolicy::kSkip : BadRowPolicy::kStrict;
  auto report = import_csv(store.value(), args.file, *product, options);
  if (!report) {
    std::fprintf(stderr, "trading-agent: data import: %s\n", report.error().message.c_str());
    return kExitFailed;
  }
  print_report(args, *report);
  if (!report->store.committed) {
    std::fprintf(stderr,
                 "trading-agent: data import: refused: %llu bars differ from the stored ones; nothing written\n",
                 static_cast<unsigned long long>(report->store.conflict_count));
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

void add_data_commands(CLI::App& root, Commands& commands) {
  CLI::App* data = root.add_subcommand("data", "Market-data maintenance");
  data->require_subcommand(1);

  auto args = std::make_shared<ImportArgs>();
  CLI::App* import = data->add_subcommand(
      "import",
      "Validate a 1-minute bar CSV file (ts,open,high,low,close,volume) and add it to the candle store. "
      "Prints rows imported, skipped, duplicates, conflicts and gaps. Existing bars are never overwritten: "
      "a bar stored with other values aborts the import (exit 1).");
  import->add_option("FILE", args->file, "CSV file to import")->required();
  import->add_option("--product", args->product,
                     "Product the file holds, as the venue names it (BTC-USD); never guessed from the file name")
      ->required();
  import->add_option("--db", args->db, "SQLite candle store (created if missing)")->required();
  import->add_flag("--skip-bad-rows", args->skip_bad_rows,
                   "Skip and count invalid rows instead of refusing the file (default: strict)");
  commands.push_back(Command{import, [args] { return run_import(*args); }});
}

}  // namespace ta::agent::app
