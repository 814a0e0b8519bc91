// replay_journal(): a journal of hand-written gate records rebuilds the
// state the records describe, and a record that does not fit (an order
// update whose state the replay does not reach, a journal from another
// mode, a foreign record type, a halt without its cause) stops the replay
// with the record's sequence number. Proposal records rebuild the proposal
// book and its parameter relays.
#include "recovery.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "journal/journal.h"
#include "records.h"

namespace ta::gate::daemon {
namespace {

Decimal D(const char* text) { return Decimal::parse(text).value(); }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ta-replay-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

Config config() {
  Config c;
  c.gate.mode = Mode::kSim;
  c.gate.products = {ProductSpec{"BTC-USD", D("0.00000001"), D("0.01")}};
  c.safety.products = {ProductLimits{"BTC-USD", D("0.0001"), D("1"), D("0.00000001"), D("0.01")}};
  return c;
}

void write(const std::filesystem::path& dir, const std::vector<ipc::GateRecord>& records, std::uint16_t type = 1) {
  auto w = journal::Writer::open(dir, journal::Options{});
  ASSERT_TRUE(w.ok()) << w.error().message;
  for (const auto& r : records) ASSERT_TRUE((*w)->append(r.ts_ns(), type, r.SerializeAsString()).ok());
  ASSERT_TRUE((*w)->close().ok());
}

ipc::GateRecord started(ipc::Mode mode, const char* cash) {
  ipc::GateRecord r;
  r.mutable_started()->set_mode(mode);
  r.mutable_started()->set_starting_cash(cash);
  return r;
}

ipc::GateRecord accepted(const char* intent_id, const char* order_id) {
  ipc::GateRecord r;
  ipc::OrderIntent* i = r.mutable_intent_decided()->mutable_intent();
  i->set_intent_id(intent_id);
  i->set_strategy("s");
  i->set_product("BTC-USD");
  i->set_side(ipc::SIDE_BUY);
  i->set_type(ipc::ORDER_TYPE_MARKET);
  i->set_quantity("0.01");
  i->set_time_in_force(ipc::TIME_IN_FORCE_GTC);
  ipc::Decision* d = r.mutable_intent_decided()->mutable_decision();
  d->set_intent_id(intent_id);
  d->set_accepted(true);
  d->set_order_id(order_id);
  d->set_quantity("0.01");
  d->set_decided_ts_ns(1000);
  ipc::DecisionField* f = d->add_fields();
  f->set_name("order_price");
  f->set_value("7000");
  return r;
}

ipc::GateRecord update(const char* order_id, ipc::OrderState state, ipc::OrderEventType event, const char* filled) {
  ipc::GateRecord r;
  ipc::OrderUpdate* u = r.mutable_order_update();
  u->set_order_id(order_id);
  u->set_state(state);
  u->set_event(event);
  u->set_filled_quantity(filled);
  u->set_ts_ns(2000);
  return r;
}

ipc::GateRecord fill(const char* order_id, const char* qty, const char* price) {
  ipc::GateRecord r;
  ipc::Fill* f = r.mutable_fill();
  f->set_fill_id("f-1");
  f->set_order_id(order_id);
  f->set_product("BTC-USD");
  f->set_side(ipc::SIDE_BUY);
  f->set_quantity(qty);
  f->set_price(price);
  f->set_fee("0.5");
  f->set_ts_ns(3000);
  return r;
}

TEST(Replay, AFreshJournalStartsFromTheConfig) {
  TempDir dir;
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->new_journal);
  EXPECT_EQ(r->state->ledger().cash(), config().safety.starting_cash);
}

TEST(Replay, RecordsRebuildOrdersLedgerHaltAndCancels) {
  TempDir dir;
  ipc::GateRecord mark;
  mark.mutable_mark()->set_product("BTC-USD");
  mark.mutable_mark()->set_price("7100");
  mark.mutable_mark()->set_ts_ns(60'000'000'000);
  ipc::GateRecord kill;
  ipc::HaltStateChanged* h = kill.mutable_halt_state_changed();
  h->set_from(ipc::HALT_STATE_ACTIVE);
  h->set_to(ipc::HALT_STATE_KILLED);
  h->set_cause(ipc::HALT_CAUSE_OPERATOR_KILL);
  h->set_reason("test");
  h->set_ts_ns(4000);
  ipc::GateRecord cancel;
  cancel.mutable_cancel_requested()->set_cancel_id("c-1");
  cancel.mutable_cancel_requested()->set_intent_id("i-2");
  write(dir.path(), {started(ipc::MODE_SIM, "5000"), accepted("i-1", "o-1"),
                     update("o-1", ipc::ORDER_STATE_SUBMITTED, ipc::ORDER_EVENT_TYPE_SUBMIT, "0"),
                     fill("o-1", "0.01", "7000"),
                     update("o-1", ipc::ORDER_STATE_FILLED, ipc::ORDER_EVENT_TYPE_FILL, "0.01"), mark, kill,
                     accepted("i-2", "o-2"), cancel,
                     update("o-2", ipc::ORDER_STATE_CANCELLED, ipc::ORDER_EVENT_TYPE_CANCEL_REQUEST, "0")});
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const GateState& s = *r->state;
  EXPECT_FALSE(r->new_journal);
  EXPECT_EQ(r->starting_cash, D("5000"));  // the journal's, not the config's 10000
  EXPECT_EQ(r->records, 10u);
  EXPECT_EQ(r->fills, 1u);
  EXPECT_EQ(s.ledger().position_quantity("BTC-USD"), D("0.01"));
  EXPECT_EQ(s.ledger().cash(), D("4929.5"));  // 5000 - 70 - 0.5 fee
  EXPECT_EQ(s.halt().state(), HaltState::kKilled);
  EXPECT_EQ(r->halt_reason, "test");
  EXPECT_EQ(r->market_now_ns, 60'000'000'000);
  ASSERT_EQ(r->marks.size(), 1u);
  EXPECT_EQ(r->marks[0].price, D("7100"));
  ASSERT_EQ(r->cancels.size(), 1u);
  EXPECT_TRUE(s.live_orders().empty());
  ASSERT_EQ(s.closed_orders().size(), 2u);
  EXPECT_NE(s.find_intent("i-1"), nullptr);  // idempotency memory rebuilt
  EXPECT_EQ(s.next_order_id(), "o-3");
}

TEST(Replay, AnUpdateTheReplayDoesNotReachStopsIt) {
  TempDir dir;
  write(dir.path(), {started(ipc::MODE_SIM, "5000"), accepted("i-1", "o-1"),
                     update("o-1", ipc::ORDER_STATE_OPEN, ipc::ORDER_EVENT_TYPE_SUBMIT, "0")});
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("seq 3: order_update: order o-1 is ORDER_STATE_SUBMITTED"), std::string::npos)
      << r.error().message;
}

TEST(Replay, AnIllegalTransitionStopsIt) {
  TempDir dir;
  write(dir.path(), {started(ipc::MODE_SIM, "5000"), accepted("i-1", "o-1"),
                     update("o-1", ipc::ORDER_STATE_OPEN, ipc::ORDER_EVENT_TYPE_ACK, "0")});
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("seq 3"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("illegal order transition: PENDING_NEW + ack"), std::string::npos)
      << r.error().message;
}

TEST(Replay, AJournalFromAnotherModeIsRefused) {
  TempDir dir;
  write(dir.path(), {started(ipc::MODE_PAPER, "5000")});
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("written in MODE_PAPER mode; this gate runs MODE_SIM"), std::string::npos)
      << r.error().message;
}

TEST(Replay, AForeignRecordTypeIsRefused) {
  TempDir dir;
  write(dir.path(), {started(ipc::MODE_SIM, "5000")}, 2);
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("seq 1: record type 2 is not a gate record"), std::string::npos)
      << r.error().message;
}

