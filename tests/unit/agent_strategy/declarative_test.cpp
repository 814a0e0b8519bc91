// Declarative strategies: the shipped files load, every kind of mistake is
// reported at its file:line:column, and the compiled plan evaluates nodes
// and conditions as written.
#include <gtest/gtest.h>

#include <fstream>

#include "strategy_test_support.h"

namespace ta::agent {
namespace {

using test::bars_from_closes;
using test::pid;

std::vector<std::string> problems_of(std::string_view yaml) {
  const auto load = parse_strategy(yaml, "s.yaml");
  std::vector<std::string> out;
  for (const auto& p : load.problems) out.push_back(p.to_string());
  EXPECT_FALSE(load.ok());
  return out;
}

std::shared_ptr<const StrategyDefinition> load_ok(std::string_view yaml) {
  auto load = parse_strategy(yaml, "s.yaml");
  EXPECT_TRUE(load.ok()) << proto::join_problems(load.problems);
  return load.strategy;
}

TEST(Declarative, ShippedStrategiesLoad) {
  const auto dir = test::source_dir() / "config" / "strategies";
  const auto load = load_strategy_dir(dir);
  ASSERT_TRUE(load.ok()) << proto::join_problems(load.problems);
  std::vector<std::string> names;
  for (const auto& s : load.strategies) names.push_back(s->name());
  // In file-name order.
  EXPECT_EQ(names, (std::vector<std::string>{"donchian_breakout", "ema_cross", "rsi_reversion", "zscore_reversion"}));
  for (const auto& s : load.strategies) {
    EXPECT_EQ(s->kind(), "declarative");
    EXPECT_FALSE(s->parameters().empty());
    EXPECT_NE(s->instantiate(), nullptr);
  }
  const auto& ema = load.strategies[1];
  EXPECT_EQ(ema->parameter("fast_period"), 12);
  EXPECT_EQ(ema->parameters()[0].min, 2);
  EXPECT_EQ(ema->parameters()[0].max, 500);
  EXPECT_TRUE(ema->parameters()[0].integer);
  EXPECT_FALSE(ema->parameters()[3].integer);  // stop_atr 3.0
  EXPECT_EQ(load.strategies[2]->cooldown_bars(), 5);
  EXPECT_EQ(load.strategies[3]->max_holding_bars(), 120);
}

constexpr const char* kValid = R"(name: cross
params:
  fast_period: {value: 12, min: 2, max: 50}
  slow_period: {value: 26, min: 3, max: 200}
constraints:
  ordered: fast_period < slow_period
nodes:
  fast: {ema: {period: fast_period}}
  slow: {ema: {period: slow_period}}
  atr: {atr: {period: 14}}
entry:
  long: fast crosses_above slow
exit:
  long: fast crosses_below slow
stops:
  atr_multiple: {node: atr, multiple: 2.5}
  max_holding_bars: 60
)";

TEST(Declarative, ValidTextLoadsAndTunesWithinBounds) {
  const auto s = load_ok(kValid);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name(), "cross");
  EXPECT_EQ(s->max_holding_bars(), 60);
  EXPECT_EQ(s->cooldown_bars(), 0);
  EXPECT_TRUE(s->with_parameter("fast_period", 50).ok() == false);  // 50 >= slow 26: constraint
  const auto tuned = s->with_parameter("fast_period", 20);
  ASSERT_TRUE(tuned.ok()) << tuned.error().message;
  EXPECT_EQ(tuned.value()->parameter("fast_period"), 20);
  const auto over = s->with_parameter("slow_period", 201);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().message, "parameter 'slow_period': value 201 is outside its bounds [3, 200]");
  EXPECT_TRUE(s->with_parameter("slow_period", 200).ok());
  EXPECT_FALSE(s->with_parameter("slow_period", 26.5).ok());  // an integer parameter
  const auto violated = s->with_parameter("slow_period", 12);
  ASSERT_FALSE(violated.ok());
  EXPECT_NE(violated.error().message.find("constraint 'ordered' (fast_period < slow_period) does not hold"),
            std::string::npos)
      << violated.error().message;
}

// One golden message per kind of mistake, with its exact position.
TEST(Declarative, UnknownNodeType) {
  EXPECT_EQ(problems_of(R"(name: s
nodes:
  fast: {emma: {period: 12}}
entry: {long: close > 1}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:3:10: key 'nodes.fast.emma': unknown key; allowed keys here: sma, ema, rsi, atr, bollinger, "
                "vwap, session_vwap, zscore, realized_vol, donchian, lag"}));
}

