// Helpers for the strategy tests: bars, products, an engine driver that
// fills every intent at the next bar's open (what SimVenue does, without
// slippage), and bookkeeping of the resulting trades.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "agent_test_support.h"
#include "market/csv.h"
#include "strategy/strategy.h"

namespace ta::agent::test {

inline ProductId pid(const char* text) { return ProductId::parse(text).value(); }
inline Decimal D(const char* text) { return Decimal::parse(text).value(); }

// 2024-01-01T00:00:00Z, a multiple of 60.
inline constexpr std::int64_t kT0 = 1'704'067'200;

inline Bar bar(const ProductId& product, std::int64_t index, double open, double high, double low, double close,
               double volume = 1.0) {
  Bar b;
  b.product = product;
  b.open_ts_s = kT0 + index * kBarSeconds;
  b.open = open;
  b.high = high;
  b.low = low;
  b.close = close;
  b.volume = volume;
  return b;
}

// Bars from closes: each opens at the previous close, high/low half a unit
// beyond the body.
inline std::vector<Bar> bars_from_closes(const ProductId& product, const std::vector<double>& closes,
                                         double wick = 0.5) {
  std::vector<Bar> out;
  double prev = closes.empty() ? 0 : closes[0];
  for (std::size_t i = 0; i < closes.size(); ++i) {
    const double o = prev;
    const double c = closes[i];
    out.push_back(bar(product, static_cast<std::int64_t>(i), o, std::max(o, c) + wick, std::min(o, c) - wick, c));
    prev = c;
  }
  return out;
}

inline ProductSpec spot(const char* id) {
  ProductSpec s;
  s.product = pid(id);
  s.base_increment = D("0.00000001");
  s.quote_increment = D("0.01");
  s.base_min_size = D("0.00001");
  s.base_max_size = D("10000");
  return s;
}

// Loads a CSV of real bars (shared data when present, else the demo file).
inline std::vector<Bar> load_bars(const std::filesystem::path& file, const ProductId& product) {
  auto r = read_bars_csv(file, product);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return r->bars;
}

struct SimFill {
  std::string intent_id;
  ProductId product;
  OrderSide side = OrderSide::kBuy;
  Decimal quantity;
  double price = 0;
  double fee = 0;
  std::int64_t bar_open_ts_s = 0;
};

// Drives an engine the way the backtester does: intents from bar N of a
// product are accepted and filled in full at that product's bar N+1 open,
// before on_bar(N+1). Cash and positions are tracked in doubles (test
// bookkeeping only).
class NextBarSim {
 public:
  explicit NextBarSim(AgentEngine& engine, double fee_rate = 0.0, double cash = 100'000.0)
      : engine_(engine), fee_rate_(fee_rate), cash_(cash) {}

  std::span<const Intent> step(const Bar& b) {
    Book& book = book_of(b.product);
    if (!book.pending.empty()) {
      for (const Intent& in : book.pending) fill(in, b, book);
      book.pending.clear();
    }
    const auto intents = engine_.on_bar(b);
    for (const Intent& in : intents) {
      all_intents.push_back(in);
      book.pending.push_back(in);
    }
    book.last_close = b.close;
    return intents;
  }

  void run(const std::vector<Bar>& bars) {
    for (const Bar& b : bars) step(b);
  }

  // Cash plus positions at the last close.
  double equity() const {
    double e = cash_;
    for (const Book& b : books_) e += b.position * b.last_close;
    return e;
  }
  double cash() const { return cash_; }
  double fees() const { return fees_; }
  double position(const ProductId& p) const {
    for (const Book& b : books_) {
      if (b.product == p) return b.position;
    }
    return 0.0;
  }

  std::vector<Intent> all_intents;
  std::vector<SimFill> fills;

 private:
  struct Book {
    ProductId product;
    std::vector<Intent> pending;  // from the product's previous bar
    double position = 0;
    double last_close = 0;
  };
  Book& book_of(const ProductId& p) {
    for (Book& b : books_) {
      if (b.product == p) return b;
    }
    books_.push_back(Book{p, {}, 0, 0});
    return books_.back();
  }

  void fill(const Intent& in, const Bar& b, Book& book) {
    DecisionEvent d;
    d.intent_id = in.intent_id;
    d.accepted = true;
    d.quantity = in.quantity;
    engine_.on_decision(d);
    FillEvent f;
    f.intent_id = in.intent_id;
    f.strategy = in.strategy;
    f.product = in.product;
    f.side = in.side;
    f.quantity = in.quantity;
    f.price = Decimal::from_double(b.open, Rounding::kHalfEven).value();
    const double q = in.quantity.to_double();
    const double fee = q * b.open * fee_rate_;
    f.fee = Decimal::from_double(fee, Rounding::kHalfEven).value();
    f.ts_ns = b.open_ts_s * 1'000'000'000LL;
    engine_.on_fill(f);
    OrderEvent u;
    u.intent_id = in.intent_id;
    u.kind = OrderEventKind::kFilled;
    u.filled_quantity = in.quantity;
    engine_.on_order_update(u);
    const double sign = in.side == OrderSide::kBuy ? 1.0 : -1.0;
    cash_ -= sign * q * b.open + fee;
    fees_ += fee;
    book.position += sign * q;
    fills.push_back({in.intent_id, in.product, in.side, in.quantity, b.open, fee, b.open_ts_s});
  }

  AgentEngine& engine_;
  double fee_rate_;
  double cash_;
  double fees_ = 0;
  std::vector<Book> books_;
};

inline AgentEngine make_engine(std::vector<std::shared_ptr<const StrategyDefinition>> strategies,
                               std::vector<ProductSpec> products, Decimal equity = Decimal::from_integer(100'000),
                               SizingLimits sizing = {}) {
  EngineConfig c;
  c.products = std::move(products);
  c.sizing = sizing;
  c.equity = equity;
  for (auto& s : strategies) c.strategies.push_back({std::move(s), {}, Decimal::from_integer(1)});
  auto e = AgentEngine::create(std::move(c));
  if (!e) {
    ADD_FAILURE() << e.error().message;
    std::abort();
  }
  return std::move(e).value();
}

}  // namespace ta::agent::test
