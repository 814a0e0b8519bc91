#include "rules_cmd.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "gate/config.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "tradectl.h"

namespace ta::tradectl {

namespace {

namespace fs = std::filesystem;

std::int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Where a file sits: in core_dir (true), in active_dir (false), elsewhere
// (nullopt). Paths are compared after resolving ".", ".." and symlinks.
std::optional<bool> rule_dir_of(const GatePaths& paths, const std::string& file) {
  std::error_code ec;
  const fs::path parent = fs::weakly_canonical(fs::absolute(file, ec), ec).parent_path();
  if (ec) return std::nullopt;
  const auto same = [&](const std::string& dir) {
    std::error_code e;
    return !dir.empty() && fs::weakly_canonical(fs::absolute(dir, e), e) == parent && !e;
  };
  if (same(paths.core_dir)) return true;
  if (same(paths.active_dir)) return false;
  return std::nullopt;
}

const char* verdict_name(rules::Verdict v) { return rules::to_string(v); }

boost::json::object outcome_json(const gate::RuleStageOutcome& o) {
  boost::json::array fired;
  for (const auto& id : o.rules_fired) fired.emplace_back(id);
  return {{"verdict", verdict_name(o.verdict)},
          {"quantity", o.quantity.to_string()},
          {"reduce_only", o.reduce_only},
          {"rules_fired", std::move(fired)},
          {"reason", o.reason}};
}

boost::json::object diagnostic_json(const rules::Diagnostic& d) {
  return {{"file", d.file}, {"line", d.line}, {"column", d.column}, {"message", d.message},
          {"source_line", d.source_line}};
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_json(const boost::json::value& v) { std::printf("%s\n", boost::json::serialize(v).c_str()); }

}  // namespace

// ---------------------------------------------------------------- helpers

std::string default_gate_config_path() {
  const char* env = std::getenv(kGateConfigEnv);
  return env != nullptr && *env != '\0' ? env : kGateConfigPathDefault;
}

Result<std::int64_t> parse_since_ms(std::string_view text) {
  const auto bad = [&] {
    return make_error("--since " + std::string(text) +
                      ": expected a whole number and a unit s, m, h or d (e.g. 90m, 24h, 7d), at most 366d");
  };
  if (text.size() < 2) return bad();
  std::int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60 * 1000;
      break;
    case 'h':
      unit_ms = 3600 * 1000;
      break;
    case 'd':
      unit_ms = 24LL * 3600 * 1000;
      break;
    default:
      return bad();
  }
  const std::string_view digits = text.substr(0, text.size() - 1);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n <= 0) return bad();
  if (n > kSinceMax_ms / unit_ms) return bad();
  return n * unit_ms;
}

Result<GatePaths> gate_paths(const std::string& gate_yaml) {
  gate::ConfigLoad load = gate::load_config(gate_yaml);
  if (!load.problems.empty()) {
    std::string text;
    for (const auto& p : load.problems) text += (text.empty() ? "" : "\n") + p.to_string();
    return make_error(text);
  }
  return GatePaths{load.config.gate.rules_core_dir.string(), load.config.gate.rules_active_dir.string(),
                   load.config.gate.journal_dir.string()};
}

rules::FileOverride file_override(const GatePaths& paths, const std::string& file, std::optional<std::string> text) {
  rules::FileOverride o;
  o.core = rule_dir_of(paths, file).value_or(false);
  o.file_name = fs::path(file).filename().string();
  o.display_name = file;
  o.text = std::move(text);
  return o;
}

Result<std::string> read_rule_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return make_error(path + ": no such file");
  if (!fs::is_regular_file(path, ec)) return make_error(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open the file");
  std::string out(rules::kSourceSizeMax + 1, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) return make_error(path + ": read error");
  return out;
}

std::string render(const ipc::CompileError& e) {
  rules::Diagnostic d;
  d.file = e.file();
  d.line = e.line();
  d.column = e.column();
  d.message = e.message();
  d.source_line = e.source_line();
  if (d.file.empty()) return "error: " + d.message + "\n";
  return d.render();
}

