// GateApp: orders a rule holds for a person (docs/gate-core.md "Holds").
//
// The core decides (approve_hold, reject_hold, expire_holds); here each
// settlement is journaled as IntentDecided, applied with record_decision()
// (an approved one becomes an order and goes to the venue once durable)
// and pushed to every agent as a Decision for the held intent id, so the
// agent hears the final answer without asking.
#include <algorithm>

#include "app_impl.h"

namespace ta::gate {

using daemon::log_text;

Result<OperatorId> GateApp::Impl::admin_operator(SessionId session) const {
  auto peer = admin_peers_.find(session);
  if (peer == admin_peers_.end()) return make_error("this admin session has no operator");
  const std::string name = operator_name(peer->second);
  auto who = OperatorId::make(name);
  if (!who) return make_error("operator " + name + ": " + who.error().message);
  return who;
}

bool GateApp::Impl::settle_hold(const HoldDecision& settled, const char* how) {
  const ipc::Decision& d = settled.result.decision;
  if (!record(0, 0, settled.intent, d, settled.result.rule_facts ? &*settled.result.rule_facts : nullptr)) {
    return false;
  }
  log_->warn("hold settled intent_id={} how={} accepted={} order_id={} detail={}", log_text(settled.intent.intent_id()),
             how, d.accepted(), d.order_id(), log_text(d.detail()));
  ipc::Envelope push;
  *push.mutable_decision() = d;
  // The agent may act on it: it goes out once the record is durable.
  broadcast(std::move(push));
  if (settled.result.rule_halt) static_cast<void>(operator_halt(HaltEvent::kRuleHalt, d.detail()));
  return true;
}

void GateApp::Impl::expire_held_orders() {
  if (journal_failed_ || state_->pending_holds().empty()) return;
  for (const HoldDecision& expired : expire_holds(*state_, now())) {
    if (!settle_hold(expired, "expired")) return;
  }
}

ipc::HoldsListReply GateApp::Impl::holds_list() const {
  ipc::HoldsListReply reply;
  const std::size_t budget = admin_frame_budget();
  std::size_t size = 0;
  std::size_t listed = 0;
  const auto& holds = state_->pending_holds();
  for (const auto& [id, hold] : holds) {
    ipc::HoldInfo info;
    *info.mutable_intent() = hold.intent;
    *info.mutable_decision() = hold.decision;
    info.set_held_ts_ns(hold.held_ts_ns);
    info.set_expires_ts_ns(hold.expires_ts_ns);
    // A repeated field costs its bytes plus a tag and a length of at most 3 bytes.
    const std::size_t entry = info.ByteSizeLong() + 4;
    if (size + entry > budget) break;
    size += entry;
    ++listed;
    *reply.add_holds() = std::move(info);
  }
  reply.set_omitted(static_cast<std::uint32_t>(holds.size() - listed));
  return reply;
}

ipc::ActionReply GateApp::Impl::hold_decision(SessionId session, const ipc::HoldDecisionRequest& request) {
  ipc::ActionReply a;
  const std::string& id = request.intent_id();
  const auto refuse = [&](const std::string& message) {
    a.set_ok(false);
    a.set_message(message);
    a.set_halt_state(to_proto(state_->halt().state()));
    admin_log_->info("hold decision refused session={} intent_id={} approve={} detail={}", session, log_text(id),
                     request.approve(), log_text(message));
    return a;
  };
  if (journal_failed_) {
    return refuse("journal not writable (" + journal_error_ +
                  "): trading-gate cannot record decisions; fix the disk and restart it");
  }
  if (stopping_) return refuse("trading-gate is stopping; the hold is decided after the restart");
  auto who = admin_operator(session);
  if (!who) return refuse(who.error().message);
  // A hold whose time is up is expired first, so an approval never races
  // its expiry: the operator hears that it expired.
  expire_held_orders();
  if (journal_failed_) return refuse("journal not writable: " + journal_error_);

  Result<HoldDecision> settled = request.approve()
                                     ? approve_hold(*state_, id, *who, context(true))
                                     : reject_hold(*state_, id, *who, request.reason(), now());
  if (!settled) return refuse(settled.error().message);
  if (!settle_hold(*settled, request.approve() ? "approved" : "rejected")) {
    return refuse("journal not writable: " + journal_error_);
  }
  const ipc::Decision& d = settled->result.decision;
  a.set_ok(true);
  a.set_halt_state(to_proto(state_->halt().state()));
  if (!request.approve()) {
    a.set_message("held intent " + id + " rejected");
  } else if (d.accepted()) {
    a.set_message("held intent " + id + " approved: order " + d.order_id() + " for " + d.quantity() + " sent");
  } else {
    // The operator approved, but the order no longer passes (the gate
    // halted, a limit is now reached): the hold is settled as a denial.
    a.set_message("held intent " + id + " approved but denied when decided again: " +
                  std::string(daemon::reason_name(d.reason())) + " (" + d.detail() + ")");
  }
  admin_log_->warn("hold decided intent_id={} operator={} approve={} reason={} result={}", log_text(id), who->name(),
                   request.approve(), log_text(request.reason()), log_text(a.message()));
  return a;
}

}  // namespace ta::gate
