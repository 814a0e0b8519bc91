// IntentMemory, the compact idempotency memory: every decision comes back
// byte for byte, the oldest entry leaves first at the limit (one below, at,
// one above), replaced entries move to the newest place, the hash index
// survives heavy churn (seeded, seed printed), and the memory per entry
// stays small enough for kRememberedIntentsMax in the gate's budget.
#include "gate/intent_memory.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "gate/core.h"

namespace ta::gate {
namespace {

constexpr std::int64_t kT0 = 1'712'345'678'000'000'000;

ipc::Decision accepted(const std::string& id, std::uint64_t order_number, std::int64_t ts) {
  ipc::Decision d;
  d.set_intent_id(id);
  d.set_accepted(true);
  d.set_order_id("o-" + std::to_string(order_number));
  d.set_quantity("0.0015");
  d.set_decided_ts_ns(ts);
  ipc::DecisionField* f = d.add_fields();
  f->set_name("order_price");
  f->set_value("59980.5");
  return d;
}

ipc::Decision denied(const std::string& id, std::int64_t ts) {
  ipc::Decision d;
  d.set_intent_id(id);
  d.set_reason(ipc::DENY_REASON_ORDER_RATE_ABOVE_MAX);
  d.set_detail("accepted orders in the last 60 s would exceed order_rate_per_minute_max");
  d.set_limit("600");
  d.set_observed("601");
  d.set_decided_ts_ns(ts);
  return d;
}

std::string bytes(const ipc::Decision& d) { return d.SerializeAsString(); }

TEST(IntentMemory, DecisionsComeBackExactly) {
  IntentMemory m(100);
  std::vector<ipc::Decision> all;
  all.push_back(accepted("a-1", 1, kT0));
  all.push_back(denied("d-1", kT0 + 5));
  ipc::Decision odd = denied("odd-1", -7);  // before the epoch, far from its creation
  odd.set_limit("1.50");                    // not canonical: kept as text
  odd.set_observed("-0.00000001");
  odd.set_order_id("o-007");                // not canonical either
  odd.set_quantity("99999999999.99999999");
  odd.add_rules_fired("big_orders");
  odd.add_rules_fired("big_orders");
  odd.add_rules_fired(std::string(300, 'r'));  // too long to intern
  ipc::DecisionField* f = odd.add_fields();
  f->set_name("hold_expiry_s");
  f->set_value("3600");
  f = odd.add_fields();
  f->set_name("");
  f->set_value("");
  odd.set_reduce_only(true);
  all.push_back(odd);
  ipc::Decision unknown = accepted("u-1", 2, kT0);
  unknown.GetReflection()->MutableUnknownFields(&unknown)->AddVarint(99, 7);  // from a newer gate
  all.push_back(unknown);
  ipc::Decision empty;
  empty.set_intent_id("e-1");
  all.push_back(empty);
  for (std::size_t i = 0; i < all.size(); ++i) m.add(all[i].intent_id(), 1000 + i, kT0 - 1, all[i]);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto r = m.find(all[i].intent_id());
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->fingerprint, 1000 + i);
    EXPECT_EQ(bytes(r->decision), bytes(all[i])) << i;
  }
  EXPECT_FALSE(m.find("nope").has_value());
  EXPECT_FALSE(m.contains("nope"));
  EXPECT_EQ(m.size(), all.size());
}

// Decimal strings of every shape - canonical or not, huge, negative,
// junk - come back exactly; canonical ones are stored as numbers.
TEST(IntentMemory, PropertyValuesComeBackExactly) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("TA_TEST_SEED")) seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  const std::string alphabet = "0123456789.-0000.e ";
  std::vector<std::string> values = {"0", "-0", "0.0", "00", "1.", ".5", "-", "", "1.10", "92233720368.54775807",
                                     "92233720368.54775808", "-92233720368.54775808", "-92233720368.54775809",
                                     "123456789012", "0.000000001", "0.00000001", "-0.00000001", "1e5", "5 ", "o-0",
                                     "o-12", "o-", "o-18446744073709551615", "o-18446744073709551616"};
  for (int k = 0; k < 2'000; ++k) {
    if (rng() % 2 == 0) {
      values.push_back(Decimal::from_units(static_cast<std::int64_t>(rng()) * static_cast<std::int64_t>(rng() % 1000) -
                                           500'000'000'000LL)
                           .to_string());
    } else {
      std::string v;
      for (std::size_t n = rng() % 14; n > 0; --n) v.push_back(alphabet[rng() % alphabet.size()]);
      values.push_back(v);
    }
  }
  IntentMemory m(values.size());
  for (std::size_t k = 0; k < values.size(); ++k) {
    ipc::Decision d = denied("v-" + std::to_string(k), kT0);
    d.set_limit(values[k]);
    d.set_observed(values[values.size() - 1 - k]);
    d.set_quantity(values[k]);
    d.set_order_id(values[k]);
    m.add(d.intent_id(), k, kT0, d);
    const auto back = m.find(d.intent_id());
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(bytes(back->decision), bytes(d)) << "seed=" << seed << " value '" << values[k] << "'";
  }
}

