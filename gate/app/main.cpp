// trading-gate --config FILE [--check-config] [--log-level LEVEL] [--log-file PATH]
//
// Exit codes (DESIGN.md section 11): 0 success, 1 refused or failed (one
// line on stderr), 2 usage error.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "gate/daemon.h"

#ifndef TA_VERSION
#define TA_VERSION "0.0.0"
#endif

namespace {

// stdio buffer of the log file. Every decision is logged at info; with
// stdio's default 4 KiB a busy gate made one write(2) per ~15 decisions.
// Lines are still flushed every 100 ms by the housekeeping timer, at once
// from warn up, and at exit.
constexpr std::size_t kLogFileBufferBytes = 64 * 1024;

int setup_logging(const std::string& level_name, const std::string& file) {
  const auto level = spdlog::level::from_str(level_name);
  if (level == spdlog::level::off && level_name != "off") {
    std::fprintf(stderr, "trading-gate: --log-level %s is not one of trace, debug, info, warn, error, off\n",
                 level_name.c_str());
    return 2;
  }
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>("gate", std::make_shared<spdlog::sinks::stderr_sink_st>());
  } else {
    try {
      spdlog::file_event_handlers handlers;
      handlers.after_open = [](const spdlog::filename_t&, std::FILE* f) {
        std::setvbuf(f, nullptr, _IOFBF, kLogFileBufferBytes);
      };
      logger = std::make_shared<spdlog::logger>(
          "gate", std::make_shared<spdlog::sinks::basic_file_sink_st>(file, false, handlers));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "trading-gate: cannot open log file %s: %s\n", file.c_str(), e.what());
      return 1;
    }
  }
  logger->set_level(level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %n %v", spdlog::pattern_time_type::utc);
  // Warnings and errors reach the file at once; info lines are flushed by
  // the gate's housekeeping timer (every 100 ms) and at exit.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"trading-gate: validates order intents against hard limits and rules, journals everything, and "
               "is the only process that places orders"};
  std::string config;
  bool check_only = false;
  std::string log_level = "info";
  std::string log_file;
  cli.add_option("--config", config, "gate.yaml (safety.yaml is named inside it)")->required();
  cli.add_flag("--check-config", check_only, "validate the configuration and the rules, print every problem, exit");
  cli.add_option("--log-level", log_level, "trace, debug, info (default), warn, error, off");
  cli.add_option("--log-file", log_file, "write the log to this file instead of stderr");
  cli.set_version_flag("--version", TA_VERSION);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return 2;
  }

  if (check_only) {
    const auto problems = ta::gate::check_gate_config(config);
    for (const auto& p : problems) std::printf("%s\n", p.c_str());
    if (problems.empty()) std::printf("%s: OK\n", config.c_str());
    return problems.empty() ? 0 : 1;
  }

  if (int rc = setup_logging(log_level, log_file); rc != 0) return rc;
  ta::gate::ConfigLoad load = ta::gate::load_config(config);
  if (!load.problems.empty()) {
    for (const auto& p : load.problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    std::fprintf(stderr, "trading-gate: %zu problem(s) in the configuration; not starting\n", load.problems.size());
    return 1;
  }
  ta::gate::DaemonOptions options;
  options.app.config = std::move(load.config);
  options.app.config_file = config;
  options.app.gate_version = TA_VERSION;
  try {
    return ta::gate::run_gate_daemon(std::move(options));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trading-gate: %s\n", e.what());
    return 1;
  }
}
