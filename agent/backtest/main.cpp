// trading-backtest: replays bars through the agent's strategies and the
// gate's checks and simulated venue, offline, and writes report.json,
// report.md and equity.svg. main() parses flags, loads, runs and writes;
// the work is in ta_backtest (docs/backtest.md).
//
// Exit codes: 0 success, 1 refused or failed (reason on stderr), 2 usage.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "backtest/backtest.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int fail(const std::string& message) {
  std::fprintf(stderr, "trading-backtest: %s\n", message.c_str());
  return kExitFailed;
}

int usage(const std::string& message) {
  std::fprintf(stderr, "trading-backtest: %s\nRun with --help for usage.\n", message.c_str());
  return kExitUsage;
}

// "bars 123456/259200 (47%) 2.31M bars/s ETA 0:03" on one terminal line,
// redrawn at most four times a second. The run itself never reads a clock;
// this callback does, for people only.
class Progress {
 public:
  void operator()(std::uint64_t done, std::uint64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      start_ = now;
      last_ = now;
      started_ = true;
    }
    const bool finished = done >= total;
    if (!finished && now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    std::fprintf(stderr, "\rbars %llu/%llu (%3.0f%%) %.2fM bars/s ETA %d:%02d   ",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 100.0, rate / 1e6,
                 static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
    if (finished) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  bool started_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace ta::backtest;
  CLI::App app{
      "trading-backtest: replays 1-minute bars through the agent's strategies, the gate's checks and rules and "
      "the simulated venue, offline and deterministically, and writes report.json, report.md and equity.svg "
      "into --out. Exit codes: 0 success, 1 refused or failed, 2 usage error."};
  app.name("trading-backtest");
  std::string config_file;
  std::vector<std::string> data_args;
  std::string out_dir;
  std::int64_t seed = -1;
  std::vector<std::string> product_args;
  std::string from_text, to_text;
  std::string cache_dir;
  bool quiet = false;
  // Default: a thread per book, up to the machine's CPUs.
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--config", config_file, "backtest YAML (e.g. config/backtest.yaml)")->required();
  app.add_option("--data", data_args,
                 "PRODUCT=FILE.csv (a bar CSV of that product; repeat per product) or STORE.sqlite (the agent's "
                 "candle store)")
      ->required();
  app.add_option("--out", out_dir, "directory for report.json, report.md and equity.svg (created if missing)")
      ->required();
  app.add_option("--seed", seed, "SimVenue seed (overrides the config)")->check(CLI::NonNegativeNumber);
  app.add_option("--products", product_args, "products to trade (default: the config's, else all in the data)")
      ->delimiter(',');
  app.add_option("--from", from_text, "first bar open time: Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z");
  app.add_option("--to", to_text, "end (exclusive), same formats");
  app.add_option("--cache", cache_dir,
                 "directory for a binary cache of CSV bars, keyed by each file's content (loads faster next time)");
  app.add_flag("--quiet", quiet, "no progress line");
  app.add_option("--threads", threads,
                 "threads for the books, at most one per book (default: the number of CPUs); the results are the "
                 "same whatever it is")
      ->check(CLI::Range(std::size_t{1}, kBookThreadsMax));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  try {
    // Arguments that need no file.
    std::vector<DataArgument> data;
    for (const std::string& text : data_args) {
      auto arg = parse_data_argument(text);
      if (!arg) return usage(arg.error().message);
      data.push_back(*arg);
    }
    std::size_t stores = 0;
    for (const auto& d : data) stores += d.is_store ? 1 : 0;
    if (stores > 1 || (stores == 1 && data.size() > 1)) {
      return usage("--data takes either CSV files (PRODUCT=FILE) or one candle store, not both");
    }
    std::vector<ta::agent::ProductId> products;
    for (const std::string& text : product_args) {
      auto id = ta::agent::ProductId::parse(text);
      if (!id) return usage("--products: " + id.error().message);
      products.push_back(*id);
    }
    RunOptions options;
    options.book_threads = std::min(threads, kBookThreadsMax);
    if (!from_text.empty()) {
      auto t = parse_time_s(from_text);
      if (!t) return usage("--from: " + t.error().message);
      options.from_ts_s = *t;
    }
    if (!to_text.empty()) {
      auto t = parse_time_s(to_text);
      if (!t) return usage("--to: " + t.error().message);
      options.to_ts_s = *t;
    }
    if (options.from_ts_s >= options.to_ts_s) return usage("--from must be before --to");

    auto config = load_backtest_config(config_file);
    if (!config) return fail(config.error().message);
    if (seed >= 0) config.value().seed = static_cast<std::uint64_t>(seed);
    if (!products.empty()) config.value().products = products;
    if (auto st = validate(*config); !st) return fail(st.error().message);

    ta::Result<MarketData> market = ta::make_error("no data");
    if (stores == 1) {
      market = load_store_data(data.front().path, config->products, options.from_ts_s, options.to_ts_s);
    } else {
      std::vector<CsvSource> sources;
      for (const auto& d : data) {
        if (auto spec = agent_product_spec(config->gate, d.product); !spec) return fail(spec.error().message);
        const auto& wanted = config->products;
        if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), d.product) == wanted.end()) {
          std::string list;
          for (const auto& p : wanted) list += (list.empty() ? "" : ", ") + p.str();
          return fail("--data names " + d.product.str() + ", which the run does not trade (products: " + list + ")");
        }
        sources.push_back(CsvSource{d.product, d.path});
      }
      market = load_csv_data(sources, cache_dir);
    }
    if (!market) return fail(market.error().message);

    Progress progress;
    if (!quiet && isatty(STDERR_FILENO)) options.progress = std::ref(progress);
    auto result = run_backtest(*config, *market, options);
    if (!result) return fail(result.error().message);
    const Report report = summarize(*config, *market, *result);
    if (auto st = write_reports(out_dir, report, *result); !st) return fail(st.error().message);

    std::printf("trading-backtest: %llu bars, %zu book(s), P&L %s USD (%.2f%%), max drawdown %.2f%%; wrote "
                "%s/report.json, report.md, equity.svg\n",
                static_cast<unsigned long long>(report.bars), report.books.size(),
                report.account.pnl.to_string_fixed(2).c_str(), report.account.total_return * 100.0,
                report.account.max_drawdown * 100.0, out_dir.c_str());
    return kExitOk;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
