// run_backtest(): the lockstep of backtest/run.h. A Book is one account:
// engine, gate state and venue; the runner walks the merged bars and hands
// each bar to every book.
#include "backtest/run.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "gate/core.h"
#include "gate/sim_venue.h"
#include "gate/time_units.h"
#include "gate_compat.h"
#include "strategy/ipc_convert.h"

namespace ta::backtest {
namespace {

// The products of one run, in ProductId order, with everything the books
// look up per bar.
struct RunProducts {
  std::vector<agent::ProductId> ids;
  std::vector<std::string> names;
  std::vector<agent::ProductSpec> specs;

  std::size_t index_of(const agent::ProductId& id) const {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) return i;
    }
    return ids.size();
  }
  std::size_t index_of_name(std::string_view name) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return i;
    }
    return names.size();
  }
};

bool opposite(ipc::Side side, Quantity position) {
  return side == ipc::SIDE_BUY ? position.is_negative() : position.is_positive();
}

// The per-strategy ledger behind trade records: the gate's accounting
// applied to this strategy's fills only, so trade P&L is exact.
struct Shadow {
  struct OpenTrade {
    std::size_t index = 0;  // into BookResult::trades
    Notional start_realized;
    Notional start_fees;
  };
  std::string strategy;
  gate::Ledger ledger;
  std::vector<std::optional<OpenTrade>> open;  // per run product
};

class Book {
 public:
  Book(const BacktestConfig& config, const BookSetup& setup, const RunProducts& products, agent::AgentEngine engine,
       std::int64_t start_ts_ns, bool reference)
      : config_(config),
        products_(products),
        reference_(reference),
        engine_(std::move(engine)),
        state_(limits_for(config, setup), gate::Ledger(setup.capital, start_ts_ns)),
        venue_(venue_config(config), config.gate.gate.products) {
    state_.set_ready(true);
    refs_.resize(products.ids.size());
    for (std::size_t i = 0; i < products.ids.size(); ++i) refs_[i].product = products.names[i];
    result_.name = setup.name;
    result_.capital = setup.capital;
    for (const StrategySetup& s : setup.strategies) {
      result_.strategies.push_back(s.definition->name());
      shadows_.push_back(make_shadow(s.definition->name(), start_ts_ns));
    }
    start_ts_ns_ = start_ts_ns;
  }

  // G1..A3 of run.h for one bar.
  Status on_bar(std::size_t p, const agent::Bar& bar, const gate::Bar& gbar) {
    const std::int64_t now = bar.close_ts_s() * gate::kNanosPerSecond;
    // G1: the venue works the orders sent earlier.
    auto events = venue_.on_bar(gbar);
    if (!events) return events.error();
    for (const gate::VenueEvent& e : *events) {
      if (auto st = apply_venue_event(e, p, gbar); !st) return st;
    }
    // G2: the gate's own prices.
    if (auto st = compat::apply_bar(state_, gbar); !st) return st;
    if (auto st = state_.apply_mark(gbar.product, gbar.close, now); !st) return st;
    refs_[p].price = gbar.close;
    refs_[p].ts_ns = now;
    // G3: protections.
    if (auto change = state_.check_loss_limit(now)) {
      if (auto st = on_halt(*change, now); !st) return st;
    }
    if (auto change = state_.tick(now)) {
      if (auto st = on_halt(*change, now); !st) return st;
    }
    // G4: the position snapshot.
    if (auto st = send_position(now); !st) return st;
    // A1..A3: the agent's intents of this bar.
    const std::span<const agent::Intent> intents = engine_.on_bar(bar);
    if (intents.empty()) return {};
    return decide_intents(intents, now);
  }

  // After the last bar of a minute.
  void end_step() {
    const gate::Ledger& l = state_.ledger();
    result_.equity_units.push_back(l.equity().units());
    std::uint8_t exposed = 0;
    for (const gate::Position& p : l.positions()) {
      if (!p.quantity.is_zero()) {
        exposed = 1;
        break;
      }
    }
    result_.exposed.push_back(exposed);
  }

