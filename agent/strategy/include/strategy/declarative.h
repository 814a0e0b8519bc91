// Declarative strategies: config/strategies/*.yaml describe a graph of
// indicator nodes, entry and exit conditions over node outputs, bar fields
// and parameters, stops, and parameters with bounds. A new strategy needs no
// C++. docs/strategies.md is the format reference; in short:
//
//   name: ema_cross
//   params:
//     fast_period: {value: 12, min: 2, max: 500}
//     slow_period: {value: 26, min: 3, max: 2000}
//     stop_atr:    {value: 3.0, min: 0.5, max: 20}
//   constraints: ["fast_period < slow_period"]
//   nodes:
//     fast: {ema: {period: fast_period}}
//     slow: {ema: {period: slow_period}}
//     atr:  {atr: {period: 14}}
//   entry: {long: fast crosses_above slow}
//   exit:  {long: fast crosses_below slow}
//   stops: {atr: {node: atr, multiple: stop_atr}}
//
// Loading validates everything and reports every problem as
// file:line:column (unknown keys, node types, references, cycles, parameters
// out of bounds, condition syntax errors at their exact column). The graph
// compiles into a flat plan: nodes in dependency order reading and writing
// numbered slots, conditions as a short stack program over the slots. Per
// bar there is no name lookup and no allocation.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/yaml_config.h"
#include "strategy/definition.h"

namespace ta::agent {

// Limits of a strategy file; each keeps a file reviewable and its per-bar
// cost bounded.
inline constexpr std::size_t kNodesMax = 64;                // indicator nodes
inline constexpr std::size_t kConditionLengthMax = 1024;    // characters per condition
inline constexpr std::size_t kConditionDepthMax = 32;       // nesting of parentheses/operators
inline constexpr std::size_t kConditionTokensMax = 256;     // tokens per condition
inline constexpr std::size_t kConstraintsMax = 16;          // parameter constraints
inline constexpr std::size_t kLagBarsMax = 10'000;          // lag node: a week of minutes
inline constexpr std::size_t kStrategyFilesMax = 64;        // files in a strategies directory
inline constexpr std::size_t kDescriptionLengthMax = 500;

struct StrategyLoad {
  std::shared_ptr<const StrategyDefinition> strategy;  // null when there are problems
  std::vector<proto::ConfigProblem> problems;          // sorted by position
  bool ok() const { return strategy != nullptr; }
};

// Loads one strategy file.
StrategyLoad load_strategy_file(const std::filesystem::path& file);
// Loads a strategy from text, as if read from `file_name` (tests, embedded
// defaults).
StrategyLoad parse_strategy(std::string_view yaml_text, std::string file_name);

struct StrategyDirLoad {
  std::vector<std::shared_ptr<const StrategyDefinition>> strategies;  // by file name
  std::vector<proto::ConfigProblem> problems;  // of every file, plus duplicate names
  bool ok() const { return problems.empty(); }
};
// Loads every *.yaml file of `dir` in file-name order (at most
// kStrategyFilesMax). Two files with the same strategy name are a problem.
StrategyDirLoad load_strategy_dir(const std::filesystem::path& dir);

// The node types a file may use, for messages and docs.
std::span<const std::string_view> node_types();

}  // namespace ta::agent
