// ta_agent_strategy: strategies, sizing and the agent's decision engine.
// Include this, or one of:
//   strategy/lifecycle.h    the per-strategy lifecycle table
//   strategy/definition.h   StrategyDefinition / StrategyInstance, signals, parameters
//   strategy/builtin.h      mean reversion and momentum
//   strategy/declarative.h  strategies from config/strategies/*.yaml
//   strategy/sizing.h       risk-based position sizing with caps
//   strategy/engine.h       AgentEngine: bars + gate messages -> intents
//   strategy/ipc_convert.h  engine values <-> gate.proto messages (daemon only)
// docs/strategies.md describes all of it in prose.
#pragma once

#include "strategy/builtin.h"
#include "strategy/declarative.h"
#include "strategy/definition.h"
#include "strategy/engine.h"
#include "strategy/lifecycle.h"
#include "strategy/sizing.h"