  BookResult finish() {
    result_.ledger = state_.ledger();
    result_.engine = engine_.counters();
    for (std::size_t i = 0; i < engine_.slot_count(); ++i) {
      const agent::SlotView v = engine_.slot(i);
      result_.slots.push_back(SlotSummary{std::string(v.strategy), v.product, *v.counters});
    }
    return std::move(result_);
  }

  const std::string& name() const { return result_.name; }

 private:
  static gate::SafetyLimits limits_for(const BacktestConfig& config, const BookSetup& setup) {
    gate::SafetyLimits limits = config.gate.safety;
    limits.starting_cash = setup.capital;
    return limits;
  }
  static gate::SimVenueConfig venue_config(const BacktestConfig& config) {
    gate::SimVenueConfig c = config.gate.gate.sim;
    c.seed = config.seed;
    return c;
  }
  Shadow make_shadow(const std::string& strategy, std::int64_t start_ts_ns) const {
    Shadow s;
    s.strategy = strategy;
    s.ledger = gate::Ledger(Notional(), start_ts_ns);
    s.open.resize(products_.ids.size());
    return s;
  }

  // ------------------------------------------------------------ gate side

  Status apply_venue_event(const gate::VenueEvent& e, std::size_t p, const gate::Bar& gbar) {
    gate::OrderEvent event = gate::OrderEvent::kAck;
    switch (e.kind) {
      case gate::VenueEventKind::kFill:
        return apply_fill(e, p, gbar);
      case gate::VenueEventKind::kAck:
        event = gate::OrderEvent::kAck;
        break;
      case gate::VenueEventKind::kReject:
        event = gate::OrderEvent::kReject;
        break;
      case gate::VenueEventKind::kCancelled:
        event = gate::OrderEvent::kCancelAck;
        break;
      case gate::VenueEventKind::kExpired:
        event = gate::OrderEvent::kExpire;
        break;
    }
    if (auto st = state_.apply_order_event(e.order_id, event, e.ts_ns); !st) return st;
    return deliver_update(e.order_id);
  }

  Status apply_fill(const gate::VenueEvent& e, std::size_t p, const gate::Bar& gbar) {
    const gate::Order* order = state_.find_live_order(e.order_id);
    if (order == nullptr) return make_error("fill for order " + e.order_id + ", which the gate does not hold");
    if (result_.fills.size() >= kBookFillsMax) {
      return make_error("book '" + result_.name + "' made more than " + std::to_string(kBookFillsMax) + " fills");
    }
    ipc::Fill fill;
    fill.set_fill_id("f-" + std::to_string(++fill_count_));
    fill.set_order_id(order->order_id);
    fill.set_intent_id(order->intent_id);
    fill.set_strategy(order->strategy);
    fill.set_product(order->product);
    fill.set_side(order->side);
    fill.set_quantity(e.quantity.to_string());
    fill.set_price(e.price.to_string());
    fill.set_fee(e.fee.to_string());
    fill.set_liquidity(e.liquidity);
    fill.set_ts_ns(e.ts_ns);
    FillRecord rec;
    rec.strategy = order->strategy;
    rec.intent_id = order->intent_id;
    rec.order_id = order->order_id;
    rec.product = products_.ids[p];
    rec.side = order->side;
    rec.quantity = e.quantity;
    rec.price = e.price;
    rec.fee = e.fee;
    rec.liquidity = e.liquidity;
    rec.ts_ns = e.ts_ns;
    rec.bar_open = gbar.open;
    if (auto st = state_.apply_fill(fill); !st) return st;  // order may now be closed

    const bool buy = rec.side == ipc::SIDE_BUY;
    const std::int64_t diff = buy ? rec.price.units() - rec.bar_open.units() : rec.bar_open.units() - rec.price.units();
    result_.slippage_wide += Int128{diff} * rec.quantity.units();
    auto notional = rec.quantity.mul(rec.price, Rounding::kHalfEven);
    if (!notional) return notional.error();
    auto total = result_.traded_notional.add(*notional);
    if (!total) return total.error();
    result_.traded_notional = *total;
    if (auto st = attribute(rec, p); !st) return st;
    result_.fills.push_back(rec);

    auto agent_fill = agent::fill_from_ipc(fill);
    if (!agent_fill) return agent_fill.error();
    engine_.on_fill(*agent_fill);
    return deliver_update(e.order_id);
  }

