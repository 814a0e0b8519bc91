#include "proto/yaml_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ta::proto {

struct ConfigReader::MapState {
  YAML::Node node;       // a mapping, or a null node for an absent mapping
  std::string path;      // dotted path of this mapping; empty for the root
  int line = 1;          // where problems about absent keys point
  int column = 1;
  bool names_are_data = false;  // named_maps(): keys are user data, never "unknown"
  std::vector<std::string> asked;
};

struct ConfigMap::Found {
  YAML::Node value;
  bool present = false;
  int line = 1;
  int column = 1;
  std::string path;
};

namespace {

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kConfigQuoteLengthMax)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > kConfigQuoteLengthMax) out += "...";
  out += '"';
  return out;
}

// What the user actually wrote, for "got ..." in messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
  }
  return "an unknown YAML node";
}

// Digits with an optional leading '-'; no '+', spaces, hex or exponents.
Result<std::int64_t> parse_integer(std::string_view text) {
  std::size_t i = 0;
  bool negative = false;
  if (!text.empty() && text[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i == text.size()) return make_error("not an integer");
  constexpr std::size_t kDigitsMax = 18;  // always fits in int64
  if (text.size() - i > kDigitsMax) return make_error("too many digits");
  std::int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return make_error("not an integer");
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

}  // namespace

// ---------------------------------------------------------------- problems

std::string ConfigProblem::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key.empty()) out += "key '" + key + "': ";
  out += message;
  return out;
}

std::string join_problems(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.to_string();
  }
  return out;
}

// --------------------------------------------------------------- durations

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return make_error("a duration starts with digits");
  // Twelve digits of hours is at most 3.6e18 ms, which still fits int64.
  constexpr std::size_t kDigitsMax = 12;
  if (digits > kDigitsMax) return make_error("too many digits");
  const auto number = parse_integer(text.substr(0, digits));
  if (!number) return make_error(number.error().message);
  const std::string_view unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60 * 1000;
  } else if (unit == "h") {
    scale = 60 * 60 * 1000;
  } else {
    return make_error("unit must be ms, s, m or h");
  }
  return *number * scale;
}

std::string format_duration_ms(std::int64_t ms) {
  constexpr std::int64_t kHour = 3'600'000;
  constexpr std::int64_t kMinute = 60'000;
  constexpr std::int64_t kSecond = 1'000;
  if (ms != 0 && ms % kHour == 0) return std::to_string(ms / kHour) + "h";
  if (ms != 0 && ms % kMinute == 0) return std::to_string(ms / kMinute) + "m";
  if (ms != 0 && ms % kSecond == 0) return std::to_string(ms / kSecond) + "s";
  return std::to_string(ms) + "ms";
}

// ------------------------------------------------------------------ reader

ConfigReader::ConfigReader(const std::filesystem::path& file) : file_name_(file.string()) {
  std::error_code ec;
  base_dir_ = std::filesystem::absolute(file, ec).parent_path();
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) {
    add_problem(0, 0, "", "cannot read: " + ec.message());
    parse("");
    return;
  }
  if (size > kConfigFileSizeMax) {
    add_problem(0, 0, "", "file is " + std::to_string(size) + " bytes, larger than the " +
                              std::to_string(kConfigFileSizeMax) + "-byte limit for a config file");
    parse("");
    return;
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    add_problem(0, 0, "", "cannot read the file");
    parse("");
    return;
  }
  parse(text.str());
}

ConfigReader::ConfigReader(std::string_view text, std::string file_name, std::filesystem::path base_dir)
    : file_name_(std::move(file_name)), base_dir_(std::move(base_dir)) {
  parse(text);
}

ConfigReader::~ConfigReader() = default;

void ConfigReader::parse(std::string_view text) {
  source_.assign(text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    add_problem(e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error: " + e.msg);
    root.reset();
  }
  if (!root.IsMap() && !root.IsNull()) {
    add_problem(root.Mark().line + 1, root.Mark().column + 1, "",
                "the file must be a mapping of keys to values, got " + describe(root));
    root.reset();
  }
  add_map(root, "", true);
}

std::size_t ConfigReader::add_map(const YAML::Node& node, std::string path, bool present) {
  MapState state;
  state.node.reset(node);
  state.path = std::move(path);
  if (present && node.IsMap()) {
    state.line = node.Mark().line + 1;
    state.column = node.Mark().column + 1;
    std::vector<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Mark mark = it->first.Mark();
      if (!it->first.IsScalar()) {
        add_problem(mark.line + 1, mark.column + 1, state.path, "keys must be plain text");
        continue;
      }
      const std::string& key = it->first.Scalar();
      const std::string full = state.path.empty() ? key : state.path + "." + key;
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        add_problem(mark.line + 1, mark.column + 1, full, "duplicate key");
      }
      seen.push_back(key);
    }
  }
  maps_.push_back(std::move(state));
  return maps_.size() - 1;
}

