// trading-journal: inspect a journal directory.
//   trading-journal verify DIR
//   trading-journal dump DIR --jsonl
//   trading-journal stats DIR [--json]
//   trading-journal tail DIR [-n N] [-f] [--poll-ms MS]
// Exit codes: 0 success, 1 failed (one line on stderr), 2 usage error.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <string>

#include "journal_cli.h"

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  namespace cli = ta::journal::cli;
  CLI::App app{"Verify, dump and follow a trading-agent event journal (docs/journal.md)."};
  app.require_subcommand(1);
  std::string dir;
  bool jsonl = false;
  bool json = false;
  bool follow = false;
  std::uint64_t lines = cli::kTailLinesDefault;
  std::uint32_t poll_ms = cli::kPollMsDefault;

  auto* verify = app.add_subcommand("verify", "Check every checksum, the sequence and the hash chain.");
  verify->add_option("DIR", dir, "Journal directory")->required();
  auto* dump = app.add_subcommand("dump", "Print every record as one JSON object per line.");
  dump->add_option("DIR", dir, "Journal directory")->required();
  dump->add_flag("--jsonl", jsonl, "JSON Lines output (the only format)")->required();
  auto* stats = app.add_subcommand("stats", "Counts: records, segments, bytes, seq and ts range, per type and body.");
  stats->add_option("DIR", dir, "Journal directory")->required();
  stats->add_flag("--json", json, "One JSON object instead of text");
  auto* tail = app.add_subcommand("tail", "Print the last records as JSON lines; -f keeps following.");
  tail->add_option("DIR", dir, "Journal directory")->required();
  tail->add_option("-n,--lines", lines, "Records to print first")
      ->check(CLI::Range(std::uint64_t{0}, cli::kTailLinesMax));
  tail->add_flag("-f,--follow", follow, "Keep printing new records until interrupted");
  tail->add_option("--poll-ms", poll_ms, "Pause between looks for new records, ms")
      ->check(CLI::Range(cli::kPollMsMin, cli::kPollMsMax));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (*verify) return cli::run_verify(dir, std::cout, std::cerr);
  if (*dump) return cli::run_dump(dir, std::cout, std::cerr);
  if (*stats) return cli::run_stats(dir, json, std::cout, std::cerr);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  return cli::run_tail(dir, lines, follow, poll_ms, g_stop, std::cout, std::cerr);
}
