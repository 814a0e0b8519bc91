// Shared by the Coinbase integration tests: running an io_context until a
// condition holds, with a bound on real time.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>

namespace ta::agent::coinbase::test {

// Runs `io` until `done()` is true or `timeout` passes; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Runs `io` for `duration` of real time.
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_one_until(deadline);
  }
}

// TA_TEST_SEED when set (to replay a failure), otherwise random; printed.
inline unsigned test_seed() {
  unsigned seed = 0;
  if (const char* v = std::getenv("TA_TEST_SEED"); v != nullptr && *v != '\0') {
    seed = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
  } else {
    seed = std::random_device{}();
  }
  std::printf("seed=%u\n", seed);
  std::fflush(stdout);
  return seed;
}

}  // namespace ta::agent::coinbase::test