TEST(Declarative, UnknownReferences) {
  // In a node's input...
  EXPECT_EQ(problems_of(R"(name: s
nodes:
  fast: {ema: {period: 12}}
  slow: {ema: {period: 26, input: fastt}}
entry: {long: close > 1}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:4:35: key 'nodes.slow.ema.input': unknown input 'fastt'; an input is one of bar fields (open, "
                "high, low, close, volume), nodes (fast, slow)"}));
  // ...in a condition, at the name's column...
  EXPECT_EQ(problems_of(R"(name: s
params:
  k: {value: 1, min: 0, max: 2}
nodes:
  fast: {ema: {period: 12}}
  bb: {bollinger: {period: 20}}
entry:
  long: fast crosses_above slo
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:8:28: key 'entry.long': unknown name 'slo'; names here: bar fields (open, high, low, close, "
                "volume), nodes (fast, bb.upper, bb.middle, bb.lower, bb.stdev), parameters (k)"}));
  // ...a node with several outputs named without one, or a wrong output...
  EXPECT_EQ(problems_of(R"(name: s
nodes:
  bb: {bollinger: {period: 20, k: 2.5}}
  fast: {ema: {period: 12}}
entry: {long: "close < bb", short: close > bb.top or fast.x > 1}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:5:24: key 'entry.long': node 'bb' has several outputs; name one: bb.upper, bb.middle, "
                "bb.lower, bb.stdev",
                "s.yaml:5:44: key 'entry.short': node 'bb' has no output 'top'; outputs: bb.upper, bb.middle, "
                "bb.lower, bb.stdev"}));
  // ...and a stop that names no node.
  EXPECT_EQ(problems_of(R"(name: s
nodes: {fast: {ema: {period: 12}}}
entry: {long: close > fast}
stops:
  atr_multiple: {node: atr, multiple: 2}
)"),
            (std::vector<std::string>{
                "s.yaml:5:24: key 'stops.atr_multiple.node': unknown node 'atr'; nodes: bar fields (open, high, low, "
                "close, volume), nodes (fast)"}));
}

TEST(Declarative, Cycles) {
  EXPECT_EQ(problems_of(R"(name: s
nodes:
  base: {sma: {period: 5}}
  a: {ema: {period: 3, input: c}}
  b: {ema: {period: 3, input: a}}
  c: {rsi: {period: 3, input: b}}
  self: {lag: {bars: 1, input: self}}
entry: {long: close > base}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{"s.yaml:4:6: key 'nodes.a': cycle in node inputs: a -> c -> b -> a",
                                      "s.yaml:7:9: key 'nodes.self': cycle in node inputs: self -> self"}));
}

TEST(Declarative, BadNodeArguments) {
  EXPECT_EQ(problems_of(R"(name: s
params:
  p: {value: 0.5, min: 0.1, max: 1}
  wide: {value: 10, min: 0, max: 100}
nodes:
  a: {ema: {period: 0}}
  b: {sma: {period: 2.5}}
  c: {rsi: {period: p}}
  d: {zscore: {period: wide}}
  e: {bollinger: {period: 20, k: 11}}
  f: {ema: {period: nope}}
  g: {realized_vol: {period: 1}}
  h: {atr: {}}
  i: {lag: {input: close, bars: 10001}}
entry: {long: close > 1}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:6:21: key 'nodes.a.ema.period': expected an integer in [1, 100000] or a parameter name, got "
                "\"0\"",
                "s.yaml:7:21: key 'nodes.b.sma.period': expected an integer in [1, 100000] or a parameter name, got "
                "\"2.5\"",
                "s.yaml:8:21: key 'nodes.c.rsi.period': parameter 'p' must be a whole-number parameter here (value, "
                "min and max written without decimals)",
                "s.yaml:9:24: key 'nodes.d.zscore.period': parameter 'wide' may range over [0, 100], beyond [1, "
                "100000] allowed for 'period'",
                "s.yaml:10:34: key 'nodes.e.bollinger.k': expected a number in [0, 10] or a parameter name, got "
                "\"11\"",
                "s.yaml:11:21: key 'nodes.f.ema.period': unknown parameter 'nope'; parameters: p, wide",
                "s.yaml:12:30: key 'nodes.g.realized_vol.period': expected an integer in [2, 100000] or a parameter "
                "name, got \"1\"",
                "s.yaml:13:12: key 'nodes.h.atr.period': missing required key",
                "s.yaml:14:33: key 'nodes.i.lag.bars': expected an integer in [1, 10000] or a parameter name, got "
                "\"10001\""}));
}

