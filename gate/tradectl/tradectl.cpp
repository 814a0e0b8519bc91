#include "tradectl.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <vector>

#include "gate/admin_client.h"
#include "rules_cmd.h"

namespace ta::tradectl {

std::string enum_suffix(const std::string& name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

namespace {

std::string halt_name(ipc::HaltState s) { return enum_suffix(ipc::HaltState_Name(s), "HALT_STATE_"); }
std::string mode_name(ipc::Mode m) { return enum_suffix(ipc::Mode_Name(m), "MODE_"); }
std::string side_name(ipc::Side s) { return enum_suffix(ipc::Side_Name(s), "SIDE_"); }
std::string order_state_name(ipc::OrderState s) { return enum_suffix(ipc::OrderState_Name(s), "ORDER_STATE_"); }

}  // namespace

std::string timestamp(std::int64_t ns) {
  if (ns == 0) return "-";
  const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>((ns / 1'000'000) % 1000));
  return out;
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

namespace {

std::string account_lines(const ipc::Account& a) {
  return table({{"equity", a.equity()},
                {"cash", a.cash()},
                {"gross exposure", a.gross_exposure()},
                {"daily pnl", a.daily_pnl()},
                {"drawdown", a.drawdown()},
                {"peak equity", a.peak_equity()},
                {"realized pnl", a.realized_pnl()},
                {"fees paid", a.fees_paid()}});
}

const char* verb_name(Verb v) {
  switch (v) {
    case Verb::kStatus:
      return "status";
    case Verb::kOrders:
      return "orders";
    case Verb::kPositions:
      return "positions";
    case Verb::kKill:
      return "kill";
    case Verb::kHalt:
      return "halt";
    case Verb::kResume:
      return "resume";
    case Verb::kProposalsList:
      return "proposals list";
    case Verb::kProposalsShow:
      return "proposals show";
    case Verb::kProposalsApprove:
      return "proposals approve";
    case Verb::kProposalsReject:
      return "proposals reject";
    case Verb::kRulesList:
      return "rules list";
    case Verb::kRulesShow:
      return "rules show";
    case Verb::kRulesReload:
      return "rules reload";
    case Verb::kRulesCheck:
      return "rules check";
    case Verb::kRulesTest:
      return "rules test";
  }
  return "?";
}

// Every page of the rules in force (or of one rule), merged into one
// reply. Starts again if a reload replaces the set between pages.
Result<ipc::RulesListReply> fetch_rules(const gate::AdminClientOptions& options, const Args& args) {
  for (int attempt = 0; attempt < kRulesListAttemptsMax; ++attempt) {
    auto connected = gate::AdminClient::connect(options);
    if (!connected) return connected.error();
    gate::AdminClient client = std::move(connected).value();
    ipc::RulesListReply all;
    ipc::AdminEnvelope request = request_for(args);
    bool moved = false;
    // Each page holds at least one rule, so a set of N rules takes at most
    // N pages; the bound also stops a gate that answers nonsense.
    for (std::size_t page = 0; page <= rules::kRuleCountMax; ++page) {
      auto answered = client.request(request);
      if (!answered) return answered.error();
      ipc::AdminEnvelope reply = std::move(answered).value();
      if (reply.has_protocol_error()) {
        return make_error("trading-gate refused " + std::string(verb_name(args.verb)) + ": " +
                          reply.protocol_error().message());
      }
      if (!reply.has_rules_list_reply()) {
        return make_error("trading-gate answered " + std::string(verb_name(args.verb)) + " with an unexpected message");
      }
      ipc::RulesListReply& part = *reply.mutable_rules_list_reply();
      if (page > 0 && part.loaded_sequence() != all.loaded_sequence()) {
        moved = true;
        break;
      }
      auto rules = std::move(*part.mutable_rules());
      part.clear_rules();
      const std::uint32_t next = part.next_offset();
      if (page == 0) all = part;
      for (auto& r : rules) *all.add_rules() = std::move(r);
      if (next == 0) {
        all.set_next_offset(0);
        return all;
      }
      if (next <= request.rules_list_request().offset()) break;  // no progress: stop, do not loop
      request.mutable_rules_list_request()->set_offset(next);
    }
    if (!moved) return make_error("trading-gate's rule list did not end; try again");
  }
  return make_error("the rules were reloaded while being listed " + std::to_string(kRulesListAttemptsMax) +
                    " times; try again");
}

int run_rules_list(const gate::AdminClientOptions& options, const Args& args) {
  auto all = fetch_rules(options, args);
  if (!all) {
    std::fprintf(stderr, "tradectl: %s\n", all.error().message.c_str());
    return 1;
  }
  if (args.verb == Verb::kRulesShow) {
    if (all->rules().empty()) {
      std::fprintf(stderr, "tradectl: no rule '%s' is loaded in trading-gate (tradectl rules list shows them)\n",
                   args.rule_id.c_str());
      return 1;
    }
    std::fputs((args.json ? to_json(all->rules(0)) + "\n" : format_rule(all->rules(0))).c_str(), stdout);
    return 0;
  }
  std::fputs((args.json ? to_json(*all) + "\n" : format_rules_list(*all)).c_str(), stdout);
  return 0;
}

int print_reload(const Args& args, const ipc::RulesReloadReply& r) {
  if (args.json) std::printf("%s\n", to_json(r).c_str());
  if (r.ok()) {
    if (!args.json) {
      std::printf("rules reloaded: %u rules from %u files in force (journal seq %llu)\n", r.rule_count(),
                  r.file_count(), static_cast<unsigned long long>(r.loaded_sequence()));
    }
    return 0;
  }
  if (!args.json) {
    for (const ipc::CompileError& e : r.errors()) std::fputs(render(e).c_str(), stdout);
    if (r.errors_omitted() > 0) {
      std::printf("(%u more errors: see trading-gate's log)\n", r.errors_omitted());
    }
  }
  const std::size_t n = static_cast<std::size_t>(r.errors_size()) + r.errors_omitted();
  std::fprintf(stderr,
               "tradectl: trading-gate refused rules reload: %zu error%s; the %u rules in force did not change\n", n,
               n == 1 ? "" : "s", r.rule_count());
  return 1;
}

}  // namespace

ipc::AdminEnvelope request_for(const Args& args) {
  ipc::AdminEnvelope r;
  switch (args.verb) {
    case Verb::kStatus:
      r.mutable_status_request();
      break;
    case Verb::kOrders:
      r.mutable_orders_request()->set_include_closed(args.all);
      break;
    case Verb::kPositions:
      r.mutable_positions_request();
      break;
    case Verb::kKill:
      r.mutable_kill_request()->set_flatten(args.flatten);
      r.mutable_kill_request()->set_reason(args.reason);
      break;
    case Verb::kHalt:
      r.mutable_halt_request()->set_reason(args.reason);
      break;
    case Verb::kResume:
      r.mutable_resume_request()->set_reason(args.reason);
      break;
    case Verb::kProposalsList:
      r.mutable_proposals_list_request();
      break;
    case Verb::kProposalsShow:
      r.mutable_proposals_list_request()->set_proposal_id(args.proposal_id);
      break;
    case Verb::kProposalsApprove:
    case Verb::kProposalsReject: {
      ipc::ProposalDecisionRequest* d = r.mutable_proposal_decision_request();
      d->set_proposal_id(args.proposal_id);
      d->set_approve(args.verb == Verb::kProposalsApprove);
      d->set_reason(args.reason);
      break;
    }
    case Verb::kRulesList:
      r.mutable_rules_list_request();
      break;
    case Verb::kRulesShow:
      r.mutable_rules_list_request()->set_rule_id(args.rule_id);
      r.mutable_rules_list_request()->set_with_source(true);
      break;
    case Verb::kRulesReload:
      r.mutable_rules_reload_request();
      break;
    case Verb::kRulesCheck:
    case Verb::kRulesTest:
      break;
  }
  return r;
}

std::string format_status(const ipc::StatusReply& s) {
  std::string agent = s.agent_connected() ? "connected" : "not connected";
  if (s.last_heartbeat_ts_ns() != 0) agent += ", last heartbeat " + timestamp(s.last_heartbeat_ts_ns());
  std::vector<std::vector<std::string>> rows = {
      {"mode", mode_name(s.mode())},
      {"halt", halt_name(s.halt_state())},
      {"halt reason", s.halt_reason().empty() ? "-" : s.halt_reason()},
      {"cooldown until", timestamp(s.cooldown_until_ts_ns())},
      {"ready", s.ready() ? "yes" : "no"},
      {"agent", agent},
      {"open orders", std::to_string(s.open_orders())},
      {"journal seq", std::to_string(s.journal_last_sequence())},
      {"gate time", timestamp(s.now_ts_ns())},
      {"version", s.gate_version()},
  };
  return table(rows) + account_lines(s.account());
}

std::string format_orders(const ipc::OrdersReply& o, bool all) {
  if (o.orders().empty()) return all ? "no orders\n" : "no open orders\n";
  std::vector<std::vector<std::string>> rows = {
      {"ORDER", "INTENT", "STRATEGY", "PRODUCT", "SIDE", "STATE", "QUANTITY", "FILLED", "AVG_PRICE", "UPDATED"}};
  for (const ipc::OrderUpdate& u : o.orders()) {
    rows.push_back({u.order_id(), u.intent_id(), u.strategy(), u.product(), side_name(u.side()),
                    order_state_name(u.state()), u.quantity(), u.filled_quantity(), u.average_fill_price(),
                    timestamp(u.ts_ns())});
  }
  return table(rows);
}

std::string format_positions(const ipc::PositionSnapshot& p) {
  std::string out;
  if (p.positions().empty()) {
    out = "no positions\n";
  } else {
    std::vector<std::vector<std::string>> rows = {
        {"PRODUCT", "QUANTITY", "AVG_COST", "MARK", "UNREALIZED", "REALIZED"}};
    for (const ipc::Position& x : p.positions()) {
      rows.push_back({x.product(), x.quantity(), x.average_cost(), x.mark_price(), x.unrealized_pnl(),
                      x.realized_pnl()});
    }
    out = table(rows);
  }
  return out + "\n" + account_lines(p.account());
}

std::string to_json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!st.ok()) return "{}";
  return out;
}

