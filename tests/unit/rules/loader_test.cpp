// load_rules(): directory order, hashes, atomicity, duplicate ids, origin
// checks and the file-count limit, on temporary directories; and the
// shipped rules/core set.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "rules_test_util.h"

namespace ta::rules {
namespace {

namespace fs = std::filesystem;
using testing::D;
using testing::typical_facts;

class TempDirs : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("ta_rules_loader_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(core());
    fs::create_directories(active());
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path core() const { return root_ / "core"; }
  fs::path active() const { return root_ / "active"; }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

  fs::path root_;
};

const char* kCoreRule = "rule a v1 \"d\" { from core when true then warn \"w\" }\n";
std::string proposal_rule(const std::string& id, const std::string& proposal = "p-1") {
  return "rule " + id + " v1 \"d\" { from proposal \"" + proposal + "\" when true then warn \"" + id + "\" }\n";
}

TEST_F(TempDirs, LoadsCoreThenActiveSortedWithHashes) {
  write(core() / "b.rule", "rule b v1 \"d\" { from core when true then warn \"w\" }\n");
  write(core() / "a.rule", kCoreRule);
  write(core() / "empty.rule", "");
  write(core() / "README.md", "not a rule file");
  write(active() / "z.rule", proposal_rule("z"));
  write(active() / "c.rule", proposal_rule("c", "p-2"));
  auto loaded = load_rules(core().string(), active().string());
  ASSERT_TRUE(loaded.ok()) << loaded.render_errors();
  const LoadedRules& l = loaded.value();
  ASSERT_EQ(l.files.size(), 5u);
  EXPECT_EQ(l.files[0].path, (core() / "a.rule").string());
  EXPECT_EQ(l.files[1].path, (core() / "b.rule").string());
  EXPECT_EQ(l.files[2].path, (core() / "empty.rule").string());
  EXPECT_EQ(l.files[3].path, (active() / "c.rule").string());
  EXPECT_EQ(l.files[4].path, (active() / "z.rule").string());
  EXPECT_EQ(l.files[0].sha256, "9c61420c38c84f19786bb41595658d40eeed701720f86ee0002b834849950f74");
  EXPECT_EQ(l.files[2].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(l.files[0].size_bytes, std::string(kCoreRule).size());
  ASSERT_EQ(l.rules.size(), 4u);
  EXPECT_EQ(l.rules.rule(0).id, "a");
  EXPECT_EQ(l.rules.rule(1).id, "b");
  EXPECT_EQ(l.rules.rule(2).id, "c");
  EXPECT_EQ(l.rules.rule(2).provenance.proposal_id, "p-2");
  EXPECT_EQ(l.rules.rule(3).id, "z");
  EXPECT_EQ(l.rules.rule(3).file, (active() / "z.rule").string());
  EXPECT_EQ(l.rules.evaluate(typical_facts()).warnings.size(), 4u);
}

TEST_F(TempDirs, MissingActiveDirectoryIsEmptyMissingCoreIsAnError) {
  write(core() / "a.rule", kCoreRule);
  fs::remove_all(active());
  auto loaded = load_rules(core().string(), active().string());
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.value().rules.size(), 1u);
  auto missing = load_rules((root_ / "nope").string(), active().string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.render_errors(), (root_ / "nope").string() + ": error: rule directory does not exist\n");
}

TEST_F(TempDirs, OneBadFileLoadsNothingAndReportsEveryError) {
  write(core() / "a.rule", kCoreRule);
  write(core() / "bad1.rule", "rule x v1 \"d\" { from core when market.sprad > 1bps then deny \"x\" }\n");
  write(active() / "bad2.rule", "rule y v1 \"d\" { from proposal \"p\" when order.notional > 5 then deny \"x\" }\n");
  write(active() / "good.rule", proposal_rule("g"));
  auto loaded = load_rules(core().string(), active().string());
  ASSERT_FALSE(loaded.ok());
  ASSERT_EQ(loaded.errors().size(), 2u) << loaded.render_errors();
  EXPECT_EQ(loaded.errors()[0].file, (core() / "bad1.rule").string());
  EXPECT_EQ(loaded.errors()[0].line, 1u);
  EXPECT_EQ(loaded.errors()[0].column, 32u);
  EXPECT_EQ(loaded.errors()[0].message, "unknown fact 'market.sprad' (did you mean 'market.spread'?)");
  EXPECT_EQ(loaded.errors()[1].file, (active() / "bad2.rule").string());
  EXPECT_NE(loaded.errors()[1].message.find("write it in USD"), std::string::npos);
}

TEST_F(TempDirs, DuplicateIdsAcrossFilesAreAnError) {
  write(core() / "a.rule", kCoreRule);
  write(active() / "again.rule", "\n" + proposal_rule("a"));
  auto loaded = load_rules(core().string(), active().string());
  ASSERT_FALSE(loaded.ok());
  ASSERT_EQ(loaded.errors().size(), 1u);
  EXPECT_EQ(loaded.errors()[0].file, (active() / "again.rule").string());
  EXPECT_EQ(loaded.errors()[0].line, 2u);
  EXPECT_EQ(loaded.errors()[0].message, "rule id 'a' is already defined at " + (core() / "a.rule").string() + ":1:6");
}

TEST_F(TempDirs, ActiveRulesCannotClaimToBeCore) {
  write(active() / "sneaky.rule", kCoreRule);
  auto loaded = load_rules(core().string(), active().string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.errors()[0].message.find("'from core' is reserved for rules/core"), std::string::npos);
  fs::remove(active() / "sneaky.rule");
  write(core() / "sneaky.rule", proposal_rule("s"));
  EXPECT_FALSE(load_rules(core().string(), active().string()).ok());
}

TEST_F(TempDirs, OversizedFileIsRefusedWithoutReadingItAll) {
  write(core() / "big.rule", std::string(kSourceSizeMax + 1, '#'));
  auto loaded = load_rules(core().string(), active().string());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.errors()[0].message, "file is 32769 bytes; the limit is 32768");
  write(core() / "big.rule", std::string(kSourceSizeMax, '#'));
  EXPECT_TRUE(load_rules(core().string(), active().string()).ok());
}

TEST_F(TempDirs, FileCountLimit) {
  for (std::size_t i = 0; i < kFileCountMax - 1; ++i) write(core() / ("f" + std::to_string(i) + ".rule"), "");
  EXPECT_TRUE(load_rules(core().string(), active().string()).ok());
  write(active() / "last.rule", "");
  auto at = load_rules(core().string(), active().string());
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at.value().files.size(), kFileCountMax);
  write(active() / "one_more.rule", "");
  auto over = load_rules(core().string(), active().string());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.errors()[0].message, "found 257 rule files; the limit is 256");
}