TEST(Replay, AHaltWithoutItsCauseIsRefused) {
  TempDir dir;
  ipc::GateRecord halt;
  halt.mutable_halt_state_changed()->set_to(ipc::HALT_STATE_HALTED);
  write(dir.path(), {started(ipc::MODE_SIM, "5000"), halt});
  auto r = replay_journal(dir.path(), config(), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("seq 2: halt_state_changed: halt change without a known cause"), std::string::npos)
      << r.error().message;
}

ipc::GateRecord proposal(const char* id, const char* payload, ipc::ProposalState state, std::int64_t ts_ns) {
  ipc::GateRecord r;
  ipc::ProposalStateChanged* p = r.mutable_proposal_state_changed();
  p->mutable_proposal()->set_proposal_id(id);
  p->mutable_proposal()->set_kind(ipc::PROPOSAL_KIND_STRATEGY_PARAMETER);
  p->mutable_proposal()->set_payload(payload);
  p->mutable_proposal()->set_source(ipc::PROPOSAL_SOURCE_LOOP2);
  p->set_state(state);
  p->set_actor(state == ipc::PROPOSAL_STATE_PENDING ? "agent:loop2" : "uid:1000");
  p->set_ts_ns(ts_ns);
  p->set_expires_ts_ns(ts_ns + 3'600'000'000'000);
  return r;
}

