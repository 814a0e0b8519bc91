// Shared helpers for the rule DSL tests: typical facts, compile helpers, a
// generator of random well-typed rules and an independent tree-walking
// reference interpreter built on ta::Decimal.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "ast.h"
#include "rules/rules.h"

namespace ta::rules::testing {

inline Decimal D(const char* text) {
  auto r = Decimal::parse(text);
  if (!r.ok()) {
    ADD_FAILURE() << text << ": " << r.error().message;
    return Decimal();
  }
  return r.value();
}

// A plausible moment: long 1 BTC, buying 0.5 more at 60000.
inline Facts typical_facts() {
  Facts f;
  f.order.product = "BTC-USD";
  f.order.side = Side::kBuy;
  f.order.type = OrderType::kLimit;
  f.order.quantity = D("0.5");
  f.order.price = D("60000");
  f.order.notional = D("30000");
  f.order.reduce_only = false;
  f.order.strategy = "mean_reversion";
  f.position.quantity = D("1");
  f.position.notional = D("60000");
  f.position.average_cost = D("55000");
  f.position.unrealized_pnl = D("5000");
  f.account.equity = D("100000");
  f.account.cash = D("40000");
  f.account.gross_exposure = D("60000");
  f.account.daily_pnl = D("-500");
  f.account.drawdown = D("0.02");
  f.market.reference_price = D("60010");
  f.market.spread = D("0.0005");
  f.market.realized_vol_1h = D("0.004");
  f.market.realized_vol_24h = D("0.002");
  f.market.volume_1h = D("120");
  f.time.utc_hour = 14;
  f.time.weekday = Weekday::kWednesday;
  f.time.since_last_stop_out_s = 7200;
  f.stats.orders_last_minute = 3;
  f.stats.consecutive_losses = 2;
  f.stats.fills_today = 10;
  return f;
}

inline const SourceOrigin kCore = SourceOrigin::core();

// A fresh random seed, or TA_TEST_SEED to replay a failure. Printed first.
inline std::uint32_t test_seed() {
  const char* env = std::getenv("TA_TEST_SEED");
  const std::uint32_t seed = env ? static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
  std::printf("seed=%u\n", seed);
  return seed;
}

inline RuleSet compile_ok(const std::string& source) {
  auto c = compile_source(source, "test.rule", kCore);
  if (!c.ok()) {
    ADD_FAILURE() << "did not compile:\n" << source << "\n" << c.render_errors();
    return RuleSet();
  }
  return c.value();
}

inline std::string compile_errors(const std::string& source) {
  auto c = compile_source(source, "test.rule", kCore);
  if (c.ok()) ADD_FAILURE() << "compiled but should not:\n" << source;
  return c.render_errors();
}

// One rule "t" with the given condition and action.
inline std::string rule_text(const std::string& when, const std::string& then = "deny \"x\"",
                             const std::string& id = "t") {
  return "rule " + id + " v1 \"test\" {\n  from core\n  when " + when + "\n  then " + then + "\n}\n";
}

// ---------------------------------------------------------------------------
// Random well-typed rules.

class RuleGenerator {
 public:
  explicit RuleGenerator(std::uint32_t seed) : rng_(seed) {}

  Rule rule(int index) {
    Rule r;
    r.id = "r" + std::to_string(index);
    r.version = static_cast<std::uint32_t>(pick(1, 9));
    r.description = "generated \"rule\" \\ " + std::to_string(index);
    if (pick(0, 1) == 0) {
      r.provenance.kind = Provenance::Kind::kCore;
    } else {
      r.provenance.kind = Provenance::Kind::kProposal;
      r.provenance.proposal_id = "p-" + std::to_string(index);
    }
    r.enabled = pick(0, 4) != 0;
    r.condition = expr(Type::kBool, pick(1, 5));
    switch (pick(0, 6)) {
      case 0: r.action.kind = ActionKind::kDeny; r.action.message = "no"; break;
      case 1: r.action.kind = ActionKind::kHalt; r.action.message = "stop"; break;
      case 2: r.action.kind = ActionKind::kWarn; r.action.message = "look"; break;
      case 3: r.action.kind = ActionKind::kCapQuantity; r.action.value = expr(Type::kQuantity, pick(0, 3)); break;
      case 4: r.action.kind = ActionKind::kCapNotional; r.action.value = expr(Type::kUsd, pick(0, 3)); break;
      case 5: r.action.kind = ActionKind::kForceReduceOnly; break;
      default:
        r.action.kind = ActionKind::kHold;
        r.action.hold_value = Decimal::from_integer(pick(1, 23));
        r.action.hold_unit = LiteralUnit::kHours;
        break;
    }
    return r;
  }