  // The order's new state to the engine. The engine acts only on terminal
  // states; the fast path skips the others, the reference path sends all.
  Status deliver_update(const std::string& order_id) {
    const gate::Order* o = state_.find_live_order(order_id);
    if (o == nullptr) {
      if (state_.closed_orders().empty() || state_.closed_orders().back().order_id != order_id) {
        return make_error("order " + order_id + " is neither live nor the last closed order");
      }
      o = &state_.closed_orders().back();
    }
    const bool terminal = gate::is_terminal(o->state);
    if (terminal) count_terminal(*o);
    if (!terminal && !reference_) return {};
    auto event = agent::order_event_from_ipc(o->to_update());
    if (!event) return event.error();
    engine_.on_order_update(*event);
    return {};
  }

  void count_terminal(const gate::Order& o) {
    DecisionStats& d = result_.decisions;
    switch (o.state) {
      case gate::OrderState::kFilled:
        ++d.orders_filled;
        return;
      case gate::OrderState::kCancelled:
        ++d.orders_cancelled;
        return;
      case gate::OrderState::kRejected:
        ++d.orders_rejected;
        return;
      case gate::OrderState::kExpired:
        ++d.orders_expired;
        return;
      case gate::OrderState::kPendingNew:
      case gate::OrderState::kSubmitted:
      case gate::OrderState::kOpen:
      case gate::OrderState::kPartiallyFilled:
      case gate::OrderState::kCancelPending:
      case gate::OrderState::kUnknown:
        return;
    }
  }

  Status on_halt(const gate::HaltChange& change, std::int64_t now) {
    result_.halts.push_back(HaltRecord{now, change.from, change.to, change.event});
    if (change.cancel_all) {
      std::vector<std::string> ids;
      for (const auto& [id, o] : state_.live_orders()) {
        if (gate::next_order_state(o.state, gate::OrderEvent::kCancelRequest)) ids.push_back(id);
      }
      for (const std::string& id : ids) {
        const bool at_venue = state_.find_live_order(id)->state != gate::OrderState::kPendingNew;
        if (auto st = state_.apply_order_event(id, gate::OrderEvent::kCancelRequest, now); !st) return st;
        if (at_venue) {
          if (auto st = venue_.cancel(id); !st) return st;
        }
        if (auto st = deliver_update(id); !st) return st;
      }
    }
    if (change.flatten) {
      gate::DecisionContext ctx;
      ctx.now_ns = now;
      ctx.peer_allowed = true;
      ctx.reference_prices = refs_;
      std::vector<std::string> skipped;
      for (const gate::GateOrder& g : gate::plan_flatten(state_, ctx, &skipped)) {
        if (auto st = state_.record_decision(g.intent, g.decision); !st) return st;
        ++result_.decisions.gate_orders;
        if (auto st = submit(g.decision.order_id(), now); !st) return st;
      }
    }
    return {};
  }

  Status submit(const std::string& order_id, std::int64_t now) {
    if (auto st = state_.apply_order_event(order_id, gate::OrderEvent::kSubmit, now); !st) return st;
    const gate::Order* o = state_.find_live_order(order_id);
    if (o == nullptr) return make_error("accepted order " + order_id + " is not live");
    if (auto st = venue_.submit(gate::to_sim_order(*o)); !st) return st;
    return deliver_update(order_id);
  }

  Status send_position(std::int64_t now) {
    const gate::Ledger& l = state_.ledger();
    if (reference_) {
      auto snapshot = agent::position_from_ipc(l.to_snapshot(now));
      if (!snapshot) return snapshot.error();
      engine_.on_position(*snapshot);
      return {};
    }
    position_.equity = l.equity();
    position_.positions.clear();
    for (const gate::Position& pos : l.positions()) {
      const std::size_t i = products_.index_of_name(pos.product);
      if (i == products_.names.size()) return make_error("ledger holds unknown product " + pos.product);
      position_.positions.emplace_back(products_.ids[i], pos.quantity);
    }
    engine_.on_position(position_);
    return {};
  }