// At the limit, one below and one above: the oldest id goes first, and
// forgotten_created_max_ns() reports the latest creation time forgotten.
TEST(IntentMemory, OldestLeavesFirstAtTheLimit) {
  constexpr std::size_t kCap = 3;
  IntentMemory m(kCap);
  for (std::size_t k = 1; k <= kCap + 1; ++k) {
    const std::string id = "i-" + std::to_string(k);
    m.add(id, k, kT0 + static_cast<std::int64_t>(k), accepted(id, k, kT0 + 10));
    EXPECT_EQ(m.size(), std::min(k, kCap));
    if (k <= kCap) {  // one below the limit, then at it: nothing forgotten
      EXPECT_TRUE(m.contains("i-1")) << k;
      EXPECT_FALSE(m.forgotten_created_max_ns().has_value()) << k;
    }
  }
  // One above: i-1 (created kT0 + 1) is forgotten, the rest stay.
  EXPECT_FALSE(m.contains("i-1"));
  for (const char* id : {"i-2", "i-3", "i-4"}) EXPECT_TRUE(m.contains(id)) << id;
  ASSERT_TRUE(m.forgotten_created_max_ns().has_value());
  EXPECT_EQ(*m.forgotten_created_max_ns(), kT0 + 1);
  // The horizon never moves back when an older creation time leaves later.
  m.add("i-5", 5, kT0 - 100, accepted("i-5", 5, kT0));
  m.add("i-6", 6, kT0 - 100, accepted("i-6", 6, kT0));
  m.add("i-7", 7, kT0 - 100, accepted("i-7", 7, kT0));
  m.add("i-8", 8, kT0 - 100, accepted("i-8", 8, kT0));  // i-5 leaves
  EXPECT_EQ(*m.forgotten_created_max_ns(), kT0 + 4);
}

TEST(IntentMemory, ReplaceMakesTheEntryTheNewest) {
  IntentMemory m(3);
  m.add("h-1", 1, kT0, denied("h-1", kT0));
  m.add("i-2", 2, kT0, accepted("i-2", 2, kT0));
  EXPECT_FALSE(m.replace("nope", denied("nope", kT0)));
  const ipc::Decision settled = accepted("h-1", 3, kT0 + 60);
  ASSERT_TRUE(m.replace("h-1", settled));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(bytes(m.find("h-1")->decision), bytes(settled));
  EXPECT_EQ(m.find("h-1")->fingerprint, 1u);
  m.add("i-3", 4, kT0, accepted("i-3", 4, kT0));
  m.add("i-4", 5, kT0, accepted("i-4", 5, kT0));  // full: i-2 is now the oldest
  EXPECT_FALSE(m.contains("i-2"));
  EXPECT_TRUE(m.contains("h-1"));
  EXPECT_EQ(m.size(), 3u);
}

// Random adds, replaces and evictions against a plain map of what must be
// remembered; the index's backward-shift deletion is the risky part.
TEST(IntentMemory, PropertyAgreesWithAPlainMap) {
  unsigned seed = std::random_device{}();
  if (const char* s = std::getenv("TA_TEST_SEED")) seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  for (std::size_t cap : {1u, 2u, 7u, 64u, 1000u}) {
    SCOPED_TRACE("seed=" + std::to_string(seed) + " capacity=" + std::to_string(cap));
    IntentMemory m(cap);
    std::deque<std::string> order;  // remembered ids, oldest first
    std::map<std::string, std::string> expected;
    for (int step = 0; step < 5'000; ++step) {
      if (!order.empty() && rng() % 10 == 0) {
        const std::string id = order[rng() % order.size()];
        const ipc::Decision d = denied(id, kT0 + step);
        ASSERT_TRUE(m.replace(id, d));
        order.erase(std::find(order.begin(), order.end(), id));
        order.push_back(id);
        expected[id] = bytes(d);
      } else {
        const std::string id = "x-" + std::to_string(step);
        const ipc::Decision d = rng() % 2 ? accepted(id, static_cast<std::uint64_t>(step) + 1, kT0 + step)
                                          : denied(id, kT0 + step);
        m.add(id, static_cast<std::uint64_t>(step), kT0 + step, d);
        if (order.size() == cap) {
          expected.erase(order.front());
          order.pop_front();
        }
        order.push_back(id);
        expected[id] = bytes(d);
      }
      ASSERT_EQ(m.size(), order.size());
      if (step % 97 == 0) {
        for (const auto& [id, b] : expected) {
          const auto r = m.find(id);
          ASSERT_TRUE(r.has_value()) << id;
          ASSERT_EQ(bytes(r->decision), b) << id;
        }
        for (int k = 0; k < 20; ++k) {
          const std::string gone = "x-" + std::to_string(rng() % (step + 1));
          ASSERT_EQ(m.contains(gone), expected.count(gone) == 1) << gone;
        }
      }
    }
  }
}

