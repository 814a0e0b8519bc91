// The Coinbase market-data logger, "agent.coinbase".
#pragma once

#include <spdlog/spdlog.h>

namespace ta::agent::coinbase {

// The logger registered as "agent.coinbase" if the application made one,
// otherwise a copy of the default logger under that name.
spdlog::logger& coinbase_log();

}  // namespace ta::agent::coinbase