  // ---------------------------------------------------------- agent side

  Status decide_intents(std::span<const agent::Intent> intents, std::int64_t now) {
    decisions_.clear();
    gate::DecisionContext ctx;
    ctx.now_ns = now;
    ctx.peer_allowed = true;
    ctx.reference_prices = refs_;
    compat::set_rules(ctx, config_.rules_enabled ? &config_.rules : nullptr);
    for (const agent::Intent& intent : intents) {
      const ipc::OrderIntent message = agent::to_order_intent(intent);
      const auto outcome = gate::decide(state_, message, ctx);
      const ipc::Decision& decision = compat::decision_of(outcome);
      if (auto st = state_.record_decision(message, decision); !st) return st;
      count_decision(decision);
      if (decision.accepted() && !decision.replayed()) {
        if (auto st = submit(decision.order_id(), now); !st) return st;
      }
      if (compat::rule_halt_of(outcome)) {
        auto change = state_.apply_halt_event(gate::HaltEvent::kRuleHalt, now);
        if (!change) return change.error();
        if (auto st = on_halt(*change, now); !st) return st;
      }
      auto event = agent::decision_from_ipc(decision);
      if (!event) return event.error();
      decisions_.push_back(std::move(event).value());
    }
    for (const agent::DecisionEvent& d : decisions_) engine_.on_decision(d);
    return {};
  }

  void count_decision(const ipc::Decision& d) {
    DecisionStats& s = result_.decisions;
    ++s.intents;
    if (d.accepted()) {
      ++s.accepted;
    } else {
      ++s.denied;
      ++s.denied_by_reason[d.reason()];
    }
    for (const std::string& rule : d.rules_fired()) ++s.rule_hits[rule];
  }

  // ------------------------------------------------------- trade records

  // Which strategy a fill belongs to. The gate's own flattening orders
  // close the positions of the strategies that hold the product, in
  // configuration order, each up to its own position; anything left (not
  // possible on spot) goes to a pseudo-strategy named "gate".
  Status attribute(const FillRecord& f, std::size_t p) {
    if (f.strategy != gate::kGateStrategy) return apply_shadow(shadow_for(f.strategy), p, f, f.quantity, f.fee);
    Quantity left = f.quantity;
    Notional fee_left = f.fee;
    for (std::size_t i = 0; i < shadows_.size() && left.is_positive(); ++i) {
      const Quantity held = shadows_[i].ledger.position_quantity(products_.names[p]);
      if (!opposite(f.side, held)) continue;
      const Quantity part = std::min(held.abs(), left);
      left = left.sub(part).value();
      // The fee in proportion to quantity; the last part takes the rest so
      // the parts add up to the fee exactly.
      Notional fee = fee_left;
      if (left.is_positive()) {
        fee = Decimal::from_units(static_cast<std::int64_t>(
            divide_rounded(Int128{f.fee.units()} * part.units(), f.quantity.units(), Rounding::kHalfEven)));
      }
      fee_left = fee_left.sub(fee).value();
      if (auto st = apply_shadow(shadows_[i], p, f, part, fee); !st) return st;
    }
    if (left.is_positive()) return apply_shadow(shadow_for(std::string(gate::kGateStrategy)), p, f, left, fee_left);
    return {};
  }

  Shadow& shadow_for(const std::string& strategy) {
    for (Shadow& s : shadows_) {
      if (s.strategy == strategy) return s;
    }
    shadows_.push_back(make_shadow(strategy, start_ts_ns_));
    return shadows_.back();
  }