TEST(Declarative, ParametersOutsideBoundsOrMalformed) {
  EXPECT_EQ(problems_of(R"(name: s
params:
  a: {value: 60, min: 5, max: 50}
  b: {value: 1, min: 5, max: 2}
  c: {value: x, min: 0, max: 1}
  d: {value: 1, min: 0}
  close: {value: 1, min: 0, max: 2}
nodes: {}
entry: {long: close > 1}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:3:14: key 'params.a.value': value 60 is outside the bounds [5, 50]",
                "s.yaml:4:22: key 'params.b.min': min 5 is greater than max 2",
                "s.yaml:5:14: key 'params.c.value': expected a number, got \"x\"",
                "s.yaml:6:6: key 'params.d.max': missing required key",
                "s.yaml:7:10: key 'params.close': parameter name 'close' must be 1 to 32 characters from a-z, 0-9 "
                "and '_', start with a letter, and not be a bar field or keyword"}));
}

TEST(Declarative, ConditionSyntaxErrorsAtTheirColumn) {
  EXPECT_EQ(problems_of(R"(name: s
nodes:
  fast: {ema: {period: 12}}
  slow: {ema: {period: 26}}
entry:
  long: fast > > slow
  short: "(fast < slow"
exit:
  long: 'fast + 1'
  short: fast < slow < 3
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:6:16: key 'entry.long': expected a number, a name or '(' but found '>'",
                "s.yaml:7:23: key 'entry.short': expected ')' to close the '(' at character 1 but found the end of "
                "the condition",
                "s.yaml:9:10: key 'exit.long': a condition must compare something: expected a comparison or a cross",
                "s.yaml:10:22: key 'exit.short': comparisons do not chain; join them with 'and'"}));
}

TEST(Declarative, StructuralMistakes) {
  // No name, no entry condition, no protective stop, an unknown key, a
  // node with two types, a node named like a parameter.
  EXPECT_EQ(problems_of(R"(params:
  fast: {value: 1, min: 1, max: 2}
nodes:
  fast: {ema: {period: 3}}
  two: {ema: {period: 3}, sma: {period: 3}}
entry: {}
stops: {max_holding_bars: 10}
colour: blue
)"),
            (std::vector<std::string>{
                "s.yaml:1:1: key 'name': missing required key",
                "s.yaml:4:9: key 'nodes.fast': 'fast' is both a node and a parameter",
                "s.yaml:5:8: key 'nodes.two': a node has exactly one type, one of: sma, ema, rsi, atr, bollinger, "
                "vwap, session_vwap, zscore, realized_vol, donchian, lag",
                "s.yaml:6:8: key 'entry.long': at least one entry condition is required: long, short or both",
                "s.yaml:7:8: key 'stops.atr_multiple': a protective stop is required: atr_multiple, fixed_percent or "
                "both",
                "s.yaml:8:1: key 'colour': unknown key; allowed keys here: name, description, params, nodes, entry, "
                "exit, stops, cooldown_bars, constraints"}));
  EXPECT_EQ(problems_of("name: Bad-Name\nnodes: {}\nentry: {long: close > 1}\nstops: {fixed_percent: 1}\n"),
            (std::vector<std::string>{"s.yaml:1:7: key 'name': strategy name must start with a lowercase letter"}));
  EXPECT_EQ(problems_of("name: s\nnodes: {}\nentry: {long: close > 1}\nstops: {fixed_percent: 100}\n"),
            (std::vector<std::string>{"s.yaml:4:24: key 'stops.fixed_percent': expected a number in [0.01, 99] or a "
                                      "parameter name, got \"100\""}));
}

TEST(Declarative, ConstraintsMustHoldAndUseOnlyParameters) {
  EXPECT_EQ(problems_of(R"(name: s
params:
  fast: {value: 30, min: 1, max: 100}
  slow: {value: 26, min: 1, max: 100}
constraints:
  ordered: fast < slow
  bars: fast < close
nodes: {}
entry: {long: close > 1}
stops: {fixed_percent: 1}
)"),
            (std::vector<std::string>{
                "s.yaml:6:12: key 'constraints.ordered': constraint does not hold for the parameters' values",
                "s.yaml:7:16: key 'constraints.bars': unknown name 'close'; constraints may only use parameters and "
                "numbers"}));
}

