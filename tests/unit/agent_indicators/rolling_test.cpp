// Numerical behaviour of the rolling-window building blocks.
#include "indicators/rolling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <random>

#include "agent_test_support.h"

namespace ta::agent::ind {
namespace {

// Exact-ish reference: two passes in long double.
void reference(const std::deque<double>& w, double& mean, double& var_pop) {
  long double s = 0;
  for (double x : w) s += x;
  const long double m = s / static_cast<long double>(w.size());
  long double ss = 0;
  for (double x : w) ss += (x - m) * (x - m);
  mean = static_cast<double>(m);
  var_pop = static_cast<double>(ss / static_cast<long double>(w.size()));
}

// BTC-like prices near 100,000 moving by cents: the mean is 10^7 times the
// standard deviation, where the textbook sum(x^2) - n*mean^2 formula loses
// every significant digit. The rolling moments must stay accurate over a
// million updates (many recompute intervals).
TEST(RollingMoments, StableForLargePricesWithTinyVariance) {
  const unsigned seed = test::test_seed();
  std::mt19937_64 rng(seed);
  constexpr std::size_t kPeriod = 20;
  RollingMoments m(kPeriod);
  std::deque<double> w;
  double price = 100'000.00;
  double worst_rel = 0;
  double naive_worst_rel = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    price += 0.01 * static_cast<double>(static_cast<int>(rng() % 3) - 1);
    m.push(price);
    w.push_back(price);
    if (w.size() > kPeriod) w.pop_front();
    if (w.size() < kPeriod || i % 997 != 0) continue;
    double mean = 0;
    double var = 0;
    reference(w, mean, var);
    ASSERT_NEAR(m.mean(), mean, 1e-9) << "seed=" << seed << " i=" << i;
    if (var > 0) {
      worst_rel = std::max(worst_rel, std::abs(m.variance_population() - var) / var);
      double s = 0;
      double s2 = 0;
      for (double x : w) {
        s += x;
        s2 += x * x;
      }
      const double naive = s2 / kPeriod - (s / kPeriod) * (s / kPeriod);
      naive_worst_rel = std::max(naive_worst_rel, std::abs(naive - var) / var);
    } else {
      ASSERT_EQ(m.variance_population(), 0.0) << "seed=" << seed << " i=" << i;
    }
  }
  std::printf("rolling variance worst relative error %.3g (naive formula: %.3g)\n", worst_rel, naive_worst_rel);
  EXPECT_LT(worst_rel, 1e-8) << "seed=" << seed;
  // The point of the exercise: the naive formula is useless here.
  EXPECT_GT(naive_worst_rel, 1e-2) << "seed=" << seed;
}

TEST(RollingMoments, FlatWindowIsExactlyZero) {
  RollingMoments m(5);
  for (double x : {100'000.01, 100'003.17, 99'998.5, 100'000.01, 100'000.01}) m.push(x);
  EXPECT_GT(m.m2(), 0.0);
  for (int i = 0; i < 5; ++i) m.push(100'000.01);
  EXPECT_EQ(m.m2(), 0.0);
  EXPECT_EQ(m.mean(), 100'000.01);
  m.push(100'000.02);
  EXPECT_GT(m.m2(), 0.0);
}

TEST(RollingMoments, RecomputeIntervalBoundaries) {
  // One full-window replacement before, at and after the recompute point
  // must all agree with the reference.
  RollingMoments m(3);
  ASSERT_EQ(m.recompute_interval(), 1024u);
  EXPECT_EQ(RollingMoments(5000).recompute_interval(), 5000u);
  std::deque<double> w;
  for (std::size_t i = 0; i < 3 + 1024 + 2; ++i) {
    const double x = 50'000.0 + static_cast<double>((i * 7919) % 101) * 0.37;
    m.push(x);
    w.push_back(x);
    if (w.size() > 3) w.pop_front();
    if (i + 1 >= 3 + 1023) {
      double mean = 0;
      double var = 0;
      reference(w, mean, var);
      EXPECT_NEAR(m.mean(), mean, 1e-9) << i;
      EXPECT_NEAR(m.variance_population(), var, 1e-7) << i;
    }
  }
}

// A large value passing through a short window: once it has left, the
// variance of the small remaining values must be accurate again, not
// carry the absolute error of the large M2 it had.
TEST(RollingMoments, RecoversAfterALargeValueLeaves) {
  RollingMoments m(3);
  std::deque<double> w;
  const double values[] = {3.4, 3.40001, 1000.0, 3.4, 3.4000000031, 3.4000000057, 3.4000000012, 3.4000000049};
  for (double x : values) {
    m.push(x);
    w.push_back(x);
    if (w.size() > 3) w.pop_front();
  }
  double mean = 0;
  double var = 0;
  reference(w, mean, var);
  ASSERT_GT(var, 0.0);
  EXPECT_NEAR(m.variance_population(), var, var * 1e-6);
  EXPECT_NEAR(m.mean(), mean, 1e-12);
}

TEST(RollingSum2, RecoversAfterALargeValueLeaves) {
  RollingSum2 s(2);
  for (double b : {1e-3, 1e12, 2e-3, 3e-3, 4e-3}) s.push(b, b);
  EXPECT_NEAR(s.sum_b(), 7e-3, 1e-15);
  EXPECT_NEAR(s.sum_a(), 7e-3, 1e-15);
}

TEST(RollingMoments, PeriodOneAndReset) {
  RollingMoments m(1);
  m.push(3.5);
  EXPECT_TRUE(m.full());
  EXPECT_EQ(m.mean(), 3.5);
  EXPECT_EQ(m.m2(), 0.0);
  m.push(-2.0);
  EXPECT_EQ(m.mean(), -2.0);
  m.reset();
  EXPECT_EQ(m.count(), 0u);
  EXPECT_THROW(RollingMoments(0), std::invalid_argument);
}

TEST(RollingSum2, TracksWindowSumsAndEvictions) {
  RollingSum2 s(2);
  EXPECT_FALSE(s.push(1, 10).any);
  EXPECT_FALSE(s.push(2, 20).any);
  const auto out = s.push(3, 30);
  EXPECT_TRUE(out.any);
  EXPECT_EQ(out.a, 1);
  EXPECT_EQ(out.b, 10);
  EXPECT_EQ(s.sum_a(), 5);
  EXPECT_EQ(s.sum_b(), 50);
}

TEST(RollingExtremum, MatchesBruteForceOnRandomSeries) {
  const unsigned seed = test::test_seed();
  std::mt19937 rng(seed);
  for (std::size_t period : {1u, 2u, 3u, 7u, 64u}) {
    RollingExtremum hi(RollingExtremum::Kind::kMax, period);
    RollingExtremum lo(RollingExtremum::Kind::kMin, period);
    std::deque<double> w;
    for (int i = 0; i < 5000; ++i) {
      // Few distinct values, so ties are frequent.
      const double x = static_cast<double>(rng() % 10);
      hi.push(x);
      lo.push(x);
      w.push_back(x);
      if (w.size() > period) w.pop_front();
      ASSERT_EQ(hi.value(), *std::max_element(w.begin(), w.end())) << "seed=" << seed << " period=" << period;
      ASSERT_EQ(lo.value(), *std::min_element(w.begin(), w.end())) << "seed=" << seed << " period=" << period;
    }
  }
}

}  // namespace
}  // namespace ta::agent::ind
