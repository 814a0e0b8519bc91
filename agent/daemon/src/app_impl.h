// AgentApp's private state, shared by app.cpp (lifecycle, journal, replay),
// sim.cpp (the lockstep driver and the gate's messages) and status.cpp.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <deque>

#include "agent/gate_client.h"
#include "agentd/daemon.h"
#include "coinbase/candles.h"
#include "gate.pb.h"
#include "indicators/regime.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "market/market.h"
#include "sim_book.h"
#include "strategy/ipc_convert.h"
#include "strategy/strategy.h"

namespace ta::agent {

class StatusServer;

// The record type of AgentRecord in journal_records.proto.
inline constexpr std::uint16_t kAgentRecordType = 2;

// Answers to the gate's ParameterChanges remembered by proposal id, so a
// change the gate sends again (it had not recorded the ack before a
// restart) is acknowledged again without being applied twice. The gate
// relays at most 64 unacknowledged changes at once; 1024 covers years of
// approvals, and the oldest answers are forgotten first.
inline constexpr std::size_t kParameterAnswersRememberedMax = 1024;

// Where the SIM driver is.
enum class SimPhase {
  kStarting,          // journal replayed, waiting for the first connection
  kWaitGate,          // not connected (or waiting for the connect snapshot)
  kRunning,           // stepping bars
  kPacing,            // accelerated/real speed: waiting for the next bar's time
  kAwaitReply,        // waiting for the gate's answer to a bar (lockstep, a full window, or the end)
  kAwaitDecisions,    // this bar's intents are at the gate
  kDone,              // end of data (or stopped)
};

// SIM pipeline limits. Steps the driver takes before it lets the event loop
// read the gate's answers and run timers: one batch's worth keeps a turn
// short (well under a millisecond).
inline constexpr std::size_t kDriveStepsPerTurn = 512;
// A batch is sent once its bars encode to this many bytes: half the default
// 64 KiB frame, so a batch of bars with quotes fits too.
inline constexpr std::size_t kBarBatchBytesTarget = 32 * 1024;

// Predicted steps journaled in one bar_steps record, at most: one batch's
// worth, so a record stays small and a lost tail short.
inline constexpr std::uint32_t kBarStepsPerRecordMax = 512;

// A batch of bars on its way to the gate, until its reply.
struct SentBatch {
  std::uint64_t request_id = 0;
  std::size_t end = 0;       // the reply answers every bar before this index
  bool predicted = false;    // its steps were taken on `book`: the reply is checked against it
  SimBook book;              // predicted book after its last bar
  Decimal equity_max;        // highest predicted equity of its steps
};
std::string_view to_string(SimPhase phase);

// PAPER/LIVE warm-up of one product (warm_up.cpp; docs/agent.md, "Warm-up").
enum class WarmUpState {
  kWaiting,  // no live bar yet
  kQueued,   // its first live bar came; the backfill waits its turn
  kRunning,  // the backfill runs
  kDone,     // warmed up: live bars go to the engine
  kFailed,   // the backfill failed or took too long: the strategies start cold
};
std::string_view to_string(WarmUpState state);

struct ProductWarmUp {
  WarmUpState state = WarmUpState::kWaiting;
  std::int64_t live_from_ts_s = 0;  // the first live bar's open
  std::vector<Bar> held;            // live bars waiting for the warm-up, oldest first
  std::uint64_t bars = 0;           // warm-up bars the engine took
  std::int64_t first_open_ts_s = 0;
  std::int64_t last_open_ts_s = 0;
  std::int64_t missing_minutes = 0;
  std::uint64_t requests = 0;
  std::string error;
};

// An intent the agent submitted and has not seen finish.
struct TrackedIntent {
  ta::ipc::OrderIntent message;
  ProductId product;
  OrderSide side = OrderSide::kBuy;
  Decimal quantity;
  Decimal filled;
  std::int64_t execute_bar_open_ts_s = 0;
  bool decided = false;
  bool accepted = false;
  bool journaled = false;  // its intent_sent record is in the journal
  bool held = false;       // HELD_FOR_APPROVAL: waiting for the gate's settlement
};

class AgentApp::Impl final : public GateClientHandler, public FeedHandler {
 public:
  Impl(boost::asio::io_context& io, AgentAppOptions options);
  ~Impl() override;

  Status start();
  void stop(const std::string& reason);
  std::string status_json() const;
  std::string summary_line() const;

