// GateApp: proposals (docs/rule-dsl.md "Proposals", docs/ipc.md).
//
// The agent submits over gate.sock; only admin.sock decides. Every state
// change is applied to the book, journaled as a ProposalStateChanged
// record, and told to anyone (the submitter's ProposalResult, the admin's
// ActionReply, the agents' pushes) only once that record is durable.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "app_impl.h"

namespace ta::gate {

using daemon::log_text;

namespace {

// getpwuid_r's buffer: user database entries are a few hundred bytes.
constexpr std::size_t kPasswdBufferBytes = 4096;
// The agent's acknowledgement detail is cut to a log line before it is
// journaled; the agent writes one sentence.
constexpr std::size_t kAckDetailLengthMax = 200;
// Appended to a text cut to fit a frame.
constexpr std::string_view kCutNote = "\n[cut to fit one frame; the journal holds the whole text]\n";
constexpr std::size_t kCutNoteBytes = kCutNote.size();

std::string state_name(ipc::ProposalState s) {
  const std::string& name = ipc::ProposalState_Name(s);
  constexpr std::string_view kPrefix = "PROPOSAL_STATE_";
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

}  // namespace

std::string GateApp::Impl::operator_name(const proto::PeerCredentials& peer) {
  const std::string uid = "uid:" + std::to_string(peer.uid);
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::array<char, kPasswdBufferBytes> buffer{};
  if (::getpwuid_r(static_cast<uid_t>(peer.uid), &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return uid;
  }
  // OperatorId allows [A-Za-z0-9._@:-]; a user name outside that is left out.
  const std::string with_name = uid + ":" + pw.pw_name;
  return OperatorId::make(with_name).ok() ? with_name : uid;
}

// ---------------------------------------------------------------- records

bool GateApp::Impl::record_proposal(const ipc::ProposalStateChanged& record) {
  // The plan_* functions only produce records the book takes; a refusal
  // here is a bug, and nothing is journaled for it.
  if (auto st = proposals_.apply(record); !st) {
    internal_error("proposal record for " + record.proposal().proposal_id() + ": " + st.error().message);
    return false;
  }
  ipc::GateRecord r;
  *r.mutable_proposal_state_changed() = record;
  if (!append(r)) return false;
  proposals_log_->info("proposal proposal_id={} kind={} state={} actor={} reason={} expires_ts_ns={}",
                       log_text(record.proposal().proposal_id()), ipc::ProposalKind_Name(record.proposal().kind()),
                       state_name(record.state()), log_text(record.actor()), log_text(record.reason()),
                       record.expires_ts_ns());
  return true;
}

void GateApp::Impl::push_proposal_result(const ipc::ProposalStateChanged& record) {
  ipc::Envelope push;
  ipc::ProposalResult* r = push.mutable_proposal_result();
  r->set_proposal_id(record.proposal().proposal_id());
  r->set_state(record.state());
  r->set_detail(state_name(record.state()) + " by " + record.actor() + ": " + record.reason());
  broadcast(std::move(push));
}

void GateApp::Impl::send_relays(SessionId session) {
  for (const ipc::ParameterChange& change : proposals_.pending_relays()) {
    ipc::Envelope push;
    *push.mutable_parameter_change() = change;
    send_agent(session, std::move(push), reply_barrier());
  }
}

// ---------------------------------------------------------------- agent side

void GateApp::Impl::handle_proposal_submit(SessionId session, std::uint64_t request_id,
                                           const ipc::ProposalSubmit& submit) {
  ipc::Envelope reply;
  reply.set_request_id(request_id);
  const auto refuse = [&](const std::string& detail) {
    ipc::ProposalResult* r = reply.mutable_proposal_result();
    r->set_proposal_id(submit.proposal_id());
    r->set_state(ipc::PROPOSAL_STATE_REJECTED);
    r->set_detail(detail);
    proposals_log_->warn("proposal refused proposal_id={} kind={} detail={}", log_text(submit.proposal_id()),
                         ipc::ProposalKind_Name(submit.kind()), log_text(detail));
    send_agent(session, std::move(reply), 0);
  };
  if (journal_failed_) {
    refuse("journal not writable (" + journal_error_ + "): trading-gate cannot record proposals");
    return;
  }
  // A proposal's expiry is fixed in gate time at submission; in SIM that is
  // market time, which starts with the first bar.
  if (now() <= 0) {
    refuse("the gate has no market time yet (SIM: no bar has arrived), so it cannot set an expiry; send bars first");
    return;
  }
  SubmitPlan plan = proposals_.plan_submit(submit, now(), rules_);
  for (const ipc::ProposalStateChanged& record : plan.records) {
    if (!record_proposal(record)) {
      refuse(journal_failed_ ? "journal not writable (" + journal_error_ + ")" : "internal error in trading-gate");
      return;
    }
    if (record.state() != ipc::PROPOSAL_STATE_PENDING) push_proposal_result(record);
  }
  if (plan.result.state() == ipc::PROPOSAL_STATE_REJECTED) {
    proposals_log_->info("proposal refused proposal_id={} kind={} errors={} detail={}", log_text(submit.proposal_id()),
                         ipc::ProposalKind_Name(submit.kind()), plan.result.errors_size(),
                         log_text(plan.result.detail()));
  }
  *reply.mutable_proposal_result() = std::move(plan.result);
  // The answer shows the proposal's state: it waits for its records.
  send_agent(session, std::move(reply), plan.records.empty() ? 0 : last_seq_);
}

void GateApp::Impl::handle_parameter_ack(SessionId session, const ipc::ParameterChangeAck& ack) {
  if (!proposals_.awaits_ack(ack.proposal_id())) {
    // A second answer to a change sent twice (on reconnect): already recorded.
    proposals_log_->info("parameter change ack ignored session={} proposal_id={}: no relay waits for it", session,
                         log_text(ack.proposal_id()));
    return;
  }
  if (journal_failed_) return;  // the relay stays pending; the agent gets it again after the restart
  ipc::ParameterChangeAck kept = ack;
  if (kept.detail().size() > kAckDetailLengthMax) {
    std::size_t keep = kAckDetailLengthMax;  // never inside a UTF-8 sequence
    while (keep > 0 && (static_cast<unsigned char>(kept.detail()[keep]) & 0xC0) == 0x80) --keep;
    kept.mutable_detail()->resize(keep);
  }
  if (auto st = proposals_.apply_ack(kept); !st) {
    internal_error("parameter change ack " + ack.proposal_id() + ": " + st.error().message);
    return;
  }
  ipc::GateRecord r;
  *r.mutable_parameter_change_ack() = kept;
  if (!append(r)) return;
  proposals_log_->log(kept.applied() ? spdlog::level::info : spdlog::level::warn,
                      "parameter change acknowledged proposal_id={} applied={} detail={}", log_text(kept.proposal_id()),
                      kept.applied(), log_text(kept.detail()));
}

// ---------------------------------------------------------------- timers

void GateApp::Impl::expire_proposals() {
  for (const ipc::ProposalStateChanged& record : proposals_.plan_expire(now())) {
    if (!record_proposal(record)) return;
    push_proposal_result(record);
  }
}

void GateApp::Impl::complete_installed_proposals() {
  for (const ipc::ProposalStateChanged& record : proposals_.plan_found_installed(now(), rules_)) {
    if (!record_proposal(record)) return;
    proposals_log_->warn("proposal proposal_id={} completed at start: its rule is installed in {}",
                         log_text(record.proposal().proposal_id()), gate_cfg_.rules_active_dir.string());
  }
}

// ---------------------------------------------------------------- admin side

ipc::ProposalsListReply GateApp::Impl::proposals_list(const ipc::ProposalsListRequest& request) const {
  ipc::ProposalsListReply reply;
  const std::size_t budget = admin_frame_budget();
  if (!request.proposal_id().empty()) {
    const Proposal* p = proposals_.find(request.proposal_id());
    if (p == nullptr) return reply;
    ipc::ProposalInfo* info = reply.add_proposals();
    *info = p->to_info();
    info->set_change(describe_change(*p, rules_));
    // Pathological texts (a 32 KiB rule against a 32 KiB rule) are cut,
    // the diff first; the journal holds them whole.
    for (std::string* text : {info->mutable_change(), info->mutable_payload(), info->mutable_rationale()}) {
      const std::size_t size = reply.ByteSizeLong();
      if (size <= budget) break;
      const std::size_t over = size - budget + kCutNoteBytes;
      if (over >= text->size()) {
        *text = std::string(kCutNote);
      } else {
        // Never in the middle of a UTF-8 sequence (proto3 strings are UTF-8).
        std::size_t keep = text->size() - over;
        while (keep > 0 && (static_cast<unsigned char>((*text)[keep]) & 0xC0) == 0x80) --keep;
        text->resize(keep);
        *text += kCutNote;
      }
    }
    return reply;
  }
  // Pending ones first (submission order), then decided ones, newest first.
  std::vector<const Proposal*> ordered;
  const auto all = proposals_.list();
  for (const Proposal* p : all) {
    if (p->state == ipc::PROPOSAL_STATE_PENDING) ordered.push_back(p);
  }
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if ((*it)->state != ipc::PROPOSAL_STATE_PENDING) ordered.push_back(*it);
  }
  std::size_t size = 0;
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    ipc::ProposalInfo info = ordered[i]->to_info();
    info.clear_payload();
    info.clear_rationale();
    info.clear_evidence();
    // A repeated field costs its bytes plus a tag and a length of at most 3 bytes.
    const std::size_t entry = info.ByteSizeLong() + 4;
    if (size + entry > budget) {
      reply.set_omitted(static_cast<std::uint32_t>(ordered.size() - i));
      break;
    }
    size += entry;
    *reply.add_proposals() = std::move(info);
  }
  return reply;
}

ipc::ActionReply GateApp::Impl::proposal_decision(SessionId session, const ipc::ProposalDecisionRequest& request) {
  ipc::ActionReply a;
  a.set_halt_state(to_proto(state_->halt().state()));
  const std::string& id = request.proposal_id();
  const auto refuse = [&](const std::string& message) {
    a.set_ok(false);
    a.set_message(message);
    admin_log_->info("proposal decision refused session={} proposal_id={} approve={} detail={}", session,
                     log_text(id), request.approve(), log_text(message));
    return a;
  };
  if (journal_failed_) {
    return refuse("journal not writable (" + journal_error_ +
                  "): trading-gate cannot record decisions; fix the disk and restart it");
  }
  auto who = admin_operator(session);
  if (!who) return refuse(who.error().message);

  if (!request.approve()) {
    auto record = proposals_.plan_reject(id, *who, request.reason(), now());
    if (!record) return refuse(record.error().message);
    if (!record_proposal(*record)) return refuse("journal not writable: " + journal_error_);
    push_proposal_result(*record);
    a.set_ok(true);
    a.set_message("proposal " + id + " rejected");
    admin_log_->warn("proposal rejected proposal_id={} operator={} reason={}", log_text(id), who->name(),
                     log_text(request.reason()));
    return a;
  }

  const Proposal* p = proposals_.find(id);
  if (p != nullptr && p->submit.kind() != ipc::PROPOSAL_KIND_STRATEGY_PARAMETER) {
    // The approval writes rules/active and the reloaded set must then be
    // adopted (adopt_rules): refuse first what adoption would refuse, so a
    // file is never installed without its rules coming into force.
    if (stopping_) return refuse("trading-gate is stopping; approve after the restart");
    if (rules_queued_ >= kRulesReloadsPendingMax) {
      return refuse(std::to_string(rules_queued_) + " rule reloads already wait for the journal; try again later");
    }
  }
  const RuleDirs dirs{gate_cfg_.rules_core_dir.string(), gate_cfg_.rules_active_dir.string()};
  // For a rule: installs or removes rules/active/<id>.rule atomically and
  // reloads core + active; on any failure nothing changed.
  auto approval = approve_proposal(proposals_, id, *who, request.reason(), now(), dirs, rules_);
  if (!approval) return refuse(approval.error().message);
  if (!record_proposal(approval->record)) return refuse("journal not writable: " + journal_error_);
  push_proposal_result(approval->record);
  std::string message = "proposal " + id + " approved";
  if (approval->rules) {
    const std::size_t count = approval->rules->rules.size();
    // Journaled as RulesLoaded and in force once durable; this reply waits
    // behind it, so the operator hears of the approval when the rules apply.
    if (auto st = adopt_rules(std::move(*approval->rules), "proposal " + id + " approved by " + who->name()); !st) {
      // Only a journal failure gets here (checked above otherwise); the file
      // is installed and the next start loads it.
      message += "; the new rules are not in force: " + st.error().message;
    } else {
      message += "; rules reloaded (" + std::to_string(count) + " rules)";
    }
  }
  if (approval->parameter_change) {
    ipc::Envelope push;
    *push.mutable_parameter_change() = *approval->parameter_change;
    broadcast(std::move(push));
    message += agent_sessions_.empty()
                   ? "; no agent is connected: the parameter change goes to the agent when it connects"
                   : "; parameter change sent to the agent";
  }
  a.set_ok(true);
  a.set_message(message);
  admin_log_->warn("proposal approved proposal_id={} operator={} reason={} result={}", log_text(id), who->name(),
                   log_text(request.reason()), log_text(message));
  return a;
}

}  // namespace ta::gate
