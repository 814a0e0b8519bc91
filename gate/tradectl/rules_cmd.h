// tradectl's "rules" verbs: the pieces that need no gate ("rules check
// FILE", "rules test FILE --since D", which read gate.yaml, the rule
// directories and the journal) and the text forms of the rules replies.
// docs/operations.md ("tradectl rules") describes what each prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin.pb.h"
#include "gate/what_if.h"
#include "proto/result.h"
#include "rules/rules.h"

namespace ta::tradectl {

// gate.yaml for "rules check" and "rules test": --config, else
// $TRADING_GATE_CONFIG, else /etc/trading/gate.yaml (tradectl.h).
std::string default_gate_config_path();

// --since: a whole number and a unit (s, m, h, d), at least one second and
// at most kSinceMax_ms: a year covers any review, and keeps now - since far
// from overflow.
inline constexpr std::int64_t kSinceMax_ms = 366LL * 24 * 3600 * 1000;
Result<std::int64_t> parse_since_ms(std::string_view text);

// "rules test": journaled intents re-decided per what_if() call. Bounds the
// memory held at once (a few MiB of IntentDecided) however long the period.
inline constexpr std::size_t kWhatIfChunkRecords = 4096;
// Changed decisions listed; beyond this they are counted only. A file that
// changes more than a thousand decisions is understood from the first ones
// and the counts.
inline constexpr std::size_t kWhatIfChangesShownMax = 1000;

// What gate.yaml says about rules and the journal (its own paths resolved
// against its directory).
struct GatePaths {
  std::string core_dir;
  std::string active_dir;
  std::string journal_dir;
};
// Errors are gate.yaml's problems, one "file:line:column: ..." per line.
Result<GatePaths> gate_paths(const std::string& gate_yaml);

// How FILE takes part in a load. A file inside core_dir or active_dir
// stands for that directory's file of the same name (its rules must say
// 'from core', or 'from proposal "..."'); any other file is checked as if
// it were added to active_dir under its own name. `text`: its content, or
// nullopt to leave it out.
rules::FileOverride file_override(const GatePaths& paths, const std::string& file, std::optional<std::string> text);

// Reads a rule file the way the loader does: refuses anything but a
// regular file, and reads at most kSourceSizeMax + 1 bytes (the compiler
// reports the size).
Result<std::string> read_rule_file(const std::string& path);

// A compile error, from the gate or the compiler, in the compiler's
// three-line form: "file:line:column: error: message", the source line,
// and a caret under the column (the last two when the line is known).
std::string render(const ipc::CompileError& error);

// Text of the admin replies.
std::string format_rules_list(const ipc::RulesListReply& reply);  // every page merged
std::string format_rule(const ipc::RuleInfo& rule);
std::string format_outcome(const gate::RuleStageOutcome& outcome);

// The what-if over a journal: the intents journaled (journal record time,
// the gate's wall clock) at or after from_ts_ns.
struct JournalWhatIf {
  gate::WhatIfReport report;  // merged over every chunk; changes cut at changes_max
  std::size_t changes_total = 0;
  std::vector<std::int64_t> change_ts_ns;  // when each listed change was journaled
  std::uint64_t records_read = 0;          // gate records scanned, whatever their time
  // The last successful RulesLoaded in the journal (what the gate uses, if
  // it still runs on this journal); nullopt if there is none.
  std::optional<ipc::RulesLoaded> last_loaded;
};
// Reads journal_dir from the start to its current end (a journal being
// written is read up to its last whole record) and runs what_if() on the
// intents of the period in chunks of kWhatIfChunkRecords. Errors: the
// journal cannot be read or is corrupt, or the file does not compile (the
// diagnostics rendered).
Result<JournalWhatIf> what_if_journal(const std::string& journal_dir, std::int64_t from_ts_ns,
                                      const rules::RuleSet& current, std::string_view file_text,
                                      std::string_view file_name, const rules::SourceOrigin& origin,
                                      std::size_t changes_max = kWhatIfChangesShownMax);

struct RulesFileArgs {
  std::string config_path;  // gate.yaml
  std::string file;
  std::string since;        // rules test
  bool json = false;
  std::int64_t now_ns = 0;  // rules test: "now" (0: the system clock)
};
// The verbs; they print and return the exit code (0 ok, 1 failed).
int run_rules_check(const RulesFileArgs& args);
int run_rules_test(const RulesFileArgs& args);

}  // namespace ta::tradectl
