// tradectl's proposals verbs without a gate: the requests they send and the
// text of the list (the verbs against a real gate are in
// tests/integration/gate/proposals_test.cpp).
#include <gtest/gtest.h>

#include "tradectl.h"

namespace ta::tradectl {
namespace {

TEST(ProposalsCmd, RequestsCarryTheIdTheDecisionAndTheReason) {
  Args args;
  args.verb = Verb::kProposalsList;
  ipc::AdminEnvelope list = request_for(args);
  ASSERT_TRUE(list.has_proposals_list_request());
  EXPECT_TRUE(list.proposals_list_request().proposal_id().empty()) << "the whole list";

  args.verb = Verb::kProposalsShow;
  args.proposal_id = "p-7";
  ipc::AdminEnvelope show = request_for(args);
  ASSERT_TRUE(show.has_proposals_list_request());
  EXPECT_EQ(show.proposals_list_request().proposal_id(), "p-7");

  args.verb = Verb::kProposalsApprove;
  args.reason = "backtest agrees";
  ipc::AdminEnvelope approve = request_for(args);
  ASSERT_TRUE(approve.has_proposal_decision_request());
  EXPECT_EQ(approve.proposal_decision_request().proposal_id(), "p-7");
  EXPECT_TRUE(approve.proposal_decision_request().approve());
  EXPECT_EQ(approve.proposal_decision_request().reason(), "backtest agrees");

  args.verb = Verb::kProposalsReject;
  args.reason = "evidence too thin";
  ipc::AdminEnvelope reject = request_for(args);
  ASSERT_TRUE(reject.has_proposal_decision_request());
  EXPECT_FALSE(reject.proposal_decision_request().approve());
  EXPECT_EQ(reject.proposal_decision_request().reason(), "evidence too thin");
}

TEST(ProposalsCmd, ListAsText) {
  ipc::ProposalsListReply reply;
  EXPECT_EQ(format_proposals(reply), "no proposals\n");

  ipc::ProposalInfo* pending = reply.add_proposals();
  pending->set_proposal_id("p-1");
  pending->set_kind(ipc::PROPOSAL_KIND_ADD_RULE);
  pending->set_state(ipc::PROPOSAL_STATE_PENDING);
  pending->set_source(ipc::PROPOSAL_SOURCE_LOOP3);
  pending->set_summary("add rule small_orders_only v1");
  pending->set_submitted_ts_ns(1'522'800'060'000'000'000);
  pending->set_expires_ts_ns(1'523'404'860'000'000'000);
  ipc::ProposalInfo* decided = reply.add_proposals();
  decided->set_proposal_id("x-1");
  decided->set_kind(ipc::PROPOSAL_KIND_STRATEGY_PARAMETER);
  decided->set_state(ipc::PROPOSAL_STATE_REJECTED);
  decided->set_source(ipc::PROPOSAL_SOURCE_LOOP2);
  decided->set_summary("set mr.entry_z=2.25");
  decided->set_submitted_ts_ns(1'522'800'060'000'000'000);
  decided->set_expires_ts_ns(1'523'404'860'000'000'000);
  decided->set_decided_by("uid:1000:alice");
  EXPECT_EQ(format_proposals(reply),
            "PROPOSAL  KIND                STATE     SOURCE  WHAT                           SUBMITTED                 "
            "EXPIRES                   DECIDED_BY\n"
            "p-1       ADD_RULE            PENDING   LOOP3   add rule small_orders_only v1  2018-04-04T00:01:00.000Z  "
            "2018-04-11T00:01:00.000Z  -\n"
            "x-1       STRATEGY_PARAMETER  REJECTED  LOOP2   set mr.entry_z=2.25            2018-04-04T00:01:00.000Z  "
            "-                         uid:1000:alice\n");
  // Entries the gate left out to fit one frame are counted.
  reply.set_omitted(3);
  EXPECT_NE(format_proposals(reply).find("(3 older decided proposal(s) not shown: one reply frame is full)\n"),
            std::string::npos);
  reply.clear_proposals();
  EXPECT_EQ(format_proposals(reply), "(3 older decided proposal(s) not shown: one reply frame is full)\n")
      << "not 'no proposals' when some were left out";
}

}  // namespace
}  // namespace ta::tradectl