// ---------------------------------------------------------------- replies

std::string format_rules_list(const ipc::RulesListReply& reply) {
  std::string out;
  if (reply.rules().empty()) {
    out = "no rules loaded\n";
  } else {
    std::vector<std::vector<std::string>> rows = {{"ID", "VERSION", "PROVENANCE", "ACTION", "HITS", "FILE"}};
    for (const ipc::RuleInfo& r : reply.rules()) {
      rows.push_back({r.id(), std::to_string(r.version()), r.provenance(),
                      r.action() + (r.enabled() ? "" : " (disabled)"), std::to_string(r.hits()),
                      r.file() + ":" + std::to_string(r.line())});
    }
    out = table(rows);
  }
  out += plural(static_cast<std::size_t>(reply.rules_size()), "rule", "rules") + " from " +
         plural(reply.file_count(), "file", "files") + ", in force since " + timestamp(reply.loaded_ts_ns()) +
         " (" + reply.loaded_cause() + ", journal seq " + std::to_string(reply.loaded_sequence()) + ")\n";
  // Hits by action, in the order of the action kinds.
  std::vector<std::pair<std::string, std::uint64_t>> by_action;
  for (const ipc::RuleInfo& r : reply.rules()) {
    if (r.hits() == 0) continue;
    auto it = std::find_if(by_action.begin(), by_action.end(), [&](const auto& p) { return p.first == r.action(); });
    if (it == by_action.end()) {
      by_action.emplace_back(r.action(), r.hits());
    } else {
      it->second += r.hits();
    }
  }
  if (!by_action.empty()) {
    out += "hits by action:";
    for (std::size_t i = 0; i < by_action.size(); ++i) {
      out += (i == 0 ? " " : ", ") + by_action[i].first + " " + std::to_string(by_action[i].second);
    }
    out += "\n";
  }
  if (reply.hits_untracked() > 0) {
    out += std::to_string(reply.hits_untracked()) + " hits of rules that are no longer loaded or beyond the counters\n";
  }
  return out;
}

std::string format_rule(const ipc::RuleInfo& r) {
  std::string out = table({{"rule", r.id() + " v" + std::to_string(r.version())},
                           {"description", r.description()},
                           {"provenance", r.provenance()},
                           {"action", r.action()},
                           {"enabled", r.enabled() ? "yes" : "no"},
                           {"hits", std::to_string(r.hits())},
                           {"file", r.file() + ":" + std::to_string(r.line())},
                           {"file sha256", r.file_sha256()}});
  out += "\n" + r.source();
  if (!r.source().empty() && r.source().back() != '\n') out += "\n";
  if (r.source_truncated()) out += "(source cut to fit one admin frame; the file holds all of it)\n";
  return out;
}

std::string format_outcome(const gate::RuleStageOutcome& o) {
  std::string out = verdict_name(o.verdict);
  switch (o.verdict) {
    case rules::Verdict::kAllow:
    case rules::Verdict::kHold:
      out += " " + o.quantity.to_string();
      if (o.reduce_only) out += " reduce-only";
      break;
    case rules::Verdict::kDeny:
    case rules::Verdict::kHalt:
      break;
  }
  if (!o.reason.empty()) out += ": " + o.reason;
  return out;
}

// ---------------------------------------------------------------- what-if

