#include "proto/yaml_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace ta::proto {
namespace {

Decimal D(const char* text) { return Decimal::parse(text).value(); }

std::vector<std::string> lines(const std::vector<ConfigProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) out.push_back(p.to_string());
  return out;
}

std::string all(const std::vector<ConfigProblem>& problems) { return join_problems(problems); }

TEST(YamlConfig, ReadsTypedValues) {
  ConfigReader r(
      "count: 12\n"
      "enabled: true\n"
      "name: gate\n"
      "mode: PAPER\n"
      "fraction: \"0.1\"\n"
      "plain_fraction: 0.00012345\n"
      "timeout: 5m\n"
      "state_dir: state/x\n"
      "abs_dir: /var/lib/x\n"
      "uids: [1000, 1001]\n"
      "nested:\n  depth: 3\n",
      "t.yaml", "/etc/trading");
  ConfigMap root = r.root();
  EXPECT_EQ(root.integer("count", Need::kRequired, 0, 1, 100), 12);
  EXPECT_TRUE(root.boolean("enabled", Need::kRequired, false));
  EXPECT_EQ(root.text("name", Need::kRequired, "", 16), "gate");
  EXPECT_EQ(root.choice("mode", Need::kRequired, "SIM", {"SIM", "PAPER", "LIVE"}), "PAPER");
  EXPECT_EQ(root.decimal("fraction", Need::kRequired, D("0"), D("0"), D("1")), D("0.1"));
  // Exact: the eight fractional digits survive, no double rounding.
  EXPECT_EQ(root.decimal("plain_fraction", Need::kRequired, D("0"), D("0"), D("1")).units(), 12345);
  EXPECT_EQ(root.duration_ms("timeout", Need::kRequired, 0, 1000, 3'600'000), 300'000);
  EXPECT_EQ(root.path("state_dir", Need::kRequired, ""), std::filesystem::path("/etc/trading/state/x"));
  EXPECT_EQ(root.path("abs_dir", Need::kRequired, ""), std::filesystem::path("/var/lib/x"));
  EXPECT_EQ(root.integer_list("uids", Need::kRequired, 0, 65535, 8), (std::vector<std::int64_t>{1000, 1001}));
  EXPECT_EQ(root.map("nested", Need::kRequired).integer("depth", Need::kRequired, 0, 0, 9), 3);
  EXPECT_TRUE(r.finish().empty());
}

TEST(YamlConfig, OptionalKeysYieldFallbacks) {
  ConfigReader r("{}\n", "t.yaml", "/base");
  ConfigMap root = r.root();
  EXPECT_EQ(root.integer("n", Need::kOptional, 7, 1, 9), 7);
  EXPECT_EQ(root.decimal("d", Need::kOptional, D("0.5"), D("0"), D("1")), D("0.5"));
  EXPECT_EQ(root.duration_ms("t", Need::kOptional, 1500, 1, 2000), 1500);
  EXPECT_EQ(root.path("p", Need::kOptional, "rel/dir"), std::filesystem::path("/base/rel/dir"));
  EXPECT_EQ(root.map("m", Need::kOptional).integer("x", Need::kOptional, 4, 0, 9), 4);
  EXPECT_TRUE(r.finish().empty());
}

TEST(YamlConfig, ErrorSaysFileLineColumnKeyRangeAndValue) {
  ConfigReader r("server:\n  period: abc\n", "gate.yaml", "/");
  r.root().map("server", Need::kRequired).integer("period", Need::kRequired, 0, 1, 3600);
  const auto problems = r.finish();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].to_string(), "gate.yaml:2:11: key 'server.period': expected integer in [1, 3600], got \"abc\"");
}

TEST(YamlConfig, IntegerEdges) {
  struct Case {
    const char* value;
    bool ok;
  } cases[] = {{"1", true},     {"3600", true}, {"0", false},    {"3601", false}, {"-1", false},
               {"+5", false},   {"0x10", false}, {"1e3", false}, {"1.0", false},  {"\"\"", false},
               {"[1]", false},  {"{a: 1}", false}, {"99999999999999999999", false}, {"", false}};
  for (const auto& c : cases) {
    ConfigReader r(std::string("v: ") + c.value + "\n", "t.yaml", "/");
    r.root().integer("v", Need::kRequired, 0, 1, 3600);
    const auto problems = r.finish();
    EXPECT_EQ(problems.empty(), c.ok) << c.value << ": " << all(problems);
    if (!c.ok) {
      ASSERT_EQ(problems.size(), 1u);
      EXPECT_NE(problems[0].message.find("expected integer in [1, 3600], got"), std::string::npos)
          << problems[0].message;
    }
  }
}

