// decide() latency: the full accepted path, which runs every check, plus a
// denial and an idempotent replay; without rules, with the shipped
// rules/core, and with 100 typical rules. The BM_RuleStage benchmarks time
// the rule evaluation alone on the facts decide() gathers for the same
// intent.
//
// Besides Google Benchmark's mean, each benchmark times every call with
// std::chrono::steady_clock and reports the 50th and 99th percentiles as
// counters p50_ns and p99_ns (the clock reads add about 20-40 ns to each
// sample). Targets: decide() without rules p50 < 500 ns, p99 < 2000 ns; the
// rules alone p50 < 1 us, p99 < 3 us. Not a timed assertion; see
// docs/performance-gate.md for figures and the command.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gate/core.h"
#include "gate_test_support.h"
#include "rules/rules.h"

namespace {

using ta::Decimal;
using ta::gate::test::D;
using namespace ta::gate;

constexpr std::int64_t kT0 = 20'000 * kNanosPerDay + 12 * 3600 * kNanosPerSecond;

// A realistic state: the shipped default limits, two products with
// positions, a few open orders, a full rate window and many remembered
// intent ids. `extra_open_orders` more resting ETH-USD buys (and room for
// them in open_orders_max) show how decide() scales with open orders.
GateState make_state(int extra_open_orders = 0) {
  SafetyLimits limits;
  limits.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1"), D("0.00000001"), D("0.01")},
                     ProductLimits{"ETH-USD", D("0.001"), D("20"), D("0.00000001"), D("0.01")}};
  limits.order_rate_per_minute_max = 600;
  limits.open_orders_max = extra_open_orders > 0 ? 1'000 : 50;
  GateState s(limits, Ledger(D("100000"), kT0));
  s.set_ready(true);
  (void)s.apply_mark("BTC-USD", D("60000"), kT0);
  (void)s.apply_mark("ETH-USD", D("3000"), kT0);
  const auto add = [&](const char* product, ta::ipc::Side side, const char* qty, const char* price, bool fill,
                       std::int64_t ts) -> std::string {
    const std::string id = test::inject_order(s, product, side, qty, price, ts).value();
    if (!fill) return id;
    (void)s.apply_order_event(id, OrderEvent::kSubmit, ts);
    ta::ipc::Fill fl;
    fl.set_order_id(id);
    fl.set_product(product);
    fl.set_side(side);
    fl.set_quantity(qty);
    fl.set_price(price);
    fl.set_ts_ns(ts);
    (void)s.apply_fill(fl);
    return id;
  };
  add("BTC-USD", ta::ipc::SIDE_BUY, "0.05", "60000", true, kT0);
  add("ETH-USD", ta::ipc::SIDE_BUY, "1", "3000", true, kT0);
  for (int i = 0; i < 5; ++i) add("BTC-USD", ta::ipc::SIDE_BUY, "0.001", "59000", false, kT0 + i);
  for (int i = 0; i < 3; ++i) add("ETH-USD", ta::ipc::SIDE_SELL, "0.1", "3100", false, kT0 + i);
  for (int i = 0; i < extra_open_orders; ++i) add("ETH-USD", ta::ipc::SIDE_BUY, "0.001", "2950", false, kT0 + i);
  // Remembered ids: filled and cancelled orders from earlier in the day.
  for (int i = 0; i < 10'000; ++i) {
    const std::string id = add("ETH-USD", ta::ipc::SIDE_BUY, "0.001", "2900", false, kT0 - 3600 * kNanosPerSecond + i);
    (void)s.apply_order_event(id, OrderEvent::kCancelRequest, kT0);
  }
  // A day of one-minute bars (a deterministic wobble around 60000) and a
  // quote, so the market facts are real figures.
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 1440; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    Bar b;
    b.product = "BTC-USD";
    b.open_ts_ns = kT0 - (1440 - i) * kNanosPerMinute;
    b.close = Decimal::from_units((60'000 + static_cast<std::int64_t>(x % 61) - 30) * Decimal::kScale);
    b.open = b.high = b.low = b.close;
    b.volume = D("2.5");
    (void)s.apply_bar(b);
  }
  (void)s.apply_quote("BTC-USD", D("59999"), D("60001"), kT0);
  return s;
}

// The shipped rules/core.
ta::rules::RuleSet shipped_rules() {
  auto loaded = ta::rules::load_rules(TA_SOURCE_DIR "/rules/core", TA_SOURCE_DIR "/rules/no-active-dir");
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.render_errors().c_str());
    std::abort();
  }
  return loaded.value().rules;
}

