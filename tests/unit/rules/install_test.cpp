// install_active_rule() / remove_active_rule() on temporary directories:
// the file lands under its rule id, leftovers of a crash are ignored, and a
// reload that fails leaves the directory exactly as it was.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "rules_test_util.h"

namespace ta::rules {
namespace {

namespace fs = std::filesystem;

class Install : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    root_ = fs::temp_directory_path() /
            ("ta_rules_install_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(root_);
    fs::create_directories(root_ / "core");
    write(root_ / "core" / "base.rule", "rule base v1 \"d\" { from core when true then warn \"w\" }\n");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string core() const { return (root_ / "core").string(); }
  std::string active() const { return (root_ / "active").string(); }
  static void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Every file name in the active directory.
  std::set<std::string> listing() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(active())) out.insert(e.path().filename().string());
    return out;
  }

  fs::path root_;
};

std::string proposed(const std::string& id, int version, const std::string& proposal = "p-1") {
  return "rule " + id + " v" + std::to_string(version) + " \"d\" {\n  from proposal \"" + proposal +
         "\"\n  when true\n  then warn \"" + id + "\"\n}\n";
}

TEST_F(Install, WritesTheFileUnderItsRuleIdAndReloads) {
  ASSERT_FALSE(fs::exists(active()));  // created on demand
  auto loaded = install_active_rule(core(), active(), "new_rule", proposed("new_rule", 1));
  ASSERT_TRUE(loaded.ok()) << loaded.render_errors();
  EXPECT_EQ(read(active_rule_path(active(), "new_rule")), proposed("new_rule", 1));
  EXPECT_EQ(listing(), std::set<std::string>{"new_rule.rule"});  // no temporary left
  const RuleSet& rules = loaded.value().rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules.rule(1).id, "new_rule");
  ASSERT_EQ(loaded.value().files.size(), 2u);

  // A new version replaces the file.
  auto v2 = install_active_rule(core(), active(), "new_rule", proposed("new_rule", 2, "p-2"));
  ASSERT_TRUE(v2.ok()) << v2.render_errors();
  EXPECT_EQ(v2.value().rules.rule(1).version, 2u);
  EXPECT_EQ(listing(), std::set<std::string>{"new_rule.rule"});
}

TEST_F(Install, AFailedReloadLeavesTheDirectoryAsItWas) {
  ASSERT_TRUE(install_active_rule(core(), active(), "kept", proposed("kept", 1)).ok());
  // Someone else breaks the directory after the gate loaded it: every
  // install now fails to reload, and must change nothing.
  write(fs::path(active()) / "zz_broken.rule", "rule broken v1 {\n");
  const auto before = listing();
  auto fresh = install_active_rule(core(), active(), "fresh", proposed("fresh", 1));
  EXPECT_FALSE(fresh.ok());
  EXPECT_NE(fresh.render_errors().find("zz_broken.rule"), std::string::npos) << fresh.render_errors();
  EXPECT_EQ(listing(), before);
  // Replacing: the old bytes come back.
  auto replaced = install_active_rule(core(), active(), "kept", proposed("kept", 2));
  EXPECT_FALSE(replaced.ok());
  EXPECT_EQ(read(active_rule_path(active(), "kept")), proposed("kept", 1));
  EXPECT_EQ(listing(), before);
  // Removing: the file comes back.
  auto removed = remove_active_rule(core(), active(), "kept");
  EXPECT_FALSE(removed.ok());
  EXPECT_EQ(read(active_rule_path(active(), "kept")), proposed("kept", 1));
  EXPECT_EQ(listing(), before);
}

TEST_F(Install, TheReloadJudgesTheText) {
  // A text that does not compile, a duplicate id, a core provenance: refused, nothing installed.
  fs::create_directories(active());
  write(fs::path(active()) / "other.rule", proposed("taken", 1));
  const auto before = listing();
  EXPECT_FALSE(install_active_rule(core(), active(), "x", "rule x v1 { nonsense").ok());
  EXPECT_FALSE(install_active_rule(core(), active(), "taken", proposed("taken", 2)).ok());
  EXPECT_FALSE(install_active_rule(core(), active(), "base", proposed("base", 2)).ok());
  EXPECT_FALSE(install_active_rule(core(), active(), "c",
                                   "rule c v1 \"d\" { from core when true then warn \"w\" }\n").ok());
  EXPECT_EQ(listing(), before);
}

TEST_F(Install, RefusesBadIdsSizesAndDirectories) {
  EXPECT_FALSE(install_active_rule(core(), active(), "../escape", proposed("x", 1)).ok());
  EXPECT_FALSE(install_active_rule(core(), active(), "Upper", proposed("x", 1)).ok());
  EXPECT_FALSE(install_active_rule(core(), active(), "", proposed("x", 1)).ok());
  EXPECT_FALSE(fs::exists(active()));
  // Size: at the limit it is the compiler's to judge; above, refused unread.
  const std::string rule_text = proposed("sized", 1);
  std::string at_limit = rule_text + std::string(kSourceSizeMax - rule_text.size(), '\n');
  ASSERT_EQ(at_limit.size(), kSourceSizeMax);
  EXPECT_TRUE(install_active_rule(core(), active(), "sized", at_limit).ok());
  EXPECT_FALSE(install_active_rule(core(), active(), "sized", at_limit + "\n").ok());
  // active_dir is a file.
  write(root_ / "plain", "x");
  auto bad = install_active_rule(core(), (root_ / "plain").string(), "x", proposed("x", 1));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.render_errors().find("not a directory"), std::string::npos) << bad.render_errors();
  EXPECT_FALSE(remove_active_rule(core(), active(), "missing").ok());
  EXPECT_FALSE(remove_active_rule(core(), active(), "../base").ok());
}

TEST_F(Install, RemoveTakesTheFileAway) {
  ASSERT_TRUE(install_active_rule(core(), active(), "gone", proposed("gone", 1)).ok());
  auto loaded = remove_active_rule(core(), active(), "gone");
  ASSERT_TRUE(loaded.ok()) << loaded.render_errors();
  EXPECT_EQ(loaded.value().rules.size(), 1u);
  EXPECT_TRUE(listing().empty());
}

TEST_F(Install, LeftoversOfACrashAreIgnoredAndReplaced) {
  fs::create_directories(active());
  // A crash between write and rename leaves ".x.rule.tmp"; the loader
  // ignores it and the next install of x overwrites it.
  write(fs::path(active()) / ".x.rule.tmp", "garbage");
  write(fs::path(active()) / ".y.rule.retired", proposed("y", 1));
  auto loaded = load_rules(core(), active());
  ASSERT_TRUE(loaded.ok()) << loaded.render_errors();
  EXPECT_EQ(loaded.value().rules.size(), 1u);
  ASSERT_TRUE(install_active_rule(core(), active(), "x", proposed("x", 1)).ok());
  EXPECT_EQ(listing(), (std::set<std::string>{".y.rule.retired", "x.rule"}));
}

}  // namespace
}  // namespace ta::rules
