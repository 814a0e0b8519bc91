// GateApp's implementation, shared by the app_*.cpp files:
//   app.cpp         start-up (rules, journal recovery, reconcile), stop,
//                   the journal's durability, the effect FIFO, housekeeping
//   app_trading.cpp agent messages: intents, cancels, bars, venue events,
//                   halts and the dead-man's switch
//   app_admin.cpp   admin.sock requests (status, orders, kill, ...)
//   app_rules.cpp   rule reloads (start, SIGHUP, admin, proposals) and the
//                   rules' admin replies
//   app_holds.cpp   orders held for approval: list, approve, reject, expire
//   app_proposals.cpp proposals: submissions from the agent, decisions from
//                   admin.sock, expiry, parameter relays and their acks
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "admin.pb.h"
#include "gate.pb.h"
#include "gate/daemon.h"
#include "gate/ipc_server.h"
#include "gate/proposals.h"
#include "gate/sim_venue.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "records.h"
#include "recovery.h"
#include "rules/rules.h"

namespace ta::gate {

// Reloads that may wait for the journal at once. Each waits for one sync
// (about a millisecond); eight waiting means the disk has stalled, and a
// further reload is refused rather than queued.
inline constexpr std::size_t kRulesReloadsPendingMax = 8;
// Room left in an admin frame for the envelope around a reply's repeated
// fields (request id, tags, counters), so a paged reply always fits.
inline constexpr std::size_t kAdminReplyReserveBytes = 256;

// Who to answer with a RulesReloadReply once a reload is over (session 0:
// nobody, e.g. SIGHUP).
struct RulesReplyTo {
  SessionId session = 0;
  std::uint64_t request_id = 0;
};

// A rule set that compiled, on its way into force: journaled when its turn
// in the effect FIFO comes (kRulesJournal), used once that record is
// durable (kRulesUse).
struct PendingRules {
  rules::LoadedRules loaded;
  std::string cause;
  RulesReplyTo reply;
  std::uint64_t record_seq = 0;  // its RulesLoaded record, once journaled
  ipc::RulesLoaded record;        // that record, for GateState::apply_rules_loaded()
};

// Something that must wait until the journal holds every record before it.
struct Effect {
  enum class Kind {
    kSendAgent,    // a message to one agent session (session 0: to every agent)
    kSendAdmin,    // a reply to one admin session
    kVenueSubmit,  // hand an order to the venue
    kVenueCancel,  // ask the venue to cancel an order
    kBars,         // feed bars to SimVenue (SIM), then reply with one snapshot
    kInbound,      // an agent message that arrived while a bar or a reload was queued
    kRulesJournal, // journal a reloaded rule set (RulesLoaded), then queue kRulesUse first
    kRulesUse,     // put that rule set in force (its record is durable)
  };
  Kind kind = Kind::kSendAgent;
  // Runs once the journal is durable up to this sequence number (0: at
  // once, in FIFO order).
  std::uint64_t barrier = 0;
  SessionId session = 0;
  std::uint64_t request_id = 0;  // kBars: echoed in the snapshot reply
  std::variant<std::monostate, ipc::Envelope, ipc::AdminEnvelope, std::string, std::vector<Bar>,
               std::shared_ptr<PendingRules>>
      payload;
};

// Lends `value` to a protobuf message field for as long as the Lend lives
// (set with `set`, taken back with `release`), so the message can be
// serialized without copying `value` and never frees it. The message must
// be heap-allocated (no arena) and outlive the Lend.
template <typename Message, typename Field>
class Lend {
 public:
  Lend(Message* message, void (Message::*set)(Field*), Field* (Message::*release)(), const Field& value)
      : message_(message), release_(release) {
    (message_->*set)(const_cast<Field*>(&value));
  }
  ~Lend() { static_cast<void>((message_->*release_)()); }
  Lend(const Lend&) = delete;
  Lend& operator=(const Lend&) = delete;