// 100 rules of ten shapes seen in practice, ten thresholds each, placed so
// that the benchmark's entry passes them all (most rules do not fire on
// most orders) while every condition is evaluated.
ta::rules::RuleSet hundred_rules() {
  static const char* kShapes[] = {
      "market.realized_vol_1h > {k}.5 * market.realized_vol_24h and not order.reduce_only|cap quantity to order.quantity * 50%",
      "stats.consecutive_losses >= {k} and not order.reduce_only|cap quantity to order.quantity * 25%",
      "market.spread > {k}5bps and not order.reduce_only|deny \"spread\"",
      "time.since_last_stop_out < {k}0m and not order.reduce_only|deny \"cooldown\"",
      "order.notional / account.equity > {k}5% and order.product == \"BTC-USD\"|hold for approval within 1h",
      "account.drawdown > {k}% and order.side == buy|force reduce_only",
      "time.weekday in [saturday, sunday] and time.utc_hour < {k}|warn \"weekend\"",
      "order.type == limit and order.price > market.reference_price * 10{k}%|deny \"price band\"",
      "position.notional + order.notional > account.equity * {k}0%|cap notional to account.equity * {k}0% - position.notional",
      "stats.orders_last_minute > 2{k} or stats.fills_today > 40{k}|warn \"busy\"",
  };
  std::string text;
  for (int i = 0; i < 100; ++i) {
    std::string shape = kShapes[i % 10];
    const std::string k = std::to_string(i / 10 + 1);
    for (auto p = shape.find("{k}"); p != std::string::npos; p = shape.find("{k}")) shape.replace(p, 3, k);
    const auto bar = shape.find('|');
    text += "rule r" + std::to_string(i) + " v1 \"bench\" {\n  from core\n  when " + shape.substr(0, bar) +
            "\n  then " + shape.substr(bar + 1) + "\n}\n";
  }
  auto compiled = ta::rules::compile_source(text, "bench.rule", ta::rules::SourceOrigin::core());
  if (!compiled.ok()) {
    std::fprintf(stderr, "%s", compiled.render_errors().c_str());
    std::abort();
  }
  return compiled.value();
}

ta::ipc::OrderIntent entry_intent() {
  ta::ipc::OrderIntent i;
  i.set_intent_id("mr-btc-20240101T120000-0001");
  i.set_strategy("mean_reversion");
  i.set_product("BTC-USD");
  i.set_side(ta::ipc::SIDE_BUY);
  i.set_type(ta::ipc::ORDER_TYPE_LIMIT);
  i.set_quantity("0.0015");
  i.set_limit_price("59980.5");
  i.set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  i.set_protective_stop_price("59500");
  i.set_created_ts_ns(kT0);
  return i;
}

const ReferencePrice kRefs[] = {{"BTC-USD", D("60000"), kT0}, {"ETH-USD", D("3000"), kT0}};

DecisionContext context(const ta::rules::RuleSet* rules) { return DecisionContext{kT0 + kNanosPerSecond, true, kRefs, rules}; }

