// tradectl's rules verbs without a gate: --since parsing at its limits,
// compile errors rendered with their caret, where FILE takes part in a
// load, the text of replies, and the what-if over a real journal (periods,
// chunks, the cut of the change list, an empty or missing journal, and a
// journal that a writer appends to while it is read).
#include "rules_cmd.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gate/core.h"
#include "journal/journal.h"
#include "journal_records.pb.h"

namespace ta::tradectl {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kT0 = 1'700'000'000 * kSecond;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() / ("ta_tradectl_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(RulesCmd, SinceTakesAWholeNumberAndAUnitUpToAYear) {
  EXPECT_EQ(*parse_since_ms("1s"), 1000);
  EXPECT_EQ(*parse_since_ms("90m"), 90 * 60 * 1000);
  EXPECT_EQ(*parse_since_ms("24h"), 24 * 3600 * 1000);
  EXPECT_EQ(*parse_since_ms("7d"), 7LL * 24 * 3600 * 1000);
  // The limit is 366 days, in every unit: at, one below, one above.
  EXPECT_EQ(*parse_since_ms("366d"), kSinceMax_ms);
  EXPECT_EQ(*parse_since_ms("365d"), kSinceMax_ms - 24LL * 3600 * 1000);
  EXPECT_FALSE(parse_since_ms("367d").ok());
  EXPECT_TRUE(parse_since_ms("8784h").ok());
  EXPECT_FALSE(parse_since_ms("8785h").ok());
  EXPECT_TRUE(parse_since_ms("31622400s").ok());
  EXPECT_FALSE(parse_since_ms("31622401s").ok());
  for (const char* junk : {"", "d", "7", "0s", "-1d", "1.5h", "7w", "7d ", " 7d", "1e3s", "99999999999999999999d"}) {
    auto r = parse_since_ms(junk);
    ASSERT_FALSE(r.ok()) << junk;
    EXPECT_NE(r.error().message.find("--since"), std::string::npos);
  }
}

TEST(RulesCmd, CompileErrorsRenderWithTheSourceLineAndACaret) {
  ipc::CompileError e;
  e.set_file("rules/active/x.rule");
  e.set_line(4);
  e.set_column(8);
  e.set_message("unknown fact 'market.sprad' (did you mean 'market.spread'?)");
  e.set_source_line("  when market.sprad > 25bps");
  EXPECT_EQ(render(e),
            "rules/active/x.rule:4:8: error: unknown fact 'market.sprad' (did you mean 'market.spread'?)\n"
            "    when market.sprad > 25bps\n"
            "         ^\n");
  e.set_line(0);
  e.set_column(0);
  e.set_source_line("");
  e.set_message("rule directory does not exist");
  EXPECT_EQ(render(e), "rules/active/x.rule: error: rule directory does not exist\n");
  ipc::CompileError plain;
  plain.set_message("journal not writable");
  EXPECT_EQ(render(plain), "error: journal not writable\n");
}

TEST(RulesCmd, AFileInARuleDirectoryStandsForItsFileAnyOtherIsAddedToActive) {
  TempDir t;
  fs::create_directories(t.path() / "core");
  fs::create_directories(t.path() / "active");
  const GatePaths paths{(t.path() / "core").string(), (t.path() / "active").string(), ""};
  const auto in_core = file_override(paths, (t.path() / "core" / ".." / "core" / "a.rule").string(), "x");
  EXPECT_TRUE(in_core.core);
  EXPECT_EQ(in_core.file_name, "a.rule");
  EXPECT_EQ(*in_core.text, "x");
  const auto in_active = file_override(paths, (t.path() / "active" / "b.rule").string(), std::nullopt);
  EXPECT_FALSE(in_active.core);
  EXPECT_FALSE(in_active.text.has_value());
  const auto elsewhere = file_override(paths, "drafts/c.rule", "y");
  EXPECT_FALSE(elsewhere.core);
  EXPECT_EQ(elsewhere.file_name, "c.rule");
  EXPECT_EQ(elsewhere.display_name, "drafts/c.rule");
}

