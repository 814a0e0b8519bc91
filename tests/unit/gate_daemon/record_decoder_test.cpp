// GateRecordDecoder: whichever path decodes a payload (the IntentDecided
// fast path or the whole-GateRecord parse), it means what
// GateRecord::ParseFromArray says it means.
#include "record_decoder.h"

#include <gtest/gtest.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <random>
#include <string>

namespace ta::gate::daemon {
namespace {

using google::protobuf::util::MessageDifferencer;

ipc::GateRecord decided(std::int64_t ts_ns, const std::string& id, bool with_facts) {
  ipc::GateRecord r;
  r.set_ts_ns(ts_ns);
  ipc::IntentDecided* d = r.mutable_intent_decided();
  ipc::OrderIntent* i = d->mutable_intent();
  i->set_intent_id(id);
  i->set_strategy("mean_reversion_long_name");
  i->set_product("BTC-USD");
  i->set_side(ipc::SIDE_BUY);
  i->set_type(ipc::ORDER_TYPE_LIMIT);
  i->set_quantity("0.00123400");
  i->set_limit_price("60000.01");
  i->set_created_ts_ns(ts_ns - 5);
  ipc::Decision* dec = d->mutable_decision();
  dec->set_intent_id(id);
  dec->set_accepted(true);
  dec->set_order_id("g-000000123");
  dec->add_rules_fired("core.max_notional_rule");
  ipc::DecisionField* f = dec->add_fields();
  f->set_name("order_notional");
  f->set_value("74.05");
  dec->set_decided_ts_ns(ts_ns);
  if (with_facts) {
    d->mutable_rule_facts()->set_order_product("BTC-USD");
    d->mutable_rule_facts()->set_order_notional("74.05");
  }
  return r;
}

// What the decoder holds, as a GateRecord.
ipc::GateRecord as_record(const GateRecordDecoder& d) {
  if (d.body() != ipc::GateRecord::kIntentDecided || !d.fast_path()) return d.record();
  ipc::GateRecord r;
  r.set_ts_ns(d.ts_ns());
  *r.mutable_intent_decided()->mutable_intent() = d.intent();
  *r.mutable_intent_decided()->mutable_decision() = d.decision();
  if (d.rule_facts() != nullptr) *r.mutable_intent_decided()->mutable_rule_facts() = *d.rule_facts();
  return r;
}

// Decodes `payload` and checks it against the protobuf parser.
void expect_same(GateRecordDecoder& d, const std::string& payload) {
  ipc::GateRecord want;
  const bool parses = want.ParseFromString(payload);
  ASSERT_EQ(d.decode(payload), parses);
  if (!parses) return;
  EXPECT_EQ(d.body(), want.body_case());
  EXPECT_EQ(d.ts_ns(), want.ts_ns());
  ipc::GateRecord got = as_record(d);
  // An absent intent or decision and an empty one mean the same to replay.
  for (ipc::GateRecord* r : {&got, &want}) {
    if (!r->has_intent_decided()) continue;
    r->mutable_intent_decided()->mutable_intent();
    r->mutable_intent_decided()->mutable_decision();
  }
  EXPECT_TRUE(MessageDifferencer::Equals(got, want)) << got.ShortDebugString() << "\nvs\n" << want.ShortDebugString();
}

TEST(GateRecordDecoder, IntentDecidedTakesTheFastPathAndReusesItsMessages) {
  GateRecordDecoder d;
  for (int n = 0; n < 3; ++n) {
    const ipc::GateRecord r = decided(1000 + n, "intent-with-a-long-identifier-" + std::to_string(n), n == 1);
    ASSERT_TRUE(d.decode(r.SerializeAsString()));
    EXPECT_TRUE(d.fast_path());
    EXPECT_EQ(d.body(), ipc::GateRecord::kIntentDecided);
    EXPECT_EQ(d.ts_ns(), 1000 + n);
    EXPECT_TRUE(MessageDifferencer::Equals(d.intent(), r.intent_decided().intent()));
    EXPECT_TRUE(MessageDifferencer::Equals(d.decision(), r.intent_decided().decision()));
    EXPECT_EQ(d.rule_facts() != nullptr, n == 1) << "facts of one record never leak into the next";
  }
}

TEST(GateRecordDecoder, OtherBodiesAndOddEncodingsTakeTheFullParse) {
  GateRecordDecoder d;
  ipc::GateRecord mark;
  mark.set_ts_ns(7);
  mark.mutable_mark()->set_product("ETH-USD");
  mark.mutable_mark()->set_price("3000");
  ASSERT_TRUE(d.decode(mark.SerializeAsString()));
  EXPECT_FALSE(d.fast_path());
  EXPECT_EQ(d.body(), ipc::GateRecord::kMark);
  EXPECT_EQ(d.record().mark().product(), "ETH-USD");
  EXPECT_EQ(d.ts_ns(), 7);

  const std::string one = decided(1, "a", false).SerializeAsString();
  const std::string two = decided(2, "b", true).SerializeAsString();
  // The body twice (protobuf merges the two): not the canonical form.
  expect_same(d, one + two);
  EXPECT_FALSE(d.fast_path());
  // An unknown field after the body.
  expect_same(d, one + std::string("\xf8\x01\x05", 3));
  EXPECT_FALSE(d.fast_path());
  // An empty payload and an empty IntentDecided.
  expect_same(d, "");
  expect_same(d, std::string("\x62\x00", 2));
  EXPECT_TRUE(d.fast_path());
  EXPECT_TRUE(d.intent().intent_id().empty());
  // Garbage and a cut record do not parse, on either path.
  EXPECT_FALSE(d.decode(std::string("\x62\x7f\x01", 3)));
  EXPECT_FALSE(d.decode(one.substr(0, one.size() - 3)));
  EXPECT_FALSE(d.decode("\xff\xff\xff"));
}

TEST(GateRecordDecoder, AgreesWithTheProtobufParserOnMutatedRecords) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937 rng(seed);
  GateRecordDecoder d;
  const std::string base = decided(123456789, "intent-0001", true).SerializeAsString();
  for (int n = 0; n < 3000; ++n) {
    std::string p = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0:
          p[rng() % p.size()] = static_cast<char>(rng());
          break;
        case 1:
          p.resize(rng() % (p.size() + 1));
          break;
        case 2:
          p.insert(rng() % (p.size() + 1), 1, static_cast<char>(rng()));
          break;
      }
      if (p.empty()) break;
    }
    SCOPED_TRACE("case " + std::to_string(n));
    expect_same(d, p);
  }
}

}  // namespace
}  // namespace ta::gate::daemon
