// Child process of sim_agent_prefix_test: the agent daemon on AGENT_YAML,
// run as `trading-agent --config AGENT_YAML` runs it, killed between two
// journal records. Right after it appends the record with sequence number
// KILL_AT it notes the journal's durable sequence number at that moment
// (what a crash there keeps at least), makes every record appended so far
// durable (what a crash there keeps at most), writes "DURABLE KILL_AT\n" to
// REPORT and SIGKILLs itself. When the run ends first it exits as the
// daemon does.
//
//   agent_crash_child AGENT_YAML KILL_AT REPORT
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agentd/daemon.h"
#include "journal/journal.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: agent_crash_child AGENT_YAML KILL_AT REPORT\n");
    return 2;
  }
  const std::string report = argv[3];
  const std::uint64_t kill_at = std::strtoull(argv[2], nullptr, 10);
  auto load = ta::agent::load_agent_config(argv[1]);
  if (!load.ok()) {
    for (const auto& p : load.problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    return 2;
  }
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n %v");
  ta::agent::AgentAppOptions options;
  options.config = std::move(load.config);
  options.after_journal_append_for_test = [&](ta::journal::Writer& journal, std::uint64_t seq) {
    if (seq != kill_at) return;
    const std::uint64_t durable = journal.durable_sequence();
    if (!journal.flush().ok()) std::_Exit(3);
    std::FILE* f = std::fopen(report.c_str(), "w");
    if (f == nullptr || std::fprintf(f, "%llu %llu\n", static_cast<unsigned long long>(durable),
                                     static_cast<unsigned long long>(seq)) < 0 ||
        std::fclose(f) != 0) {
      std::_Exit(3);
    }
    spdlog::default_logger()->flush();
    std::raise(SIGKILL);
  };
  return ta::agent::run_agent_daemon(std::move(options));
}
