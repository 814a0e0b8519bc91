#include "coinbase/backoff.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ta::agent::coinbase {

void validate(const BackoffConfig& c, const char* what) {
  const std::string w = what;
  if (c.initial_delay_ms < 1 || c.initial_delay_ms > c.max_delay_ms) {
    throw std::invalid_argument(w + ": initial_delay_ms must be in [1, max_delay_ms]");
  }
  if (c.max_delay_ms > BackoffConfig::delay_ms_max) {
    throw std::invalid_argument(w + ": max_delay_ms must be at most 600000");
  }
  if (!(c.jitter >= 0 && c.jitter <= BackoffConfig::jitter_max)) {
    throw std::invalid_argument(w + ": jitter must be in [0, 1]");
  }
}

Backoff::Backoff(BackoffConfig config, std::uint64_t seed) : config_(config), rng_(seed) {
  validate(config_, "backoff");
}

std::int64_t Backoff::next_delay_ms() {
  // 2^n overflows nothing: the shift stops once the cap is reached.
  std::int64_t base = config_.initial_delay_ms;
  for (std::uint32_t i = 0; i < attempt_ && base < config_.max_delay_ms; ++i) base *= 2;
  base = std::min(base, config_.max_delay_ms);
  if (attempt_ < UINT32_MAX) ++attempt_;
  const auto low = static_cast<std::int64_t>(static_cast<double>(base) * (1.0 - config_.jitter));
  std::uniform_int_distribution<std::int64_t> pick(std::max<std::int64_t>(low, 1), base);
  return pick(rng_);
}

}  // namespace ta::agent::coinbase