void ConfigReader::add_problem(int line, int column, std::string key, std::string message) {
  problems_.push_back(ConfigProblem{file_name_, line, column, std::move(key), std::move(message)});
}

ConfigMap ConfigReader::root() { return ConfigMap(this, 0); }

std::vector<ConfigProblem> ConfigReader::finish() {
  for (const MapState& m : maps_) {
    if (m.names_are_data || !m.node.IsMap()) continue;
    for (auto it = m.node.begin(); it != m.node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      if (std::find(m.asked.begin(), m.asked.end(), key) != m.asked.end()) continue;
      std::string allowed;
      for (const auto& a : m.asked) allowed += (allowed.empty() ? "" : ", ") + a;
      const YAML::Mark mark = it->first.Mark();
      add_problem(mark.line + 1, mark.column + 1, m.path.empty() ? key : m.path + "." + key,
                  "unknown key; allowed keys here: " + (allowed.empty() ? std::string("none") : allowed));
    }
  }
  std::stable_sort(problems_.begin(), problems_.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return problems_;
}

// --------------------------------------------------------------------- map

std::string ConfigMap::key_path(std::string_view key) const {
  const std::string& base = reader_->maps_[index_].path;
  return base.empty() ? std::string(key) : base + "." + std::string(key);
}

ConfigMap::Found ConfigMap::find(std::string_view key, Need need) {
  auto& state = reader_->maps_[index_];
  if (std::find(state.asked.begin(), state.asked.end(), key) == state.asked.end()) {
    state.asked.emplace_back(key);
  }
  Found found;
  found.path = key_path(key);
  found.line = state.line;
  found.column = state.column;
  if (state.node.IsMap()) {
    for (auto it = state.node.begin(); it != state.node.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        found.value.reset(it->second);
        found.present = true;
        // A null value has no useful mark of its own; point at the key.
        const YAML::Mark mark = it->second.IsNull() ? it->first.Mark() : it->second.Mark();
        found.line = mark.line + 1;
        found.column = mark.column + 1;
        break;
      }
    }
  }
  if (!found.present && need == Need::kRequired) {
    reader_->add_problem(found.line, found.column, found.path, "missing required key");
  }
  return found;
}

void ConfigMap::wrong(const Found& found, std::string_view expected) {
  reader_->add_problem(found.line, found.column, found.path,
                       "expected " + std::string(expected) + ", got " + describe(found.value));
}

void ConfigMap::problem(std::string_view key, std::string message) {
  auto& state = reader_->maps_[index_];
  int line = state.line;
  int column = state.column;
  if (state.node.IsMap()) {
    for (auto it = state.node.begin(); it != state.node.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) {
        const YAML::Mark mark = it->second.IsNull() ? it->first.Mark() : it->second.Mark();
        line = mark.line + 1;
        column = mark.column + 1;
        break;
      }
    }
  }
  reader_->add_problem(line, column, key_path(key), std::move(message));
}

namespace {

// Where decoded character `offset` of the scalar starting at source byte
// `start` lies in the source, or -1 when that cannot be said exactly (block
// scalars, line breaks before the offset, text ending early).
long source_offset(const std::string& source, std::size_t start, std::size_t offset) {
  if (start >= source.size()) return -1;
  const char open = source[start];
  if (open == '|' || open == '>') return -1;
  const bool double_quoted = open == '"';
  const bool single_quoted = open == '\'';
  std::size_t i = start + ((double_quoted || single_quoted) ? 1 : 0);
  for (std::size_t decoded = 0; decoded < offset; ++decoded) {
    if (i >= source.size() || source[i] == '\n' || source[i] == '\r') return -1;
    if (double_quoted && source[i] == '\\' && i + 1 < source.size()) {
      // One escape decodes to one character; \xHH, \uHHHH and \UHHHHHHHH
      // are longer in the source.
      const char e = source[i + 1];
      i += e == 'x' ? 4 : e == 'u' ? 6 : e == 'U' ? 10 : 2;
    } else if (single_quoted && source[i] == '\'' && i + 1 < source.size() && source[i + 1] == '\'') {
      i += 2;
    } else {
      ++i;
    }
  }
  // The offset may point just past the last character (an "unexpected end"
  // problem); that is still on the line.
  if (i > source.size()) return -1;
  return static_cast<long>(i - start);
}

}  // namespace