// Times `call` per iteration and reports the percentiles. What it returns
// is destroyed after the second clock read, so freeing a Decision is not
// part of the figure (as before the rule stage existed).
template <class Call>
void timed(benchmark::State& bench, Call&& call) {
  std::vector<std::int64_t> samples_ns;
  samples_ns.reserve(1 << 20);
  for (auto _ : bench) {
    const auto t0 = std::chrono::steady_clock::now();
    auto result = call();
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(result);
    if (samples_ns.size() < samples_ns.capacity()) {
      samples_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
  }
  if (samples_ns.empty()) return;
  std::sort(samples_ns.begin(), samples_ns.end());
  const auto pct = [&](double p) {
    return static_cast<double>(samples_ns[static_cast<std::size_t>(p * static_cast<double>(samples_ns.size() - 1))]);
  };
  bench.counters["p50_ns"] = pct(0.50);
  bench.counters["p99_ns"] = pct(0.99);
  bench.counters["max_ns"] = static_cast<double>(samples_ns.back());
}

void run(benchmark::State& bench, const GateState& state, const ta::ipc::OrderIntent& intent, bool expect_accept,
         const ta::rules::RuleSet* rules = nullptr) {
  const DecisionContext ctx = context(rules);
  if (decide(state, intent, ctx).decision.accepted() != expect_accept) {
    bench.SkipWithError("the benchmark's intent was not decided as expected");
    return;
  }
  timed(bench, [&] { return decide(state, intent, ctx); });
}

// The rule evaluation alone, on the facts decide() gathers for the intent.
void run_rules(benchmark::State& bench, const GateState& state, const ta::ipc::OrderIntent& intent,
               const ta::rules::RuleSet& rules) {
  const auto snapshot = rule_facts_for(state, intent, context(nullptr));
  if (!snapshot) {
    bench.SkipWithError("the benchmark's intent did not reach the rule stage");
    return;
  }
  const ta::rules::Facts facts = snapshot->facts();
  ta::rules::Outcome outcome;
  rules.evaluate(facts, outcome);  // grows the outcome's vectors once
  bench.counters["rules"] = static_cast<double>(rules.size());
  bench.counters["fired"] = static_cast<double>(outcome.fired.size());
  timed(bench, [&] {
    rules.evaluate(facts, outcome);
    return outcome.verdict;
  });
}

void BM_DecideAccepted(benchmark::State& bench) {
  static const GateState state = make_state();
  run(bench, state, entry_intent(), true);
}
BENCHMARK(BM_DecideAccepted);

// The same with 300 open orders (decide() reads per-product sums, so the
// number of open orders should not matter).
void BM_DecideAccepted300OpenOrders(benchmark::State& bench) {
  static const GateState state = make_state(292);
  run(bench, state, entry_intent(), true);
}
BENCHMARK(BM_DecideAccepted300OpenOrders);

void BM_DecideAcceptedShippedRules(benchmark::State& bench) {
  static const GateState state = make_state();
  static const ta::rules::RuleSet rules = shipped_rules();
  run(bench, state, entry_intent(), true, &rules);
}
BENCHMARK(BM_DecideAcceptedShippedRules);

void BM_DecideAccepted100Rules(benchmark::State& bench) {
  static const GateState state = make_state();
  static const ta::rules::RuleSet rules = hundred_rules();
  run(bench, state, entry_intent(), true, &rules);
}
BENCHMARK(BM_DecideAccepted100Rules);

void BM_RuleStageShippedRules(benchmark::State& bench) {
  static const GateState state = make_state();
  static const ta::rules::RuleSet rules = shipped_rules();
  run_rules(bench, state, entry_intent(), rules);
}
BENCHMARK(BM_RuleStageShippedRules);

void BM_RuleStage100Rules(benchmark::State& bench) {
  static const GateState state = make_state();
  static const ta::rules::RuleSet rules = hundred_rules();
  run_rules(bench, state, entry_intent(), rules);
}
BENCHMARK(BM_RuleStage100Rules);

// Denied at the last hard limit before rate: every check runs but the rate.
void BM_DecideDeniedFunds(benchmark::State& bench) {
  static const GateState state = make_state();
  ta::ipc::OrderIntent i = entry_intent();
  i.set_side(ta::ipc::SIDE_SELL);
  i.set_quantity("0.5");
  i.set_protective_stop_price("60500");
  run(bench, state, i, false);
}
BENCHMARK(BM_DecideDeniedFunds);

// A retry of a remembered intent id: the idempotent replay.
void BM_DecideReplay(benchmark::State& bench) {
  static const GateState state = make_state();
  ta::ipc::OrderIntent i = entry_intent();
  i.set_intent_id("setup-o-500");  // an intent made by test::inject_order
  i.set_strategy("setup");
  i.set_product("ETH-USD");
  i.set_quantity("0.001");
  i.set_limit_price("2900");
  i.set_protective_stop_price("");
  i.set_created_ts_ns(0);
  run(bench, state, i, true);
}
BENCHMARK(BM_DecideReplay);

}  // namespace
