// Typed, strict reading of YAML configuration files (both daemons).
//
// A ConfigReader loads one file; ConfigMap handles read typed values out of
// its mappings. Every getter either returns the value or records a
// ConfigProblem and returns the caller's fallback, so one pass over a file
// collects ALL problems instead of stopping at the first. finish() adds one
// problem per key that no getter asked for (unknown keys, with the list of
// allowed keys) and returns everything sorted by position. Problems print as
//
//   gate.yaml:12:9: key 'venue.sim.seed': expected integer in [0, 4294967295], got "abc"
//
// Rules the getters enforce:
// * a required key that is absent is a problem; an optional one yields the
//   fallback (a required key inside an absent optional mapping is still
//   reported, because required means required);
// * wrong YAML shapes (a list where a number belongs) and out-of-range values
//   are problems whose message states the valid range;
// * decimals are parsed exactly from the scalar's text (ta::Decimal), never
//   through floating point; "0.1" in the file is exactly 0.1;
// * durations are a whole number and a unit: "250ms", "30s", "5m", "2h";
// * relative paths resolve against the directory of the config file, so a
//   copied config directory works anywhere;
// * duplicate keys are problems.
//
// Not thread-safe. A ConfigMap refers to its reader, which must outlive it.
// Exceptions are not used; load failures (missing file, YAML syntax) become
// problems too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/decimal.h"

namespace YAML {
class Node;
}

namespace ta::proto {

struct ConfigProblem {
  std::string file;
  int line = 0;    // 1-based; 0 when the problem has no position (unreadable file)
  int column = 0;  // 1-based
  std::string key;  // dotted path such as "venue.sim.seed"; empty for file-level problems
  std::string message;

  // "file:line:column: key 'a.b': message" (parts without data are left out).
  std::string to_string() const;
};

enum class Need { kRequired, kOptional };

// Longest value text quoted back in a problem message; longer text is cut
// with "...", so a huge scalar cannot flood the operator's terminal.
inline constexpr std::size_t kConfigQuoteLengthMax = 40;
// Largest config file read: 1 MiB. Real files are a few KiB; a bigger one is
// a mistake (wrong file passed) and is refused before parsing.
inline constexpr std::uintmax_t kConfigFileSizeMax = 1024 * 1024;

class ConfigReader;

class ConfigMap {
 public:
  // Integer (optional '-', digits only) in [min, max].
  std::int64_t integer(std::string_view key, Need need, std::int64_t fallback, std::int64_t min,
                       std::int64_t max);
  // Exactly `true` or `false`.
  bool boolean(std::string_view key, Need need, bool fallback);
  // Non-empty text of at most length_max bytes.
  std::string text(std::string_view key, Need need, std::string_view fallback, std::size_t length_max);
  // One of `allowed`, compared exactly (case-sensitive).
  std::string choice(std::string_view key, Need need, std::string_view fallback,
                     std::initializer_list<std::string_view> allowed);
  // Decimal in [min, max], parsed exactly from the scalar text.
  Decimal decimal(std::string_view key, Need need, Decimal fallback, Decimal min, Decimal max);
  // Duration in [min_ms, max_ms]; units ms, s, m, h.
  std::int64_t duration_ms(std::string_view key, Need need, std::int64_t fallback_ms, std::int64_t min_ms,
                           std::int64_t max_ms);
  // A path; relative text resolves against the config file's directory.
  // The fallback (when used) is resolved the same way.
  std::filesystem::path path(std::string_view key, Need need, std::string_view fallback);
  // A list of integers, each in [min, max], at most count_max long.
  std::vector<std::int64_t> integer_list(std::string_view key, Need need, std::int64_t min, std::int64_t max,
                                         std::size_t count_max);
  // A list of texts (names such as product ids), each non-empty and at most
  // length_max bytes, at most count_max long, in file order.
  std::vector<std::string> text_list(std::string_view key, Need need, std::size_t length_max, std::size_t count_max);
  // A nested mapping. When absent (optional) or of the wrong shape, returns
  // an empty mapping whose getters yield fallbacks.
  ConfigMap map(std::string_view key, Need need);
  // A mapping whose keys are names chosen by the user (product ids); each
  // value must itself be a mapping. At most count_max entries, in file order.
  std::vector<std::pair<std::string, ConfigMap>> named_maps(std::string_view key, Need need,
                                                            std::size_t count_max);

  // Records a problem located at `key` (its value, or this mapping when the
  // key is absent), for checks that relate several values.
  void problem(std::string_view key, std::string message);
  // Records a problem at character `offset` (0-based, in bytes) of the text
  // of the scalar at `key`, for values with a syntax of their own (a
  // strategy's conditions). The column is exact when the scalar sits on one
  // line, plain, 'single-' or "double-quoted"; for a block or multi-line
  // scalar the problem points at the value's start and the message says
  // "at character N: ". Falls back to problem() when `key` is no scalar.
  void problem_in_text(std::string_view key, std::size_t offset, std::string message);
  // The keys present in this mapping, in file order; empty when the mapping
  // is absent. Does not count them as asked for: finish() still reports
  // those no getter reads. For mappings whose single key is itself a choice
  // (a strategy node `fast: {ema: {period: 12}}`).
  std::vector<std::string> keys() const;
  // The dotted path of `key` inside this mapping ("venue.sim.seed").
  std::string key_path(std::string_view key) const;

 private:
  friend class ConfigReader;
  ConfigMap(ConfigReader* reader, std::size_t index) : reader_(reader), index_(index) {}
  struct Found;
  Found find(std::string_view key, Need need);
  void wrong(const Found& found, std::string_view expected);

  ConfigReader* reader_;
  std::size_t index_;
};

class ConfigReader {
 public:
  // Reads and parses `file`. A missing or unreadable file or a YAML syntax
  // error becomes a problem; root() is then an empty mapping.
  explicit ConfigReader(const std::filesystem::path& file);
  // Parses `text` as if read from `file_name`; relative paths resolve
  // against `base_dir`. For tests and for embedded defaults.
  ConfigReader(std::string_view text, std::string file_name, std::filesystem::path base_dir);
  ~ConfigReader();
  ConfigReader(const ConfigReader&) = delete;
  ConfigReader& operator=(const ConfigReader&) = delete;

  ConfigMap root();
  const std::string& file_name() const { return file_name_; }
  const std::filesystem::path& base_dir() const { return base_dir_; }

  // Adds a problem for every key nobody asked for and returns all problems,
  // sorted by line and column. Call once, after every getter has run.
  std::vector<ConfigProblem> finish();

 private:
  friend class ConfigMap;
  struct MapState;
  void parse(std::string_view text);
  std::size_t add_map(const YAML::Node& node, std::string path, bool present);
  void add_problem(int line, int column, std::string key, std::string message);

  std::string file_name_;
  std::filesystem::path base_dir_;
  std::string source_;  // the parsed text, for problem_in_text()
  std::deque<MapState> maps_;
  std::vector<ConfigProblem> problems_;
};

// Parses a duration such as "250ms", "30s", "5m", "2h" into milliseconds.
Result<std::int64_t> parse_duration_ms(std::string_view text);
// Formats milliseconds with the largest unit that divides them exactly:
// 3600000 -> "1h", 90000 -> "90s", 1500 -> "1500ms".
std::string format_duration_ms(std::int64_t ms);
// Joins problems one per line, for an exception or a Result error.
std::string join_problems(const std::vector<ConfigProblem>& problems);

}  // namespace ta::proto
