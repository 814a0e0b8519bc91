#include "strategy/declarative.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <optional>
#include <span>
#include <sstream>

#include "indicators/indicators.h"
#include "plan.h"

namespace ta::agent {

using detail::Arg;
using detail::NodeKind;
using detail::NodePlan;
using detail::Plan;
using detail::Program;
using proto::ConfigMap;
using proto::ConfigProblem;
using proto::ConfigReader;
using proto::Need;

namespace {

// ------------------------------------------------------------ vocabulary

constexpr std::array<std::string_view, 5> kBarFields = {"open", "high", "low", "close", "volume"};
constexpr std::array<std::string_view, 5> kKeywords = {"and", "or", "not", "crosses_above", "crosses_below"};
constexpr std::size_t kNameLengthMax = 32;
constexpr std::size_t kArgTextLengthMax = 64;
constexpr double kKStdevsMax = ind::Bollinger::kStdevsMax;
// Stop multiples above 100 (ATRs, standard deviations) are no stop at all.
constexpr double kStopMultipleMin = 0.01;
constexpr double kStopMultipleMax = 100;
constexpr double kStopPercentMin = 0.01;
constexpr double kStopPercentMax = 99;

struct NodeType {
  std::string_view name;
  NodeKind kind;
  bool series_input;           // reads `input` (a series); otherwise reads the bar
  std::string_view period_key; // "period", "bars", or empty for none
  double period_min;
  double period_max;
  bool has_k;
  std::array<std::string_view, detail::kNodeOutputsMax> outputs;  // empty: one unnamed output
  std::uint8_t output_count;
  std::string_view description;
};

constexpr double kPeriodMax = static_cast<double>(ind::kPeriodMax);

constexpr std::array<NodeType, detail::kNodeKindCount> kNodeTypes = {{
    {"sma", NodeKind::kSma, true, "period", 1, kPeriodMax, false, {}, 1, "simple moving average"},
    {"ema", NodeKind::kEma, true, "period", 1, kPeriodMax, false, {}, 1, "exponential moving average"},
    {"rsi", NodeKind::kRsi, true, "period", 1, kPeriodMax, false, {}, 1, "relative strength index (Wilder)"},
    {"atr", NodeKind::kAtr, false, "period", 1, kPeriodMax, false, {}, 1, "average true range (Wilder)"},
    {"bollinger", NodeKind::kBollinger, true, "period", 1, kPeriodMax, true, {"upper", "middle", "lower", "stdev"}, 4,
     "Bollinger bands"},
    {"vwap", NodeKind::kVwap, false, "period", 1, kPeriodMax, false, {}, 1, "rolling volume-weighted average price"},
    {"session_vwap", NodeKind::kSessionVwap, false, "", 0, 0, false, {}, 1, "VWAP since 00:00 UTC"},
    {"zscore", NodeKind::kZScore, true, "period", 1, kPeriodMax, false, {}, 1, "z-score over a window"},
    {"realized_vol", NodeKind::kRealizedVol, true, "period", 2, kPeriodMax, false, {}, 1,
     "annualized realized volatility of log returns"},
    {"donchian", NodeKind::kDonchian, false, "period", 1, kPeriodMax, false, {"upper", "middle", "lower"}, 3,
     "Donchian channel"},
    {"lag", NodeKind::kLag, true, "bars", 1, static_cast<double>(kLagBarsMax), false, {}, 1,
     "the input as it was `bars` bars ago"},
}};

constexpr std::array<std::string_view, detail::kNodeKindCount> kNodeTypeNames = {
    "sma", "ema", "rsi", "atr", "bollinger", "vwap", "session_vwap", "zscore", "realized_vol", "donchian", "lag"};

const NodeType* find_type(std::string_view name) {
  for (const auto& t : kNodeTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "none" : out;
}

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

bool valid_identifier(std::string_view name) {
  if (name.empty() || name.size() > kNameLengthMax || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool reserved(std::string_view name) {
  return std::find(kBarFields.begin(), kBarFields.end(), name) != kBarFields.end() ||
         std::find(kKeywords.begin(), kKeywords.end(), name) != kKeywords.end();
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty() || text[0] == '+') return std::nullopt;
  double v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool integer_text(std::string_view text) {
  std::size_t i = (!text.empty() && text[0] == '-') ? 1 : 0;
  if (i == text.size()) return false;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// ------------------------------------------------------------- loading

std::vector<double> constant_slots(const Plan& plan, std::span<const ParamSpec> params);

struct ParamDef {
  ParamSpec spec;
};

struct NodeRef {
  int node = -1;        // -1: a bar field
  int output = 0;       // index into the node's outputs
  std::uint16_t bar_slot = detail::kSlotClose;
};

struct NodeDef {
  std::string name;
  const NodeType* type = nullptr;
  std::optional<ConfigMap> args;
  std::string input_text = "close";
  NodeRef input;
  bool input_ok = true;
  Arg period;
  Arg k;
};

class Loader {
 public:
  explicit Loader(ConfigReader& reader) : reader_(reader), root_(reader.root()) {}

  StrategyLoad run();

 private:
  void read_params();
  void read_nodes();
  void resolve_inputs();
  bool order_nodes();
  void assign_slots();
  Program read_condition(ConfigMap& map, std::string_view key);
  void read_conditions();
  void read_stops();
  void read_constraints();
  void check_initial_constraints();

  std::optional<Arg> read_arg(ConfigMap& map, std::string_view key, Need need, double fallback, double min,
                              double max, bool integer);
  Result<NodeRef> resolve_ref(std::string_view name) const;
  Result<std::uint16_t> resolve_slot(std::string_view name);
  std::uint16_t param_slot(int param);
  std::uint16_t literal_slot(double value);
  std::optional<std::uint16_t> negated_slot(std::uint16_t slot);
  int find_param(std::string_view name) const;
  int find_node(std::string_view name) const;
  std::string known_names(bool with_params) const;

  ConfigReader& reader_;
  ConfigMap root_;
  std::string name_;
  std::vector<ParamDef> params_;
  std::vector<NodeDef> nodes_;
  std::vector<int> order_;  // node indices, dependency order
  std::vector<std::uint16_t> first_slot_;  // per node (by index)
  Plan plan_;
  std::map<int, std::uint16_t> param_slots_;
  std::vector<std::pair<double, std::uint16_t>> literal_slots_;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> negated_slots_;  // slot, its negation
  bool graph_ok_ = true;
};

int Loader::find_param(std::string_view name) const {
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].spec.name == name) return static_cast<int>(i);
  }
  return -1;
}

int Loader::find_node(std::string_view name) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Loader::known_names(bool with_params) const {
  std::string out = "bar fields (open, high, low, close, volume)";
  std::vector<std::string> nodes;
  for (const auto& n : nodes_) {
    if (n.type == nullptr) continue;
    if (n.type->output_count == 1) {
      nodes.push_back(n.name);
    } else {
      for (std::size_t o = 0; o < n.type->output_count; ++o) nodes.push_back(n.name + "." + std::string(n.type->outputs[o]));
    }
  }
  out += ", nodes (" + join(nodes) + ")";
  if (with_params) {
    std::vector<std::string> params;
    for (const auto& p : params_) params.push_back(p.spec.name);
    out += ", parameters (" + join(params) + ")";
  }
  return out;
}

void Loader::read_params() {
  auto entries = root_.named_maps("params", Need::kOptional, kParamsMax);
  ConfigMap params_map = root_.map("params", Need::kOptional);
  for (auto& [pname, m] : entries) {
    const std::string value_text = m.text("value", Need::kRequired, "", kArgTextLengthMax);
    const std::string min_text = m.text("min", Need::kRequired, "", kArgTextLengthMax);
    const std::string max_text = m.text("max", Need::kRequired, "", kArgTextLengthMax);
    const std::string description = m.text("description", Need::kOptional, "", kDescriptionLengthMax);
    if (!valid_identifier(pname) || reserved(pname)) {
      params_map.problem(pname, "parameter name '" + pname +
                                    "' must be 1 to 32 characters from a-z, 0-9 and '_', start with a letter, and "
                                    "not be a bar field or keyword");
      continue;
    }
    if (value_text.empty() || min_text.empty() || max_text.empty()) continue;
    const auto value = parse_number(value_text);
    const auto min = parse_number(min_text);
    const auto max = parse_number(max_text);
    bool ok = true;
    if (!value) m.problem("value", "expected a number, got \"" + value_text + "\""), ok = false;
    if (!min) m.problem("min", "expected a number, got \"" + min_text + "\""), ok = false;
    if (!max) m.problem("max", "expected a number, got \"" + max_text + "\""), ok = false;
    if (!ok) continue;
    if (*min > *max) {
      m.problem("min", "min " + min_text + " is greater than max " + max_text);
      continue;
    }
    if (*value < *min || *value > *max) {
      m.problem("value", "value " + value_text + " is outside the bounds [" + min_text + ", " + max_text + "]");
      continue;
    }
    if (find_param(pname) >= 0) continue;  // duplicate keys are reported by the reader
    ParamSpec spec;
    spec.name = pname;
    spec.value = *value;
    spec.min = *min;
    spec.max = *max;
    spec.integer = integer_text(value_text) && integer_text(min_text) && integer_text(max_text);
    spec.description = description;
    params_.push_back({std::move(spec)});
  }
}

std::optional<Arg> Loader::read_arg(ConfigMap& map, std::string_view key, Need need, double fallback, double min,
                                    double max, bool integer) {
  const std::string text = map.text(key, need, "", kArgTextLengthMax);
  if (text.empty()) return Arg{fallback, -1};
  const std::string range = (integer ? "an integer in [" : "a number in [") + number_text(min) + ", " +
                            number_text(max) + "]";
  if (const auto v = parse_number(text)) {
    if (*v < min || *v > max || (integer && !integer_text(text))) {
      map.problem(key, "expected " + range + " or a parameter name, got \"" + text + "\"");
      return std::nullopt;
    }
    return Arg{*v, -1};
  }
  if (!valid_identifier(text)) {
    map.problem(key, "expected " + range + " or a parameter name, got \"" + text + "\"");
    return std::nullopt;
  }
  const int p = find_param(text);
  if (p < 0) {
    std::vector<std::string> names;
    for (const auto& d : params_) names.push_back(d.spec.name);
    map.problem(key, "unknown parameter '" + text + "'; parameters: " + join(names));
    return std::nullopt;
  }
  const ParamSpec& spec = params_[static_cast<std::size_t>(p)].spec;
  if (integer && !spec.integer) {
    map.problem(key, "parameter '" + text + "' must be a whole-number parameter here (value, min and max "
                     "written without decimals)");
    return std::nullopt;
  }
  if (spec.min < min || spec.max > max) {
    map.problem(key, "parameter '" + text + "' may range over [" + number_text(spec.min) + ", " +
                         number_text(spec.max) + "], beyond [" + number_text(min) + ", " + number_text(max) +
                         "] allowed for '" + std::string(key) + "'");
    return std::nullopt;
  }
  return Arg{0, p};
}

void Loader::read_nodes() {
  ConfigMap nodes_map = root_.map("nodes", Need::kRequired);
  const auto names = nodes_map.keys();
  if (names.size() > kNodesMax) {
    // Still read every node below, so the file's other problems show too.
    nodes_map.problem(names[kNodesMax], "at most " + std::to_string(kNodesMax) + " nodes are allowed");
    graph_ok_ = false;
  }
  for (const auto& name : names) {
    ConfigMap node = nodes_map.map(name, Need::kRequired);
    // Ask for every type so an unknown one is reported with the full list.
    for (std::string_view t : kNodeTypeNames) (void)node.map(t, Need::kOptional);
    NodeDef def;
    def.name = name;
    if (!valid_identifier(name) || reserved(name)) {
      nodes_map.problem(name, "node name '" + name +
                                  "' must be 1 to 32 characters from a-z, 0-9 and '_', start with a letter, and not "
                                  "be a bar field or keyword");
      graph_ok_ = false;
    } else if (find_param(name) >= 0) {
      nodes_map.problem(name, "'" + name + "' is both a node and a parameter");
      graph_ok_ = false;
    }
    const auto types = node.keys();
    if (types.size() != 1) {
      nodes_map.problem(name, "a node has exactly one type, one of: sma, ema, rsi, atr, bollinger, vwap, "
                              "session_vwap, zscore, realized_vol, donchian, lag");
      graph_ok_ = false;
    }
    // Every known type present is read (so its arguments are checked once
    // and not reported as unknown keys); an unknown one is reported by
    // finish() with the list of types.
    bool first = true;
    for (const auto& t : types) {
      const NodeType* type = find_type(t);
      if (type == nullptr) {
        graph_ok_ = false;
        continue;
      }
      NodeDef parsed = def;
      parsed.type = type;
      ConfigMap args = node.map(type->name, Need::kRequired);
      if (type->series_input) parsed.input_text = args.text("input", Need::kOptional, "close", kArgTextLengthMax);
      if (!type->period_key.empty()) {
        const auto period =
            read_arg(args, type->period_key, Need::kRequired, 0, type->period_min, type->period_max, true);
        if (period) parsed.period = *period; else graph_ok_ = false;
      }
      if (type->has_k) {
        const auto k = read_arg(args, "k", Need::kOptional, 2.0, 0, kKStdevsMax, false);
        if (k) parsed.k = *k; else graph_ok_ = false;
      }
      parsed.args = args;
      if (first && types.size() == 1) def = std::move(parsed);
      first = false;
    }
    nodes_.push_back(std::move(def));
  }
}

Result<NodeRef> Loader::resolve_ref(std::string_view name) const {
  for (std::size_t i = 0; i < kBarFields.size(); ++i) {
    if (kBarFields[i] == name) {
      NodeRef r;
      r.bar_slot = static_cast<std::uint16_t>(i);
      return r;
    }
  }
  const auto dot = name.find('.');
  const std::string_view base = name.substr(0, dot);
  const std::string_view output = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  const int n = find_node(base);
  if (n < 0 || nodes_[static_cast<std::size_t>(n)].type == nullptr) {
    return make_error("unknown name '" + std::string(name) + "'");
  }
  const NodeType& t = *nodes_[static_cast<std::size_t>(n)].type;
  NodeRef r;
  r.node = n;
  if (t.output_count == 1) {
    if (dot != std::string_view::npos) {
      return make_error("node '" + std::string(base) + "' has a single output; write '" + std::string(base) + "'");
    }
    return r;
  }
  std::vector<std::string> outs;
  for (std::size_t o = 0; o < t.output_count; ++o) outs.push_back(std::string(base) + "." + std::string(t.outputs[o]));
  if (dot == std::string_view::npos) {
    return make_error("node '" + std::string(base) + "' has several outputs; name one: " + join(outs));
  }
  for (std::size_t o = 0; o < t.output_count; ++o) {
    if (t.outputs[o] == output) {
      r.output = static_cast<int>(o);
      return r;
    }
  }
  return make_error("node '" + std::string(base) + "' has no output '" + std::string(output) + "'; outputs: " + join(outs));
}

void Loader::resolve_inputs() {
  for (auto& n : nodes_) {
    if (n.type == nullptr || !n.type->series_input) continue;
    const auto ref = resolve_ref(n.input_text);
    if (!ref) {
      const std::string msg = ref.error().message.rfind("unknown name", 0) == 0
                                  ? "unknown input '" + n.input_text + "'; an input is one of " + known_names(false)
                                  : ref.error().message;
      n.args->problem("input", msg);
      n.input_ok = false;
      graph_ok_ = false;
      continue;
    }
    n.input = *ref;
  }
}

// Kahn's algorithm in file order (deterministic). Nodes left over sit on or
// behind a cycle; the first in file order that is on one is reported with
// the cycle's path.
bool Loader::order_nodes() {
  const std::size_t n = nodes_.size();
  std::vector<int> pending_inputs(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    if (nodes_[i].input_ok && nodes_[i].input.node >= 0) pending_inputs[i] = 1;
  }
  std::vector<bool> done(n, false);
  bool progress = true;
  while (progress) {
    progress = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      const int dep = nodes_[i].input_ok ? nodes_[i].input.node : -1;
      if (dep >= 0 && !done[static_cast<std::size_t>(dep)]) continue;
      done[i] = true;
      order_.push_back(static_cast<int>(i));
      progress = true;
    }
  }
  if (order_.size() == n) return true;
  ConfigMap nodes_map = root_.map("nodes", Need::kRequired);
  std::vector<bool> reported(n, false);
  for (std::size_t start = 0; start < n; ++start) {
    if (done[start] || reported[start]) continue;
    // Follow inputs until a node repeats; the repeat closes the cycle.
    std::vector<int> path;
    int cur = static_cast<int>(start);
    while (std::find(path.begin(), path.end(), cur) == path.end()) {
      path.push_back(cur);
      cur = nodes_[static_cast<std::size_t>(cur)].input.node;
    }
    // Report a cycle from its first node in file order; a node merely fed
    // by a cycle is not reported itself.
    if (cur != static_cast<int>(start)) continue;
    std::string text;
    for (const int i : path) {
      text += nodes_[static_cast<std::size_t>(i)].name + " -> ";
      reported[static_cast<std::size_t>(i)] = true;
    }
    text += nodes_[start].name;
    nodes_map.problem(nodes_[start].name, "cycle in node inputs: " + text);
  }
  return false;
}

std::uint16_t Loader::param_slot(int param) {
  if (const auto it = param_slots_.find(param); it != param_slots_.end()) return it->second;
  const auto slot = plan_.slot_count++;
  plan_.constants.push_back({slot, Arg{0, param}});
  param_slots_[param] = slot;
  return slot;
}

std::uint16_t Loader::literal_slot(double value) {
  for (const auto& [v, s] : literal_slots_) {
    if (v == value) return s;
  }
  const auto slot = plan_.slot_count++;
  plan_.constants.push_back({slot, Arg{value, -1}});
  literal_slots_.emplace_back(value, slot);
  return slot;
}

std::optional<std::uint16_t> Loader::negated_slot(std::uint16_t slot) {
  for (const auto& [from, to] : negated_slots_) {
    if (from == slot) return to;
  }
  for (const auto& c : plan_.constants) {
    if (c.slot != slot) continue;
    const auto neg = plan_.slot_count++;
    plan_.constants.push_back({neg, c.value, !c.negate});
    negated_slots_.emplace_back(slot, neg);
    return neg;
  }
  return std::nullopt;  // a bar field or node output
}

void Loader::assign_slots() {
  first_slot_.assign(nodes_.size(), 0);
  std::uint16_t next = detail::kBarSlots;
  for (const int i : order_) {
    const NodeDef& d = nodes_[static_cast<std::size_t>(i)];
    NodePlan p;
    p.kind = d.type->kind;
    p.name = d.name;
    p.period = d.period;
    p.k = d.k;
    p.outputs = d.type->output_count;
    first_slot_[static_cast<std::size_t>(i)] = next;
    for (std::uint8_t o = 0; o < p.outputs; ++o) {
      p.out[o] = next++;
      plan_.node_output_slots.push_back(p.out[o]);
    }
    if (d.type->series_input) {
      p.input = d.input.node < 0 ? d.input.bar_slot
                                 : static_cast<std::uint16_t>(first_slot_[static_cast<std::size_t>(d.input.node)] +
                                                              d.input.output);
    }
    plan_.nodes.push_back(std::move(p));
  }
  plan_.dynamic_slots = next;
  plan_.slot_count = next;
}

Result<std::uint16_t> Loader::resolve_slot(std::string_view name) {
  if (name.find('.') == std::string_view::npos) {
    const int p = find_param(name);
    if (p >= 0) return param_slot(p);
  }
  const auto ref = resolve_ref(name);
  if (!ref) {
    if (ref.error().message.rfind("unknown name", 0) == 0) {
      return make_error("unknown name '" + std::string(name) + "'; names here: " + known_names(true));
    }
    return ref.error();
  }
  if (ref->node < 0) return ref->bar_slot;
  return static_cast<std::uint16_t>(first_slot_[static_cast<std::size_t>(ref->node)] + ref->output);
}

Program Loader::read_condition(ConfigMap& map, std::string_view key) {
  const std::string text = map.text(key, Need::kOptional, "", kConditionLengthMax);
  if (text.empty()) return {};
  detail::SlotResolver resolver;
  resolver.name = [this](std::string_view n) { return resolve_slot(n); };
  resolver.constant = [this](double v) { return literal_slot(v); };
  resolver.negated = [this](std::uint16_t slot) { return negated_slot(slot); };
  auto result = detail::compile_condition(text, resolver, kConditionTokensMax, kConditionDepthMax);
  for (const auto& e : result.errors) map.problem_in_text(key, e.offset, e.message);
  if (!result.errors.empty()) return {};
  plan_.uses_prev = plan_.uses_prev || result.program.uses_prev;
  return std::move(result.program);
}

void Loader::read_conditions() {
  const auto root_keys = root_.keys();
  const bool entry_present = std::find(root_keys.begin(), root_keys.end(), "entry") != root_keys.end();
  ConfigMap entry = root_.map("entry", Need::kRequired);
  ConfigMap exit = root_.map("exit", Need::kOptional);
  plan_.entry_long = read_condition(entry, "long");
  plan_.entry_short = read_condition(entry, "short");
  plan_.exit_long = read_condition(exit, "long");
  plan_.exit_short = read_condition(exit, "short");
  const auto keys = entry.keys();
  const bool has_entry = std::find(keys.begin(), keys.end(), "long") != keys.end() ||
                         std::find(keys.begin(), keys.end(), "short") != keys.end();
  if (entry_present && !has_entry) {
    entry.problem("long", "at least one entry condition is required: long, short or both");
  }
}

void Loader::read_stops() {
  const auto root_keys = root_.keys();
  const bool stops_present = std::find(root_keys.begin(), root_keys.end(), "stops") != root_keys.end();
  ConfigMap stops = root_.map("stops", Need::kRequired);
  const auto keys = stops.keys();
  const auto has = [&keys](std::string_view k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  if (has("atr_multiple")) {
    ConfigMap m = stops.map("atr_multiple", Need::kRequired);
    const std::string node = m.text("node", Need::kRequired, "", kArgTextLengthMax);
    const auto multiple = read_arg(m, "multiple", Need::kRequired, 0, kStopMultipleMin, kStopMultipleMax, false);
    if (!node.empty()) {
      const auto ref = resolve_ref(node);
      if (!ref || ref->node < 0) {
        m.problem("node", ref ? "the stop distance must be a node output (for example an atr node), not a bar field"
                              : "unknown node '" + node + "'; nodes: " + known_names(false));
      } else if (multiple && graph_ok_) {
        plan_.has_node_stop = true;
        plan_.stop_slot = static_cast<std::uint16_t>(first_slot_[static_cast<std::size_t>(ref->node)] + ref->output);
        plan_.stop_multiple = *multiple;
      }
    }
  }
  if (has("fixed_percent")) {
    const auto pct = read_arg(stops, "fixed_percent", Need::kRequired, 0, kStopPercentMin, kStopPercentMax, false);
    if (pct) {
      plan_.has_percent_stop = true;
      plan_.stop_percent = *pct;
    }
  }
  if (const auto h = read_arg(stops, "max_holding_bars", Need::kOptional, 0, 0, static_cast<double>(kHoldingBarsMax),
                              true)) {
    plan_.max_holding_bars = *h;
  }
  if (stops_present && !has("atr_multiple") && !has("fixed_percent")) {
    stops.problem("atr_multiple", "a protective stop is required: atr_multiple, fixed_percent or both");
  }
  if (const auto c = read_arg(root_, "cooldown_bars", Need::kOptional, 0, 0, static_cast<double>(kCooldownBarsMax),
                              true)) {
    plan_.cooldown_bars = *c;
  }
}

void Loader::read_constraints() {
  ConfigMap m = root_.map("constraints", Need::kOptional);
  const auto keys = m.keys();
  if (keys.size() > kConstraintsMax) {
    m.problem(keys[kConstraintsMax], "at most " + std::to_string(kConstraintsMax) + " constraints are allowed");
    return;
  }
  for (const auto& key : keys) {
    const std::string text = m.text(key, Need::kRequired, "", kConditionLengthMax);
    if (text.empty()) continue;
    detail::SlotResolver resolver;
    resolver.name = [this](std::string_view n) -> Result<std::uint16_t> {
      const int p = n.find('.') == std::string_view::npos ? find_param(n) : -1;
      if (p >= 0) return param_slot(p);
      return make_error("unknown name '" + std::string(n) + "'; constraints may only use parameters and numbers");
    };
    resolver.constant = [this](double v) { return literal_slot(v); };
    resolver.negated = [this](std::uint16_t slot) { return negated_slot(slot); };
    auto result = detail::compile_condition(text, resolver, kConditionTokensMax, kConditionDepthMax);
    for (const auto& e : result.errors) m.problem_in_text(key, e.offset, e.message);
    if (!result.errors.empty()) continue;
    plan_.constraints.push_back({key, text, std::move(result.program)});
  }
}

void Loader::check_initial_constraints() {
  std::vector<ParamSpec> specs;
  for (const auto& p : params_) specs.push_back(p.spec);
  ConfigMap m = root_.map("constraints", Need::kOptional);
  const auto v = constant_slots(plan_, specs);
  for (const auto& c : plan_.constraints) {
    bool bad = false;
    if (!detail::run_program(c.program, v.data(), v.data(), bad)) {
      m.problem(c.name, "constraint does not hold for the parameters' values");
    }
  }
}

// --------------------------------------------------------- evaluation

double arg_value(const Arg& a, std::span<const ParamSpec> params) {
  return a.param >= 0 ? params[static_cast<std::size_t>(a.param)].value : a.literal;
}

std::vector<double> constant_slots(const Plan& plan, std::span<const ParamSpec> params) {
  std::vector<double> v(plan.slot_count, ind::kNaN);
  for (const auto& c : plan.constants) {
    const double x = arg_value(c.value, params);
    v[c.slot] = c.negate ? -x : x;
  }
  return v;
}

Status check_constraints(const Plan& plan, std::span<const ParamSpec> params) {
  const auto v = constant_slots(plan, params);
  for (const auto& c : plan.constraints) {
    bool bad = false;
    if (!detail::run_program(c.program, v.data(), v.data(), bad)) {
      std::string values;
      for (const auto& p : params) values += (values.empty() ? "" : ", ") + p.name + " = " + number_text(p.value);
      return make_error("constraint '" + c.name + "' (" + c.text + ") does not hold for " + values);
    }
  }
  return {};
}

Signal make_not_finite() {
  Signal s;
  s.not_finite = true;
  return s;
}

class DeclarativeInstance final : public StrategyInstance {
 public:
  DeclarativeInstance(std::shared_ptr<const Plan> plan, std::span<const ParamSpec> params)
      : plan_(std::move(plan)), slots_a_(constant_slots(*plan_, params)), slots_b_(slots_a_) {
    cur_ = slots_a_.data();
    prev_ = slots_b_.data();
    const Plan& p = *plan_;
    ops_.reserve(p.nodes.size());
    for (const auto& n : p.nodes) {
      Op op;
      op.kind = n.kind;
      op.in = n.input;
      for (std::size_t o = 0; o < detail::kNodeOutputsMax; ++o) op.out[o] = n.out[o];
      const auto period = static_cast<std::size_t>(arg_value(n.period, params));
      switch (n.kind) {
        case NodeKind::kSma: op.state = smas_.size(); smas_.emplace_back(period); break;
        case NodeKind::kEma: op.state = emas_.size(); emas_.emplace_back(period); break;
        case NodeKind::kRsi: op.state = rsis_.size(); rsis_.emplace_back(period); break;
        case NodeKind::kAtr: op.state = atrs_.size(); atrs_.emplace_back(period); break;
        case NodeKind::kBollinger:
          op.state = bollingers_.size();
          bollingers_.emplace_back(period, arg_value(n.k, params));
          break;
        case NodeKind::kVwap: op.state = vwaps_.size(); vwaps_.push_back(ind::Vwap::rolling(period)); break;
        case NodeKind::kSessionVwap: op.state = vwaps_.size(); vwaps_.push_back(ind::Vwap::session_utc_day()); break;
        case NodeKind::kZScore: op.state = zscores_.size(); zscores_.emplace_back(period); break;
        case NodeKind::kRealizedVol: op.state = vols_.size(); vols_.emplace_back(period); break;
        case NodeKind::kDonchian: op.state = donchians_.size(); donchians_.emplace_back(period); break;
        case NodeKind::kLag:
          op.state = lags_.size();
          lags_.push_back(Lag{std::vector<double>(period, ind::kNaN), 0, 0});
          break;
      }
      ops_.push_back(op);
    }
    ready_bars_needed_ = p.uses_prev ? 2 : 1;
    if (p.has_node_stop) stop_multiple_ = arg_value(p.stop_multiple, params);
    if (p.has_percent_stop) stop_fraction_ = arg_value(p.stop_percent, params) / 100.0;
  }

  DeclarativeInstance(const DeclarativeInstance&) = delete;  // cur_/prev_ point into this object
  DeclarativeInstance& operator=(const DeclarativeInstance&) = delete;

  bool update(const Bar& bar) override {
    // Every dynamic slot is rewritten below, so last bar's array becomes
    // the previous one without a copy.
    std::swap(cur_, prev_);
    double* v = cur_;
    v[detail::kSlotOpen] = bar.open;
    v[detail::kSlotHigh] = bar.high;
    v[detail::kSlotLow] = bar.low;
    v[detail::kSlotClose] = bar.close;
    v[detail::kSlotVolume] = bar.volume;
    for (const Op& op : ops_) step(op, bar, v);
    if (!ready_) {
      bool all = true;
      for (const auto s : plan_->node_output_slots) all = all && std::isfinite(v[s]);
      ready_streak_ = all ? ready_streak_ + 1 : 0;
      ready_ = ready_streak_ >= ready_bars_needed_;
    }
    return ready_;
  }

  Signal entry(const Bar&) override {
    const Plan& p = *plan_;
    if (!p.entry_long.empty()) {
      bool bad = false;
      const bool fire = detail::run_program(p.entry_long, cur_, prev_, bad);
      if (bad) return make_not_finite();
      if (fire) return enter(SignalKind::kEnterLong);
    }
    if (!p.entry_short.empty()) {
      bool bad = false;
      const bool fire = detail::run_program(p.entry_short, cur_, prev_, bad);
      if (bad) return make_not_finite();
      if (fire) return enter(SignalKind::kEnterShort);
    }
    return {};
  }

  Signal exit(const Bar&, PositionSide side) override {
    const Plan& p = *plan_;
    const bool is_long = side == PositionSide::kLong;
    const Program& exit_program = is_long ? p.exit_long : p.exit_short;
    const Program& opposite = is_long ? p.entry_short : p.entry_long;
    if (side == PositionSide::kFlat) return {};
    if (!exit_program.empty()) {
      bool bad = false;
      const bool fire = detail::run_program(exit_program, cur_, prev_, bad);
      if (bad) return make_not_finite();
      if (fire) {
        Signal s;
        s.kind = SignalKind::kExit;
        s.reason = SignalReason::kExitCondition;
        return s;
      }
    }
    if (!opposite.empty()) {
      bool bad = false;
      const bool fire = detail::run_program(opposite, cur_, prev_, bad);
      if (bad) return make_not_finite();
      if (fire) {
        Signal s;
        s.kind = is_long ? SignalKind::kEnterShort : SignalKind::kEnterLong;
        s.reason = SignalReason::kEntryCondition;
        return s;
      }
    }
    return {};
  }

 private:
  struct Op {
    NodeKind kind = NodeKind::kSma;
    std::uint16_t in = 0;
    std::uint16_t out[detail::kNodeOutputsMax] = {};
    std::size_t state = 0;
  };
  struct Lag {
    std::vector<double> ring;  // the last `bars` inputs; the oldest at head
    std::size_t head = 0;
    std::size_t count = 0;
  };

  // The stop for an entry at this bar's close: the configured distance(s)
  // away from the close; with both, the nearer one. NaN when an input is not
  // finite.
  Signal enter(SignalKind kind) const {
    const Plan& p = *plan_;
    const double close = cur_[detail::kSlotClose];
    const bool is_long = kind == SignalKind::kEnterLong;
    double stop = ind::kNaN;
    if (p.has_node_stop) {
      const double d = cur_[p.stop_slot];
      stop = is_long ? close - stop_multiple_ * d : close + stop_multiple_ * d;
    }
    if (p.has_percent_stop) {
      const double pct_stop = is_long ? close * (1.0 - stop_fraction_) : close * (1.0 + stop_fraction_);
      if (!p.has_node_stop) {
        stop = pct_stop;
      } else if (std::isfinite(stop)) {
        stop = is_long ? std::max(stop, pct_stop) : std::min(stop, pct_stop);
      }
    }
    Signal s;
    s.kind = kind;
    s.reason = SignalReason::kEntryCondition;
    s.stop_price = stop;
    return s;
  }

  void step(const Op& op, const Bar& bar, double* v) {
    const double x = v[op.in];
    const bool ok = std::isfinite(x);
    switch (op.kind) {
      case NodeKind::kSma: v[op.out[0]] = ok ? smas_[op.state].update(x) : ind::kNaN; return;
      case NodeKind::kEma: v[op.out[0]] = ok ? emas_[op.state].update(x) : ind::kNaN; return;
      case NodeKind::kRsi: v[op.out[0]] = ok ? rsis_[op.state].update(x) : ind::kNaN; return;
      case NodeKind::kZScore: v[op.out[0]] = ok ? zscores_[op.state].update(x) : ind::kNaN; return;
      case NodeKind::kRealizedVol:
        // Log returns need positive inputs.
        v[op.out[0]] = (ok && x > 0) ? vols_[op.state].update(x) : ind::kNaN;
        return;
      case NodeKind::kAtr: v[op.out[0]] = atrs_[op.state].update(bar); return;
      case NodeKind::kVwap:
      case NodeKind::kSessionVwap: v[op.out[0]] = vwaps_[op.state].update(bar); return;
      case NodeKind::kBollinger: {
        if (!ok) {
          for (std::size_t o = 0; o < 4; ++o) v[op.out[o]] = ind::kNaN;
          return;
        }
        const auto b = bollingers_[op.state].update(x);
        v[op.out[0]] = b.upper;
        v[op.out[1]] = b.middle;
        v[op.out[2]] = b.lower;
        v[op.out[3]] = b.stdev;
        return;
      }
      case NodeKind::kDonchian: {
        const auto c = donchians_[op.state].update(bar);
        v[op.out[0]] = c.upper;
        v[op.out[1]] = c.middle;
        v[op.out[2]] = c.lower;
        return;
      }
      case NodeKind::kLag: {
        Lag& l = lags_[op.state];
        if (!ok) {
          v[op.out[0]] = ind::kNaN;
          return;
        }
        const std::size_t bars = l.ring.size();
        v[op.out[0]] = l.count >= bars ? l.ring[l.head] : ind::kNaN;
        l.ring[l.head] = x;
        if (++l.head == bars) l.head = 0;
        if (l.count < bars) ++l.count;
        return;
      }
    }
  }

  std::shared_ptr<const Plan> plan_;
  std::vector<double> slots_a_;
  std::vector<double> slots_b_;
  double* cur_ = nullptr;   // this bar's slots (one of the two arrays)
  double* prev_ = nullptr;  // the previous bar's
  std::vector<Op> ops_;
  std::vector<ind::Sma> smas_;
  std::vector<ind::Ema> emas_;
  std::vector<ind::Rsi> rsis_;
  std::vector<ind::Atr> atrs_;
  std::vector<ind::Bollinger> bollingers_;
  std::vector<ind::Vwap> vwaps_;
  std::vector<ind::ZScore> zscores_;
  std::vector<ind::RealizedVol> vols_;
  std::vector<ind::Donchian> donchians_;
  std::vector<Lag> lags_;
  double stop_multiple_ = 0;
  double stop_fraction_ = 0;
  int ready_bars_needed_ = 1;
  int ready_streak_ = 0;
  bool ready_ = false;
};

class DeclarativeDefinition final : public StrategyDefinition {
 public:
  DeclarativeDefinition(std::string name, std::vector<ParamSpec> params, std::shared_ptr<const Plan> plan)
      : StrategyDefinition(std::move(name), std::move(params)), plan_(std::move(plan)) {}
  std::string_view kind() const override { return "declarative"; }
  std::int64_t max_holding_bars() const override {
    return static_cast<std::int64_t>(arg_value(plan_->max_holding_bars, parameters()));
  }
  std::int64_t cooldown_bars() const override {
    return static_cast<std::int64_t>(arg_value(plan_->cooldown_bars, parameters()));
  }
  std::unique_ptr<StrategyInstance> instantiate() const override {
    return std::make_unique<DeclarativeInstance>(plan_, parameters());
  }

 protected:
  Result<std::shared_ptr<const StrategyDefinition>> rebuild(std::vector<ParamSpec> params) const override {
    if (auto st = check_constraints(*plan_, params); !st) return st.error();
    return std::shared_ptr<const StrategyDefinition>(
        std::make_shared<DeclarativeDefinition>(name(), std::move(params), plan_));
  }

 private:
  std::shared_ptr<const Plan> plan_;
};

StrategyLoad Loader::run() {
  name_ = root_.text("name", Need::kRequired, "", kStrategyNameLengthMax);
  if (!name_.empty()) {
    if (auto st = validate_strategy_name(name_); !st) root_.problem("name", st.error().message);
  }
  (void)root_.text("description", Need::kOptional, "", kDescriptionLengthMax);
  read_params();
  read_nodes();
  resolve_inputs();
  const bool graph_ok = graph_ok_ && order_nodes();
  if (graph_ok) {
    assign_slots();
  } else {
    // Conditions and stops are still checked (syntax, names) so one pass
    // reports as much as possible; their slots are never used.
    first_slot_.assign(nodes_.size(), 0);
  }
  read_conditions();
  read_stops();
  read_constraints();
  check_initial_constraints();
  StrategyLoad out;
  out.problems = reader_.finish();
  if (!out.problems.empty()) return out;
  if (!graph_ok) {
    // Every graph problem is reported above; this is a guard.
    out.problems.push_back(ConfigProblem{reader_.file_name(), 0, 0, "nodes", "the node graph is invalid"});
    return out;
  }
  std::vector<ParamSpec> specs;
  for (const auto& p : params_) specs.push_back(p.spec);
  out.strategy = std::make_shared<DeclarativeDefinition>(name_, std::move(specs),
                                                         std::make_shared<const Plan>(std::move(plan_)));
  return out;
}

}  // namespace

std::span<const std::string_view> node_types() { return kNodeTypeNames; }

StrategyLoad load_strategy_file(const std::filesystem::path& file) {
  ConfigReader reader(file);
  return Loader(reader).run();
}

StrategyLoad parse_strategy(std::string_view yaml_text, std::string file_name) {
  ConfigReader reader(yaml_text, std::move(file_name), std::filesystem::path("."));
  return Loader(reader).run();
}

StrategyDirLoad load_strategy_dir(const std::filesystem::path& dir) {
  StrategyDirLoad out;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".yaml") files.push_back(it->path());
  }
  if (ec) {
    out.problems.push_back(ConfigProblem{dir.string(), 0, 0, "", "cannot read the directory: " + ec.message()});
    return out;
  }
  std::sort(files.begin(), files.end());
  if (files.size() > kStrategyFilesMax) {
    out.problems.push_back(ConfigProblem{dir.string(), 0, 0, "",
                                         std::to_string(files.size()) + " strategy files, more than the limit of " +
                                             std::to_string(kStrategyFilesMax)});
    return out;
  }
  std::vector<std::pair<std::string, std::string>> names;  // strategy name, file name
  for (const auto& f : files) {
    auto load = load_strategy_file(f);
    for (auto& p : load.problems) out.problems.push_back(std::move(p));
    if (!load.ok()) continue;
    const std::string& name = load.strategy->name();
    const auto seen = std::find_if(names.begin(), names.end(), [&name](const auto& n) { return n.first == name; });
    if (seen != names.end()) {
      out.problems.push_back(ConfigProblem{f.string(), 0, 0, "name",
                                           "strategy name '" + name + "' is also used by " + seen->second});
      continue;
    }
    names.emplace_back(name, f.filename().string());
    out.strategies.push_back(std::move(load.strategy));
  }
  return out;
}

}  // namespace ta::agent