TEST(RulesCmd, ReadRuleFileRefusesWhatTheLoaderRefuses) {
  TempDir t;
  EXPECT_FALSE(read_rule_file((t.path() / "missing.rule").string()).ok());
  EXPECT_FALSE(read_rule_file(t.path().string()).ok());  // a directory
  std::ofstream(t.path() / "big.rule") << std::string(rules::kSourceSizeMax + 100, '#');
  auto big = read_rule_file((t.path() / "big.rule").string());
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), rules::kSourceSizeMax + 1);  // enough for the compiler to report the size
}

TEST(RulesCmd, RepliesAsText) {
  ipc::RulesListReply list;
  list.set_loaded_sequence(42);
  list.set_loaded_cause("SIGHUP");
  list.set_file_count(2);
  for (const auto& [id, action, hits] : {std::tuple{"a_rule", "deny", 3}, {"b_rule", "warn", 5}, {"c_rule", "deny", 4}}) {
    ipc::RuleInfo* r = list.add_rules();
    r->set_id(id);
    r->set_version(1);
    r->set_provenance("core");
    r->set_action(action);
    r->set_enabled(true);
    r->set_hits(hits);
    r->set_file("rules/core/x.rule");
    r->set_line(2);
  }
  list.mutable_rules(1)->set_enabled(false);
  const std::string text = format_rules_list(list);
  EXPECT_NE(text.find("ID      VERSION  PROVENANCE  ACTION           HITS  FILE\n"), std::string::npos) << text;
  EXPECT_NE(text.find("warn (disabled)"), std::string::npos) << text;
  EXPECT_NE(text.find("3 rules from 2 files"), std::string::npos) << text;
  EXPECT_NE(text.find("(SIGHUP, journal seq 42)"), std::string::npos) << text;
  EXPECT_NE(text.find("hits by action: deny 7, warn 5\n"), std::string::npos) << text;
  EXPECT_EQ(format_rules_list(ipc::RulesListReply()).rfind("no rules loaded\n", 0), 0u);

  gate::RuleStageOutcome o;
  o.quantity = Decimal::parse("0.01").value();
  EXPECT_EQ(format_outcome(o), "allow 0.01");
  o.reduce_only = true;
  EXPECT_EQ(format_outcome(o), "allow 0.01 reduce-only");
  o.verdict = rules::Verdict::kDeny;
  o.reason = "rule 'x' v1 denied: too big";
  EXPECT_EQ(format_outcome(o), "deny: rule 'x' v1 denied: too big");
}

// ------------------------------------------------------------------ what-if

const char* kDenyLarge =
    "rule deny_large v1 \"Deny above 0.05\" {\n"
    "  from proposal \"p-1\"\n"
    "  when order.quantity > 0.05\n"
    "  then deny \"above 0.05\"\n"
    "}\n";

// An IntentDecided as the gate journals it: accepted, with the facts the
// rule stage read.
ipc::IntentDecided decided(const std::string& id, const char* quantity) {
  rules::Facts f;
  f.order.product = "BTC-USD";
  f.order.strategy = "test";
  f.order.quantity = Decimal::parse(quantity).value();
  f.order.price = Decimal::parse("10000").value();
  f.order.notional = Decimal::parse("100").value();
  f.account.equity = Decimal::parse("10000").value();
  f.time.since_last_stop_out_s = rules::kNeverStoppedOut_s;
  ipc::IntentDecided d;
  d.mutable_intent()->set_intent_id(id);
  d.mutable_decision()->set_intent_id(id);
  d.mutable_decision()->set_accepted(true);
  d.mutable_decision()->set_quantity(quantity);
  *d.mutable_rule_facts() = gate::to_proto(f);
  return d;
}

void append(journal::Writer& w, std::int64_t ts, const ipc::GateRecord& r) {
  ASSERT_TRUE(w.append(ts, ipc::JOURNAL_RECORD_TYPE_GATE, r.SerializeAsString()).ok());
}
void append_intent(journal::Writer& w, std::int64_t ts, const std::string& id, const char* quantity) {
  ipc::GateRecord r;
  *r.mutable_intent_decided() = decided(id, quantity);
  append(w, ts, r);
}