Result<JournalWhatIf> what_if_journal(const std::string& journal_dir, std::int64_t from_ts_ns,
                                      const rules::RuleSet& current, std::string_view file_text,
                                      std::string_view file_name, const rules::SourceOrigin& origin,
                                      std::size_t changes_max) {
  // Compiled once here so that an empty period still checks the file and
  // lists its rules.
  auto file = rules::compile_source(file_text, file_name, origin);
  if (!file.ok()) return make_error(file.render_errors());
  JournalWhatIf out;
  for (std::size_t i = 0; i < file.value().size(); ++i) out.report.file_rule_hits.emplace_back(file.value().rule(i).id, 0);

  auto reader = journal::Reader::open(journal_dir);
  if (!reader) return make_error("journal " + journal_dir + ": " + reader.error().message);

  std::vector<ipc::IntentDecided> chunk;
  std::vector<std::int64_t> chunk_ts;
  const auto run_chunk = [&]() -> Status {
    if (chunk.empty()) return {};
    auto r = gate::what_if(chunk, current, file_text, file_name, origin);
    if (!r.ok()) return make_error(r.render_errors());
    const gate::WhatIfReport& part = r.value();
    out.report.records += part.records;
    out.report.evaluated += part.evaluated;
    out.report.skipped += part.skipped;
    out.report.unreadable += part.unreadable;
    for (std::size_t i = 0; i < part.file_rule_hits.size() && i < out.report.file_rule_hits.size(); ++i) {
      out.report.file_rule_hits[i].second += part.file_rule_hits[i].second;
    }
    std::unordered_map<std::string, std::int64_t> ts;
    for (std::size_t i = 0; i < chunk.size(); ++i) ts[chunk[i].intent().intent_id()] = chunk_ts[i];
    for (const gate::WhatIfChange& c : part.changes) {
      ++out.changes_total;
      if (out.report.changes.size() >= changes_max) continue;
      out.report.changes.push_back(c);
      out.change_ts_ns.push_back(ts[c.intent_id]);
    }
    chunk.clear();
    chunk_ts.clear();
    return {};
  };

  for (;;) {
    auto next = (*reader)->next();
    if (!next) return make_error("journal " + journal_dir + ": " + next.error().message);
    if (!next->has_value()) break;  // the current end; a writer may add more
    const journal::Record& rec = **next;
    if (rec.type != ipc::JOURNAL_RECORD_TYPE_GATE) continue;
    ipc::GateRecord g;
    if (!g.ParseFromArray(rec.payload.data(), static_cast<int>(rec.payload.size()))) {
      return make_error("journal " + journal_dir + ": record " + std::to_string(rec.seq) +
                        " is not a gate record this tradectl can read");
    }
    ++out.records_read;
    if (g.has_rules_loaded() && !g.rules_loaded().failed()) out.last_loaded = g.rules_loaded();
    if (!g.has_intent_decided() || rec.ts_ns < from_ts_ns) continue;
    chunk.push_back(std::move(*g.mutable_intent_decided()));
    chunk_ts.push_back(rec.ts_ns);
    if (chunk.size() >= kWhatIfChunkRecords) {
      if (auto st = run_chunk(); !st) return st.error();
    }
  }
  if (auto st = run_chunk(); !st) return st.error();
  return out;
}

// ---------------------------------------------------------------- verbs

namespace {

struct RuleFileInput {
  GatePaths paths;   // gate.yaml's rule and journal directories
  std::string text;  // the rule file's text
};

// What `rules check` and `rules test` both start from.
Result<RuleFileInput> read_input(const RulesFileArgs& args) {
  auto paths = gate_paths(args.config_path);
  if (!paths) return paths.error();
  auto text = read_rule_file(args.file);
  if (!text) return text.error();
  return RuleFileInput{std::move(paths).value(), std::move(text).value()};
}

}  // namespace