TEST(YamlConfig, DecimalEdgesAreExact) {
  struct Case {
    const char* value;
    bool ok;
  } cases[] = {{"0.05", true},       {"0.00000001", true}, {"1", true},        {"0", false},
               {"1.00000001", false}, {"-0.1", false},     {".5", false},      {"5e-2", false},
               {"NaN", false},       {"inf", false},       {"0.000000001", false}, {"0.1 ", true}};
  for (const auto& c : cases) {
    ConfigReader r(std::string("v: ") + c.value + "\n", "t.yaml", "/");
    r.root().decimal("v", Need::kRequired, D("0.5"), D("0.00000001"), D("1"));
    const auto problems = r.finish();
    EXPECT_EQ(problems.empty(), c.ok) << c.value << ": " << all(problems);
    if (!c.ok) {
      ASSERT_EQ(problems.size(), 1u);
      EXPECT_NE(problems[0].message.find("expected decimal in [0.00000001, 1]"), std::string::npos)
          << problems[0].message;
    }
  }
}

TEST(YamlConfig, Durations) {
  EXPECT_EQ(*parse_duration_ms("250ms"), 250);
  EXPECT_EQ(*parse_duration_ms("30s"), 30'000);
  EXPECT_EQ(*parse_duration_ms("5m"), 300'000);
  EXPECT_EQ(*parse_duration_ms("2h"), 7'200'000);
  EXPECT_EQ(*parse_duration_ms("0s"), 0);
  EXPECT_EQ(*parse_duration_ms("999999999999h"), 999'999'999'999LL * 3'600'000);
  for (const char* bad : {"", "s", "5", "5 s", "5sec", "-5s", "1.5s", "5S", "1000000000000h", "5d"}) {
    EXPECT_FALSE(parse_duration_ms(bad).ok()) << bad;
  }
  EXPECT_EQ(format_duration_ms(3'600'000), "1h");
  EXPECT_EQ(format_duration_ms(90'000), "90s");
  EXPECT_EQ(format_duration_ms(1'500), "1500ms");
  EXPECT_EQ(format_duration_ms(0), "0ms");

  // At the range edges, one below and one above.
  struct Case {
    const char* value;
    bool ok;
  } cases[] = {{"1s", true}, {"999ms", false}, {"1h", true}, {"3600001ms", false}, {"60m", true}};
  for (const auto& c : cases) {
    ConfigReader r(std::string("v: ") + c.value + "\n", "t.yaml", "/");
    r.root().duration_ms("v", Need::kRequired, 0, 1000, 3'600'000);
    const auto problems = r.finish();
    EXPECT_EQ(problems.empty(), c.ok) << c.value;
    if (!c.ok) {
      EXPECT_NE(all(problems).find("expected duration in [1s, 1h]"), std::string::npos) << all(problems);
    }
  }
}

TEST(YamlConfig, BooleansChoicesAndText) {
  ConfigReader r("a: yes\nb: sim\nc: \"\"\nd: waytoolongtext\n", "t.yaml", "/");
  ConfigMap root = r.root();
  EXPECT_FALSE(root.boolean("a", Need::kRequired, false));
  EXPECT_EQ(root.choice("b", Need::kRequired, "SIM", {"SIM", "PAPER", "LIVE"}), "SIM");
  EXPECT_EQ(root.text("c", Need::kRequired, "x", 8), "x");
  EXPECT_EQ(root.text("d", Need::kRequired, "x", 8), "x");
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0], "t.yaml:1:4: key 'a': expected true or false, got \"yes\"");
  EXPECT_EQ(l[1], "t.yaml:2:4: key 'b': expected one of SIM, PAPER, LIVE, got \"sim\"");
  EXPECT_EQ(l[2], "t.yaml:3:4: key 'c': expected text of 1 to 8 characters, got \"\"");
  EXPECT_EQ(l[3], "t.yaml:4:4: key 'd': expected text of 1 to 8 characters, got \"waytoolongtext\"");
}

TEST(YamlConfig, UnknownKeysListTheAllowedOnes) {
  ConfigReader r("alpha: 1\nbeta: 2\nsection:\n  inner: 1\n  typo: 2\n", "t.yaml", "/");
  ConfigMap root = r.root();
  (void)root.integer("alpha", Need::kRequired, 0, 0, 9);
  (void)root.integer("gamma", Need::kOptional, 0, 0, 9);
  (void)root.map("section", Need::kRequired).integer("inner", Need::kRequired, 0, 0, 9);
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], "t.yaml:2:1: key 'beta': unknown key; allowed keys here: alpha, gamma, section");
  EXPECT_EQ(l[1], "t.yaml:5:3: key 'section.typo': unknown key; allowed keys here: inner");
}

TEST(YamlConfig, MissingRequiredKeysAndShapes) {
  ConfigReader r("present:\n  x: 1\nscalar_not_map: 5\nlist: 5\nnull_value:\n", "t.yaml", "/");
  ConfigMap root = r.root();
  (void)root.map("present", Need::kRequired).integer("y", Need::kRequired, 0, 0, 9);
  (void)root.map("present", Need::kRequired).integer("x", Need::kRequired, 0, 0, 9);
  (void)root.map("scalar_not_map", Need::kRequired);
  (void)root.integer_list("list", Need::kRequired, 0, 9, 4);
  (void)root.integer("null_value", Need::kRequired, 0, 0, 9);
  (void)root.map("absent", Need::kOptional).integer("needed", Need::kRequired, 0, 0, 9);
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 5u) << join_problems(r.finish());
  EXPECT_EQ(l[0], "t.yaml:1:1: key 'absent.needed': missing required key");
  EXPECT_EQ(l[1], "t.yaml:2:3: key 'present.y': missing required key");
  EXPECT_EQ(l[2], "t.yaml:3:17: key 'scalar_not_map': expected a mapping, got \"5\"");
  EXPECT_EQ(l[3], "t.yaml:4:7: key 'list': expected a list of at most 4 items, each an integer in [0, 9], got \"5\"");
  EXPECT_EQ(l[4], "t.yaml:5:1: key 'null_value': expected integer in [0, 9], got nothing");
}

TEST(YamlConfig, CollectsAllProblemsNotJustTheFirst) {
  ConfigReader r("a: x\nb: y\nc: z\nd: [1, x, 99999]\n", "t.yaml", "/");
  ConfigMap root = r.root();
  (void)root.integer("a", Need::kRequired, 0, 0, 9);
  (void)root.decimal("b", Need::kRequired, D("0"), D("0"), D("1"));
  (void)root.duration_ms("c", Need::kRequired, 0, 0, 1000);
  EXPECT_EQ(root.integer_list("d", Need::kRequired, 0, 9, 4), (std::vector<std::int64_t>{1}));
  (void)root.integer("e", Need::kRequired, 0, 0, 9);
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 6u) << join_problems(r.finish());
  EXPECT_EQ(l[0], "t.yaml:1:1: key 'e': missing required key");
  EXPECT_EQ(l[4], "t.yaml:4:8: key 'd[1]': expected integer in [0, 9], got \"x\"");
  EXPECT_EQ(l[5], "t.yaml:4:11: key 'd[2]': expected integer in [0, 9], got \"99999\"");
}

TEST(YamlConfig, ListLengthLimit) {
  for (int n : {3, 4, 5}) {
    std::string text = "l: [";
    for (int i = 0; i < n; ++i) text += (i ? ", " : "") + std::to_string(i);
    text += "]\n";
    ConfigReader r(text, "t.yaml", "/");
    const auto v = r.root().integer_list("l", Need::kRequired, 0, 9, 4);
    const bool ok = r.finish().empty();
    EXPECT_EQ(ok, n <= 4) << n;
    EXPECT_EQ(v.size(), n <= 4 ? static_cast<std::size_t>(n) : 0u);
  }
}

TEST(YamlConfig, NamedMapsKeepFileOrderAndTheirOwnKeyChecks) {
  ConfigReader r("products:\n  ETH-USD:\n    size: 1\n  BTC-USD:\n    size: 2\n    bogus: 1\n  BAD: 5\n", "t.yaml",
                 "/");
  auto entries = r.root().named_maps("products", Need::kRequired, 8);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].first, "ETH-USD");
  EXPECT_EQ(entries[1].first, "BTC-USD");
  EXPECT_EQ(entries[1].second.integer("size", Need::kRequired, 0, 0, 9), 2);
  (void)entries[0].second.integer("size", Need::kRequired, 0, 0, 9);
  (void)entries[2].second.integer("size", Need::kRequired, 0, 0, 9);
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 3u) << join_problems(r.finish());
  EXPECT_EQ(l[0], "t.yaml:6:5: key 'products.BTC-USD.bogus': unknown key; allowed keys here: size");
  EXPECT_EQ(l[1], "t.yaml:7:8: key 'products.BAD': expected a mapping, got \"5\"");
  EXPECT_EQ(l[2], "t.yaml:7:8: key 'products.BAD.size': missing required key");
}

