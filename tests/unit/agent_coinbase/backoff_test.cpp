// Exponential backoff with seeded jitter.
#include <gtest/gtest.h>

#include <stdexcept>

#include "../agent_market/agent_test_support.h"
#include "coinbase/backoff.h"

namespace ta::agent::coinbase {
namespace {

TEST(Backoff, GrowsDoublesAndCaps) {
  const unsigned seed = test::test_seed();
  Backoff b({100, 1'000, 0.5}, seed);
  const std::int64_t bases[] = {100, 200, 400, 800, 1'000, 1'000, 1'000};
  for (std::int64_t base : bases) {
    const std::int64_t d = b.next_delay_ms();
    EXPECT_GE(d, base / 2);
    EXPECT_LE(d, base);
  }
  EXPECT_EQ(b.attempts(), 7u);
  b.reset();
  EXPECT_EQ(b.attempts(), 0u);
  const std::int64_t d = b.next_delay_ms();
  EXPECT_GE(d, 50);
  EXPECT_LE(d, 100);
}

TEST(Backoff, NoJitterIsExact) {
  Backoff b({10, 50, 0.0}, 1);
  EXPECT_EQ(b.next_delay_ms(), 10);
  EXPECT_EQ(b.next_delay_ms(), 20);
  EXPECT_EQ(b.next_delay_ms(), 40);
  EXPECT_EQ(b.next_delay_ms(), 50);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.next_delay_ms(), 50);  // no overflow after many attempts
}

TEST(Backoff, SameSeedSameDelays) {
  const unsigned seed = test::test_seed();
  Backoff a({100, 30'000, 0.5}, seed);
  Backoff b({100, 30'000, 0.5}, seed);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.next_delay_ms(), b.next_delay_ms());
}

TEST(Backoff, FullJitterStaysPositive) {
  Backoff b({1, 1, 1.0}, 3);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(b.next_delay_ms(), 1);
}

TEST(Backoff, ConfigLimits) {
  EXPECT_NO_THROW(Backoff({1, 1, 0.0}, 0));
  EXPECT_THROW(Backoff({0, 1, 0.0}, 0), std::invalid_argument);
  EXPECT_THROW(Backoff({2, 1, 0.0}, 0), std::invalid_argument);
  EXPECT_NO_THROW(Backoff({1, BackoffConfig::delay_ms_max, 0.0}, 0));
  EXPECT_NO_THROW(Backoff({1, BackoffConfig::delay_ms_max - 1, 0.0}, 0));
  EXPECT_THROW(Backoff({1, BackoffConfig::delay_ms_max + 1, 0.0}, 0), std::invalid_argument);
  EXPECT_NO_THROW(Backoff({1, 2, 1.0}, 0));
  EXPECT_THROW(Backoff({1, 2, 1.01}, 0), std::invalid_argument);
  EXPECT_THROW(Backoff({1, 2, -0.01}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace ta::agent::coinbase