  // GateClientHandler
  void on_state_changed(GateConnectionState state) override;
  void on_connected(const ta::ipc::HelloAck& ack) override;
  void on_disconnected(const std::string& reason) override;
  void on_decision(const ta::ipc::Decision& decision) override;
  void on_cancel_result(const ta::ipc::CancelResult& result) override;
  void on_order_update(const ta::ipc::OrderUpdate& update) override;
  void on_fill(const ta::ipc::Fill& fill) override;
  void on_position_snapshot_reply(const ta::ipc::PositionSnapshot& snapshot, std::uint64_t request_id) override;
  void on_halt_state_changed(const ta::ipc::HaltStateChanged& change) override;
  void on_parameter_change(const ta::ipc::ParameterChange& change) override;
  void on_protocol_error(const ta::ipc::ProtocolError& error) override;

  // FeedHandler (PAPER/LIVE)
  void on_bar(const Bar& bar) override;
  void on_feed_event(const FeedEvent& event) override;
  // A live bar to the engine and its intents to the gate.
  void live_bar(const Bar& bar);

  // ---- warm_up.cpp (PAPER/LIVE)
  // True when `bar` is held until its product's warm-up ends.
  bool hold_for_warm_up(const Bar& bar);
  void start_next_backfill();
  void on_backfill_done(const ProductId& product, Result<coinbase::BackfillReport> report);
  // Journals the outcome, then hands the held bars to the engine.
  void end_warm_up(const ProductId& product, ProductWarmUp& w);

  // ---- app.cpp: journal and replay
  Status open_journal();
  Status replay_journal();
  Status replay_record(const ta::ipc::AgentRecord& record);
  // Appends a record; predicted steps not journaled yet go first, in one
  // bar_steps record (journal_steps()).
  bool journal(ta::ipc::AgentRecord& record);
  bool journal_steps();
  Status load_bars();

  // ---- shared by live and replay (the engine's inputs)
  std::vector<const Intent*> step_engine(std::size_t index, const ta::ipc::PositionSnapshot* snapshot);
  std::vector<const Intent*> run_engine_bar(const Bar& bar);
  void apply_decision(const ta::ipc::Decision& decision);
  void apply_fill(const ta::ipc::Fill& fill);
  void apply_order_update(const ta::ipc::OrderUpdate& update);
  void apply_halt(ta::ipc::HaltState to);
  void ask_about_holds();
  bool apply_parameter(const ta::ipc::ParameterChange& change, std::string& detail);
  void remember_parameter_answer(const ta::ipc::AgentParameterApplied& answer);
  void apply_reconciled(const ta::ipc::AgentReconciled& r);
  void track(const Intent& intent);
  bool held_by_halt(const Intent& intent) const;

  // ---- sim.cpp: the SIM driver (lockstep and pipeline)
  void advance();
  void drive();
  bool may_predict() const;
  bool predicted_step();
  void lockstep_step(const ta::ipc::PositionSnapshot& snapshot);
  void catch_up_step();
  void after_step(const std::vector<const Intent*>& to_send);
  void queue_bar(std::size_t index);
  void send_batch();
  void on_batch_reply(const ta::ipc::PositionSnapshot& snapshot);
  void resend_from(std::size_t first);
  void submit(const Intent& intent);
  void on_connect_snapshot(const ta::ipc::PositionSnapshot& snapshot);
  void reconcile(const ta::ipc::PositionSnapshot& snapshot);
  void settle_passed_orders(const Bar& bar);
  // Waits until the journal holds `seq` durably; false (the run failed)
  // when the journal is not writable.
  bool make_durable(std::uint64_t seq);
  // The gate's cash and positions into the book, keeping its marks.
  void rebase_book(const ta::ipc::PositionSnapshot& snapshot);
  void wait_for_gate();
  bool waiting_for_gate() const;
  void finish_run();
  void fail(const std::string& reason);
  std::int64_t bar_close_ns(std::size_t index) const;

  boost::asio::io_context& io_;
  AgentAppOptions options_;
  const AgentConfig& cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<AgentEngine> engine_;
  std::unique_ptr<GateClient> client_;
  std::unique_ptr<ta::journal::Writer> journal_;
  std::unique_ptr<StatusServer> status_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Feed> feed_;
  std::unique_ptr<coinbase::CandleBackfill> backfill_;  // PAPER/LIVE warm-up
  std::map<ProductId, ProductWarmUp> warm_up_;
  std::deque<ProductId> warm_up_queue_;  // products whose backfill waits its turn
  boost::asio::steady_timer reply_timer_;
  boost::asio::steady_timer pace_timer_;
  std::string scratch_;

