// GateApp: the rule set in force and how it changes (DESIGN.md section 7).
//
// A reload compiles every file of rules/core then rules/active with
// rules::load_rules(), which is all or nothing: a failure leaves rules_
// untouched. A set that compiled goes through the effect FIFO in two
// steps. kRulesJournal runs once everything queued before it has run: it
// appends RulesLoaded and puts kRulesUse at the front of the FIFO with that
// record as its barrier, so nothing queued behind it runs before the record
// is durable. kRulesUse then swaps the set in. Agent messages that arrive
// while a reload waits are queued (kInbound) behind it, so in the journal
// every IntentDecided after a RulesLoaded record was decided with that set,
// and a replay attributes rule hits exactly as the live gate did.
#include <algorithm>

#include "app_impl.h"

namespace ta::gate {

using daemon::log_text;

namespace {

std::string provenance_text(const rules::Provenance& p) {
  switch (p.kind) {
    case rules::Provenance::Kind::kCore:
      return "core";
    case rules::Provenance::Kind::kProposal:
      return "proposal " + p.proposal_id;
  }
  return "?";
}

std::string one_line(const rules::Diagnostic& d) {
  return d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message;
}

// A protobuf length-delimited field's overhead beyond its payload: one tag
// byte and a length varint of at most three bytes (payloads below 2 MiB).
constexpr std::size_t kFieldOverheadBytes = 4;

}  // namespace

// ---------------------------------------------------------------- loading

void GateApp::Impl::journal_start_rules() {
  ipc::GateRecord r;
  *r.mutable_rules_loaded() = daemon::rules_loaded_record(rules::LoadedRules{rules_, rule_files_}, rules_cause_);
  if (!append(r)) return;
  rules_loaded_seq_ = last_seq_;
  // The hit counters replayed from the journal keep the rules that are
  // still loaded in the same version.
  if (auto st = state_->apply_rules_loaded(r.rules_loaded()); !st) internal_error(st.error().message);
}

Status GateApp::Impl::reload_rules(std::string_view cause, std::vector<rules::Diagnostic>* errors,
                                   RulesReplyTo reply) {
  if (!state_ || !writer_ || !server_) return make_error("trading-gate has not started; nothing to reload");
  if (stopping_) return make_error("trading-gate is stopping; the rules were not reloaded");
  if (journal_failed_) {
    return make_error("journal not writable (" + journal_error_ + "); the rules were not reloaded");
  }
  auto loaded = rules::load_rules(gate_cfg_.rules_core_dir.string(), gate_cfg_.rules_active_dir.string());
  if (loaded.ok()) return adopt_rules(std::move(loaded).value(), cause, reply);

  // The attempt is part of the audit trail even though nothing changed.
  ipc::GateRecord r;
  *r.mutable_rules_loaded() = daemon::rules_failed_record(loaded.errors(), cause);
  append(r);
  log_->error("rules reload failed cause={} errors={}: the rules in force did not change count={} loaded_seq={}",
              log_text(cause), loaded.errors().size(), rules_.size(), rules_loaded_seq_);
  for (const rules::Diagnostic& d : loaded.errors()) log_->error("rules reload error: {}", log_text(one_line(d)));
  if (errors != nullptr) *errors = loaded.errors();
  run_effects();
  std::string text = loaded.render_errors();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return make_error("rules do not compile; the rules in force did not change:\n" + text);
}

Status GateApp::Impl::adopt_rules(rules::LoadedRules loaded, std::string_view cause, RulesReplyTo reply) {
  if (!state_ || !writer_ || !server_) return make_error("trading-gate has not started; no rules can be adopted");
  if (stopping_) return make_error("trading-gate is stopping; the rules were not reloaded");
  if (journal_failed_) {
    return make_error("journal not writable (" + journal_error_ + "); the rules were not reloaded");
  }
  if (rules_queued_ >= kRulesReloadsPendingMax) {
    return make_error(std::to_string(rules_queued_) +
                      " rule reloads already wait for the journal (is the disk stalled?); try again later");
  }
  auto pending = std::make_shared<PendingRules>();
  pending->loaded = std::move(loaded);
  pending->cause = std::string(cause);
  pending->reply = reply;
  log_->info("rules reload compiled cause={} count={} files={}: in force once journaled", log_text(cause),
             pending->loaded.rules.size(), pending->loaded.files.size());
  Effect e;
  e.kind = Effect::Kind::kRulesJournal;
  e.payload = std::move(pending);
  enqueue(std::move(e));
  run_effects();
  return {};
}

bool GateApp::Impl::rules_journal(PendingRules& pending) {
  ipc::GateRecord r;
  *r.mutable_rules_loaded() = daemon::rules_loaded_record(pending.loaded, pending.cause);
  if (!append(r)) return false;
  pending.record_seq = last_seq_;
  pending.record = std::move(*r.mutable_rules_loaded());
  return true;
}

void GateApp::Impl::rules_use(PendingRules& pending) {
  rules_ = pending.loaded.rules;
  rule_files_ = pending.loaded.files;
  rules_loaded_seq_ = pending.record_seq;
  rules_loaded_ts_ns_ = wall_now();
  rules_cause_ = pending.cause;
  // As a replay applies the record: nothing was decided between the two.
  if (auto st = state_->apply_rules_loaded(pending.record); !st) internal_error(st.error().message);
  log_->info("rules in force cause={} count={} files={} loaded_seq={}", log_text(pending.cause), rules_.size(),
             rule_files_.size(), rules_loaded_seq_);
  if (pending.reply.session != 0) send_reload_reply(pending.reply, reload_reply(true, {}, ""), 0);
}

void GateApp::Impl::rules_dropped(const PendingRules& pending, const std::string& why) {
  log_->warn("rules reload abandoned cause={} why={}: the rules in force did not change", log_text(pending.cause),
             log_text(why));
  if (pending.reply.session == 0 || !server_) return;
  // Not through the FIFO: nothing here waits for the journal, which may be
  // gone.
  ipc::AdminEnvelope env;
  env.set_request_id(pending.reply.request_id);
  *env.mutable_rules_reload_reply() = reload_reply(false, {}, why + "; the rules in force did not change");
  if (auto st = server_->send_admin(pending.reply.session, env); !st) {
    admin_log_->debug("send session={} error={}", pending.reply.session, st.error().message);
  }
}

// ---------------------------------------------------------------- admin

void GateApp::Impl::admin_reload(SessionId session, std::uint64_t request_id) {
  std::string cause = "admin";
  if (auto it = admin_peers_.find(session); it != admin_peers_.end()) {
    cause += " uid=" + std::to_string(it->second.uid) + " pid=" + std::to_string(it->second.pid);
  }
  admin_log_->info("rules reload requested session={} cause={}", session, log_text(cause));
  std::vector<rules::Diagnostic> errors;
  const RulesReplyTo to{session, request_id};
  Status st = reload_rules(cause, &errors, to);
  if (st.ok()) return;  // rules_use() or rules_dropped() answers
  send_reload_reply(to, reload_reply(false, errors, errors.empty() ? st.error().message : ""), reply_barrier());
}

void GateApp::Impl::send_reload_reply(const RulesReplyTo& to, ipc::RulesReloadReply reply, std::uint64_t barrier) {
  ipc::AdminEnvelope env;
  env.set_request_id(to.request_id);
  *env.mutable_rules_reload_reply() = std::move(reply);
  send_admin(to.session, std::move(env), barrier);
}

std::size_t GateApp::Impl::admin_frame_budget() const {
  // gate.yaml allows frames of at least 1024 bytes, so this stays positive.
  static_assert(kAdminReplyReserveBytes < 1024);
  // A reply must fit one frame on both ends: the gate's limit and the
  // admin client's (tradectl and trading-dash read at most
  // kFrameSizeMaxDefault), whichever is smaller.
  const std::size_t frame = std::min<std::size_t>(gate_cfg_.frame_size_max_bytes, proto::kFrameSizeMaxDefault);
  return frame - kAdminReplyReserveBytes;
}

ipc::RulesReloadReply GateApp::Impl::reload_reply(bool ok, const std::vector<rules::Diagnostic>& errors,
                                                  const std::string& message) const {
  ipc::RulesReloadReply r;
  r.set_ok(ok);
  r.set_rule_count(static_cast<std::uint32_t>(rules_.size()));
  r.set_file_count(static_cast<std::uint32_t>(rule_files_.size()));
  r.set_loaded_sequence(rules_loaded_seq_);
  if (!message.empty()) r.add_errors()->set_message(message);
  const std::size_t budget = admin_frame_budget();
  std::size_t size = r.ByteSizeLong();
  for (const rules::Diagnostic& d : errors) {
    ipc::CompileError e = daemon::to_proto(d);
    const std::size_t need = e.ByteSizeLong() + kFieldOverheadBytes;
    if (size + need > budget) {
      r.set_errors_omitted(r.errors_omitted() + 1);
      continue;
    }
    size += need;
    *r.add_errors() = std::move(e);
  }
  return r;
}

ipc::RulesListReply GateApp::Impl::rules_list(const ipc::RulesListRequest& request) const {
  ipc::RulesListReply r;
  r.set_loaded_sequence(rules_loaded_seq_);
  r.set_loaded_ts_ns(rules_loaded_ts_ns_);
  r.set_loaded_cause(rules_cause_);
  r.set_file_count(static_cast<std::uint32_t>(rule_files_.size()));
  r.set_hits_untracked(state_->rule_hits_untracked());

  std::vector<std::size_t> matches;
  if (request.rule_id().empty()) {
    for (std::size_t i = 0; i < rules_.size(); ++i) matches.push_back(i);
  } else if (auto i = rules_.find(request.rule_id())) {
    matches.push_back(*i);
  }
  r.set_total(static_cast<std::uint32_t>(matches.size()));

  const std::size_t budget = admin_frame_budget();
  std::size_t size = r.ByteSizeLong() + 2 * kFieldOverheadBytes;  // total/next_offset may grow
  for (std::size_t k = request.offset(); k < matches.size(); ++k) {
    const rules::RuleInfo& rule = rules_.rule(matches[k]);
    ipc::RuleInfo info;
    info.set_id(rule.id);
    info.set_version(rule.version);
    info.set_provenance(provenance_text(rule.provenance));
    info.set_description(rule.description);
    info.set_file(daemon::utf8_clean(rule.file));
    info.set_line(rule.line);
    info.set_action(rules::to_string(rule.action));
    info.set_enabled(rule.enabled);
    for (const rules::RuleFile& f : rule_files_) {
      if (f.path == rule.file) info.set_file_sha256(f.sha256);
    }
    auto hits = state_->rule_hits().find(rule.id);
    info.set_hits(hits == state_->rule_hits().end() ? 0 : hits->second);
    if (request.with_source()) info.set_source(rule.canonical);
    std::size_t need = info.ByteSizeLong() + kFieldOverheadBytes;
    if (r.rules_size() == 0 && size + need > budget && request.with_source()) {
      // Alone on its page and still too big: the source is cut to fit.
      const std::size_t excess = size + need - budget;
      const std::size_t keep = rule.canonical.size() > excess ? rule.canonical.size() - excess : 0;
      info.set_source(daemon::utf8_prefix(rule.canonical, keep));  // canonical text is ASCII
      info.set_source_truncated(true);
      need = info.ByteSizeLong() + kFieldOverheadBytes;
    }
    if (r.rules_size() > 0 && size + need > budget) {
      r.set_next_offset(static_cast<std::uint32_t>(k));
      break;
    }
    size += need;
    *r.add_rules() = std::move(info);
  }
  return r;
}

}  // namespace ta::gate