  Status apply_shadow(Shadow& s, std::size_t p, const FillRecord& f, Quantity quantity, Notional fee) {
    const std::string& product = products_.names[p];
    const gate::Position* before = s.ledger.find(product);
    const Quantity q0 = before ? before->quantity : Quantity();
    const Notional realized0 = before ? before->realized_pnl : Notional();
    const Notional fees0 = before ? before->fees : Notional();
    if (auto st = s.ledger.apply_fill(gate::LedgerFill{product, f.side, quantity, f.price, fee, f.ts_ns}); !st) {
      return st;
    }
    const gate::Position* after = s.ledger.find(product);
    const Quantity q1 = after->quantity;
    const bool closes = !q0.is_zero() && (q1.is_zero() || q1.is_negative() != q0.is_negative());
    if (closes && s.open[p]) {
      TradeRecord& t = result_.trades[s.open[p]->index];
      t.fees = after->fees.sub(s.open[p]->start_fees).value();
      t.pnl = after->realized_pnl.sub(s.open[p]->start_realized).value().sub(t.fees).value();
      t.closed = true;
      t.close_ts_ns = f.ts_ns;
      s.open[p].reset();
    }
    const bool opens = !q1.is_zero() && (q0.is_zero() || closes);
    if (opens) {
      TradeRecord t;
      t.strategy = s.strategy;
      t.product = products_.ids[p];
      t.long_side = q1.is_positive();
      t.open_ts_ns = f.ts_ns;
      // The opening fill's fee belongs to this trade; a flipping fill's fee
      // went wholly to the trade it closed.
      s.open[p] = Shadow::OpenTrade{result_.trades.size(), closes ? after->realized_pnl : realized0,
                                    closes ? after->fees : fees0};
      result_.trades.push_back(std::move(t));
    }
    if (s.open[p]) {
      TradeRecord& t = result_.trades[s.open[p]->index];
      t.quantity_max = std::max(t.quantity_max, q1.abs());
      t.fees = after->fees.sub(s.open[p]->start_fees).value();
    }
    return {};
  }

  const BacktestConfig& config_;
  const RunProducts& products_;
  const bool reference_;
  agent::AgentEngine engine_;
  gate::GateState state_;
  gate::SimVenue venue_;
  std::vector<gate::ReferencePrice> refs_;
  agent::PositionEvent position_;
  std::vector<agent::DecisionEvent> decisions_;
  std::vector<Shadow> shadows_;
  std::uint64_t fill_count_ = 0;
  std::int64_t start_ts_ns_ = 0;
  BookResult result_;
};

Result<RunProducts> run_products(const BacktestConfig& config, const MarketData& data) {
  RunProducts out;
  // Data of a product the gate does not know is a mistake, traded or not.
  for (const ProductData& d : data.products) {
    if (auto spec = agent_product_spec(config.gate, d.product); !spec) {
      return make_error(spec.error().message + " (data from " + d.source + ")");
    }
  }
  if (config.products.empty()) {
    for (const ProductData& d : data.products) out.ids.push_back(d.product);
  } else {
    for (const agent::ProductId& p : config.products) {
      const bool has_data = std::any_of(data.products.begin(), data.products.end(),
                                        [&](const ProductData& d) { return d.product == p; });
      if (!has_data) return make_error("no data for product " + p.str() + " (configured in products)");
      out.ids.push_back(p);
    }
  }
  if (out.ids.empty()) return make_error("no products to trade");
  if (out.ids.size() > kRunProductsMax) {
    return make_error("at most " + std::to_string(kRunProductsMax) + " products per run");
  }
  std::sort(out.ids.begin(), out.ids.end());
  for (const agent::ProductId& id : out.ids) {
    auto spec = agent_product_spec(config.gate, id);
    if (!spec) return spec.error();
    out.names.push_back(id.str());
    out.specs.push_back(*spec);
  }
  for (const BookSetup& b : config.books) {
    for (const StrategySetup& s : b.strategies) {
      for (const agent::ProductId& p : s.products) {
        if (out.index_of(p) == out.ids.size()) {
          return make_error("strategy '" + s.definition->name() + "' trades " + p.str() + ", which has no data");
        }
      }
    }
  }
  return out;
}