TEST_F(TempDirs, RuleCountLimitSpansFiles) {
  std::string half;
  for (std::size_t i = 0; i < kRuleCountMax / 2; ++i) {
    half += "rule c" + std::to_string(i) + " v1 \"d\" { from core when true then warn \"w\" }\n";
  }
  write(core() / "a.rule", half);
  std::string other;
  for (std::size_t i = 0; i < kRuleCountMax / 2; ++i) other += proposal_rule("p" + std::to_string(i));
  write(active() / "b.rule", other);
  EXPECT_TRUE(load_rules(core().string(), active().string()).ok());
  write(active() / "c.rule", proposal_rule("one_more"));
  auto over = load_rules(core().string(), active().string());
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.render_errors().find("the rule set has 257 rules; the limit is 256"), std::string::npos);
}

// load_rules() with one file seen differently (tradectl rules check/test).
TEST_F(TempDirs, AnOverrideReplacesAddsOrLeavesOutOneFile) {
  write(core() / "a.rule", kCoreRule);
  write(active() / "b.rule", proposal_rule("b"));
  write(active() / "d.rule", proposal_rule("d"));

  // Replaces active/b.rule; the display name is what the user typed.
  FileOverride o{false, "b.rule", "drafts/b.rule", proposal_rule("b_two")};
  auto replaced = load_rules(core().string(), active().string(), o);
  ASSERT_TRUE(replaced.ok()) << replaced.render_errors();
  ASSERT_EQ(replaced.value().rules.size(), 3u);
  EXPECT_EQ(replaced.value().rules.rule(1).id, "b_two");
  EXPECT_EQ(replaced.value().rules.rule(1).file, "drafts/b.rule");
  ASSERT_EQ(replaced.value().files.size(), 3u);
  EXPECT_EQ(replaced.value().files[1].path, "drafts/b.rule");
  EXPECT_EQ(replaced.value().files[1].size_bytes, proposal_rule("b_two").size());

  // Added in name order between b and d.
  o.file_name = "c.rule";
  auto added = load_rules(core().string(), active().string(), o);
  ASSERT_TRUE(added.ok()) << added.render_errors();
  ASSERT_EQ(added.value().rules.size(), 4u);
  EXPECT_EQ(added.value().rules.rule(2).id, "b_two");
  EXPECT_EQ(added.value().rules.rule(3).id, "d");

  // Left out.
  o.file_name = "d.rule";
  o.text.reset();
  auto without = load_rules(core().string(), active().string(), o);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(without.value().rules.size(), 2u);
  EXPECT_EQ(without.value().files.size(), 2u);
  o.file_name = "nothing.rule";
  EXPECT_EQ(load_rules(core().string(), active().string(), o).value().rules.size(), 3u);

  // A core override must say 'from core', and its errors carry the display name.
  FileOverride c{true, "a.rule", "edited/a.rule", proposal_rule("a")};
  auto wrong = load_rules(core().string(), active().string(), c);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.errors()[0].file, "edited/a.rule");
  c.text = "rule a v2 \"d\" { from core when market.sprad > 1bps then warn \"w\" }\n";
  auto bad = load_rules(core().string(), active().string(), c);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.errors()[0].file, "edited/a.rule");
  EXPECT_EQ(bad.errors()[0].line, 1u);
  EXPECT_EQ(bad.errors()[0].column, 32u);

  // A duplicate id with another file is found as a load would find it.
  FileOverride dup{false, "x.rule", "x.rule", proposal_rule("d")};
  auto twice = load_rules(core().string(), active().string(), dup);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.errors()[0].message.find("rule id 'd' is already defined"), std::string::npos)
      << twice.render_errors();
}

