// GateApp: admin.sock (tradectl, trading-dash). Replies are built from the
// state at once and sent when the journal holds everything they show.
#include <algorithm>
#include <cstdlib>

#include "app_impl.h"

namespace ta::gate {

using daemon::log_text;

namespace {

// "o-12" -> 12, so orders list in the order they were created.
std::uint64_t order_number(const std::string& order_id) {
  if (order_id.size() < 3) return 0;
  return std::strtoull(order_id.c_str() + 2, nullptr, 10);
}

std::string or_default(const std::string& reason, const char* fallback) { return reason.empty() ? fallback : reason; }

}  // namespace

void GateApp::Impl::on_admin_connected(SessionId session, const proto::PeerCredentials& peer, const ipc::Hello& hello,
                                       ipc::HelloAck& ack) {
  ack.set_gate_version(options_.gate_version);
  ack.set_mode(daemon::mode_to_proto(gate_cfg_.mode));
  ack.set_halt_state(to_proto(state_->halt().state()));
  admin_log_->info("admin connected session={} pid={} uid={} operator={} client={}", session, peer.pid, peer.uid,
                   operator_name(peer), log_text(hello.client_name()));
  // At most sockets.admin.connections_max entries: the server refuses more
  // sessions, and each leaves at its disconnect.
  admin_peers_[session] = peer;
}

void GateApp::Impl::on_admin_disconnected(SessionId session, const SessionClose& why) {
  admin_peers_.erase(session);
  admin_log_->debug("admin disconnected session={} reason={}", session, proto::close_reason_name(why.reason));
}

std::optional<ipc::AdminEnvelope> GateApp::Impl::on_admin_request(SessionId session,
                                                                   const ipc::AdminEnvelope& request) {
  if (request.body_case() == ipc::AdminEnvelope::kRulesReloadRequest) {
    // Answered when the reloaded set is in force, or at once if it failed.
    admin_reload(session, request.request_id());
    run_effects();
    return std::nullopt;
  }
  ipc::AdminEnvelope reply = admin_reply(session, request);
  reply.set_request_id(request.request_id());
  // What the reply shows (an order, a halt) is in the journal before anyone
  // reads it.
  send_admin(session, std::move(reply), reply_barrier());
  run_effects();
  return std::nullopt;
}

ipc::AdminEnvelope GateApp::Impl::admin_reply(SessionId session, const ipc::AdminEnvelope& request) {
  ipc::AdminEnvelope reply;
  switch (request.body_case()) {
    case ipc::AdminEnvelope::kStatusRequest:
      *reply.mutable_status_reply() = status_reply();
      return reply;
    case ipc::AdminEnvelope::kOrdersRequest:
      *reply.mutable_orders_reply() = orders_reply(request.orders_request().include_closed());
      return reply;
    case ipc::AdminEnvelope::kPositionsRequest:
      *reply.mutable_positions_reply() = state_->ledger().to_snapshot(now());
      return reply;
    case ipc::AdminEnvelope::kKillRequest: {
      const auto& k = request.kill_request();
      *reply.mutable_action_reply() =
          action(k.flatten() ? HaltEvent::kOperatorKillFlatten : HaltEvent::kOperatorKill,
                 or_default(k.reason(), k.flatten() ? "operator kill --flatten" : "operator kill"));
      return reply;
    }
    case ipc::AdminEnvelope::kHaltRequest:
      *reply.mutable_action_reply() = action(HaltEvent::kOperatorHalt, or_default(request.halt_request().reason(),
                                                                                   "operator halt"));
      return reply;
    case ipc::AdminEnvelope::kResumeRequest:
      *reply.mutable_action_reply() =
          action(HaltEvent::kOperatorResume, or_default(request.resume_request().reason(), "operator resume"));
      return reply;
    case ipc::AdminEnvelope::kRulesListRequest:
      *reply.mutable_rules_list_reply() = rules_list(request.rules_list_request());
      return reply;
    case ipc::AdminEnvelope::kRulesReloadRequest:  // on_admin_request() answers it
      break;
    case ipc::AdminEnvelope::kProposalsListRequest:
      *reply.mutable_proposals_list_reply() = proposals_list(request.proposals_list_request());
      return reply;
    case ipc::AdminEnvelope::kProposalDecisionRequest:
      *reply.mutable_action_reply() = proposal_decision(session, request.proposal_decision_request());
      return reply;
    case ipc::AdminEnvelope::kStatusReply:
    case ipc::AdminEnvelope::kOrdersReply:
    case ipc::AdminEnvelope::kPositionsReply:
    case ipc::AdminEnvelope::kActionReply:
    case ipc::AdminEnvelope::kRulesListReply:
    case ipc::AdminEnvelope::kRulesReloadReply:
    case ipc::AdminEnvelope::kProposalsListReply:
    case ipc::AdminEnvelope::kProtocolError:
    case ipc::AdminEnvelope::kHello:
    case ipc::AdminEnvelope::kHelloAck:
    case ipc::AdminEnvelope::BODY_NOT_SET:
      break;
  }
  reply.mutable_protocol_error()->set_message(std::string(proto::admin_body_name(request.body_case())) +
                                              " is not a request the gate answers");
  return reply;
}

ipc::StatusReply GateApp::Impl::status_reply() const {
  ipc::StatusReply s;
  s.set_mode(daemon::mode_to_proto(gate_cfg_.mode));
  s.set_halt_state(to_proto(state_->halt().state()));
  s.set_halt_reason(halt_reason_);
  s.set_cooldown_until_ts_ns(state_->halt().cooldown_until_ns());
  s.set_agent_connected(!agent_sessions_.empty());
  s.set_last_heartbeat_ts_ns(last_heartbeat_wall_ns_);
  s.set_journal_last_sequence(last_seq_);
  s.set_open_orders(static_cast<std::uint32_t>(state_->live_orders().size()));
  *s.mutable_account() = state_->ledger().to_snapshot(now()).account();
  s.set_gate_version(options_.gate_version);
  s.set_now_ts_ns(now());
  s.set_ready(state_->ready() && !journal_failed_);
  return s;
}

ipc::OrdersReply GateApp::Impl::orders_reply(bool include_closed) const {
  std::vector<const Order*> orders;
  for (const auto& [id, o] : state_->live_orders()) orders.push_back(&o);
  if (include_closed) {
    for (const Order& o : state_->closed_orders()) orders.push_back(&o);
  }
  std::sort(orders.begin(), orders.end(),
            [](const Order* a, const Order* b) { return order_number(a->order_id) < order_number(b->order_id); });
  ipc::OrdersReply r;
  for (const Order* o : orders) *r.add_orders() = o->to_update();
  return r;
}

ipc::ActionReply GateApp::Impl::action(HaltEvent event, const std::string& reason) {
  ipc::ActionReply a;
  if (journal_failed_) {
    a.set_ok(false);
    a.set_message("journal not writable (" + journal_error_ +
                  "): trading-gate cannot record operator actions; fix the disk and restart it");
    a.set_halt_state(to_proto(state_->halt().state()));
    return a;
  }
  const HaltState before = state_->halt().state();
  std::size_t cancellable = 0;
  for (const auto& [id, o] : state_->live_orders()) {
    if (next_order_state(o.state, OrderEvent::kCancelRequest).ok()) ++cancellable;
  }
  const std::uint64_t orders_before = state_->next_order_number();
  Status st = operator_halt(event, reason);
  const HaltState after = state_->halt().state();
  a.set_ok(st.ok());
  a.set_halt_state(to_proto(after));
  if (!st.ok()) {
    // A move the halt table does not have reads better as the state it
    // meets; other refusals (the loss cooldown) say why themselves.
    a.set_message(find_halt_transition(before, event).ok()
                      ? st.error().message
                      : "the gate is " + std::string(to_string(before)) + "; " + std::string(to_string(event)) +
                            " does not apply in that state");
  } else {
    std::string message = std::string(to_string(after)) + " (was " + std::string(to_string(before)) + ")";
    auto t = find_halt_transition(before, event);
    if (t && t->cancel_all) message += "; cancel requested for " + std::to_string(cancellable) + " open order(s)";
    if (t && t->flatten) {
      message += "; " + std::to_string(state_->next_order_number() - orders_before) + " flatten order(s) sent";
    }
    a.set_message(message);
  }
  admin_log_->log(st.ok() ? spdlog::level::warn : spdlog::level::info,
                  "operator action event={} ok={} halt={} reason={} result={}", to_string(event), st.ok(),
                  to_string(after), log_text(reason), log_text(a.message()));
  return a;
}

}  // namespace ta::gate
