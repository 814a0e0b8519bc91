// Property: bad bars mixed into a real market change nothing. The demo's
// BTC and ETH minutes go through the engine (both built-in strategies,
// every intent filled at the product's next good bar) once clean, and once
// with junk bars slipped in at random places (seed printed; TA_TEST_SEED
// replays): NaN, infinite, zero and negative prices, high below low, open
// or close outside the bar, negative volume, a bad quote, a time off the
// minute, a repeat or an older time of the product's last bar, an unknown
// product. Most carry a price spike a strategy would act on. The engine
// must refuse each one (counted by kind), return no intent for it, and emit
// exactly the intents of the clean run.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "market/feed.h"
#include "strategy/builtin.h"
#include "strategy_test_support.h"

namespace ta::agent {
namespace {

constexpr std::size_t kRowsPerProduct = 1500;
constexpr int kJunkKinds = 14;

enum class Refusal { kInvalid, kOutOfOrder, kUnknownProduct };

// A junk variant of `good` (the product's last good bar, `next` its next
// good bar); which counter must move.
Refusal make_junk(int kind, const Bar& last, const Bar& next, Bar& out) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  out = next;
  out.close = next.close * 0.5;  // a spike, where the defect allows one
  out.low = std::min(out.low, out.close);
  switch (kind) {
    case 0: out.close = nan; return Refusal::kInvalid;
    case 1: out.high = inf; return Refusal::kInvalid;
    case 2: out.low = -inf; return Refusal::kInvalid;
    case 3: out.open = -next.open; return Refusal::kInvalid;
    case 4: out.low = 0; out.close = 0; return Refusal::kInvalid;
    case 5: std::swap(out.high, out.low); return Refusal::kInvalid;  // high below low
    case 6: out.open = out.high * 2; return Refusal::kInvalid;
    case 7: out.close = out.low * 0.5; return Refusal::kInvalid;      // close below low
    case 8: out.volume = -1; return Refusal::kInvalid;
    case 9: out.quote = Quote{out.close * 1.01, out.close}; return Refusal::kInvalid;  // bid above ask
    case 10: out.open_ts_s += 1; return Refusal::kInvalid;
    case 11: out.open_ts_s = last.open_ts_s; return Refusal::kOutOfOrder;  // the last bar's minute again
    case 12: out.open_ts_s = last.open_ts_s - 120; return Refusal::kOutOfOrder;
    case 13: out.product = test::pid("SOL-USD"); return Refusal::kUnknownProduct;
  }
  return Refusal::kInvalid;
}

std::vector<Bar> merged_demo() {
  auto btc = test::load_bars(test::demo_data() / "BTC-USD_1m_demo.csv", test::pid("BTC-USD"));
  auto eth = test::load_bars(test::demo_data() / "ETH-USD_1m_demo.csv", test::pid("ETH-USD"));
  btc.resize(std::min(btc.size(), kRowsPerProduct));
  eth.resize(std::min(eth.size(), kRowsPerProduct));
  const std::vector<Bar> series[] = {btc, eth};
  return merge_bars(series);
}

AgentEngine engine() {
  return test::make_engine({make_builtin("mean_reversion", "mr", std::vector<std::pair<std::string, double>>{
                                                                      {"period", 20}, {"entry_z", 1.5}})
                                .value(),
                            make_builtin("momentum", "mo").value()},
                           {test::spot("BTC-USD"), test::spot("ETH-USD")}, Decimal::from_integer(10'000));
}

std::vector<std::string> describe(const std::vector<Intent>& intents) {
  std::vector<std::string> out;
  for (const Intent& in : intents) {
    out.push_back(in.intent_id + " " + std::string(to_string(in.side)) + " " + in.quantity.to_string() + " stop " +
                  in.protective_stop_price.to_string());
  }
  return out;
}

TEST(BadBars, JunkMixedIntoARealMarketChangesNoIntent) {
  const unsigned seed = test::test_seed();
  std::mt19937_64 rng(seed);
  const std::vector<Bar> bars = merged_demo();
  ASSERT_GT(bars.size(), 1000u);

  AgentEngine clean_engine = engine();
  test::NextBarSim clean(clean_engine);
  clean.run(bars);
  ASSERT_GT(clean.all_intents.size(), 10u) << "the clean run should trade";

  AgentEngine mixed_engine = engine();
  test::NextBarSim mixed(mixed_engine);
  std::map<ProductId, Bar> last;
  std::uint64_t expect_invalid = 0;
  std::uint64_t expect_out_of_order = 0;
  std::uint64_t expect_unknown = 0;
  std::uint64_t junk = 0;
  for (const Bar& b : bars) {
    auto it = last.find(b.product);
    if (it != last.end() && rng() % 8 == 0) {
      Bar j;
      const int kind = static_cast<int>(rng() % kJunkKinds);
      switch (make_junk(kind, it->second, b, j)) {
        case Refusal::kInvalid: ++expect_invalid; break;
        case Refusal::kOutOfOrder: ++expect_out_of_order; break;
        case Refusal::kUnknownProduct: ++expect_unknown; break;
      }
      ++junk;
      // Straight to the engine: the test's venue never fills on junk.
      EXPECT_TRUE(mixed_engine.on_bar(j).empty()) << "an intent from junk kind " << kind << " at " << j.open_ts_s;
    }
    mixed.step(b);
    last[b.product] = b;
  }
  std::printf("bars=%zu junk=%llu intents=%zu\n", bars.size(), static_cast<unsigned long long>(junk),
              clean.all_intents.size());
  EXPECT_EQ(mixed_engine.counters().bars_invalid, expect_invalid);
  EXPECT_EQ(mixed_engine.counters().bars_out_of_order, expect_out_of_order);
  EXPECT_EQ(mixed_engine.counters().bars_unknown_product, expect_unknown);
  EXPECT_EQ(mixed_engine.counters().bars, clean_engine.counters().bars);
  EXPECT_EQ(describe(mixed.all_intents), describe(clean.all_intents));
  for (std::size_t i = 0; i < mixed_engine.slot_count(); ++i) {
    EXPECT_EQ(mixed_engine.slot(i).counters->not_finite, clean_engine.slot(i).counters->not_finite);
  }
}

}  // namespace
}  // namespace ta::agent