TEST(YamlConfig, NamedMapsCountLimit) {
  for (int n : {1, 2, 3}) {
    std::string text = "m:\n";
    for (int i = 0; i < n; ++i) text += "  k" + std::to_string(i) + ": {}\n";
    ConfigReader r(text, "t.yaml", "/");
    const auto entries = r.root().named_maps("m", Need::kRequired, 2);
    const auto problems = r.finish();
    EXPECT_EQ(problems.empty(), n <= 2) << n;
    if (n > 2) {
      EXPECT_NE(all(problems).find("at most 2 entries allowed, got 3"), std::string::npos);
    }
  }
}

TEST(YamlConfig, DuplicateKeysAreProblems) {
  ConfigReader r("a: 1\nb: 2\na: 3\n", "t.yaml", "/");
  (void)r.root().integer("a", Need::kRequired, 0, 0, 9);
  (void)r.root().integer("b", Need::kRequired, 0, 0, 9);
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0], "t.yaml:3:1: key 'a': duplicate key");
}

TEST(YamlConfig, SyntaxErrorsAndNonMappingDocuments) {
  {
    ConfigReader r("a: [1,\nb: 2\n", "bad.yaml", "/");
    (void)r.root().integer("a", Need::kOptional, 0, 0, 9);
    const auto problems = r.finish();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].to_string().find("bad.yaml:3:1: YAML syntax error"), std::string::npos)
        << problems[0].to_string();
  }
  {
    ConfigReader r("- 1\n- 2\n", "list.yaml", "/");
    const auto problems = r.finish();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].to_string(), "list.yaml:1:1: the file must be a mapping of keys to values, got a list");
  }
}

