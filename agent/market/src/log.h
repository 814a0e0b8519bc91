// The market library's named logger, "agent.market".
#pragma once

#include <spdlog/spdlog.h>

namespace ta::agent {

// The logger registered as "agent.market" if the application made one,
// otherwise a copy of the default logger under that name.
spdlog::logger& market_log();

}  // namespace ta::agent