TEST(Declarative, NodeLimit) {
  const auto file = [](std::size_t nodes) {
    std::string s = "name: s\nnodes:\n";
    for (std::size_t i = 0; i < nodes; ++i) s += "  n" + std::to_string(i) + ": {sma: {period: 2}}\n";
    return s + "entry: {long: close > n0}\nstops: {fixed_percent: 1}\n";
  };
  EXPECT_TRUE(parse_strategy(file(kNodesMax), "s.yaml").ok());
  EXPECT_TRUE(parse_strategy(file(kNodesMax - 1), "s.yaml").ok());
  const auto over = parse_strategy(file(kNodesMax + 1), "s.yaml");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.problems[0].to_string(), "s.yaml:67:8: key 'nodes.n64': at most 64 nodes are allowed");
}

TEST(Declarative, MissingFileAndDirectory) {
  const auto f = load_strategy_file("/nonexistent/x.yaml");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.problems[0].to_string().find("/nonexistent/x.yaml: cannot read"), std::string::npos);
  const auto d = load_strategy_dir("/nonexistent");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.problems[0].message.find("cannot read the directory"), std::string::npos);
}

TEST(Declarative, DuplicateNamesInADirectory) {
  test::ScratchDir dir;
  const std::string body = "nodes: {}\nentry: {long: close > 1}\nstops: {fixed_percent: 1}\n";
  std::ofstream(dir / "a.yaml") << "name: same\n" << body;
  std::ofstream(dir / "b.yaml") << "name: same\n" << body;
  std::ofstream(dir / "notes.txt") << "ignored\n";
  const auto d = load_strategy_dir(dir.path());
  ASSERT_EQ(d.problems.size(), 1u);
  EXPECT_EQ(d.problems[0].to_string(), (dir / "b.yaml").string() + ": key 'name': strategy name 'same' is also used "
                                                                     "by a.yaml");
  EXPECT_EQ(d.strategies.size(), 1u);
}

// Drives an instance over closes and returns the bars where entry() fired.
std::vector<int> entry_bars(const StrategyDefinition& def, const std::vector<double>& closes) {
  auto inst = def.instantiate();
  std::vector<int> out;
  const auto bars = bars_from_closes(pid("BTC-USD"), closes, 0.0);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (inst->update(bars[i]) && inst->entry(bars[i]).kind == SignalKind::kEnterLong) {
      out.push_back(static_cast<int>(i));
    }
  }
  return out;
}

TEST(Declarative, LagAndMultiOutputNodesEvaluateAsWritten) {
  // lag 2 of the close equals 30 exactly on bar 4 (bar 2's close).
  const auto lag = load_ok(R"(name: s
nodes: {back2: {lag: {input: close, bars: 2}}}
entry: {long: back2 == 30}
stops: {fixed_percent: 1}
)");
  EXPECT_EQ(entry_bars(*lag, {10, 20, 30, 40, 5, 6}), std::vector<int>{4});
  // Bollinger(2) middle of the last two closes; a chain: EMA(2) of the
  // Bollinger middle; SMA(2) of the close equals the middle band.
  const auto chain = load_ok(R"(name: s
nodes:
  bb: {bollinger: {period: 2, k: 1}}
  smooth: {ema: {period: 2, input: bb.middle}}
  avg: {sma: {period: 2}}
entry: {long: "bb.middle == 15 and avg == bb.middle and bb.upper - bb.lower == 2 * bb.stdev and smooth > 0"}
stops: {fixed_percent: 1}
)");
  // bb.middle = 15 at bar 1 (10, 20), but smooth (EMA 2 of the middle) is
  // ready only at bar 2; at bar 4 the window (10, 20) again gives 15.
  EXPECT_EQ(entry_bars(*chain, {10, 20, 30, 10, 20, 50}), std::vector<int>{4});
}

TEST(Declarative, PercentStopAndTheNearerOfTwoStops) {
  const auto pct = load_ok(R"(name: s
nodes: {}
entry: {long: close > 0, short: close < 0}
stops: {fixed_percent: 2}
)");
  auto inst = pct->instantiate();
  const Bar b = test::bar(pid("BTC-USD"), 0, 100, 101, 99, 100);
  ASSERT_TRUE(inst->update(b));
  EXPECT_DOUBLE_EQ(inst->entry(b).stop_price, 98.0);
  // ATR(1) of that bar is 2: 3 ATRs = 94 vs 2 % = 98 -> 98 (nearer).
  const auto both = load_ok(R"(name: s
nodes: {atr: {atr: {period: 1}}}
entry: {long: close > 0}
stops: {fixed_percent: 2, atr_multiple: {node: atr, multiple: 3}}
)");
  auto inst2 = both->instantiate();
  ASSERT_TRUE(inst2->update(b));
  EXPECT_DOUBLE_EQ(inst2->entry(b).stop_price, 98.0);
}

}  // namespace
}  // namespace ta::agent