std::unique_ptr<journal::Writer> open_writer(const fs::path& dir) {
  journal::Options o;
  o.durability = journal::Durability::kGroupCommit;
  auto w = journal::Writer::open(dir, std::move(o));
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message);
  return w.ok() ? std::move(w).value() : nullptr;
}

TEST(RulesCmd, WhatIfOverAJournalTakesTheIntentsOfThePeriod) {
  TempDir t;
  const fs::path dir = t.path() / "journal";
  {
    auto w = open_writer(dir);
    ipc::GateRecord loaded;
    loaded.mutable_rules_loaded()->set_cause("start");
    loaded.mutable_rules_loaded()->add_files()->set_sha256("aa");
    append(*w, kT0, loaded);
    append_intent(*w, kT0 + 1 * kSecond, "old-big", "0.1");  // before the period
    append_intent(*w, kT0 + 10 * kSecond, "small", "0.01");
    append_intent(*w, kT0 + 11 * kSecond, "big-1", "0.1");
    ipc::GateRecord no_facts;  // denied before the rule stage
    no_facts.mutable_intent_decided()->mutable_intent()->set_intent_id("no-facts");
    append(*w, kT0 + 12 * kSecond, no_facts);
    append_intent(*w, kT0 + 13 * kSecond, "big-2", "0.2");
    ipc::GateRecord failed;  // a failed reload does not count as loaded
    failed.mutable_rules_loaded()->set_failed(true);
    append(*w, kT0 + 14 * kSecond, failed);
    ASSERT_TRUE(w->close().ok());
  }
  const rules::RuleSet current;
  auto r = what_if_journal(dir.string(), kT0 + 10 * kSecond, current, kDenyLarge, "deny_large.rule",
                           rules::SourceOrigin::any_proposal());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->records_read, 7u);
  EXPECT_EQ(r->report.records, 4u);
  EXPECT_EQ(r->report.evaluated, 3u);
  EXPECT_EQ(r->report.skipped, 1u);
  ASSERT_EQ(r->report.file_rule_hits.size(), 1u);
  EXPECT_EQ(r->report.file_rule_hits[0], (std::pair<std::string, std::uint64_t>{"deny_large", 2}));
  EXPECT_EQ(r->changes_total, 2u);
  ASSERT_EQ(r->report.changes.size(), 2u);
  EXPECT_EQ(r->report.changes[0].intent_id, "big-1");
  EXPECT_EQ(r->report.changes[1].intent_id, "big-2");
  EXPECT_EQ(r->change_ts_ns, (std::vector<std::int64_t>{kT0 + 11 * kSecond, kT0 + 13 * kSecond}));
  EXPECT_EQ(r->report.changes[0].before.verdict, rules::Verdict::kAllow);
  EXPECT_EQ(r->report.changes[0].after.verdict, rules::Verdict::kDeny);
  ASSERT_TRUE(r->last_loaded.has_value());
  EXPECT_EQ(r->last_loaded->cause(), "start");

  // The list is cut, the count is not.
  auto cut = what_if_journal(dir.string(), 0, current, kDenyLarge, "deny_large.rule",
                             rules::SourceOrigin::any_proposal(), 1);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->changes_total, 3u);
  ASSERT_EQ(cut->report.changes.size(), 1u);
  EXPECT_EQ(cut->report.changes[0].intent_id, "old-big");

  // An empty period still compiles the file and lists its rules.
  auto empty = what_if_journal(dir.string(), kT0 + 100 * kSecond, current, kDenyLarge, "deny_large.rule",
                               rules::SourceOrigin::any_proposal());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->report.records, 0u);
  EXPECT_EQ(empty->report.file_rule_hits.size(), 1u);
  EXPECT_TRUE(empty->report.changes.empty());

  // A file that does not compile, or says it is core: the compiler's errors.
  auto bad = what_if_journal(dir.string(), 0, current, kDenyLarge, "deny_large.rule", rules::SourceOrigin::core());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("deny_large.rule:2:"), std::string::npos) << bad.error().message;
}