 private:
  Message* message_;
  Field* (Message::*release_)();
};

class GateApp::Impl final : public IpcHandler {
 public:
  Impl(boost::asio::io_context& io, GateAppOptions options);
  ~Impl() override;

  Status start();
  void stop(const std::string& reason, std::function<void()> done);
  GateAppStatus status() const;
  const GateState& state() const { return *state_; }

  // Reloads rules/core then rules/active (rules::load_rules: every file
  // compiles or nothing changes). On success the new set is journaled as
  // RulesLoaded (each file's SHA-256, each rule's id and version, `cause`)
  // in its turn in the effect FIFO, and used from the moment that record is
  // durable; agent messages that arrive meanwhile wait behind it, so every
  // decision journaled after the record used the new rules. On failure the
  // current set stays, a RulesLoaded record with failed set and the errors
  // is journaled, the errors are logged, copied to `errors` (when not null)
  // and rendered into the returned error. Also refused (without a record)
  // while stopping, when the journal is not writable, and when
  // kRulesReloadsPendingMax reloads are waiting. `reply`: the admin session
  // to send the success RulesReloadReply once the set is in force (a
  // failure is the caller's to answer). Work is bounded by the rule
  // library's limits (kFileCountMax files of kSourceSizeMax bytes).
  Status reload_rules(std::string_view cause, std::vector<rules::Diagnostic>* errors = nullptr,
                      RulesReplyTo reply = {});
  // As reload_rules() for a set the caller already loaded (e.g. by
  // rules::install_active_rule when a proposal is approved): journaled,
  // then in force once durable. Refused like reload_rules().
  Status adopt_rules(rules::LoadedRules loaded, std::string_view cause, RulesReplyTo reply = {});

  // IpcHandler.
  void on_agent_connected(SessionId session, const proto::PeerCredentials& peer, const ipc::Hello& hello,
                          ipc::HelloAck& ack) override;
  void on_agent_message(SessionId session, const ipc::Envelope& message) override;
  void on_agent_disconnected(SessionId session, const SessionClose& why) override;
  void on_admin_connected(SessionId session, const proto::PeerCredentials& peer, const ipc::Hello& hello,
                          ipc::HelloAck& ack) override;
  std::optional<ipc::AdminEnvelope> on_admin_request(SessionId session, const ipc::AdminEnvelope& request) override;
  void on_admin_disconnected(SessionId session, const SessionClose& why) override;
  void on_peer_refused(IpcChannel channel, const proto::PeerCredentials& peer, PeerRefusal refusal,
                       const std::string& detail) override;

 private:
  // A reference price slot per configured product (stable storage for the
  // string_views in ref_view_).
  struct RefSlot {
    std::string product;
    Price price;
    std::int64_t ts_ns = 0;
    bool set = false;
  };

  // ------------------------------------------------------------ app.cpp
  std::int64_t wall_now() const;
  std::int64_t now() const;  // decision time: market time in SIM, wall clock otherwise
  DecisionContext context(bool peer_allowed) const;
  void set_reference(const std::string& product, Price price, std::int64_t ts_ns);

  Status load_rules();
  // The RulesLoaded record at start (cause "start").
  void journal_start_rules();
  Status recover_journal();
  Status open_journal();
  Status start_server();
  void journal_start();
  void reconcile();
  void schedule_housekeeping();
  void housekeeping();

  // Appends one record (ts_ns set to now()). False when the journal failed
  // (the gate is then halted; see journal_failed()).
  bool append(ipc::GateRecord& record);
  // A denial that leaves no state behind (not a hold, not a hold's
  // settlement): told without waiting for the disk.
  static bool denial_creates_nothing(const ipc::Decision& decision);
  // A bar's mark (its close at close_ts_ns, with the bar itself for the
  // market statistics' replay) joins pending_marks_, journaled as one
  // MarkBatch record before the next other record or when the message's
  // bars are done.
  void add_mark(const Bar& bar, std::int64_t close_ts_ns);
  bool append_marks();
  void on_durable(std::uint64_t seq);
  void journal_failed(const std::string& error);
  // The barrier for a message that shows state: everything appended so far.
  std::uint64_t reply_barrier() const;
  // The barrier for the answer to bars: everything appended so far except
  // marks (the agent restates them by sending the bars again) and denials.
  std::uint64_t bar_reply_barrier() const;

