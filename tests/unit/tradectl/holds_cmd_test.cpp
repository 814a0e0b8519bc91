// tradectl's holds verbs without a gate: the requests they send and the
// text of the list (the verbs against a real gate are in
// tests/integration/gate/holds_test.cpp).
#include <gtest/gtest.h>

#include "tradectl.h"

namespace ta::tradectl {
namespace {

TEST(HoldsCmd, RequestsCarryTheIntentTheDecisionAndTheReason) {
  Args args;
  args.verb = Verb::kHoldsList;
  EXPECT_TRUE(request_for(args).has_holds_list_request());

  args.verb = Verb::kHoldsApprove;
  args.intent_id = "mr-BTC-USD-1522800060";
  args.reason = "checked the book";
  ipc::AdminEnvelope approve = request_for(args);
  ASSERT_TRUE(approve.has_hold_decision_request());
  EXPECT_EQ(approve.hold_decision_request().intent_id(), "mr-BTC-USD-1522800060");
  EXPECT_TRUE(approve.hold_decision_request().approve());
  EXPECT_EQ(approve.hold_decision_request().reason(), "checked the book");

  args.verb = Verb::kHoldsReject;
  args.reason = "too large";
  ipc::AdminEnvelope reject = request_for(args);
  ASSERT_TRUE(reject.has_hold_decision_request());
  EXPECT_FALSE(reject.hold_decision_request().approve());
  EXPECT_EQ(reject.hold_decision_request().reason(), "too large");
}

TEST(HoldsCmd, ListAsText) {
  ipc::HoldsListReply reply;
  EXPECT_EQ(format_holds(reply), "no held orders\n");

  ipc::HoldInfo* h = reply.add_holds();
  h->mutable_intent()->set_intent_id("i-1");
  h->mutable_intent()->set_strategy("mr");
  h->mutable_intent()->set_product("ETH-USD");
  h->mutable_intent()->set_side(ipc::SIDE_SELL);
  h->mutable_intent()->set_quantity("2");
  h->mutable_decision()->set_quantity("1.5");  // a rule capped it before holding
  h->mutable_decision()->set_reduce_only(true);
  h->mutable_decision()->add_rules_fired("cap_eth");
  h->mutable_decision()->add_rules_fired("hold_big");
  h->set_held_ts_ns(1'522'800'060'000'000'000);
  h->set_expires_ts_ns(1'522'800'660'000'000'000);
  EXPECT_EQ(format_holds(reply),
            "INTENT  STRATEGY  PRODUCT  SIDE  QUANTITY  REDUCE_ONLY  RULES             HELD                      "
            "EXPIRES\n"
            "i-1     mr        ETH-USD  SELL  1.5       yes          cap_eth,hold_big  2018-04-04T00:01:00.000Z  "
            "2018-04-04T00:11:00.000Z\n");
  reply.set_omitted(2);
  EXPECT_NE(format_holds(reply).find("2 more held order(s) did not fit one reply\n"), std::string::npos);
  reply.clear_holds();
  EXPECT_EQ(format_holds(reply), "2 more held order(s) did not fit one reply\n") << "not 'no held orders'";
}

}  // namespace
}  // namespace ta::tradectl