ipc::GateRecord ack(const char* id) {
  ipc::GateRecord r;
  r.mutable_parameter_change_ack()->set_proposal_id(id);
  r.mutable_parameter_change_ack()->set_applied(true);
  r.mutable_parameter_change_ack()->set_detail("done");
  return r;
}

TEST(Replay, ProposalsAndTheirRelaysAreRebuilt) {
  TempDir dir;
  write(dir.path(), {started(ipc::MODE_SIM, "5000"), proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_PENDING, 10),
                     proposal("x-2", "mo.fast_period=7", ipc::PROPOSAL_STATE_PENDING, 11),
                     proposal("x-3", "mo.slow_period=40", ipc::PROPOSAL_STATE_PENDING, 12),
                     proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_APPROVED, 20),
                     proposal("x-2", "mo.fast_period=7", ipc::PROPOSAL_STATE_APPROVED, 21), ack("x-1"),
                     proposal("x-3", "mo.slow_period=40", ipc::PROPOSAL_STATE_REJECTED, 22)});
  Config c = config();
  c.gate.proposal_expiry_ms = 2 * 3'600'000;
  auto r = replay_journal(dir.path(), c, 0);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ProposalBook& book = r->proposals;
  EXPECT_EQ(book.limits().expiry_s, 2 * 3600) << "proposals.expiry from the config";
  EXPECT_EQ(book.pending_count(), 0u);
  EXPECT_EQ(book.find("x-1")->state, ipc::PROPOSAL_STATE_APPROVED);
  EXPECT_EQ(book.find("x-1")->relay, "applied: done");
  EXPECT_EQ(book.find("x-3")->state, ipc::PROPOSAL_STATE_REJECTED);
  ASSERT_EQ(book.pending_relays().size(), 1u);
  EXPECT_EQ(book.pending_relays()[0].proposal_id(), "x-2");
  EXPECT_EQ(book.pending_relays()[0].parameter(), "fast_period");
}

TEST(Replay, AProposalRecordThatDoesNotApplyStopsIt) {
  const std::vector<std::pair<std::vector<ipc::GateRecord>, std::string>> cases = {
      {{proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_APPROVED, 20)},
       "seq 2: proposal_state_changed: no proposal x-1 to move to PROPOSAL_STATE_APPROVED"},
      {{proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_PENDING, 10),
        proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_REJECTED, 20),
        proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_APPROVED, 30)},
       "seq 4: proposal_state_changed: illegal proposal transition: PROPOSAL_STATE_REJECTED -> "
       "PROPOSAL_STATE_APPROVED for x-1"},
      {{proposal("x-1", "mr.entry_z=2", ipc::PROPOSAL_STATE_PENDING, 10), ack("x-1")},
       "seq 3: parameter_change_ack: no parameter change x-1 waits for the agent"},
  };
  for (const auto& [records, message] : cases) {
    TempDir dir;
    std::vector<ipc::GateRecord> all = {started(ipc::MODE_SIM, "5000")};
    all.insert(all.end(), records.begin(), records.end());
    write(dir.path(), all);
    auto r = replay_journal(dir.path(), config(), 0);
    ASSERT_FALSE(r.ok()) << message;
    EXPECT_NE(r.error().message.find(message), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace ta::gate::daemon
