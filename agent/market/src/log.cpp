#include "log.h"

namespace ta::agent {

spdlog::logger& market_log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto registered = spdlog::get("agent.market")) return registered;
    return spdlog::default_logger()->clone("agent.market");
  }();
  return *logger;
}

}  // namespace ta::agent