TEST_F(TempDirs, AnOverrideKeepsTheLimits) {
  write(core() / "a.rule", kCoreRule);
  FileOverride o{false, "big.rule", "big.rule", std::string(kSourceSizeMax, '#')};
  EXPECT_TRUE(load_rules(core().string(), active().string(), o).ok());
  o.text = std::string(kSourceSizeMax + 1, '#');
  auto big = load_rules(core().string(), active().string(), o);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.errors()[0].message, "file is 32769 bytes; the limit is 32768");
  o.text = std::string(10 * kSourceSizeMax, '#');  // cut before compiling, reported alike
  EXPECT_EQ(load_rules(core().string(), active().string(), o).errors()[0].message,
            "file is 32769 bytes; the limit is 32768");

  // The file count includes an added file.
  for (std::size_t i = 1; i < kFileCountMax; ++i) write(core() / ("f" + std::to_string(i) + ".rule"), "");
  o.text = "";
  auto over = load_rules(core().string(), active().string(), o);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.errors()[0].message, "found 257 rule files; the limit is 256");
  o.file_name = "a.rule";  // replacing one keeps the count
  o.core = true;
  EXPECT_TRUE(load_rules(core().string(), active().string(), o).ok());

  for (const char* name : {"", "a/b.rule", ".", ".."}) {
    FileOverride junk{false, name, "shown", std::string("")};
    auto refused = load_rules(core().string(), active().string(), junk);
    ASSERT_FALSE(refused.ok()) << name;
    EXPECT_EQ(refused.errors()[0].file, "shown");
  }
}

// ---------------------------------------------------------------------------
// The shipped rules in rules/core.

class ShippedRules : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TA_SOURCE_DIR");
    ASSERT_NE(dir, nullptr);
    auto loaded = load_rules((fs::path(dir) / "rules/core").string(), (fs::path(dir) / "rules/active").string());
    ASSERT_TRUE(loaded.ok()) << loaded.render_errors();
    rules_ = loaded.value().rules;
    files_ = loaded.value().files.size();
  }
  Outcome run(const Facts& f) const { return rules_.evaluate(f); }
  std::vector<std::string> fired(const Outcome& o) const {
    std::vector<std::string> ids;
    for (auto i : o.fired) ids.push_back(rules_.rule(i).id);
    return ids;
  }
  RuleSet rules_;
  std::size_t files_ = 0;
};