  void enqueue(Effect effect);
  // A venue submit or cancel of `order_id`, run once everything journaled
  // so far is durable.
  void enqueue_venue(Effect::Kind kind, const std::string& order_id);
  // Sends a message to the agent (session 0: to every agent) once the
  // journal is durable up to `barrier`, after everything queued before it.
  void send_agent(SessionId session, ipc::Envelope message, std::uint64_t barrier);
  // The same, at once, when nothing is queued ahead of the message and the
  // barrier is already durable: true when sent (or dropped for want of a
  // server), false when it must be queued with send_agent.
  bool send_agent_now(SessionId session, const ipc::Envelope& message, std::uint64_t barrier);
  void deliver_agent(SessionId session, const ipc::Envelope& message);
  void broadcast(ipc::Envelope message) { send_agent(0, std::move(message), last_seq_); }
  void send_admin(SessionId session, ipc::AdminEnvelope message, std::uint64_t barrier);
  // Runs the queued effects whose records are durable, in order, then
  // sync_journal(). Called at the end of every entry point that may have
  // appended records or queued effects.
  void run_effects();
  void run_effect(Effect& effect);
  // Tells the journal what the records appended so far need. When a queued
  // effect waits for one of them: a sync by this thread (sync_now) at the
  // end of the event-loop turn, so all the records the turn's messages made
  // share it and no thread hand-off lies between the disk and the reply.
  // Otherwise (denials, marks: nobody waits) the flusher's group-commit
  // window; the writer runs with wake_on_first_append off, so this starts it.
  void sync_journal();
  void sync_now();
  void finish_stop();

  // ---------------------------------------------------- app_trading.cpp
  void handle_agent_message(SessionId session, const ipc::Envelope& message);
  void handle_intent(SessionId session, std::uint64_t request_id, const ipc::OrderIntent& intent);
  void handle_cancel(SessionId session, std::uint64_t request_id, const ipc::CancelIntent& cancel);
  // Bar and BarBatch: checks every bar, then processes them at once when
  // nothing that must precede them (a venue action, bars, a held message)
  // is queued, else queues them behind it.
  void handle_bars(SessionId session, const ipc::Envelope& message);
  void handle_heartbeat(SessionId session, const ipc::Heartbeat& heartbeat);
  // Feeds each bar to SimVenue and the ledger, then answers with one
  // PositionSnapshot carrying request_id. False when processing stopped
  // (journal failed or a protocol error closed the session).
  void process_bars(SessionId session, std::uint64_t request_id, const std::vector<Bar>& bars);
  bool process_bar(SessionId session, std::uint64_t request_id, const Bar& bar);
  void protocol_error(SessionId session, std::uint64_t request_id, const std::string& message);

  // Records an accepted or denied decision (journal, state) and, when
  // accepted, submits the order. The reply goes to `session` unless it is 0.
  bool record(SessionId session, std::uint64_t request_id, const ipc::OrderIntent& intent,
              const ipc::Decision& decision, const FactsSnapshot* rule_facts);
  void log_decision(const ipc::OrderIntent& intent, const ipc::Decision& decision) const;
  // Applies a non-fill event to a live order, journals and pushes the update.
  bool order_event(const std::string& order_id, OrderEvent event, std::int64_t ts_ns, const std::string& detail);
  bool request_cancel(const std::string& order_id, const std::string& why);
  void cancel_all(const std::string& why);
  // Records and submits plan_flatten()'s orders. A follow-up (while
  // flatten_in_force(), after a bar) logs what it cannot close at debug
  // level only, since it repeats every bar.
  void flatten(const std::string& why, bool follow_up = false);
  void follow_up_flatten();
  void venue_submit(const std::string& order_id);
  void venue_event(const VenueEvent& event);
  void venue_fill(const VenueEvent& event);
  void stop_triggered(const VenueEvent& event);
  void internal_error(const std::string& what);