Result<agent::AgentEngine> make_engine(const BacktestConfig& config, const BookSetup& setup,
                                       const RunProducts& products) {
  agent::EngineConfig ec;
  ec.products = products.specs;
  ec.sizing = config.sizing;
  ec.equity = setup.capital;
  for (const StrategySetup& s : setup.strategies) {
    ec.strategies.push_back(agent::StrategyBinding{s.definition, s.products, s.risk_weight});
  }
  auto engine = agent::AgentEngine::create(std::move(ec));
  if (!engine) return make_error("book '" + setup.name + "': " + engine.error().message);
  return engine;
}

}  // namespace

Result<BacktestResult> run_backtest(const BacktestConfig& config, const MarketData& data, const RunOptions& options) {
  if (auto st = validate(config); !st) return st.error();
  if (data.bars.size() != data.gate_bars.size()) return make_error("market data without its fixed-point bars");
  auto products = run_products(config, data);
  if (!products) return products.error();

  // The window, and the bars of the run's products inside it.
  const auto first = std::lower_bound(data.bars.begin(), data.bars.end(), options.from_ts_s,
                                      [](const agent::Bar& b, std::int64_t t) { return b.open_ts_s < t; });
  const auto last = std::lower_bound(first, data.bars.end(), options.to_ts_s,
                                     [](const agent::Bar& b, std::int64_t t) { return b.open_ts_s < t; });
  const std::size_t begin = static_cast<std::size_t>(first - data.bars.begin());
  const std::size_t end = static_cast<std::size_t>(last - data.bars.begin());
  std::uint64_t total = 0;
  std::size_t first_bar = end;
  for (std::size_t i = begin; i < end; ++i) {
    if (products->index_of(data.bars[i].product) == products->ids.size()) continue;
    if (first_bar == end) first_bar = i;
    ++total;
  }
  if (total == 0) {
    return make_error("no bars to replay between " + agent::format_utc(std::max<std::int64_t>(options.from_ts_s, 0)) +
                      " and the end of the window");
  }
  const std::int64_t start_ts_ns = data.bars[first_bar].open_ts_s * gate::kNanosPerSecond;

  std::vector<std::unique_ptr<Book>> books;
  for (const BookSetup& setup : config.books) {
    auto engine = make_engine(config, setup, *products);
    if (!engine) return engine.error();
    books.push_back(std::make_unique<Book>(config, setup, *products, std::move(engine).value(), start_ts_ns,
                                           options.reference_path));
  }

  BacktestResult result;
  result.seed = config.seed;
  result.products = products->ids;
  std::uint64_t done = 0;
  for (std::size_t i = first_bar; i < end; ++i) {
    const agent::Bar& bar = data.bars[i];
    const std::size_t p = products->index_of(bar.product);
    if (p == products->ids.size()) continue;
    if (result.step_open_ts_s.empty() || result.step_open_ts_s.back() != bar.open_ts_s) {
      if (!result.step_open_ts_s.empty()) {
        for (auto& b : books) b->end_step();
      }
      result.step_open_ts_s.push_back(bar.open_ts_s);
    }
    const gate::Bar* gbar = &data.gate_bars[i];
    gate::Bar relayed;
    if (options.reference_path) {
      auto message = agent::to_ipc_bar(bar);
      if (!message) return message.error();
      auto parsed = gate::parse_bar(*message);
      if (!parsed) return parsed.error();
      relayed = std::move(parsed).value();
      gbar = &relayed;
    }
    for (auto& b : books) {
      if (auto st = b->on_bar(p, bar, *gbar); !st) {
        return make_error("book '" + b->name() + "', " + bar.product.str() + " bar at " +
                          agent::format_utc(bar.open_ts_s) + ": " + st.error().message);
      }
    }
    ++done;
    if (options.progress && (done % kProgressEveryBars == 0)) options.progress(done, total);
  }
  for (auto& b : books) b->end_step();
  if (options.progress) options.progress(done, total);
  result.bars = done;
  for (auto& b : books) result.books.push_back(b->finish());
  return result;
}

}  // namespace ta::backtest
