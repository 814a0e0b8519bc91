// SimVenue: the simulated exchange behind SIM, PAPER and backtests.
//
// Market time comes only from bars: now_ns() is the end of the latest bar
// seen. An order submitted at market time T arrives at T + ack latency
// (+ seeded jitter) and may fill only on a bar that opens at or after its
// arrival, so an order sent after bar k closes fills on bar k+1 at the
// earliest, never on the bar that produced the signal.
//
// Fill model (docs/gate-core.md has the derivation and examples):
// * MARKET fills at the eligible bar's open, moved against the order by
//   the slippage fraction, as taker. IOC/FOK cancel what the first eligible
//   bar cannot fill; GTC/GTD keep filling at later bars' opens.
// * LIMIT is marketable if the first eligible bar opens at or through the
//   limit: it fills at once as taker at the slipped open, never worse than
//   the limit. Otherwise it rests and fills at the limit price, as maker,
//   on any bar that trades through it (low < limit for a buy, high > limit
//   for a sell; a touch is not enough). IOC/FOK do not rest.
// * STOP_LIMIT triggers when a bar reaches the stop (high >= stop for a
//   buy, low <= stop for a sell). Triggered at the bar's open it acts as a
//   limit order in that bar; triggered inside a bar it acts as one from the
//   next bar on.
// * Slippage fraction = half-spread + impact_coefficient x qty / bar volume,
//   where half-spread = (ask - bid) / (ask + bid) from the latest bid/ask seen
//   before the bar, or default_spread_bps / 2 / 10000. Buy prices round UP to
//   the quote increment and sell prices round DOWN, so rounding never
//   favours the simulated trader.
// * Fills per bar and product are capped at fill_volume_fraction_max of the
//   bar's volume (rounded down to the base increment), shared by all orders
//   in submission order; the rest waits (or is cancelled for IOC/FOK; a FOK
//   that cannot fill completely fills nothing).
// * Fees: quantity x price x bps / 10000, rounded up to 1e-8; maker bps for
//   resting fills, taker bps otherwise.
// * Cancels and GTD expiries take effect at the first bar that opens at or
//   after the cancel's arrival / the expiry time, before that bar's fills.
//
// Deterministic: the same config (seed included), orders and bars give the
// same events. The jitter of an order's latency is a function of the seed
// and the order id alone (not of how many draws came before), so a venue
// rebuilt after a restart - restore() with the bars it had seen, then
// submit_at() with each open order's original submit time, in submission
// order, then cancel_at() for the cancels they had pending - gives the
// orders and cancels the arrival times they had, restore_filled() what a
// bar the journal kept fills of but not the bar had already filled; a
// stop-limit order whose
// stop was reached (its kTriggered event) comes back with
// SimOrder::stop_limit_from_ns and acts as a limit order without the stop
// being reached again. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gate.pb.h"
#include "gate/config.h"
#include "gate/orders.h"
#include "proto/decimal.h"
#include "proto/result.h"

namespace ta::gate {

struct Bar {
  std::string product;
  std::int64_t open_ts_ns = 0;
  Price open;
  Price high;
  Price low;
  Price close;
  Quantity volume;
  Price bid;  // top of book at the bar's close; zero when unknown
  Price ask;
};

// Parses and checks an ipc::Bar: positive prices, low <= open, close <= high,
// volume >= 0, bid and ask both present (0 < bid <= ask) or both absent.
Result<Bar> parse_bar(const ipc::Bar& bar);
// The inverse of parse_bar() (bid and ask left empty when zero).
ipc::Bar to_proto(const Bar& bar);
// The consistency checks parse_bar() applies (0 < low <= open, close <= high;
// volume >= 0; bid and ask both absent or 0 < bid <= ask), for bars built
// without going through ipc::Bar (the backtester's direct path).
Status check_bar(const Bar& bar);

struct SimOrder {
  std::string order_id;
  std::string product;
  ipc::Side side = ipc::SIDE_UNSPECIFIED;
  ipc::OrderType type = ipc::ORDER_TYPE_UNSPECIFIED;
  ipc::TimeInForce time_in_force = ipc::TIME_IN_FORCE_GTC;
  Quantity quantity;
  Price limit_price;  // LIMIT, STOP_LIMIT
  Price stop_price;   // STOP_LIMIT
  std::int64_t expire_ts_ns = 0;  // GTD
  // STOP_LIMIT handed back after a restart whose stop the venue had
  // reached (a kTriggered event): it acts as a limit order from this time
  // on, without the stop being reached again. -1: not reached.
  std::int64_t stop_limit_from_ns = -1;
};

SimOrder to_sim_order(const Order& order);

// kTriggered: a STOP_LIMIT order's stop was reached; ts_ns is the market
// time from which it acts as a limit order (the bar's open when the bar
// opened through the stop, else the bar's end). Nothing else changes.
enum class VenueEventKind { kAck, kReject, kFill, kCancelled, kExpired, kTriggered };
std::string_view to_string(VenueEventKind kind);

struct VenueEvent {
  VenueEventKind kind = VenueEventKind::kAck;
  std::string order_id;
  std::int64_t ts_ns = 0;
  // kFill only.
  Quantity quantity;
  Price price;
  Notional fee;
  ipc::Liquidity liquidity = ipc::LIQUIDITY_UNSPECIFIED;
  std::string detail;  // why, for rejects and cancels
};

// Orders the simulator holds at once.
inline constexpr std::size_t kSimOrdersMax = 10'000;

class SimVenue {
 public:
  SimVenue(SimVenueConfig config, std::vector<ProductSpec> products);

