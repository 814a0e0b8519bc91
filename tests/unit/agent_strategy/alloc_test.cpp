// The hot path allocates nothing: after a warm-up, AgentEngine::on_bar on
// real data (two products, two built-in and two declarative strategies,
// intents filled at the next bar) performs no heap allocation, including on
// the bars that emit intents. Counted by replacing the global operator new
// in this test binary; only allocations inside on_bar() are counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "strategy_test_support.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC at -O2 sees the replaced operator new's malloc only through inlining and
// flags the matching free() as mismatched; the pair is consistent by
// construction here, so the warning is silenced for these two definitions.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ta::agent {
namespace {

TEST(Allocation, TheCounterSeesAllocations) {
  g_counting = true;
  auto* p = new std::string(100, 'x');  // the string's buffer and the object
  g_counting = false;
  EXPECT_GE(g_allocations.exchange(0), 2u);
  delete p;
}

TEST(Allocation, OnBarAllocatesNothingAfterWarmUp) {
  const auto btc = test::load_bars(test::demo_data() / "BTC-USD_1m_demo.csv", test::pid("BTC-USD"));
  const auto eth = test::load_bars(test::demo_data() / "ETH-USD_1m_demo.csv", test::pid("ETH-USD"));
  ASSERT_FALSE(btc.empty());
  std::vector<std::shared_ptr<const StrategyDefinition>> strategies = {make_momentum("mom", {}).value(),
                                                                       make_mean_reversion("mr", {}).value()};
  for (const char* f : {"ema_cross.yaml", "zscore_reversion.yaml"}) {
    auto load = load_strategy_file(test::source_dir() / "config" / "strategies" / f);
    ASSERT_TRUE(load.ok());
    strategies.push_back(load.strategy);
  }
  auto engine = test::make_engine(strategies, {test::spot("BTC-USD"), test::spot("ETH-USD")});
  // Pending intents per product, filled at that product's next bar, with
  // storage reserved up front so the driver itself does not allocate
  // between the counted calls.
  std::vector<Intent> pending[2];
  for (auto& p : pending) p.reserve(16);
  FillEvent fill;
  DecisionEvent decision;
  fill.intent_id.reserve(128);
  fill.strategy.reserve(64);
  decision.intent_id.reserve(128);
  std::size_t intents = 0;
  std::size_t counted_intents = 0;
  const std::size_t warm_up = 1000;
  for (std::size_t i = 0; i < btc.size() && i < eth.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      const Bar& bar = k == 0 ? btc[i] : eth[i];
      for (const Intent& in : pending[k]) {
        decision.intent_id.assign(in.intent_id);
        decision.accepted = true;
        engine.on_decision(decision);
        fill.intent_id.assign(in.intent_id);
        fill.strategy.assign(in.strategy);
        fill.product = in.product;
        fill.side = in.side;
        fill.quantity = in.quantity;
        fill.ts_ns = bar.open_ts_s * 1'000'000'000LL;
        engine.on_fill(fill);
      }
      pending[k].clear();
      g_counting = i >= warm_up;
      const auto out = engine.on_bar(bar);
      g_counting = false;
      intents += out.size();
      if (i >= warm_up) counted_intents += out.size();
      for (const Intent& in : out) pending[k].push_back(in);
    }
  }
  std::printf("intents: %zu (%zu while counting), allocations in on_bar: %zu\n", intents, counted_intents,
              g_allocations.load());
  EXPECT_GT(counted_intents, 100u);
  EXPECT_EQ(g_allocations.load(), 0u);
}

}  // namespace
}  // namespace ta::agent