  // SIM
  std::vector<Bar> bars_;
  std::size_t next_ = 0;               // the bar the driver is on (steps before it are done)
  SimPhase phase_ = SimPhase::kStarting;
  // Bars [0, confirmed_) are answered by the gate, [confirmed_, queued_)
  // are in batch_ or on their way (outstanding_); queued_ <= next_ + 1.
  std::size_t queued_ = 0;
  std::size_t confirmed_ = 0;
  ta::ipc::Envelope batch_;            // bars [batch_begin_, queued_), not sent yet
  std::size_t batch_begin_ = 0;
  std::size_t batch_bytes_ = 0;
  bool batch_predicted_ = true;
  Decimal batch_equity_max_;
  std::deque<SentBatch> outstanding_;  // sent, unanswered, oldest first
  std::size_t steps_pending_first_ = 0;  // predicted steps taken, not journaled yet
  std::uint32_t steps_pending_ = 0;
  SimBook book_;                       // the gate's account as the engine was last told it
  bool have_book_ = false;             // book_ comes from a snapshot in the journal
  Decimal told_equity_;                // the equity the engine was last given
  PositionEvent position_event_;       // reused for the engine's on_position
  std::optional<Decimal> loss_fraction_;  // the gate's daily loss limit (HelloAck)
  std::int64_t venue_latency_max_s_ = 0;  // the gate's longest venue ack latency, in whole seconds (HelloAck)
  bool prediction_broken_ = false;     // the gate did what the book cannot predict: lockstep until resynced
  // Journal sequence numbers that must be durable before the next bars
  // (bars_need_seq_, and intent_need_seq_ while an order is in flight) or
  // before the next intent on a product and side (its last fill) go to the
  // gate (journal()).
  std::uint64_t bars_need_seq_ = 0;
  std::uint64_t intent_need_seq_ = 0;
  std::map<std::pair<std::string, int>, std::uint64_t> fill_need_seq_;
  bool drive_posted_ = false;
  bool reply_timer_armed_ = false;
  std::uint64_t gate_progress_ = 0;    // answers from the gate; the reply timer watches it
  std::optional<ta::ipc::PositionSnapshot> held_reply_;  // a lockstep answer that came before a decision
  bool awaiting_connect_snapshot_ = false;
  std::int64_t gate_market_ns_ = 0;    // the gate's market time at the last connect
  std::chrono::steady_clock::time_point pace_origin_{};
  std::int64_t pace_origin_close_ns_ = -1;
  std::uint64_t steps_this_process_ = 0;
  bool frozen_for_test_ = false;

  // Shared
  std::map<std::string, TrackedIntent, std::less<>> intents_;  // submitted, not finished
  std::set<std::string, std::less<>> awaiting_decision_;       // of the current bar
  ta::ipc::HaltState halt_ = ta::ipc::HALT_STATE_ACTIVE;
  ta::ipc::PositionSnapshot last_snapshot_;
  bool have_snapshot_ = false;
  std::map<ProductId, std::int64_t> last_bar_ts_s_;
  std::map<ProductId, ind::RegimeClassifier> regimes_;  // for the status only
  std::int64_t market_now_ns_ = 0;
  // Answered ParameterChanges by proposal id, and their order for forgetting.
  std::map<std::string, ta::ipc::AgentParameterApplied, std::less<>> parameter_answers_;
  std::deque<std::string> parameter_answer_order_;
  AgentCounters counters_;
  std::uint64_t journal_records_replayed_ = 0;
  bool replaying_ = false;
  bool started_ = false;
  bool stopped_ = false;
  bool finished_ = false;
  std::string finish_reason_;
  GateConnectionState connection_ = GateConnectionState::kStopped;
};

// A Unix socket that writes one document to each client and closes
// (status.cpp). Limits: connections_max at once (more are closed at once),
// write_timeout_ms per client.
class StatusServer {
 public:
  StatusServer(boost::asio::io_context& io, StatusConfig config, std::function<std::string()> document);
  ~StatusServer();
  [[nodiscard]] Status start();
  void stop();
  std::uint64_t served() const;
  std::uint64_t refused() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ta::agent
