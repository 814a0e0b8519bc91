// Exponential backoff with jitter for reconnects and request retries.
//
// Attempt n (0-based) waits a delay drawn uniformly from
//   [base * (1 - jitter), base]   where base = min(initial * 2^n, max)
// ("equal jitter" when jitter = 0.5): delays still grow, but clients that
// failed together do not retry together. The random source is a seeded
// engine owned by the Backoff, so a test that prints its seed replays the
// same delays.
#pragma once

#include <cstdint>
#include <random>

namespace ta::agent::coinbase {

struct BackoffConfig {
  // Upper bounds that keep a misconfiguration from stalling a feed for
  // hours or spinning: no delay beyond 10 minutes, none below 1 ms.
  static constexpr std::int64_t delay_ms_max = 600'000;
  static constexpr double jitter_max = 1.0;

  std::int64_t initial_delay_ms = 500;  // [1, max_delay_ms]
  std::int64_t max_delay_ms = 30'000;   // [initial_delay_ms, delay_ms_max]
  double jitter = 0.5;                  // fraction of the delay drawn at random, [0, 1]
};

class Backoff {
 public:
  // Throws std::invalid_argument (start-up only) when `config` is out of range.
  Backoff(BackoffConfig config, std::uint64_t seed);

  // The delay before the next attempt; counts the attempt.
  std::int64_t next_delay_ms();
  // After a success: the next failure starts again at initial_delay_ms.
  void reset() { attempt_ = 0; }
  // Failures since the last reset().
  std::uint32_t attempts() const { return attempt_; }
  const BackoffConfig& config() const { return config_; }

 private:
  BackoffConfig config_;
  std::mt19937_64 rng_;
  std::uint32_t attempt_ = 0;
};

// Throws std::invalid_argument naming `what` when `config` is out of range.
void validate(const BackoffConfig& config, const char* what);

}  // namespace ta::agent::coinbase