  Status operator_halt(HaltEvent event, const std::string& reason);
  void act_on_halt_change(const HaltChange& change, const std::string& reason);
  void automatic_halts(std::int64_t now_ns);
  void trip_dead_mans_switch(std::int64_t silence_ms);

  // ------------------------------------------------------ app_admin.cpp
  ipc::AdminEnvelope admin_reply(SessionId session, const ipc::AdminEnvelope& request);
  ipc::StatusReply status_reply() const;
  ipc::OrdersReply orders_reply(bool include_closed) const;
  ipc::ActionReply action(HaltEvent event, const std::string& reason);
  // ------------------------------------------------------ app_rules.cpp
  ipc::RulesListReply rules_list(const ipc::RulesListRequest& request) const;
  // Answers a RulesReloadRequest: at once when it fails, when the new set
  // is in force otherwise.
  void admin_reload(SessionId session, std::uint64_t request_id);
  // Journals the set's RulesLoaded; false when the journal failed.
  bool rules_journal(PendingRules& pending);
  void rules_use(PendingRules& pending);
  // A reload that will not happen (journal failed, stopping): tell whoever
  // waits for the reply.
  void rules_dropped(const PendingRules& pending, const std::string& why);
  void send_reload_reply(const RulesReplyTo& to, ipc::RulesReloadReply reply, std::uint64_t barrier);
  ipc::RulesReloadReply reload_reply(bool ok, const std::vector<rules::Diagnostic>& errors,
                                     const std::string& message) const;
  std::size_t admin_frame_budget() const;

  // ------------------------------------------------------ app_holds.cpp
  // The operator on an admin session, as the core's OperatorId.
  Result<OperatorId> admin_operator(SessionId session) const;
  // Journals and applies a hold's settlement (an approved one becomes an
  // order), then pushes its Decision to every agent. False when the
  // journal failed or the state refused it (internal_error).
  bool settle_hold(const HoldDecision& settled, const char* how);
  // Holds whose expiry is at or before now() become RULE denials.
  void expire_held_orders();
  ipc::HoldsListReply holds_list() const;
  ipc::ActionReply hold_decision(SessionId session, const ipc::HoldDecisionRequest& request);

  // -------------------------------------------------- app_proposals.cpp
  void handle_proposal_submit(SessionId session, std::uint64_t request_id, const ipc::ProposalSubmit& submit);
  void handle_parameter_ack(SessionId session, const ipc::ParameterChangeAck& ack);
  ipc::ProposalsListReply proposals_list(const ipc::ProposalsListRequest& request) const;
  ipc::ActionReply proposal_decision(SessionId session, const ipc::ProposalDecisionRequest& request);
  // Applies one proposal record to the book and journals it; false when
  // the book refused it (a bug: internal_error) or the journal failed.
  bool record_proposal(const ipc::ProposalStateChanged& record);
  // Pending proposals past their expiry (gate time) become EXPIRED.
  void expire_proposals();
  // At start: pending ADD_RULE proposals whose rule is already installed.
  void complete_installed_proposals();
  // The pending ParameterChanges, to one agent session (0: every agent).
  void send_relays(SessionId session);
  // A decision about a proposal, pushed to every agent as a ProposalResult.
  void push_proposal_result(const ipc::ProposalStateChanged& record);
  // Who acts on an admin session: "uid:<uid>" plus ":<user name>" when
  // the uid has one.
  static std::string operator_name(const proto::PeerCredentials& peer);