int run_rules_check(const RulesFileArgs& args) {
  auto input = read_input(args);
  if (!input) {
    std::fprintf(stderr, "tradectl: %s\n", input.error().message.c_str());
    return 1;
  }
  const GatePaths& paths = input->paths;
  const std::string& text = input->text;
  const rules::FileOverride o = file_override(paths, args.file, text);
  auto loaded = rules::load_rules(paths.core_dir, paths.active_dir, o);
  if (!loaded.ok()) {
    const auto& errors = loaded.errors();
    if (args.json) {
      boost::json::array list;
      for (const auto& d : errors) list.emplace_back(diagnostic_json(d));
      print_json(boost::json::object{{"ok", false}, {"file", args.file}, {"errors", std::move(list)}});
    } else {
      for (const auto& d : errors) std::fputs(d.render().c_str(), stdout);
    }
    std::fprintf(stderr, "tradectl: %s: %s; with %s and %s the rules would not load\n", args.file.c_str(),
                 plural(errors.size(), "error", "errors").c_str(), paths.core_dir.c_str(), paths.active_dir.c_str());
    return 1;
  }
  const rules::LoadedRules& l = loaded.value();
  std::vector<const rules::RuleInfo*> own;
  for (std::size_t i = 0; i < l.rules.size(); ++i) {
    if (l.rules.rule(i).file == o.display_name) own.push_back(&l.rules.rule(i));
  }
  if (args.json) {
    boost::json::array list;
    for (const auto* r : own) {
      list.emplace_back(boost::json::object{{"id", r->id}, {"version", r->version}, {"action", rules::to_string(r->action)},
                                            {"line", r->line}});
    }
    print_json(boost::json::object{{"ok", true},
                                   {"file", args.file},
                                   {"rules", std::move(list)},
                                   {"rule_count", l.rules.size()},
                                   {"file_count", l.files.size()},
                                   {"errors", boost::json::array()}});
    return 0;
  }
  std::string names;
  for (const auto* r : own) {
    names += (names.empty() ? "" : ", ") + r->id + " v" + std::to_string(r->version) + " (" +
             rules::to_string(r->action) + ")";
  }
  std::printf("%s: OK: %s%s\nwith %s and %s: %s from %s\n", args.file.c_str(),
              own.empty() ? "no rules" : own.size() == 1 ? "rule " : "rules ", names.c_str(),
              paths.core_dir.c_str(), paths.active_dir.c_str(), plural(l.rules.size(), "rule", "rules").c_str(),
              plural(l.files.size(), "file", "files").c_str());
  return 0;
}

