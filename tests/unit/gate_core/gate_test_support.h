// Helpers shared by the gate core's tests and benchmark (header-only, no
// GoogleTest dependency).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gate/core.h"
#include "gate/sim_venue.h"

namespace ta::gate::test {

// A decimal literal; a typo in a test's literal aborts with its text.
inline Decimal D(const char* text) {
  auto r = Decimal::parse(text);
  if (!r) {
    std::fprintf(stderr, "bad decimal literal in a test: %s\n", text);
    std::abort();
  }
  return *r;
}

// Records an accepted GTC limit order straight into the state, bypassing
// decide() (as plan_flatten's orders do), so a test can arrange open orders
// and positions under limits decide() would not allow. Returns the order id.
inline Result<std::string> inject_order(GateState& s, std::string_view product, ipc::Side side, const char* qty,
                                        const char* price, std::int64_t ts) {
  GateOrder g;
  const std::string order_id = s.next_order_id();
  g.intent.set_intent_id("setup-" + order_id);
  g.intent.set_strategy("setup");
  g.intent.set_product(std::string(product));
  g.intent.set_side(side);
  g.intent.set_type(ipc::ORDER_TYPE_LIMIT);
  g.intent.set_quantity(qty);
  g.intent.set_limit_price(price);
  g.intent.set_time_in_force(ipc::TIME_IN_FORCE_GTC);
  g.decision.set_intent_id(g.intent.intent_id());
  g.decision.set_accepted(true);
  g.decision.set_order_id(order_id);
  g.decision.set_quantity(qty);
  g.decision.set_decided_ts_ns(ts);
  ipc::DecisionField* f = g.decision.add_fields();
  f->set_name("order_price");
  f->set_value(price);
  const Status st = s.record_decision(g.intent, g.decision);
  if (!st) return make_error(st.error().message);
  return order_id;
}

// The repository's sample of real one-minute BTC-USD bars (up to 400),
// found through TA_SOURCE_DIR.
inline Result<std::vector<Bar>> sample_bars(std::size_t limit) {
  const char* dir = std::getenv("TA_SOURCE_DIR");
  if (dir == nullptr) return make_error("TA_SOURCE_DIR is not set");
  const std::string path =
      std::string(dir) + "/tests/unit/gate_core/data/coinbase_BTC-USD_1m_2018-04-04_first400.csv";
  std::ifstream in(path);
  if (!in) return make_error("cannot read " + path);
  std::vector<Bar> out;
  std::string line;
  std::getline(in, line);  // header: ts,open,high,low,close,volume
  while (out.size() < limit && std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f[6];
    for (auto& x : f) std::getline(ss, x, ',');
    ipc::Bar b;
    b.set_product("BTC-USD");
    b.set_open_ts_s(std::stoll(f[0]));
    b.set_open(f[1]);
    b.set_high(f[2]);
    b.set_low(f[3]);
    b.set_close(f[4]);
    b.set_volume(f[5]);
    auto r = parse_bar(b);
    if (!r) return make_error(line + ": " + r.error().message);
    out.push_back(*r);
  }
  return out;
}

}  // namespace ta::gate::test