TEST(YamlConfig, ProblemAtKeyForCrossChecks) {
  ConfigReader r("period: 10s\ntimeout: 5s\n", "t.yaml", "/");
  ConfigMap root = r.root();
  const auto period = root.duration_ms("period", Need::kRequired, 0, 0, 60'000);
  const auto timeout = root.duration_ms("timeout", Need::kRequired, 0, 0, 60'000);
  if (timeout <= period) root.problem("timeout", "must be longer than period (10s)");
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0], "t.yaml:2:10: key 'timeout': must be longer than period (10s)");
}

TEST(YamlConfig, FilesResolvePathsAgainstTheirDirectory) {
  const char* binary_dir = std::getenv("TA_BINARY_DIR");
  ASSERT_NE(binary_dir, nullptr);
  const auto dir = std::filesystem::path(binary_dir) / "yaml_config_test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "c.yaml";
  {
    std::ofstream out(file);
    out << "journal: ../journal\n";
  }
  ConfigReader r(file);
  EXPECT_EQ(r.root().path("journal", Need::kRequired, ""),
            (std::filesystem::absolute(dir).parent_path() / "journal").lexically_normal());
  EXPECT_TRUE(r.finish().empty());

  ConfigReader missing(dir / "nope.yaml");
  (void)missing.root().integer("x", Need::kRequired, 0, 0, 1);
  const auto problems = missing.finish();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].to_string().find("nope.yaml: cannot read"), std::string::npos) << problems[0].to_string();
}

TEST(YamlConfig, LongValuesAreCutInMessages) {
  ConfigReader r("v: " + std::string(100, 'x') + "\n", "t.yaml", "/");
  (void)r.root().integer("v", Need::kRequired, 0, 0, 1);
  const auto problems = r.finish();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find(std::string(kConfigQuoteLengthMax, 'x') + "...\""), std::string::npos);
  EXPECT_EQ(problems[0].message.find(std::string(kConfigQuoteLengthMax + 1, 'x')), std::string::npos);
}

TEST(YamlConfig, TextListReadsNamesAndReportsBadItems) {
  ConfigReader r("a: [BTC-USD, ETH-USD]\nb: [x, [1], \"\", toolongname]\nc: 5\n", "t.yaml", "/");
  ConfigMap root = r.root();
  EXPECT_EQ(root.text_list("a", Need::kRequired, 8, 4), (std::vector<std::string>{"BTC-USD", "ETH-USD"}));
  EXPECT_EQ(root.text_list("b", Need::kRequired, 8, 4), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(root.text_list("c", Need::kRequired, 8, 4).empty());
  EXPECT_TRUE(root.text_list("absent", Need::kOptional, 8, 4).empty());
  const auto l = lines(r.finish());
  ASSERT_EQ(l.size(), 4u) << join_problems(r.finish());
  EXPECT_EQ(l[0], "t.yaml:2:8: key 'b[1]': expected non-empty text of at most 8 bytes, got a list");
  EXPECT_EQ(l[3], "t.yaml:3:4: key 'c': expected a list of at most 4 items, each non-empty text of at most 8 bytes, got \"5\"");
}

TEST(YamlConfig, TextListLengthLimit) {
  for (int n : {3, 4, 5}) {
    std::string text = "l: [";
    for (int i = 0; i < n; ++i) text += (i ? ", p" : "p") + std::to_string(i);
    text += "]\n";
    ConfigReader r(text, "t.yaml", "/");
    const auto v = r.root().text_list("l", Need::kRequired, 8, 4);
    const bool ok = r.finish().empty();
    EXPECT_EQ(ok, n <= 4) << n;
    EXPECT_EQ(v.size(), n <= 4 ? static_cast<std::size_t>(n) : 0u);
  }
}

}  // namespace
}  // namespace ta::proto