  // Random facts, including zeros and extremes so faults happen.
  Facts facts() {
    Facts f = typical_facts();
    auto dec = [&]() {
      switch (pick(0, 5)) {
        case 0: return Decimal();
        case 1: return Decimal::from_units(pick(-1000, 1000));
        case 2: return Decimal::from_units(static_cast<std::int64_t>(pick(0, 1 << 30)) * 1000000000LL);
        default: return Decimal::from_units(static_cast<std::int64_t>(pick(-1 << 30, 1 << 30)) * 1000);
      }
    };
    static const char* kProducts[] = {"BTC-USD", "ETH-USD", "SOL-USD"};
    f.order.product = kProducts[pick(0, 2)];
    f.order.side = static_cast<Side>(pick(0, 1));
    f.order.type = static_cast<OrderType>(pick(0, 2));
    f.order.quantity = dec();
    f.order.price = dec();
    f.order.notional = dec();
    f.order.reduce_only = pick(0, 1) == 1;
    f.position.quantity = dec();
    f.position.notional = dec();
    f.position.average_cost = dec();
    f.position.unrealized_pnl = dec();
    f.account.equity = dec();
    f.account.cash = dec();
    f.account.gross_exposure = dec();
    f.account.daily_pnl = dec();
    f.account.drawdown = dec();
    f.market.reference_price = dec();
    f.market.spread = dec();
    f.market.realized_vol_1h = dec();
    f.market.realized_vol_24h = dec();
    f.market.volume_1h = dec();
    f.time.utc_hour = pick(0, 23);
    f.time.weekday = static_cast<Weekday>(pick(0, 6));
    f.time.since_last_stop_out_s = pick(0, 100000);
    f.stats.orders_last_minute = pick(0, 50);
    f.stats.consecutive_losses = pick(0, 8);
    f.stats.fills_today = pick(0, 200);
    return f;
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::unique_ptr<Expr> expr(Type t, int depth) {
    if (depth <= 0 || pick(0, 3) == 0) return leaf(t);
    switch (t) {
      case Type::kBool: return boolean(depth);
      case Type::kInteger:
        return pick(0, 1) ? binary(pick(0, 1) ? BinaryOp::kAdd : BinaryOp::kMul, expr(t, depth - 1), expr(t, depth - 1))
                          : negate(expr(t, depth - 1));
      case Type::kQuantity:
      case Type::kUsd:
      case Type::kPrice:
      case Type::kDuration:
      case Type::kRatio:
      case Type::kNumber: return amount(t, depth);
      case Type::kError: case Type::kString: case Type::kSide: case Type::kOrderType: case Type::kWeekday:
        break;
    }
    return leaf(t);
  }

 private:
  static std::unique_ptr<Expr> make(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    return e;
  }
  static std::unique_ptr<Expr> binary(BinaryOp op, std::unique_ptr<Expr> a, std::unique_ptr<Expr> b) {
    auto e = make(Expr::Kind::kBinary);
    e->binary = op;
    e->lhs = std::move(a);
    e->rhs = std::move(b);
    return e;
  }
  static std::unique_ptr<Expr> negate(std::unique_ptr<Expr> a) {
    auto e = make(Expr::Kind::kUnary);
    e->unary = UnaryOp::kNegate;
    e->lhs = std::move(a);
    return e;
  }
  static std::unique_ptr<Expr> fact(const char* name) {
    auto e = make(Expr::Kind::kFact);
    e->text = name;
    return e;
  }
  std::unique_ptr<Expr> number(LiteralUnit unit, bool integral) {
    auto e = make(Expr::Kind::kNumber);
    e->unit = unit;
    e->integral = integral;
    const std::int64_t whole = pick(0, 2000);
    e->number = integral ? Decimal::from_units(whole * Decimal::kScale)
                         : Decimal::from_units(whole * Decimal::kScale + pick(0, 99) * 1000000);
    return e;
  }
  std::unique_ptr<Expr> name(const char* n) {
    auto e = make(Expr::Kind::kName);
    e->text = n;
    return e;
  }

  std::unique_ptr<Expr> leaf(Type t) {
    switch (t) {
      case Type::kBool:
        if (pick(0, 2) == 0) {
          auto e = make(Expr::Kind::kBool);
          e->boolean = pick(0, 1) == 1;
          return e;
        }
        return fact("order.reduce_only");
      case Type::kInteger: {
        static const char* kFacts[] = {"time.utc_hour", "stats.orders_last_minute", "stats.consecutive_losses",
                                       "stats.fills_today"};
        return pick(0, 1) ? fact(kFacts[pick(0, 3)]) : number(LiteralUnit::kNone, true);
      }
      case Type::kNumber: return number(LiteralUnit::kNone, pick(0, 1) == 1);
      case Type::kQuantity: {
        static const char* kFacts[] = {"order.quantity", "position.quantity", "market.volume_1h"};
        return fact(kFacts[pick(0, 2)]);
      }
      case Type::kUsd: {
        static const char* kFacts[] = {"order.notional", "position.notional", "position.unrealized_pnl",
                                       "account.equity", "account.cash", "account.gross_exposure",
                                       "account.daily_pnl"};
        return pick(0, 2) ? fact(kFacts[pick(0, 6)]) : number(LiteralUnit::kUsd, pick(0, 1) == 1);
      }
      case Type::kPrice: {
        static const char* kFacts[] = {"order.price", "market.reference_price", "position.average_cost"};
        return fact(kFacts[pick(0, 2)]);
      }
      case Type::kRatio: {
        static const char* kFacts[] = {"account.drawdown", "market.spread", "market.realized_vol_1h",
                                       "market.realized_vol_24h"};
        if (pick(0, 2)) return fact(kFacts[pick(0, 3)]);
        return number(pick(0, 1) ? LiteralUnit::kPercent : LiteralUnit::kBps, true);
      }
      case Type::kDuration: {
        if (pick(0, 1)) return fact("time.since_last_stop_out");
        static const LiteralUnit kUnits[] = {LiteralUnit::kSeconds, LiteralUnit::kMinutes, LiteralUnit::kHours,
                                             LiteralUnit::kDays};
        return number(kUnits[pick(0, 3)], true);
      }
      case Type::kError: case Type::kString: case Type::kSide: case Type::kOrderType: case Type::kWeekday:
        break;
    }
    return fact("order.reduce_only");
  }

  std::unique_ptr<Expr> boolean(int depth) {
    static const Type kNumeric[] = {Type::kInteger, Type::kQuantity, Type::kUsd, Type::kPrice,
                                    Type::kDuration, Type::kRatio, Type::kNumber};
    static const BinaryOp kCompare[] = {BinaryOp::kLt, BinaryOp::kLe, BinaryOp::kGt,
                                        BinaryOp::kGe, BinaryOp::kEq, BinaryOp::kNe};
    switch (pick(0, 6)) {
      case 0:
      case 1: {
        const Type t = kNumeric[pick(0, 6)];
        return binary(kCompare[pick(0, 5)], expr(t, depth - 1), expr(t, depth - 1));
      }
      case 2: return binary(pick(0, 1) ? BinaryOp::kAnd : BinaryOp::kOr, expr(Type::kBool, depth - 1),
                            expr(Type::kBool, depth - 1));
      case 3: {
        auto e = make(Expr::Kind::kUnary);
        e->unary = UnaryOp::kNot;
        e->lhs = expr(Type::kBool, depth - 1);
        return e;
      }
      case 4: {
        static const char* kDays[] = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
        auto e = make(Expr::Kind::kIn);
        e->lhs = fact("time.weekday");
        const int n = pick(1, 3);
        for (int i = 0; i < n; ++i) e->items.push_back(name(kDays[pick(0, 6)]));
        return e;
      }
      case 5: {
        if (pick(0, 1)) return binary(pick(0, 1) ? BinaryOp::kEq : BinaryOp::kNe, fact("order.side"),
                                      name(pick(0, 1) ? "buy" : "sell"));
        auto s = make(Expr::Kind::kString);
        s->text = pick(0, 1) ? "BTC-USD" : "ETH-USD";
        return binary(BinaryOp::kEq, fact("order.product"), std::move(s));
      }
      default: {
        // An integer fact compared with a list of integers.
        auto e = make(Expr::Kind::kIn);
        e->lhs = fact("time.utc_hour");
        const int n = pick(1, 4);
        for (int i = 0; i < n; ++i) e->items.push_back(number(LiteralUnit::kNone, true));
        return e;
      }
    }
  }

  std::unique_ptr<Expr> amount(Type t, int depth) {
    switch (pick(0, 5)) {
      case 0: return binary(pick(0, 1) ? BinaryOp::kAdd : BinaryOp::kSub, expr(t, depth - 1), expr(t, depth - 1));
      case 1: return negate(expr(t, depth - 1));
      case 2: return binary(BinaryOp::kMul, number(LiteralUnit::kNone, pick(0, 1) == 1), expr(t, depth - 1));
      case 3: return binary(BinaryOp::kDiv, expr(t, depth - 1), expr(Type::kNumber, depth - 1));
      case 4:
        if (t != Type::kNumber) return binary(BinaryOp::kMul, expr(t, depth - 1), expr(Type::kRatio, depth - 1));
        return binary(BinaryOp::kDiv, expr(Type::kRatio, depth - 1), expr(Type::kRatio, depth - 1));
      default:
        switch (t) {
          case Type::kUsd: return binary(BinaryOp::kMul, expr(Type::kQuantity, depth - 1), expr(Type::kPrice, depth - 1));
          case Type::kRatio: return binary(BinaryOp::kDiv, expr(Type::kUsd, depth - 1), expr(Type::kUsd, depth - 1));
          case Type::kPrice: return binary(BinaryOp::kDiv, expr(Type::kUsd, depth - 1), expr(Type::kQuantity, depth - 1));
          case Type::kQuantity: return binary(BinaryOp::kDiv, expr(Type::kUsd, depth - 1), expr(Type::kPrice, depth - 1));
          case Type::kError: case Type::kBool: case Type::kInteger: case Type::kNumber: case Type::kDuration:
          case Type::kString: case Type::kSide: case Type::kOrderType: case Type::kWeekday:
            return leaf(t);
        }
        return leaf(t);
    }
  }

  std::mt19937 rng_;
};

// ---------------------------------------------------------------------------
// Reference interpreter: walks the tree with ta::Decimal, independently of
// the compiler's constant folding, registers and jumps.

struct RefValue {
  bool fault = false;
  FaultKind kind = FaultKind::kOverflow;
  Decimal value;  // numbers; bools as 0/1, enums as ordinals
  std::string text;  // strings
};

inline Decimal ref_fact(const Facts& f, const std::string& n, std::string& text) {
  auto whole = [](std::int64_t v) { return Decimal::from_units(v * Decimal::kScale); };
  if (n == "order.product") return text = std::string(f.order.product), Decimal();
  if (n == "order.strategy") return text = std::string(f.order.strategy), Decimal();
  if (n == "order.side") return Decimal::from_units(static_cast<int>(f.order.side));
  if (n == "order.type") return Decimal::from_units(static_cast<int>(f.order.type));
  if (n == "order.quantity") return f.order.quantity;
  if (n == "order.price") return f.order.price;
  if (n == "order.notional") return f.order.notional;
  if (n == "order.reduce_only") return Decimal::from_units(f.order.reduce_only ? 1 : 0);
  if (n == "position.quantity") return f.position.quantity;
  if (n == "position.notional") return f.position.notional;
  if (n == "position.average_cost") return f.position.average_cost;
  if (n == "position.unrealized_pnl") return f.position.unrealized_pnl;
  if (n == "account.equity") return f.account.equity;
  if (n == "account.cash") return f.account.cash;
  if (n == "account.gross_exposure") return f.account.gross_exposure;
  if (n == "account.daily_pnl") return f.account.daily_pnl;
  if (n == "account.drawdown") return f.account.drawdown;
  if (n == "market.reference_price") return f.market.reference_price;
  if (n == "market.spread") return f.market.spread;
  if (n == "market.realized_vol_1h") return f.market.realized_vol_1h;
  if (n == "market.realized_vol_24h") return f.market.realized_vol_24h;
  if (n == "market.volume_1h") return f.market.volume_1h;
  if (n == "time.utc_hour") return whole(f.time.utc_hour);
  if (n == "time.weekday") return Decimal::from_units(static_cast<int>(f.time.weekday));
  if (n == "time.since_last_stop_out") return whole(f.time.since_last_stop_out_s);
  if (n == "stats.orders_last_minute") return whole(f.stats.orders_last_minute);
  if (n == "stats.consecutive_losses") return whole(f.stats.consecutive_losses);
  if (n == "stats.fills_today") return whole(f.stats.fills_today);
  ADD_FAILURE() << "reference: unknown fact " << n;
  return Decimal();
}

inline std::int64_t ref_enum(const std::string& n) {
  static const char* kNames[][7] = {{"buy", "sell"}, {"market", "limit", "stop_limit"},
                                    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}};
  for (const auto& group : kNames) {
    for (int i = 0; i < 7; ++i) {
      if (group[i] && n == group[i]) return i;
    }
  }
  return -1;
}

inline RefValue ref_eval(const Expr& e, const Facts& f) {
  RefValue out;
  auto from = [&](const Result<Decimal>& r, FaultKind kind) {
    if (!r.ok()) {
      out.fault = true;
      out.kind = kind;
    } else {
      out.value = r.value();
    }
    return out;
  };
  auto boolean = [&](bool b) {
    out.value = Decimal::from_units(b ? 1 : 0);
    return out;
  };
  switch (e.kind) {
    case Expr::Kind::kNumber: {
      const Decimal v = e.number;
      switch (e.unit) {
        case LiteralUnit::kNone:
        case LiteralUnit::kUsd: out.value = v; return out;
        case LiteralUnit::kPercent: return from(v.div(Decimal::from_integer(100), Rounding::kTowardZero), FaultKind::kOverflow);
        case LiteralUnit::kBps: return from(v.div(Decimal::from_integer(10000), Rounding::kTowardZero), FaultKind::kOverflow);
        case LiteralUnit::kSeconds: out.value = v; return out;
        case LiteralUnit::kMinutes: return from(v.mul(Decimal::from_integer(60), Rounding::kTowardZero), FaultKind::kOverflow);
        case LiteralUnit::kHours: return from(v.mul(Decimal::from_integer(3600), Rounding::kTowardZero), FaultKind::kOverflow);
        case LiteralUnit::kDays: return from(v.mul(Decimal::from_integer(86400), Rounding::kTowardZero), FaultKind::kOverflow);
      }
      return out;
    }
    case Expr::Kind::kString: out.text = e.text; return out;
    case Expr::Kind::kBool: return boolean(e.boolean);
    case Expr::Kind::kName: out.value = Decimal::from_units(ref_enum(e.text)); return out;
    case Expr::Kind::kFact: out.value = ref_fact(f, e.text, out.text); return out;
    case Expr::Kind::kUnary: {
      RefValue a = ref_eval(*e.lhs, f);
      if (a.fault) return a;
      if (e.unary == UnaryOp::kNot) return boolean(a.value.is_zero());
      return from(a.value.negate(), FaultKind::kOverflow);
    }
    case Expr::Kind::kIn: {
      RefValue a = ref_eval(*e.lhs, f);
      if (a.fault) return a;
      for (const auto& item : e.items) {
        RefValue v = ref_eval(*item, f);
        if (v.fault) return v;
        if (v.value == a.value && v.text == a.text) return boolean(true);
      }
      return boolean(false);
    }
    case Expr::Kind::kBinary: {
      RefValue a = ref_eval(*e.lhs, f);
      if (a.fault) return a;
      if (e.binary == BinaryOp::kAnd && a.value.is_zero()) return boolean(false);
      if (e.binary == BinaryOp::kOr && !a.value.is_zero()) return boolean(true);
      RefValue b = ref_eval(*e.rhs, f);
      if (b.fault) return b;
      switch (e.binary) {
        case BinaryOp::kAnd:
        case BinaryOp::kOr: return boolean(!b.value.is_zero());
        case BinaryOp::kLt: return boolean(a.value < b.value);
        case BinaryOp::kLe: return boolean(a.value <= b.value);
        case BinaryOp::kGt: return boolean(a.value > b.value);
        case BinaryOp::kGe: return boolean(a.value >= b.value);
        case BinaryOp::kEq: return boolean(a.value == b.value && a.text == b.text);
        case BinaryOp::kNe: return boolean(!(a.value == b.value && a.text == b.text));
        case BinaryOp::kAdd: return from(a.value.add(b.value), FaultKind::kOverflow);
        case BinaryOp::kSub: return from(a.value.sub(b.value), FaultKind::kOverflow);
        case BinaryOp::kMul: return from(a.value.mul(b.value, Rounding::kTowardZero), FaultKind::kOverflow);
        case BinaryOp::kDiv:
          if (b.value.is_zero()) {
            out.fault = true;
            out.kind = FaultKind::kDivisionByZero;
            return out;
          }
          return from(a.value.div(b.value, Rounding::kTowardZero), FaultKind::kOverflow);
      }
      return out;
    }
  }
  return out;
}

}  // namespace ta::rules::testing
