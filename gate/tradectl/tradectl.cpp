#include "tradectl.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>
#include <vector>

#include "gate/admin_client.h"

namespace ta::tradectl {

namespace {

std::string enum_suffix(const std::string& name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string halt_name(ipc::HaltState s) { return enum_suffix(ipc::HaltState_Name(s), "HALT_STATE_"); }
std::string mode_name(ipc::Mode m) { return enum_suffix(ipc::Mode_Name(m), "MODE_"); }
std::string side_name(ipc::Side s) { return enum_suffix(ipc::Side_Name(s), "SIDE_"); }
std::string order_state_name(ipc::OrderState s) { return enum_suffix(ipc::OrderState_Name(s), "ORDER_STATE_"); }

// "2024-04-05T12:00:00.123Z"; "-" for 0.
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

// A table with columns padded to their widest cell.
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
    case Verb::kReduce:
      return "reduce";
  }
  return "?";
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
    case Verb::kReduce:
      r.mutable_reduce_request()->set_reason(args.reason);
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
  gate::AdminClientOptions options;
  options.socket_path = args.socket_path;
  options.client_name = "tradectl";
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
    case Verb::kKill:
    case Verb::kHalt:
    case Verb::kResume:
    case Verb::kReduce: {
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
  }
  std::fprintf(stderr, "tradectl: trading-gate answered %s with an unexpected message\n", verb_name(args.verb));
  return 1;
}

}  // namespace ta::tradectl
