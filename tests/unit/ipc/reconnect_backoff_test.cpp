// ReconnectBackoff: exponential, jittered within [d/2, d], capped, seeded.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "agent/gate_client.h"

namespace ta::agent {
namespace {

TEST(ReconnectBackoff, DoublesWithinJitterBandUpToMax) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  ReconnectBackoff b(100, 5000, seed);
  std::int64_t d = 100;
  for (int i = 0; i < 40; ++i) {
    const std::int64_t got = b.next_delay_ms();
    EXPECT_GE(got, d / 2) << "attempt " << i;
    EXPECT_LE(got, d) << "attempt " << i;
    d = std::min<std::int64_t>(d * 2, 5000);
  }
  EXPECT_LE(b.attempt(), 6u) << "the counter stops once the cap is reached";
}

TEST(ReconnectBackoff, SameSeedSameDelays) {
  ReconnectBackoff a(10, 1000, 42);
  ReconnectBackoff b(10, 1000, 42);
  ReconnectBackoff c(10, 1000, 43);
  bool differs = false;
  for (int i = 0; i < 20; ++i) {
    const auto x = a.next_delay_ms();
    EXPECT_EQ(x, b.next_delay_ms());
    differs = differs || x != c.next_delay_ms();
  }
  EXPECT_TRUE(differs) << "another seed gives other jitter";
}

TEST(ReconnectBackoff, ResetStartsOver) {
  ReconnectBackoff b(100, 800, 1);
  for (int i = 0; i < 10; ++i) (void)b.next_delay_ms();
  EXPECT_GT(b.next_delay_ms(), 399);
  b.reset();
  EXPECT_EQ(b.attempt(), 0u);
  EXPECT_LE(b.next_delay_ms(), 100);
}

TEST(ReconnectBackoff, DegenerateBounds) {
  ReconnectBackoff zero(0, 0, 1);  // clamped to 1 ms
  EXPECT_GE(zero.next_delay_ms(), 0);
  EXPECT_LE(zero.next_delay_ms(), 1);
  ReconnectBackoff flat(50, 50, 1);
  for (int i = 0; i < 5; ++i) {
    const auto d = flat.next_delay_ms();
    EXPECT_GE(d, 25);
    EXPECT_LE(d, 50);
  }
}

}  // namespace
}  // namespace ta::agent