  boost::asio::io_context& io_;
  GateAppOptions options_;
  const GateConfig& gate_cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<spdlog::logger> journal_log_;
  std::shared_ptr<spdlog::logger> venue_log_;
  std::shared_ptr<spdlog::logger> admin_log_;
  std::shared_ptr<spdlog::logger> proposals_log_;

  std::unique_ptr<GateState> state_;
  std::optional<SimVenue> venue_;
  rules::RuleSet rules_;
  std::vector<rules::RuleFile> rule_files_;
  std::uint64_t rules_loaded_seq_ = 0;     // the RulesLoaded record of rules_
  std::int64_t rules_loaded_ts_ns_ = 0;    // wall clock when rules_ came into force
  std::string rules_cause_;
  std::size_t rules_queued_ = 0;           // kRulesJournal + kRulesUse effects waiting
  // Admin peers by session, for the cause of a reload ("admin uid=... pid=...").
  std::map<SessionId, proto::PeerCredentials> admin_peers_;
  std::unique_ptr<journal::Writer> writer_;
  std::unique_ptr<IpcServer> server_;
  // Handlers posted to the io_context check this before touching the app.
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  // Journal.
  daemon::Replayed replayed_;
  std::uint64_t last_seq_ = 0;     // last appended
  std::uint64_t bar_barrier_seq_ = 0;  // last appended that a bar's answer waits for
  std::uint64_t durable_seq_ = 0;  // last reported durable, as seen here
  std::uint64_t waited_seq_ = 0;           // the highest record an effect waits for
  std::uint64_t window_seq_ = 0;           // the window was started with records up to here
  bool sync_posted_ = false;               // a sync_now() is posted
  bool journal_failed_ = false;
  std::string journal_error_;
  std::string scratch_;
  ipc::GateRecord pending_marks_;  // marks not journaled yet (append_marks)
  // Reused by record(): the IntentDecided record and the Decision reply,
  // which borrow the intent and the decision (see Lend).
  ipc::GateRecord decided_record_;
  ipc::Envelope reply_scratch_;

  // Effects waiting for durability, in the order they were made.
  std::deque<Effect> effects_;
  // Queued effects that later bars must not overtake: bars, held agent
  // messages, venue submits and cancels. Sends do not count: processing a
  // bar appends its own sends behind them, so their order is kept.
  std::size_t bars_queued_ = 0;
  std::size_t inbound_queued_ = 0;
  std::size_t venue_queued_ = 0;
  bool running_effects_ = false;

  // Market (SIM: from the agent's bars).
  std::int64_t market_now_ns_ = 0;
  std::vector<RefSlot> refs_;
  std::vector<ReferencePrice> ref_view_;
  std::map<std::string, std::int64_t, std::less<>> last_bar_open_ns_;  // by product, at arrival
  std::uint64_t next_fill_number_ = 1;
  std::set<std::string, std::less<>> awaiting_reack_;  // resubmitted at reconcile
  // SIM: orders decided before the last stop but never sent, sent at
  // reconcile; they arrive when they first would have (decision time plus
  // latency) and are acknowledged as usual.
  std::set<std::string, std::less<>> sent_late_;
  // Cancels pending at the last stop, sent again at reconcile: order id ->
  // the market time the cancel was first requested.
  std::map<std::string, std::int64_t, std::less<>> restored_cancels_;

  // Proposals, rebuilt from the journal.
  ProposalBook proposals_;

  // Idempotent cancels.
  std::unordered_map<std::string, ipc::CancelResult> cancels_;
  std::deque<std::string> cancel_order_;

  // Halt and liveness.
  std::string halt_reason_;
  bool in_internal_error_ = false;
  std::set<SessionId> agent_sessions_;
  bool dead_mans_switch_armed_ = false;
  std::chrono::steady_clock::time_point last_heartbeat_;
  std::int64_t last_heartbeat_wall_ns_ = 0;
  std::uint64_t housekeeping_timer_ = 0;
  bool housekeeping_scheduled_ = false;

  // Stop.
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<std::function<void()>> stop_done_;
};

}  // namespace ta::gate
