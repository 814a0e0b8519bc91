#include "log.h"

namespace ta::agent::coinbase {

spdlog::logger& coinbase_log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto registered = spdlog::get("agent.coinbase")) return registered;
    return spdlog::default_logger()->clone("agent.coinbase");
  }();
  return *logger;
}

}  // namespace ta::agent::coinbase
