// GateApp: start-up and recovery, stop, the journal's durability and the
// FIFO of effects that wait for it, and the housekeeping timer.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <system_error>

#include "app_impl.h"

namespace ta::gate {

using daemon::find_any_order;
using daemon::kGateRecordType;

namespace {

std::int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ChannelOptions channel(const SocketConfig& s, const GateConfig& g, ChannelOptions base) {
  base.socket_path = s.path.string();
  base.allow.uids = s.allowed_uids;
  base.allow.gids = s.allowed_gids;
  if (s.allow_own_uid) base.allow.uids.push_back(static_cast<std::uint32_t>(::getuid()));
  base.connections_max = s.connections_max;
  base.limits.frame_size_max = g.frame_size_max_bytes;
  base.limits.outbound_queue_max = g.outbound_queue_max_messages;
  return base;
}

// The journal library's bounds, which the config's ranges must respect.
static_assert(journal::kGroupCommitWindowUsMax == 100'000, "gate.yaml allows journal.group_commit_window up to 100ms");
static_assert(journal::kSegmentBytesMaxMin == 4 * 1024 && journal::kSegmentBytesMaxCeiling == 1024ull * 1024 * 1024,
              "gate.yaml's journal.segment_bytes_max range is the journal's");

}  // namespace

GateApp::Impl::Impl(boost::asio::io_context& io, GateAppOptions options)
    : io_(io),
      options_(std::move(options)),
      gate_cfg_(options_.config.gate),
      log_(daemon::logger("gate.app")),
      journal_log_(daemon::logger("gate.journal")),
      venue_log_(daemon::logger("gate.venue")),
      admin_log_(daemon::logger("gate.admin")),
      proposals_log_(daemon::logger("gate.proposals")) {
  for (const ProductSpec& p : gate_cfg_.products) refs_.push_back(RefSlot{p.product, Price(), 0, false});
}

GateApp::Impl::~Impl() {
  alive_.reset();
  server_.reset();
  if (writer_) static_cast<void>(writer_->close());
}

std::int64_t GateApp::Impl::wall_now() const {
  return options_.wall_now_ns ? options_.wall_now_ns() : system_now_ns();
}

std::int64_t GateApp::Impl::now() const { return gate_cfg_.mode == Mode::kSim ? market_now_ns_ : wall_now(); }

DecisionContext GateApp::Impl::context(bool peer_allowed) const {
  DecisionContext ctx;
  ctx.now_ns = now();
  ctx.peer_allowed = peer_allowed;
  ctx.reference_prices = ref_view_;
  ctx.rules = &rules_;
  return ctx;
}

void GateApp::Impl::set_reference(const std::string& product, Price price, std::int64_t ts_ns) {
  for (RefSlot& slot : refs_) {
    if (slot.product != product) continue;
    slot.price = price;
    slot.ts_ns = ts_ns;
    slot.set = true;
  }
  ref_view_.clear();
  for (const RefSlot& slot : refs_) {
    if (slot.set) ref_view_.push_back(ReferencePrice{slot.product, slot.price, slot.ts_ns});
  }
}

// ---------------------------------------------------------------- start-up

Status GateApp::Impl::start() {
  if (server_ || stopping_) return make_error("trading-gate: start() called twice");
  if (gate_cfg_.mode == Mode::kLive) {
    return make_error("mode LIVE needs the Coinbase venue, which this build of trading-gate does not have; use SIM "
                      "or PAPER");
  }
  if (auto st = load_rules(); !st) return st;
  if (auto st = recover_journal(); !st) return st;
  if (auto st = open_journal(); !st) return st;
  venue_.emplace(gate_cfg_.sim, gate_cfg_.products);
  // The venue of the last run saw these bars: its books (last bar time,
  // bid/ask for the spread) and market time come back before any order.
  for (const Bar& bar : replayed_.venue_bars) {
    // A product no longer in gate.yaml: the venue cannot trade it anyway.
    if (auto st = venue_->restore(bar); !st) {
      venue_log_->warn("SimVenue not given the journal's last bar product={} error={}", daemon::log_text(bar.product),
                       daemon::log_text(st.error().message));
    }
  }
  replayed_.venue_bars.clear();
  for (const daemon::Replayed::UnmarkedFill& u : replayed_.unmarked_fills) {
    if (auto st = venue_->restore_filled(u.product, u.bar_open_ts_ns, u.quantity); !st) {
      venue_log_->warn("SimVenue not given the fills of a bar the journal lacks product={} error={}",
                       daemon::log_text(u.product), daemon::log_text(st.error().message));
    } else {
      venue_log_->info("SimVenue told of fills on a bar the journal lacks product={} bar_open_ts_ns={} quantity={}",
                       daemon::log_text(u.product), u.bar_open_ts_ns, u.quantity.to_string());
    }
  }
  replayed_.unmarked_fills.clear();
  if (auto st = start_server(); !st) return st;
  journal_start();
  complete_installed_proposals();
  expire_held_orders();
  expire_proposals();
  reconcile();
  if (journal_failed_) return make_error("journal " + gate_cfg_.journal_dir.string() + ": " + journal_error_);
  state_->set_ready(true);
  last_heartbeat_ = std::chrono::steady_clock::now();
  // Orders left open by the previous run are protected by the dead-man's
  // switch even if no agent ever comes back.
  dead_mans_switch_armed_ = !state_->live_orders().empty();
  schedule_housekeeping();
  log_->info("ready mode={} halt={} live_orders={} journal_seq={} market_now_ns={} agent_socket={} admin_socket={}",
             to_string(gate_cfg_.mode), to_string(state_->halt().state()), state_->live_orders().size(), last_seq_,
             market_now_ns_, gate_cfg_.gate_socket.path.string(), gate_cfg_.admin_socket.path.string());
  run_effects();
  return {};
}

Status GateApp::Impl::load_rules() {
  auto loaded = rules::load_rules(gate_cfg_.rules_core_dir.string(), gate_cfg_.rules_active_dir.string());
  if (!loaded.ok()) {
    std::string text = loaded.render_errors();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return make_error("rules do not compile; trading-gate will not start:\n" + text);
  }
  rules_ = loaded.value().rules;
  rule_files_ = loaded.value().files;
  rules_cause_ = "start";
  rules_loaded_ts_ns_ = wall_now();
  log_->info("rules loaded count={} files={}", rules_.size(), rule_files_.size());
  return {};
}

Status GateApp::Impl::recover_journal() {
  const auto& dir = gate_cfg_.journal_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error("journal " + dir.string() + ": cannot create the directory: " + ec.message());
  auto recovered = journal::recover(dir);
  if (!recovered) return make_error("journal " + dir.string() + ": " + recovered.error().message);
  if (recovered->cut) {
    const journal::TornTail& t = recovered->torn_tail;
    journal_log_->warn("torn tail cut dir={} segment={} offset={} bytes={} whole_segment={} (a crash interrupted a "
                       "write; those bytes were never reported durable)",
                       dir.string(), t.segment, t.offset, t.bytes, t.whole_segment);
  }
  const std::int64_t ledger_start = gate_cfg_.mode == Mode::kSim ? 0 : wall_now();
  auto replayed = daemon::replay_journal(dir, options_.config, ledger_start);
  if (!replayed) return make_error(replayed.error().message);
  replayed_ = std::move(replayed).value();
  state_ = std::move(replayed_.state);
  // The account always comes from the journal's first start.
  if (!replayed_.new_journal && replayed_.starting_cash != options_.config.safety.starting_cash) {
    log_->warn("starting_cash in {} is {} but the journal began with {}; the journal's value is used",
               options_.config.safety.source_file.string(), options_.config.safety.starting_cash.to_string(),
               replayed_.starting_cash.to_string());
  }
  for (const auto& [id, o] : state_->live_orders()) {
    if (gate_cfg_.find_product(o.product) == nullptr) {
      return make_error("journal " + dir.string() + ": open order " + id + " is for " + o.product +
                        ", which is not in the configured products");
    }
  }
  if (state_->live_orders().size() > kSimOrdersMax) {
    return make_error("journal " + dir.string() + ": " + std::to_string(state_->live_orders().size()) +
                      " open orders, more than SimVenue holds (" + std::to_string(kSimOrdersMax) + ")");
  }
  market_now_ns_ = replayed_.market_now_ns;
  for (const daemon::MarkSeen& m : replayed_.marks) {
    set_reference(m.product, m.price, m.ts_ns);
    last_bar_open_ns_[m.product] = m.ts_ns - gate_cfg_.sim.bar_period_ms * kNanosPerMs;
  }
  next_fill_number_ = replayed_.fills + 1;
  for (const ipc::CancelIntent& c : replayed_.cancels) {
    ipc::CancelResult r;
    r.set_cancel_id(c.cancel_id());
    r.set_intent_id(c.intent_id());
    r.set_accepted(true);
    r.set_detail("cancel requested");
    if (cancels_.emplace(c.cancel_id(), r).second) cancel_order_.push_back(c.cancel_id());
  }
  replayed_.cancels.clear();  // copied into cancels_
  halt_reason_ = replayed_.halt_reason;
  proposals_ = std::move(replayed_.proposals);
  last_seq_ = replayed_.last_seq;
  bar_barrier_seq_ = replayed_.last_seq;
  durable_seq_ = replayed_.last_seq;
  journal_log_->info("replayed dir={} records={} last_seq={} starts={} previous_stop={} live_orders={} halt={}",
                     dir.string(), replayed_.records, replayed_.last_seq, replayed_.starts,
                     replayed_.new_journal ? "none" : (replayed_.last_stop_clean ? "clean" : "crash"),
                     state_->live_orders().size(), to_string(state_->halt().state()));
  return {};
}

Status GateApp::Impl::open_journal() {
  journal::Options o;
  o.durability = journal::Durability::kGroupCommit;
  o.group_commit_window_us = static_cast<std::uint32_t>(gate_cfg_.journal.group_commit_window_ms * 1000);
  o.segment_bytes_max = gate_cfg_.journal.segment_bytes_max;
  o.file_ops = options_.journal_file_ops;
  // Records nobody waits for (denials, marks) wait for the window, which
  // sync_journal() starts after every event-loop turn that appended some;
  // records somebody waits for are synced by the io thread itself
  // (sync_journal), so no record needs to wake the flusher on its own, and
  // the flusher never has to tell the io thread anything.
  o.wake_on_first_append = false;
  auto writer = journal::Writer::open(gate_cfg_.journal_dir, std::move(o));
  if (!writer) return make_error(writer.error().message);
  writer_ = std::move(writer).value();
  return {};
}

Status GateApp::Impl::start_server() {
  for (const auto* s : {&gate_cfg_.gate_socket, &gate_cfg_.admin_socket}) {
    std::error_code ec;
    if (s->path.has_parent_path()) std::filesystem::create_directories(s->path.parent_path(), ec);
  }
  IpcServerOptions o;
  o.agent = channel(gate_cfg_.gate_socket, gate_cfg_, o.agent);
  o.admin = channel(gate_cfg_.admin_socket, gate_cfg_, o.admin);
  server_ = std::make_unique<IpcServer>(io_, std::move(o), *this);
  if (auto st = server_->start(); !st) {
    server_.reset();
    return make_error("cannot listen: " + st.error().message);
  }
  return {};
}

void GateApp::Impl::journal_start() {
  ipc::GateRecord started;
  ipc::GateStarted* s = started.mutable_started();
  s->set_gate_version(options_.gate_version);
  s->set_mode(daemon::mode_to_proto(gate_cfg_.mode));
  auto config_hash = daemon::sha256_file(options_.config_file.empty() ? gate_cfg_.source_file : options_.config_file);
  auto safety_hash = daemon::sha256_file(options_.config.safety.source_file);
  s->set_config_sha256(config_hash ? *config_hash : "");
  s->set_safety_sha256(safety_hash ? *safety_hash : "");
  s->set_starting_cash(replayed_.starting_cash.to_string());
  s->set_ledger_start_ts_ns(replayed_.ledger_start_ts_ns);
  s->set_pid(static_cast<std::int32_t>(::getpid()));
  if (!append(started)) return;
  log_->info("started version={} mode={} config_sha256={} safety_sha256={} pid={}", options_.gate_version,
             to_string(gate_cfg_.mode), s->config_sha256(), s->safety_sha256(), s->pid());

  journal_start_rules();
}

// SIM and PAPER: SimVenue lived in the previous process and died with it,
// so the venue's truth is the journal's. Every order the venue held goes
// through lost_contact and the reconcile event that matches the journal,
// and is handed to the new SimVenue again (its acknowledgement is then
// expected and swallowed). An order decided but never sent (the stop came
// between its decision and its submit record) is, in SIM, sent now,
// arriving when it first would have: market time is the replay's, so the
// run goes on as if the gate had never stopped. In PAPER it is cancelled,
// as LIVE must: an order that never reached the venue is not sent after a
// restart that took wall-clock time. Last, an order a cancel was decided
// for (by a halt's cancel-all or the agent) whose cancel_request the
// journal lacks gets it now: a KILLED or loss-halted gate never restarts
// with orders working, and an accepted cancel is never forgotten.
void GateApp::Impl::reconcile() {
  // In submission order (creation time, then the order number), as the
  // venue held them: orders share a bar's fill cap in that order.
  std::vector<std::pair<std::int64_t, std::string>> by_time;
  for (const auto& [id, o] : state_->live_orders()) by_time.emplace_back(o.created_ts_ns, id);
  std::sort(by_time.begin(), by_time.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    if (a.second.size() != b.second.size()) return a.second.size() < b.second.size();
    return a.second < b.second;
  });
  std::vector<std::string> ids;
  for (auto& [ts, id] : by_time) ids.push_back(std::move(id));
  const std::set<std::string, std::less<>>& owed = replayed_.cancels_owed;
  std::uint32_t cancels_owed = 0;
  std::uint32_t resubmitted = 0;
  std::uint32_t settled = 0;
  std::uint32_t never_sent = 0;
  std::uint32_t sent_late = 0;
  std::uint32_t cancels_resent = 0;
  for (const std::string& id : ids) {
    const Order* o = state_->find_live_order(id);
    if (o == nullptr) continue;
    const OrderState before = o->state;
    const std::int64_t ts = now();
    switch (before) {
      case OrderState::kPendingNew:
        if (gate_cfg_.mode == Mode::kSim && !owed.contains(id)) {
          if (!order_event(id, OrderEvent::kSubmit, ts,
                           "decided before the restart, never sent; sent now, arriving when it first would have")) {
            return;
          }
          sent_late_.insert(id);
          enqueue_venue(Effect::Kind::kVenueSubmit, id);
          ++sent_late;
          continue;
        }
        if (!order_event(id, OrderEvent::kCancelRequest, ts, "never sent to the venue before the restart")) return;
        ++never_sent;
        continue;
      case OrderState::kSubmitted:
      case OrderState::kOpen:
      case OrderState::kPartiallyFilled:
      case OrderState::kCancelPending:
        if (!order_event(id, OrderEvent::kLostContact, ts, "the venue restarted with the gate")) return;
        break;
      case OrderState::kUnknown:
        break;
      case OrderState::kFilled:
      case OrderState::kCancelled:
      case OrderState::kRejected:
      case OrderState::kExpired:
        continue;
    }
    ++settled;
    o = state_->find_live_order(id);
    const std::int64_t cancel_requested_ns = o->cancel_requested_ts_ns;
    const OrderEvent settle =
        o->filled_quantity.is_zero() ? OrderEvent::kReconcileOpen : OrderEvent::kReconcilePartiallyFilled;
    if (!order_event(id, settle, ts, "resubmitted to the restarted venue")) return;
    awaiting_reack_.insert(id);
    enqueue_venue(Effect::Kind::kVenueSubmit, id);
    ++resubmitted;
    if (before == OrderState::kCancelPending) {
      // The cancel goes to the venue again and arrives when it first did:
      // the order may still fill before that, as it could have without
      // the restart.
      restored_cancels_[id] = cancel_requested_ns;
      if (!request_cancel(id, "a cancel was pending when the gate stopped; sent again")) return;
      ++cancels_resent;
    }
  }
  for (const std::string& id : ids) {
    const Order* o = state_->find_live_order(id);
    if (!owed.contains(id) || o == nullptr || !next_order_state(o->state, OrderEvent::kCancelRequest).ok()) continue;
    if (!request_cancel(id, "a cancel decided before the restart (by a halt or the agent) whose cancel request "
                            "was not journaled")) {
      return;
    }
    ++cancels_owed;
  }
  replayed_.cancels_owed.clear();
  ipc::GateRecord r;
  ipc::ReconcileResult* rr = r.mutable_reconcile();
  rr->set_open_orders_venue(resubmitted);
  rr->set_open_orders_journal(static_cast<std::uint32_t>(ids.size()));
  rr->set_settled_unknown(settled);
  rr->set_detail("SimVenue rebuilt from the journal: " + std::to_string(resubmitted) + " resubmitted (" +
                 std::to_string(cancels_resent) + " with their pending cancel), " + std::to_string(sent_late) +
                 " never sent and sent now, " + std::to_string(never_sent) + " never sent and cancelled, " +
                 std::to_string(cancels_owed) + " owed cancels requested");
  if (!append(r)) return;
  log_->info(
      "reconciled venue=SimVenue journal_open={} resubmitted={} settled={} sent_late={} never_sent={} "
      "cancels_owed={}",
      ids.size(), resubmitted, settled, sent_late, never_sent, cancels_owed);
  // A crash may have come between a cancel that freed quantity and the
  // follow-up flatten; and the cancels settled above free some too.
  follow_up_flatten();
}

// ---------------------------------------------------------------- journal

bool GateApp::Impl::denial_creates_nothing(const ipc::Decision& d) {
  if (d.accepted() || d.reason() == ipc::DENY_REASON_HELD_FOR_APPROVAL) return false;
  for (const ipc::DecisionField& f : d.fields()) {
    if (f.name() == kFieldHoldReleased || f.name() == kFieldHoldRejected || f.name() == kFieldHoldExpired) {
      return false;
    }
  }
  return true;
}

bool GateApp::Impl::append(ipc::GateRecord& record) {
  if (journal_failed_ || !writer_) return false;
  // Marks wait in pending_marks_ until another record comes (or the bars of
  // a message are done), so the journal keeps every record's order.
  if (!record.has_marks() && !append_marks()) return false;
  record.set_ts_ns(now());
  scratch_.clear();
  record.SerializeToString(&scratch_);
  auto seq = writer_->append(wall_now(), kGateRecordType, scratch_);
  if (!seq) {
    journal_failed(seq.error().message);
    return false;
  }
  last_seq_ = *seq;
  // Marks and denials that create nothing are not waited for by a bar's
  // answer (bar_reply_barrier). A hold and a hold's settlement are state.
  const bool plain_denial = record.has_intent_decided() && denial_creates_nothing(record.intent_decided().decision());
  if (!record.has_mark() && !record.has_marks() && !plain_denial) bar_barrier_seq_ = *seq;
  return true;
}

void GateApp::Impl::add_mark(const Bar& bar, std::int64_t close_ts_ns) {
  ipc::MarkPrice* m = pending_marks_.mutable_marks()->add_marks();  // reuses an earlier batch's
  m->set_product(bar.product);
  m->set_price(bar.close.to_string());
  m->set_ts_ns(close_ts_ns);
  *m->mutable_bar() = to_proto(bar);
}

bool GateApp::Impl::append_marks() {
  if (!pending_marks_.has_marks() || pending_marks_.marks().marks_size() == 0) return true;
  const bool ok = append(pending_marks_);
  pending_marks_.mutable_marks()->mutable_marks()->Clear();
  return ok;
}

void GateApp::Impl::on_durable(std::uint64_t seq) {
  if (seq <= durable_seq_) return;
  durable_seq_ = seq;
  run_effects();
}

std::uint64_t GateApp::Impl::reply_barrier() const { return journal_failed_ ? 0 : last_seq_; }

// A bar's answer waits for every record before it except marks and
// denials. A mark is the only record a bar makes when nothing fills, halts
// or expires, and it is restated by the agent: after a gate restart the
// agent sends again every bar from the gate's market time on (docs/ipc.md,
// section 14), so a mark lost with the journal's tail is made again from
// the same bar. A denial is answered without waiting for the disk in any
// case (it creates nothing). Fills, order updates, accepted decisions and
// halts are waited for as always.
std::uint64_t GateApp::Impl::bar_reply_barrier() const { return journal_failed_ ? 0 : bar_barrier_seq_; }

// Never trade without an audit trail: stop everything that waits for the
// journal (except what it already holds durably), cancel at the venue what
// rests there, and refuse every intent from now on. The halt cannot be
// journaled; it is logged, shown by status and pushed to the agent.
void GateApp::Impl::journal_failed(const std::string& error) {
  if (journal_failed_) return;
  journal_failed_ = true;
  journal_error_ = error;
  journal_log_->error("journal not writable dir={} error={}: trading halted; fix the disk and restart trading-gate",
                      gate_cfg_.journal_dir.string(), daemon::log_text(error));
  if (writer_) durable_seq_ = std::max(durable_seq_, writer_->durable_sequence());
  // Messages whose records are durable may still go out; nothing else.
  std::deque<Effect> waiting;
  waiting.swap(effects_);
  bars_queued_ = 0;
  inbound_queued_ = 0;
  rules_queued_ = 0;
  venue_queued_ = 0;
  bool in_order = true;
  for (Effect& e : waiting) {
    // A reload that will not happen is answered whatever its place.
    if (e.kind == Effect::Kind::kRulesJournal || e.kind == Effect::Kind::kRulesUse) {
      rules_dropped(*std::get<std::shared_ptr<PendingRules>>(e.payload), "journal not writable: " + error);
      continue;
    }
    if (e.barrier > durable_seq_) in_order = false;
    if (in_order && (e.kind == Effect::Kind::kSendAgent || e.kind == Effect::Kind::kSendAdmin)) run_effect(e);
  }
  auto change = state_->apply_halt_event(HaltEvent::kJournalUnwritable, now());
  halt_reason_ = "journal not writable: " + error;
  if (venue_) {
    for (const auto& [id, o] : state_->live_orders()) {
      if (o.state == OrderState::kPendingNew) continue;
      if (auto st = venue_->cancel(id); !st) venue_log_->debug("cancel order_id={} error={}", id, st.error().message);
    }
  }
  if (change && server_) {
    ipc::Envelope push;
    *push.mutable_halt_state_changed() = change->to_proto(halt_reason_);
    push.mutable_halt_state_changed()->set_cause(daemon::to_proto_cause(HaltEvent::kJournalUnwritable));
    server_->broadcast(push);
  }
}

// ---------------------------------------------------------------- effects

void GateApp::Impl::enqueue_venue(Effect::Kind kind, const std::string& order_id) {
  Effect e;
  e.kind = kind;
  e.barrier = last_seq_;
  e.payload = order_id;
  enqueue(std::move(e));
}

void GateApp::Impl::enqueue(Effect effect) {
  waited_seq_ = std::max(waited_seq_, effect.barrier);
  switch (effect.kind) {
    case Effect::Kind::kBars:
      ++bars_queued_;
      break;
    case Effect::Kind::kInbound:
      ++inbound_queued_;
      break;
    case Effect::Kind::kRulesJournal:
      ++rules_queued_;
      break;
    case Effect::Kind::kVenueSubmit:
    case Effect::Kind::kVenueCancel:
      ++venue_queued_;
      break;
    case Effect::Kind::kRulesUse:  // replaces its kRulesJournal, already counted
    case Effect::Kind::kSendAgent:
    case Effect::Kind::kSendAdmin:
      break;
  }
  effects_.push_back(std::move(effect));
}

bool GateApp::Impl::send_agent_now(SessionId session, const ipc::Envelope& message, std::uint64_t barrier) {
  if (!effects_.empty() || barrier > durable_seq_) return false;
  deliver_agent(session, message);
  return true;
}

void GateApp::Impl::deliver_agent(SessionId session, const ipc::Envelope& message) {
  if (!server_) return;
  if (session == 0) {
    server_->broadcast(message);
  } else if (auto st = server_->send(session, message); !st) {
    log_->debug("send session={} error={}", session, st.error().message);
  }
}

void GateApp::Impl::send_agent(SessionId session, ipc::Envelope message, std::uint64_t barrier) {
  if (send_agent_now(session, message, barrier)) return;
  Effect e;
  e.kind = Effect::Kind::kSendAgent;
  e.barrier = barrier;
  e.session = session;
  e.payload = std::move(message);
  enqueue(std::move(e));
}

void GateApp::Impl::send_admin(SessionId session, ipc::AdminEnvelope message, std::uint64_t barrier) {
  Effect e;
  e.kind = Effect::Kind::kSendAdmin;
  e.barrier = barrier;
  e.session = session;
  e.payload = std::move(message);
  enqueue(std::move(e));
}

void GateApp::Impl::run_effects() {
  if (running_effects_) return;  // the outer call keeps going
  running_effects_ = true;
  while (!effects_.empty() && effects_.front().barrier <= durable_seq_) {
    Effect e = std::move(effects_.front());
    effects_.pop_front();
    if (e.kind == Effect::Kind::kBars) --bars_queued_;
    if (e.kind == Effect::Kind::kInbound) --inbound_queued_;
    if (e.kind == Effect::Kind::kRulesUse && rules_queued_ > 0) --rules_queued_;
    if (e.kind == Effect::Kind::kVenueSubmit || e.kind == Effect::Kind::kVenueCancel) --venue_queued_;
    run_effect(e);
  }
  running_effects_ = false;
  sync_journal();
}

void GateApp::Impl::sync_journal() {
  if (!writer_ || journal_failed_ || last_seq_ <= durable_seq_) return;
  if (waited_seq_ > durable_seq_) {
    // Once per event-loop turn, after the handlers of everything already
    // read (a batch of frames) have appended their records.
    if (sync_posted_) return;
    sync_posted_ = true;
    boost::asio::post(io_, [this, alive = std::weak_ptr<char>(alive_)] {
      if (!alive.lock()) return;
      sync_posted_ = false;
      sync_now();
    });
  } else if (last_seq_ > window_seq_) {
    writer_->start_window();
    window_seq_ = last_seq_;
  }
}

void GateApp::Impl::sync_now() {
  if (!writer_ || journal_failed_ || stopping_) return;
  auto durable = writer_->sync();
  if (!durable) {
    journal_failed(durable.error().message);
    return;
  }
  window_seq_ = std::max(window_seq_, *durable);
  on_durable(*durable);
}

void GateApp::Impl::run_effect(Effect& e) {
  switch (e.kind) {
    case Effect::Kind::kSendAgent:
      deliver_agent(e.session, std::get<ipc::Envelope>(e.payload));
      return;
    case Effect::Kind::kSendAdmin:
      if (!server_) return;
      if (auto st = server_->send_admin(e.session, std::get<ipc::AdminEnvelope>(e.payload)); !st) {
        admin_log_->debug("send session={} error={}", e.session, st.error().message);
      }
      return;
    case Effect::Kind::kVenueSubmit:
      if (!stopping_ && !journal_failed_) venue_submit(std::get<std::string>(e.payload));
      return;
    case Effect::Kind::kVenueCancel:
      if (!stopping_ && !journal_failed_ && venue_) {
        const auto& id = std::get<std::string>(e.payload);
        // A cancel handed back after a restart arrives when it first did.
        Status st;
        if (auto restored = restored_cancels_.find(id); restored != restored_cancels_.end()) {
          st = venue_->cancel_at(id, restored->second);
          restored_cancels_.erase(restored);
        } else {
          st = venue_->cancel(id);
        }
        if (!st) {
          venue_log_->debug("cancel not placed order_id={} detail={}", id, daemon::log_text(st.error().message));
        }
      }
      return;
    case Effect::Kind::kBars:
      if (!stopping_ && !journal_failed_) process_bars(e.session, e.request_id, std::get<std::vector<Bar>>(e.payload));
      return;
    case Effect::Kind::kInbound:
      if (!stopping_ && !journal_failed_) handle_agent_message(e.session, std::get<ipc::Envelope>(e.payload));
      return;
    case Effect::Kind::kRulesJournal: {
      PendingRules& pending = *std::get<std::shared_ptr<PendingRules>>(e.payload);
      if (stopping_ || journal_failed_) {
        if (rules_queued_ > 0) --rules_queued_;
        rules_dropped(pending, stopping_ ? "trading-gate is stopping" : "journal not writable: " + journal_error_);
        return;
      }
      if (!rules_journal(pending)) {
        rules_dropped(pending, "journal not writable: " + journal_error_);
        return;
      }
      // The set goes into force next, once its record is durable; nothing
      // behind it runs before.
      Effect use;
      use.kind = Effect::Kind::kRulesUse;
      use.barrier = last_seq_;
      use.payload = std::move(e.payload);
      effects_.push_front(std::move(use));
      // run_effects() ends in sync_journal(), which syncs what is waited for.
      waited_seq_ = std::max(waited_seq_, last_seq_);
      return;
    }
    case Effect::Kind::kRulesUse: {
      PendingRules& pending = *std::get<std::shared_ptr<PendingRules>>(e.payload);
      if (stopping_ || journal_failed_) {
        rules_dropped(pending, stopping_ ? "trading-gate is stopping" : "journal not writable: " + journal_error_);
        return;
      }
      rules_use(pending);
      return;
    }
  }
}

// ---------------------------------------------------------------- housekeeping

void GateApp::Impl::schedule_housekeeping() {
  if (!server_ || stopping_) return;
  auto timer = server_->schedule_after(kHousekeepingPeriodMs, [this] {
    housekeeping_scheduled_ = false;
    housekeeping();
  });
  if (!timer) {
    log_->error("cannot schedule housekeeping: {}", timer.error().message);
    return;
  }
  housekeeping_timer_ = *timer;
  housekeeping_scheduled_ = true;
}

void GateApp::Impl::housekeeping() {
  if (stopping_) return;
  if (writer_ && !journal_failed_ && writer_->failed()) journal_failed(writer_->error());
  if (!journal_failed_ && dead_mans_switch_armed_) {
    const auto silence = std::chrono::steady_clock::now() - last_heartbeat_;
    const std::int64_t silence_ms = std::chrono::duration_cast<std::chrono::milliseconds>(silence).count();
    if (silence_ms >= gate_cfg_.heartbeat_timeout_ms) trip_dead_mans_switch(silence_ms);
  }
  // In SIM market time moves with the bars, which check the cooldown.
  if (!journal_failed_ && gate_cfg_.mode != Mode::kSim) automatic_halts(wall_now());
  if (!journal_failed_) expire_held_orders();
  if (!journal_failed_) expire_proposals();
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  run_effects();
  schedule_housekeeping();
}

// ---------------------------------------------------------------- stop

void GateApp::Impl::stop(const std::string& reason, std::function<void()> done) {
  if (done) stop_done_.push_back(std::move(done));
  if (stopping_) {
    if (stopped_) finish_stop();
    return;
  }
  stopping_ = true;
  log_->info("stopping reason={}", daemon::log_text(reason));
  if (server_ && housekeeping_scheduled_) server_->cancel_timer(housekeeping_timer_);
  if (writer_ && !journal_failed_) {
    ipc::GateRecord r;
    r.mutable_stopped()->set_reason(reason);
    append(r);
    if (!journal_failed_) {
      if (auto st = writer_->flush(); !st) journal_failed(st.error().message);
    }
    if (!journal_failed_) durable_seq_ = std::max(durable_seq_, writer_->durable_sequence());
  }
  // Replies whose records are durable go out; bars and venue calls do not
  // run any more (run_effect checks stopping_).
  run_effects();
  if (!server_) {
    stopped_ = true;
    finish_stop();
    return;
  }
  server_->shutdown(options_.shutdown_grace_ms, [this] {
    stopped_ = true;
    finish_stop();
  });
}

void GateApp::Impl::finish_stop() {
  if (writer_) {
    if (auto st = writer_->close(); !st) journal_log_->error("close: {}", st.error().message);
  }
  log_->info("stopped journal_seq={}", last_seq_);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  auto done = std::move(stop_done_);
  stop_done_.clear();
  for (auto& d : done) d();
}

GateAppStatus GateApp::Impl::status() const {
  GateAppStatus s;
  s.ready = state_ && state_->ready();
  s.journal_failed = journal_failed_;
  s.journal_error = journal_error_;
  if (state_) {
    s.halt = state_->halt().state();
    s.live_orders = state_->live_orders().size();
  }
  s.halt_reason = halt_reason_;
  s.journal_last_seq = last_seq_;
  // The flusher's windows do not report to the io thread; ask the writer.
  s.journal_durable_seq = writer_ ? std::max(durable_seq_, writer_->durable_sequence()) : durable_seq_;
  s.pending_effects = effects_.size();
  s.agent_sessions = agent_sessions_.size();
  return s;
}

// ---------------------------------------------------------------- GateApp

GateApp::GateApp(boost::asio::io_context& io, GateAppOptions options)
    : impl_(std::make_unique<Impl>(io, std::move(options))) {}
GateApp::~GateApp() = default;
Status GateApp::start() { return impl_->start(); }
void GateApp::stop(const std::string& reason, std::function<void()> done) { impl_->stop(reason, std::move(done)); }
Status GateApp::reload_rules(const std::string& cause) { return impl_->reload_rules(cause); }
GateAppStatus GateApp::status() const { return impl_->status(); }
const GateState& GateApp::state() const { return impl_->state(); }

}  // namespace ta::gate