int run_rules_test(const RulesFileArgs& args) {
  auto since_ms = parse_since_ms(args.since);
  if (!since_ms) {
    std::fprintf(stderr, "tradectl: %s\n", since_ms.error().message.c_str());
    return 2;
  }
  auto input = read_input(args);
  if (!input) {
    std::fprintf(stderr, "tradectl: %s\n", input.error().message.c_str());
    return 1;
  }
  const GatePaths& paths = input->paths;
  const std::string& text = input->text;
  // A file in place is compared with the rules without it; any other file
  // is added to the rules as they are.
  const std::optional<bool> place = rule_dir_of(paths, args.file);
  auto current = place ? rules::load_rules(paths.core_dir, paths.active_dir, file_override(paths, args.file, std::nullopt))
                       : rules::load_rules(paths.core_dir, paths.active_dir);
  if (!current.ok()) {
    std::fputs(current.render_errors().c_str(), stdout);
    std::fprintf(stderr, "tradectl: the current rules in %s and %s do not compile; fix them first\n",
                 paths.core_dir.c_str(), paths.active_dir.c_str());
    return 1;
  }
  const rules::SourceOrigin origin = place.value_or(false) ? rules::SourceOrigin::core()
                                                           : rules::SourceOrigin::any_proposal();
  const std::int64_t now_ns = args.now_ns != 0 ? args.now_ns : system_now_ns();
  const std::int64_t from_ns = now_ns - *since_ms * 1'000'000;
  auto run = what_if_journal(paths.journal_dir, from_ns, current.value().rules, text, args.file, origin);
  if (!run) {
    std::string message = run.error().message;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    if (message.find('\n') != std::string::npos) {  // compiler output: several lines
      std::printf("%s\n", message.c_str());
      std::fprintf(stderr, "tradectl: %s does not compile\n", args.file.c_str());
    } else {
      std::fprintf(stderr, "tradectl: %s\n", message.c_str());
    }
    return 1;
  }
  const JournalWhatIf& w = *run;
  const gate::WhatIfReport& r = w.report;

  // Do the files on disk match what the gate last loaded? Compared by
  // content, so a config path written differently does not matter.
  bool differs = false;
  if (w.last_loaded) {
    std::vector<std::string> disk, gate_side;
    for (const auto& f : current.value().files) disk.push_back(f.sha256);
    if (place) {
      auto with_file = rules::load_rules(paths.core_dir, paths.active_dir, file_override(paths, args.file, text));
      disk.clear();
      if (with_file.ok()) {
        for (const auto& f : with_file.value().files) disk.push_back(f.sha256);
      }
    }
    for (const auto& f : w.last_loaded->files()) gate_side.push_back(f.sha256());
    std::sort(disk.begin(), disk.end());
    std::sort(gate_side.begin(), gate_side.end());
    differs = disk != gate_side;
  }

  if (args.json) {
    boost::json::array changes;
    for (std::size_t i = 0; i < r.changes.size(); ++i) {
      changes.emplace_back(boost::json::object{{"intent_id", r.changes[i].intent_id},
                                               {"journal_ts_ns", w.change_ts_ns[i]},
                                               {"before", outcome_json(r.changes[i].before)},
                                               {"after", outcome_json(r.changes[i].after)}});
    }
    boost::json::object hits;
    for (const auto& [id, n] : r.file_rule_hits) hits[id] = n;
    print_json(boost::json::object{{"file", args.file},
                                   {"journal_dir", paths.journal_dir},
                                   {"since_ms", *since_ms},
                                   {"from_ts_ns", from_ns},
                                   {"intents", r.records},
                                   {"evaluated", r.evaluated},
                                   {"skipped", r.skipped},
                                   {"unreadable", r.unreadable},
                                   {"current_rule_count", current.value().rules.size()},
                                   {"file_rule_hits", std::move(hits)},
                                   {"changes_total", w.changes_total},
                                   {"changes", std::move(changes)},
                                   {"rules_differ_from_gate", differs}});
    return 0;
  }

  std::string out = "journal " + paths.journal_dir + ": " + plural(r.records, "intent", "intents") +
                    " journaled since " + timestamp(from_ns) + " (--since " + args.since + ")\n";
  if (r.records > 0) {
    out += "  " + std::to_string(r.evaluated) + " re-decided (they reached the rule stage), " +
           std::to_string(r.skipped) + " skipped (decided before it), " + std::to_string(r.unreadable) +
           " unreadable\n";
  }
  out += "current rules: " + plural(current.value().rules.size(), "rule", "rules") + " from " + paths.core_dir +
         " and " + paths.active_dir + (place ? " without " + args.file : std::string()) + "\n";
  for (const auto& [id, n] : r.file_rule_hits) {
    out += "  " + args.file + ": rule " + id + " fired " + plural(n, "time", "times") + "\n";
  }
  if (differs) {
    out += "note: these rule files differ from the ones trading-gate last loaded (journal); 'current' means the "
           "files on disk\n";
  }
  if (r.records == 0) {
    out += "nothing to compare: no intents in this period\n";
  } else if (w.changes_total == 0) {
    out += "no decision would change\n";
  } else {
    out += plural(w.changes_total, "decision", "decisions") + " would change:\n";
    std::vector<std::vector<std::string>> rows = {{"INTENT", "JOURNALED", "BEFORE", "AFTER"}};
    for (std::size_t i = 0; i < r.changes.size(); ++i) {
      rows.push_back({r.changes[i].intent_id, timestamp(w.change_ts_ns[i]), format_outcome(r.changes[i].before),
                      format_outcome(r.changes[i].after)});
    }
    out += table(rows);
    if (w.changes_total > r.changes.size()) {
      out += "(" + std::to_string(w.changes_total - r.changes.size()) + " more not listed)\n";
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace ta::tradectl