// The interned-text table at its limits: the kInternedTextsMax-th distinct
// text is still interned, the one after it is stored with each entry; a
// text of kInternedTextLengthMax bytes is interned, one byte longer is
// not. Every decision comes back exactly either way. Interning shows in
// the bytes an entry adds: a number instead of the text.
TEST(IntentMemory, InternedTextsAtTheirLimits) {
  IntentMemory m(100'000);
  std::size_t n = 0;
  // The bytes one more entry with this detail adds (the index does not grow
  // here: it has room for 6,553 entries once it holds 4,097).
  const auto added_by = [&](const std::string& detail) {
    ipc::Decision d = denied("t-" + std::to_string(n), kT0);
    d.set_detail(detail);
    const std::size_t before = m.memory_bytes();
    m.add(d.intent_id(), n, kT0, d);
    ++n;
    const auto back = m.find(d.intent_id());
    EXPECT_TRUE(back.has_value());
    if (back) {
      EXPECT_EQ(bytes(back->decision), bytes(d)) << detail.size();
    }
    return m.memory_bytes() - before;
  };
  const auto text = [](std::size_t k, std::size_t length) {
    std::string t = "text-" + std::to_string(k) + "-";
    t.resize(length, 'x');
    return t;
  };
  // One below the length limit and at it: interned (the second entry with
  // the same text adds far fewer bytes than the text); one above: inline.
  for (std::size_t length : {kInternedTextLengthMax - 1, kInternedTextLengthMax}) {
    added_by(text(0, length));
    EXPECT_LT(added_by(text(0, length)), 64u) << length;
  }
  added_by(text(0, kInternedTextLengthMax + 1));
  EXPECT_GT(added_by(text(0, kInternedTextLengthMax + 1)), kInternedTextLengthMax) << "one above the length limit";
  // Distinct texts: two are in the table already; these make one below
  // its limit, then the text at the limit, then one above.
  for (std::size_t k = 1; k <= kInternedTextsMax - 3; ++k) added_by(text(k, 200));
  added_by(text(kInternedTextsMax - 2, 200));  // the kInternedTextsMax-th
  EXPECT_LT(added_by(text(kInternedTextsMax - 2, 200)), 64u) << "the text at the table's limit";
  added_by(text(kInternedTextsMax - 1, 200));  // one above: the table is full
  EXPECT_GT(added_by(text(kInternedTextsMax - 1, 200)), 200u) << "one above the table's limit";
  EXPECT_LT(added_by(text(1, 200)), 64u) << "texts interned before stay interned";
}

// What a full default memory costs: typical decisions (acceptances and
// rate denials) take well under 100 bytes each, so 200,000 stay far below
// the gate's 32 MiB (the daemon's whole resident memory is measured in
// docs/performance-gate-daemon.md).
TEST(IntentMemory, AFullDefaultMemoryIsSmall) {
  IntentMemory m(kRememberedIntentsMax);
  for (std::size_t k = 0; k < kRememberedIntentsMax + 1'000; ++k) {
    const std::string id = "mr-btc-20240101T1200-" + std::to_string(k);
    const std::int64_t ts = kT0 + static_cast<std::int64_t>(k) * 1'000'000;
    m.add(id, k, ts, k % 4 == 0 ? accepted(id, k + 1, ts) : denied(id, ts));
  }
  EXPECT_EQ(m.size(), kRememberedIntentsMax);
  const double per_entry = static_cast<double>(m.memory_bytes()) / static_cast<double>(m.size());
  std::printf("memory_bytes=%zu per_entry=%.1f\n", m.memory_bytes(), per_entry);
  EXPECT_LT(per_entry, 100.0);
}

}  // namespace
}  // namespace ta::gate