void ConfigMap::problem_in_text(std::string_view key, std::size_t offset, std::string message) {
  auto& state = reader_->maps_[index_];
  if (state.node.IsMap()) {
    for (auto it = state.node.begin(); it != state.node.end(); ++it) {
      if (!it->first.IsScalar() || it->first.Scalar() != key || !it->second.IsScalar()) continue;
      const YAML::Mark mark = it->second.Mark();
      const long shift =
          mark.pos < 0 ? -1 : source_offset(reader_->source_, static_cast<std::size_t>(mark.pos), offset);
      if (shift < 0) {
        message = "at character " + std::to_string(offset + 1) + ": " + message;
        reader_->add_problem(mark.line + 1, mark.column + 1, key_path(key), std::move(message));
      } else {
        reader_->add_problem(mark.line + 1, mark.column + 1 + static_cast<int>(shift), key_path(key),
                             std::move(message));
      }
      return;
    }
  }
  problem(key, std::move(message));
}

std::vector<std::string> ConfigMap::keys() const {
  std::vector<std::string> out;
  const auto& state = reader_->maps_[index_];
  if (!state.node.IsMap()) return out;
  for (auto it = state.node.begin(); it != state.node.end(); ++it) {
    if (it->first.IsScalar()) out.push_back(it->first.Scalar());
  }
  return out;
}

std::int64_t ConfigMap::integer(std::string_view key, Need need, std::int64_t fallback, std::int64_t min,
                                std::int64_t max) {
  const Found f = find(key, need);
  if (!f.present) return fallback;
  const std::string expected = "integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!f.value.IsScalar()) {
    wrong(f, expected);
    return fallback;
  }
  const auto v = parse_integer(f.value.Scalar());
  if (!v || *v < min || *v > max) {
    wrong(f, expected);
    return fallback;
  }
  return *v;
}

bool ConfigMap::boolean(std::string_view key, Need need, bool fallback) {
  const Found f = find(key, need);
  if (!f.present) return fallback;
  if (f.value.IsScalar() && f.value.Scalar() == "true") return true;
  if (f.value.IsScalar() && f.value.Scalar() == "false") return false;
  wrong(f, "true or false");
  return fallback;
}

std::string ConfigMap::text(std::string_view key, Need need, std::string_view fallback, std::size_t length_max) {
  const Found f = find(key, need);
  if (!f.present) return std::string(fallback);
  if (!f.value.IsScalar() || f.value.Scalar().empty() || f.value.Scalar().size() > length_max) {
    wrong(f, "text of 1 to " + std::to_string(length_max) + " characters");
    return std::string(fallback);
  }
  return f.value.Scalar();
}

std::string ConfigMap::choice(std::string_view key, Need need, std::string_view fallback,
                              std::initializer_list<std::string_view> allowed) {
  const Found f = find(key, need);
  if (!f.present) return std::string(fallback);
  if (f.value.IsScalar()) {
    for (std::string_view a : allowed) {
      if (f.value.Scalar() == a) return std::string(a);
    }
  }
  std::string expected = "one of ";
  bool first = true;
  for (std::string_view a : allowed) {
    expected += (first ? "" : ", ") + std::string(a);
    first = false;
  }
  wrong(f, expected);
  return std::string(fallback);
}

Decimal ConfigMap::decimal(std::string_view key, Need need, Decimal fallback, Decimal min, Decimal max) {
  const Found f = find(key, need);
  if (!f.present) return fallback;
  const std::string expected = "decimal in [" + min.to_string() + ", " + max.to_string() + "]";
  if (!f.value.IsScalar()) {
    wrong(f, expected);
    return fallback;
  }
  const auto v = Decimal::parse(f.value.Scalar());
  if (!v || *v < min || *v > max) {
    wrong(f, expected);
    return fallback;
  }
  return *v;
}

std::int64_t ConfigMap::duration_ms(std::string_view key, Need need, std::int64_t fallback_ms,
                                    std::int64_t min_ms, std::int64_t max_ms) {
  const Found f = find(key, need);
  if (!f.present) return fallback_ms;
  const std::string expected = "duration in [" + format_duration_ms(min_ms) + ", " + format_duration_ms(max_ms) +
                               "] (a whole number with unit ms, s, m or h)";
  if (!f.value.IsScalar()) {
    wrong(f, expected);
    return fallback_ms;
  }
  const auto v = parse_duration_ms(f.value.Scalar());
  if (!v || *v < min_ms || *v > max_ms) {
    wrong(f, expected);
    return fallback_ms;
  }
  return *v;
}

