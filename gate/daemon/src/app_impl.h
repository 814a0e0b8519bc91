// GateApp's implementation, shared by the app_*.cpp files:
//   app.cpp         start-up (rules, journal recovery, reconcile), stop,
//                   the journal's durability, the effect FIFO, housekeeping
//   app_trading.cpp agent messages: intents, cancels, bars, venue events,
//                   halts and the dead-man's switch
//   app_admin.cpp   admin.sock requests (status, orders, kill, ...)
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
#include "gate/sim_venue.h"
#include "journal/journal.h"
#include "journal_records.pb.h"
#include "records.h"
#include "recovery.h"
#include "rules/rules.h"

namespace ta::gate {

// Something that must wait until the journal holds every record before it.
struct Effect {
  enum class Kind {
    kSendAgent,    // a message to one agent session (session 0: to every agent)
    kSendAdmin,    // a reply to one admin session
    kVenueSubmit,  // hand an order to the venue
    kVenueCancel,  // ask the venue to cancel an order
    kBar,          // feed a bar to SimVenue (SIM), then reply with a snapshot
    kInbound,      // an agent message that arrived while a bar was queued
  };
  Kind kind = Kind::kSendAgent;
  // Runs once the journal is durable up to this sequence number (0: at
  // once, in FIFO order).
  std::uint64_t barrier = 0;
  SessionId session = 0;
  std::uint64_t request_id = 0;  // kBar: echoed in the snapshot reply
  std::variant<std::monostate, ipc::Envelope, ipc::AdminEnvelope, std::string, Bar> payload;
};

class GateApp::Impl final : public IpcHandler {
 public:
  Impl(boost::asio::io_context& io, GateAppOptions options);
  ~Impl() override;

  Status start();
  void stop(const std::string& reason, std::function<void()> done);
  GateAppStatus status() const;
  const GateState& state() const { return *state_; }

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
  void on_durable(std::uint64_t seq);
  void journal_failed(const std::string& error);
  // The barrier for a message that shows state: everything appended so far.
  std::uint64_t reply_barrier() const;

  void enqueue(Effect effect);
  void send_agent(SessionId session, ipc::Envelope message, std::uint64_t barrier);
  void broadcast(ipc::Envelope message) { send_agent(0, std::move(message), last_seq_); }
  void send_admin(SessionId session, ipc::AdminEnvelope message, std::uint64_t barrier);
  void run_effects();
  void run_effect(Effect& effect);
  void finish_stop();

  // ---------------------------------------------------- app_trading.cpp
  void handle_agent_message(SessionId session, const ipc::Envelope& message);
  void handle_intent(SessionId session, std::uint64_t request_id, const ipc::OrderIntent& intent);
  void handle_cancel(SessionId session, std::uint64_t request_id, const ipc::CancelIntent& cancel);
  void handle_bar(SessionId session, const ipc::Envelope& message);
  void handle_heartbeat(SessionId session, const ipc::Heartbeat& heartbeat);
  void process_bar(SessionId session, std::uint64_t request_id, const Bar& bar);
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
  void internal_error(const std::string& what);

  Status operator_halt(HaltEvent event, const std::string& reason);
  void act_on_halt_change(const HaltChange& change, const std::string& reason);
  void automatic_halts(std::int64_t now_ns);
  void trip_dead_mans_switch(std::int64_t silence_ms);

  // ------------------------------------------------------ app_admin.cpp
  ipc::AdminEnvelope admin_reply(const ipc::AdminEnvelope& request);
  ipc::StatusReply status_reply() const;
  ipc::OrdersReply orders_reply(bool include_closed) const;
  ipc::ActionReply action(HaltEvent event, const std::string& reason);
  ipc::RulesListReply rules_list() const;

  boost::asio::io_context& io_;
  GateAppOptions options_;
  const GateConfig& gate_cfg_;
  std::shared_ptr<spdlog::logger> log_;
  std::shared_ptr<spdlog::logger> journal_log_;
  std::shared_ptr<spdlog::logger> venue_log_;
  std::shared_ptr<spdlog::logger> admin_log_;

  std::unique_ptr<GateState> state_;
  std::optional<SimVenue> venue_;
  rules::RuleSet rules_;
  std::vector<rules::RuleFile> rule_files_;
  std::unique_ptr<journal::Writer> writer_;
  std::unique_ptr<IpcServer> server_;
  // Posted durability callbacks check this before touching the app.
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  // Journal.
  daemon::Replayed replayed_;
  std::uint64_t last_seq_ = 0;     // last appended
  std::uint64_t durable_seq_ = 0;  // last reported durable, as seen here
  std::uint64_t flush_requested_seq_ = 0;  // a sync was asked for up to here
  std::uint64_t waited_seq_ = 0;           // the highest record an effect waits for
  bool journal_failed_ = false;
  std::string journal_error_;
  std::string scratch_;

  // Effects waiting for durability, in the order they were made.
  std::deque<Effect> effects_;
  std::size_t bars_queued_ = 0;
  std::size_t inbound_queued_ = 0;
  bool running_effects_ = false;

  // Market (SIM: from the agent's bars).
  std::int64_t market_now_ns_ = 0;
  std::vector<RefSlot> refs_;
  std::vector<ReferencePrice> ref_view_;
  std::map<std::string, std::int64_t, std::less<>> last_bar_open_ns_;  // by product, at arrival
  std::uint64_t next_fill_number_ = 1;
  std::set<std::string, std::less<>> awaiting_reack_;  // resubmitted at reconcile

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