TEST_F(ShippedRules, LoadAndStartQuiet) {
  EXPECT_EQ(files_, 5u);
  EXPECT_EQ(rules_.size(), 6u);
  const Outcome o = run(typical_facts());
  EXPECT_EQ(o.verdict, Verdict::kAllow);
  EXPECT_TRUE(o.fired.empty());
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    EXPECT_EQ(rules_.rule(i).provenance.kind, Provenance::Kind::kCore);
    // Shipped files are already in canonical form apart from comments.
    EXPECT_NE(rules_.rule(i).canonical.find(rules_.rule(i).id), std::string::npos);
  }
}

TEST_F(ShippedRules, VolatilitySpikeHalvesSize) {
  Facts f = typical_facts();
  f.market.realized_vol_1h = D("0.005");  // 2.5x of 0.002 exactly: not above
  EXPECT_TRUE(run(f).fired.empty());
  f.market.realized_vol_1h = D("0.00500001");
  Outcome o = run(f);
  EXPECT_EQ(fired(o), std::vector<std::string>{"volatility_spike_cap"});
  EXPECT_EQ(o.quantity_cap, D("0.25"));
  f.order.reduce_only = true;
  EXPECT_TRUE(run(f).fired.empty());
}

TEST_F(ShippedRules, LossStreakStepsDown) {
  Facts f = typical_facts();
  f.stats.consecutive_losses = 3;
  Outcome o = run(f);
  EXPECT_EQ(fired(o), std::vector<std::string>{"loss_streak_half_size"});
  EXPECT_EQ(o.quantity_cap, D("0.25"));
  f.stats.consecutive_losses = 5;
  o = run(f);
  EXPECT_EQ(fired(o), (std::vector<std::string>{"loss_streak_half_size", "loss_streak_quarter_size"}));
  EXPECT_EQ(o.quantity_cap, D("0.125"));
  EXPECT_EQ(o.verdict, Verdict::kAllow);
}

TEST_F(ShippedRules, SpreadStressDeniesEntriesOnly) {
  Facts f = typical_facts();
  f.market.spread = D("0.0025");
  EXPECT_TRUE(run(f).fired.empty());
  f.market.spread = D("0.00250001");
  Outcome o = run(f);
  EXPECT_EQ(o.verdict, Verdict::kDeny);
  EXPECT_EQ(rules_.reason(o), "rule 'spread_stress_no_entries' v1 denied: spread above 25bps: no new entries");
  f.order.reduce_only = true;
  EXPECT_EQ(run(f).verdict, Verdict::kAllow);
}

TEST_F(ShippedRules, StopOutCooldown) {
  Facts f = typical_facts();
  f.time.since_last_stop_out_s = 29 * 60 + 59;
  EXPECT_EQ(fired(run(f)), std::vector<std::string>{"stop_out_cooldown"});
  f.time.since_last_stop_out_s = 30 * 60;
  EXPECT_TRUE(run(f).fired.empty());
  f.time.since_last_stop_out_s = kNeverStoppedOut_s;
  EXPECT_TRUE(run(f).fired.empty());
}

TEST_F(ShippedRules, TradingHoursShipsDisabled) {
  const auto index = rules_.find("trading_hours");
  ASSERT_TRUE(index.has_value());
  EXPECT_FALSE(rules_.rule(*index).enabled);
  Facts f = typical_facts();
  f.time.utc_hour = 3;
  f.time.weekday = Weekday::kSunday;
  EXPECT_TRUE(run(f).fired.empty());
  // Enabled, the same rule denies that order.
  std::string text = rules_.rule(*index).canonical;
  text.erase(text.find("  enabled false\n"), std::string("  enabled false\n").size());
  auto enabled = compile_source(text, "hours.rule", testing::kCore);
  ASSERT_TRUE(enabled.ok()) << enabled.render_errors();
  EXPECT_EQ(enabled.value().evaluate(f).verdict, Verdict::kDeny);
  f.time.utc_hour = 12;
  f.time.weekday = Weekday::kTuesday;
  EXPECT_EQ(enabled.value().evaluate(f).verdict, Verdict::kAllow);
}

}  // namespace
}  // namespace ta::rules