  // The end of the latest bar seen; 0 before the first.
  std::int64_t now_ns() const { return now_ns_; }
  std::size_t open_orders() const { return orders_.size(); }

  // Accepts an order for arrival at now + latency. Invalid orders (unknown
  // product, sizes or prices off the increments) are not errors: they
  // produce a kReject event at arrival, as a venue would. Errors are for
  // caller bugs: a duplicate order id, or kSimOrdersMax orders held.
  Status submit(const SimOrder& order);
  // The same, for an order first submitted at market time `submitted_ns`
  // (a venue rebuilt after a restart): it arrives when it did the first
  // time, submitted_ns + its latency; an arrival in the past is an order
  // that has arrived. Its ack is produced again on the next bar.
  Status submit_at(const SimOrder& order, std::int64_t submitted_ns);
  // Rebuilding after a restart: the venue has seen `bar` (its product's
  // last bar time, market time, and the bid/ask the next bar's spread
  // comes from when the bar has them), without working any order on it.
  // Bars must come in the order they were first seen.
  Status restore(const Bar& bar);
  // Rebuilding after a restart that kept fills of a bar but not the bar
  // itself (the fills are journaled before the bar's mark): `quantity` of
  // the bar opening at `bar_open_ts_ns` has already filled, so when that
  // bar comes again its fill cap holds only the rest, and the orders
  // handed back fill as they did the first time instead of a second time.
  // Bars not newer than the product's last are refused; entries for bars
  // that never come are dropped once a later bar is processed.
  Status restore_filled(std::string_view product, std::int64_t bar_open_ts_ns, Quantity quantity);
  // Requests a cancel arriving at now + latency. If the order finishes
  // before the cancel arrives, the cancel produces no event. Error: the
  // venue does not hold the order (finished, or never submitted).
  Status cancel(std::string_view order_id);
  // The same, for a cancel first requested at market time `requested_ns`
  // (a venue rebuilt after a restart): it arrives when it did the first
  // time, requested_ns + its latency.
  Status cancel_at(std::string_view order_id, std::int64_t requested_ns);
  // Processes one bar: acks, cancels, expiries and fills, in time order.
  // Error: unknown product, or a bar not newer than the product's last.
  Result<std::vector<VenueEvent>> on_bar(const Bar& bar);

 private:
  struct Resting {
    SimOrder order;
    std::int64_t arrival_ns = 0;
    std::int64_t cancel_arrival_ns = -1;  // -1: no cancel requested
    std::string reject_reason;            // non-empty: reject at arrival
    bool acked = false;
    bool triggered = false;               // stop-limit: the stop was reached
    std::int64_t limit_from_ns = 0;       // acts as a limit order on bars opening at or after this
    bool had_limit_bar = false;           // IOC/FOK: their one chance has passed
    Quantity filled;
  };
  // Per product: the last bar's time and its bid/ask (for the next bar's spread).
  struct Book {
    std::string product;
    std::int64_t last_open_ts_ns = -1;
    Price bid;
    Price ask;
    // restore_filled(): quantity already filled on bars not yet seen.
    std::vector<std::pair<std::int64_t, Quantity>> filled_before;
  };
  struct BarWork {
    const Bar& bar;
    const ProductSpec& spec;
    const Book& book;
    Quantity volume_left;  // the per-bar fill cap still available
    std::vector<VenueEvent>& out;
  };

  // Ack latency plus the order's jitter; `salt` 0 for the order, 1 for its cancel.
  std::int64_t latency_ns(std::string_view order_id, std::uint64_t salt) const;
  Book* book_of(std::string_view product);
  const Book* book_of(std::string_view product) const;
  const ProductSpec* spec(std::string_view product) const;
  // Returns true when the order is finished and leaves the book.
  bool work(Resting& r, BarWork& w);
  bool fill_as_limit(Resting& r, BarWork& w, bool arrival_bar);
  void emit_fill(Resting& r, BarWork& w, std::int64_t ts_ns, Quantity qty, Price price, bool maker);
  Price slipped_open(const Resting& r, const BarWork& w, Quantity qty) const;
  Quantity fill_cap(const Resting& r, const BarWork& w) const;

  SimVenueConfig config_;
  std::vector<ProductSpec> products_;
  std::int64_t now_ns_ = 0;
  std::vector<Resting> orders_;  // in submission order
  std::vector<Book> books_;      // one per product, in config order
};

}  // namespace ta::gate