std::filesystem::path ConfigMap::path(std::string_view key, Need need, std::string_view fallback) {
  const Found f = find(key, need);
  std::filesystem::path p{std::string(fallback)};
  if (f.present) {
    constexpr std::size_t kPathLengthMax = 4096;  // PATH_MAX on Linux
    if (!f.value.IsScalar() || f.value.Scalar().empty() || f.value.Scalar().size() > kPathLengthMax) {
      wrong(f, "a path of 1 to " + std::to_string(kPathLengthMax) + " characters");
    } else {
      p = f.value.Scalar();
    }
  }
  if (p.empty()) return p;
  if (p.is_relative()) p = reader_->base_dir_ / p;
  return p.lexically_normal();
}

std::vector<std::int64_t> ConfigMap::integer_list(std::string_view key, Need need, std::int64_t min,
                                                  std::int64_t max, std::size_t count_max) {
  const Found f = find(key, need);
  std::vector<std::int64_t> out;
  if (!f.present) return out;
  const std::string element = "integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!f.value.IsSequence() || f.value.size() > count_max) {
    wrong(f, "a list of at most " + std::to_string(count_max) + " items, each an " + element);
    return out;
  }
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    const YAML::Node& seq = f.value;
    const YAML::Node item = seq[i];
    const auto v = item.IsScalar() ? parse_integer(item.Scalar()) : Result<std::int64_t>(make_error(""));
    if (!v || *v < min || *v > max) {
      Found at = f;
      at.value.reset(item);  // rebind; operator= would overwrite the document
      at.line = item.Mark().line + 1;
      at.column = item.Mark().column + 1;
      at.path = f.path + "[" + std::to_string(i) + "]";
      wrong(at, element);
      continue;
    }
    out.push_back(*v);
  }
  return out;
}

std::vector<std::string> ConfigMap::text_list(std::string_view key, Need need, std::size_t length_max,
                                              std::size_t count_max) {
  const Found f = find(key, need);
  std::vector<std::string> out;
  if (!f.present) return out;
  const std::string element = "text of 1 to " + std::to_string(length_max) + " characters";
  if (!f.value.IsSequence() || f.value.size() > count_max) {
    wrong(f, "a list of at most " + std::to_string(count_max) + " items, each a " + element);
    return out;
  }
  for (std::size_t i = 0; i < f.value.size(); ++i) {
    const YAML::Node& seq = f.value;
    const YAML::Node item = seq[i];
    if (!item.IsScalar() || item.Scalar().empty() || item.Scalar().size() > length_max) {
      Found at = f;
      at.value.reset(item);  // rebind; operator= would overwrite the document
      at.line = item.Mark().line + 1;
      at.column = item.Mark().column + 1;
      at.path = f.path + "[" + std::to_string(i) + "]";
      wrong(at, element);
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

ConfigMap ConfigMap::map(std::string_view key, Need need) {
  // Asking twice for the same mapping returns the same state, so the keys
  // read through either handle count as known and problems are not doubled.
  const std::string path = key_path(key);
  for (std::size_t i = 1; i < reader_->maps_.size(); ++i) {
    if (reader_->maps_[i].path == path) return ConfigMap(reader_, i);
  }
  const Found f = find(key, need);
  if (f.present && !f.value.IsMap()) wrong(f, "a mapping");
  const bool usable = f.present && f.value.IsMap();
  const std::size_t index = reader_->add_map(usable ? f.value : YAML::Node(), f.path, usable);
  // An absent mapping reports its missing required keys where it would go.
  reader_->maps_[index].line = f.line;
  reader_->maps_[index].column = f.column;
  return ConfigMap(reader_, index);
}

std::vector<std::pair<std::string, ConfigMap>> ConfigMap::named_maps(std::string_view key, Need need,
                                                                     std::size_t count_max) {
  std::vector<std::pair<std::string, ConfigMap>> out;
  ConfigMap outer = map(key, need);
  auto& outer_state = reader_->maps_[outer.index_];
  outer_state.names_are_data = true;
  const YAML::Node node = outer_state.node;
  if (!node.IsMap()) return out;
  if (node.size() > count_max) {
    problem(key, "at most " + std::to_string(count_max) + " entries allowed, got " + std::to_string(node.size()));
    return out;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string name = it->first.Scalar();
    out.emplace_back(name, outer.map(name, Need::kRequired));
  }
  return out;
}

}  // namespace ta::proto