TEST(RulesCmd, WhatIfOverAnEmptyOrMissingJournal) {
  TempDir t;
  fs::create_directories(t.path() / "empty");
  const rules::RuleSet current;
  auto empty = what_if_journal((t.path() / "empty").string(), 0, current, kDenyLarge, "f.rule",
                               rules::SourceOrigin::any_proposal());
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->records_read, 0u);
  EXPECT_FALSE(empty->last_loaded.has_value());
  auto missing = what_if_journal((t.path() / "nope").string(), 0, current, kDenyLarge, "f.rule",
                                 rules::SourceOrigin::any_proposal());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("journal " + (t.path() / "nope").string()), std::string::npos)
      << missing.error().message;
}

TEST(RulesCmd, WhatIfMergesChunks) {
  TempDir t;
  const fs::path dir = t.path() / "journal";
  // One chunk, one chunk and one record, two chunks and one: every
  // record is counted once, in journal order.
  const std::size_t n = 2 * kWhatIfChunkRecords + 1;
  {
    auto w = open_writer(dir);
    for (std::size_t i = 0; i < n; ++i) {
      append_intent(*w, kT0 + static_cast<std::int64_t>(i), "i-" + std::to_string(i), i % 2 == 0 ? "0.1" : "0.01");
    }
    ASSERT_TRUE(w->close().ok());
  }
  const rules::RuleSet current;
  for (const std::size_t records : {kWhatIfChunkRecords, kWhatIfChunkRecords + 1, n}) {
    auto r = what_if_journal(dir.string(), kT0 + static_cast<std::int64_t>(n - records), current, kDenyLarge,
                             "f.rule", rules::SourceOrigin::any_proposal(), n);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->report.records, records) << records;
    EXPECT_EQ(r->report.evaluated, records);
    std::size_t big = 0;
    for (std::size_t i = n - records; i < n; ++i) big += i % 2 == 0 ? 1 : 0;
    EXPECT_EQ(r->changes_total, big) << records;
    EXPECT_EQ(r->report.changes.size(), big);
    EXPECT_EQ(r->report.file_rule_hits[0].second, big);
    ASSERT_FALSE(r->report.changes.empty());
    EXPECT_EQ(r->report.changes.back().intent_id, "i-" + std::to_string(n - 1));
    EXPECT_EQ(r->change_ts_ns.back(), kT0 + static_cast<std::int64_t>(n - 1));
  }
}

TEST(RulesCmd, WhatIfReadsAJournalWhileItIsWritten) {
  TempDir t;
  const fs::path dir = t.path() / "journal";
  auto w = open_writer(dir);
  ASSERT_NE(w, nullptr);
  constexpr int kRecords = 3000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kRecords; ++i) append_intent(*w, kT0 + i, "w-" + std::to_string(i), "0.1");
    done = true;
  });
  const rules::RuleSet current;
  std::size_t last = 0;
  int reads = 0;
  while (!done || reads == 0) {
    auto r = what_if_journal(dir.string(), 0, current, kDenyLarge, "f.rule", rules::SourceOrigin::any_proposal(),
                             kRecords);
    ASSERT_TRUE(r.ok()) << r.error().message;
    // A prefix of the journal, never less than before, each record whole.
    EXPECT_GE(r->report.records, last);
    EXPECT_EQ(r->changes_total, r->report.records);
    last = r->report.records;
    ++reads;
  }
  writer.join();
  ASSERT_TRUE(w->close().ok());
  auto all = what_if_journal(dir.string(), 0, current, kDenyLarge, "f.rule", rules::SourceOrigin::any_proposal());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->report.records, static_cast<std::size_t>(kRecords));
  EXPECT_EQ(all->report.changes.size(), kWhatIfChangesShownMax);
}

}  // namespace
}  // namespace ta::tradectl
