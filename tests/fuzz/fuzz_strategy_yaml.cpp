// Fuzzes the declarative strategy loader and the condition language.
// Input starting with "C:" is a condition, placed into a fixed strategy;
// anything else is a whole strategy file. Nothing may crash or hang; a
// load either gives a strategy and no problems or problems and no strategy;
// every problem has a message; a loaded strategy must run on bars (with
// NaN-free prices) without crashing, and its signals must be well formed.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "strategy/declarative.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::string condition_file(std::string_view condition) {
  std::string quoted;
  for (char c : condition) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += (c >= 0x20 && c < 0x7f) ? c : ' ';
  }
  return "name: f\n"
         "params: {p: {value: 1, min: 0, max: 2}, n: {value: 3, min: 1, max: 9}}\n"
         "nodes: {a: {ema: {period: n}}, bb: {bollinger: {period: 3}}, l: {lag: {input: a, bars: 2}}}\n"
         "entry: {long: \"" + quoted + "\", short: \"" + quoted + "\"}\n"
         "exit: {long: \"" + quoted + "\"}\n"
         "stops: {atr_multiple: {node: bb.stdev, multiple: p}, fixed_percent: 1}\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ta::agent;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string file;
  if (text.substr(0, 2) == "C:") {
    file = condition_file(text.substr(2));
  } else {
    file.assign(text);
  }
  const auto load = parse_strategy(file, "fuzz.yaml");
  check(load.ok() == load.problems.empty());
  for (const auto& p : load.problems) check(!p.message.empty());
  if (!load.ok()) return 0;
  auto inst = load.strategy->instantiate();
  const ProductId product = ProductId::parse("BTC-USD").value();
  double price = 100.0;
  for (int i = 0; i < 40; ++i) {
    // A zig-zag with flat stretches (zero ranges, zero variance).
    const double step = (i % 7 < 3) ? 1.0 : (i % 7 < 5 ? -2.0 : 0.0);
    Bar b;
    b.product = product;
    b.open_ts_s = 1'704'067'200 + i * 60;
    b.open = price;
    price += step;
    b.close = price;
    b.high = std::max(b.open, b.close) + (i % 3 == 0 ? 0.0 : 0.5);
    b.low = std::min(b.open, b.close) - (i % 3 == 0 ? 0.0 : 0.5);
    b.volume = (i % 5 == 0) ? 0.0 : 1.0;
    if (!inst->update(b)) continue;
    for (const Signal s : {inst->entry(b), inst->exit(b, PositionSide::kLong), inst->exit(b, PositionSide::kShort)}) {
      check(!(s.not_finite && s.kind != SignalKind::kNone));
    }
    const Signal e = inst->entry(b);
    if (e.kind == SignalKind::kEnterLong || e.kind == SignalKind::kEnterShort) {
      check(e.reason == SignalReason::kEntryCondition);
    }
  }
  return 0;
}