int run(const Args& args) {
  if (args.verb == Verb::kProposalsShow) return run_proposals_show(args);
  gate::AdminClientOptions options;
  options.socket_path = args.socket_path;
  options.client_name = "tradectl";
  const RulesFileArgs file_args{args.config_path, args.file, args.since, args.json, 0};
  switch (args.verb) {
    case Verb::kRulesCheck:
      return run_rules_check(file_args);
    case Verb::kRulesTest:
      return run_rules_test(file_args);
    case Verb::kRulesList:
    case Verb::kRulesShow:
      return run_rules_list(options, args);
    case Verb::kStatus:
    case Verb::kOrders:
    case Verb::kPositions:
    case Verb::kKill:
    case Verb::kHalt:
    case Verb::kResume:
    case Verb::kRulesReload:
    case Verb::kProposalsList:
    case Verb::kProposalsShow:
    case Verb::kProposalsApprove:
    case Verb::kProposalsReject:
      break;
  }
  auto reply = gate::admin_request(options, request_for(args));
  if (!reply) {
    std::fprintf(stderr, "tradectl: %s\n", reply.error().message.c_str());
    return 1;
  }
  const ipc::AdminEnvelope& r = *reply;
  if (r.has_protocol_error()) {
    std::fprintf(stderr, "tradectl: trading-gate refused %s: %s\n", verb_name(args.verb),
                 r.protocol_error().message().c_str());
    return 1;
  }
  switch (args.verb) {
    case Verb::kStatus:
      if (!r.has_status_reply()) break;
      std::fputs((args.json ? to_json(r.status_reply()) + "\n" : format_status(r.status_reply())).c_str(), stdout);
      return 0;
    case Verb::kOrders:
      if (!r.has_orders_reply()) break;
      std::fputs((args.json ? to_json(r.orders_reply()) + "\n" : format_orders(r.orders_reply(), args.all)).c_str(),
                 stdout);
      return 0;
    case Verb::kPositions:
      if (!r.has_positions_reply()) break;
      std::fputs((args.json ? to_json(r.positions_reply()) + "\n" : format_positions(r.positions_reply())).c_str(),
                 stdout);
      return 0;
    case Verb::kProposalsList:
      if (!r.has_proposals_list_reply()) break;
      std::fputs((args.json ? to_json(r.proposals_list_reply()) + "\n" : format_proposals(r.proposals_list_reply()))
                     .c_str(),
                 stdout);
      return 0;
    case Verb::kProposalsShow:
      break;  // run_proposals_show()
    case Verb::kKill:
    case Verb::kHalt:
    case Verb::kResume:
    case Verb::kProposalsApprove:
    case Verb::kProposalsReject: {
      if (!r.has_action_reply()) break;
      const ipc::ActionReply& a = r.action_reply();
      if (args.json) std::printf("%s\n", to_json(a).c_str());
      if (!a.ok()) {
        std::fprintf(stderr, "tradectl: trading-gate refused %s: %s\n", verb_name(args.verb), a.message().c_str());
        return 1;
      }
      if (!args.json) std::printf("%s\n", a.message().c_str());
      return 0;
    }
    case Verb::kRulesReload:
      if (!r.has_rules_reload_reply()) break;
      return print_reload(args, r.rules_reload_reply());
    case Verb::kRulesList:
    case Verb::kRulesShow:
    case Verb::kRulesCheck:
    case Verb::kRulesTest:
      break;
  }
  std::fprintf(stderr, "tradectl: trading-gate answered %s with an unexpected message\n", verb_name(args.verb));
  return 1;
}

}  // namespace ta::tradectl
