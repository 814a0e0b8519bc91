// tradectl's verbs, separate from main() so the formatting can be read in
// one place: each verb sends one admin request and prints the reply as
// text (for people) or JSON (for scripts).
#pragma once

#include <cstdint>
#include <string>

#include "admin.pb.h"

namespace ta::tradectl {

enum class Verb { kStatus, kOrders, kPositions, kKill, kHalt, kResume, kReduce };

struct Args {
  std::string socket_path;  // resolved: --socket, $TRADING_ADMIN_SOCKET, /run/trading/admin.sock
  Verb verb = Verb::kStatus;
  bool json = false;
  bool all = false;      // orders --all
  bool flatten = false;  // kill --flatten
  std::string reason;    // kill, halt, resume, reduce
};

// Sends the verb's request and prints the answer on stdout. Returns the
// process exit code: 0 when the gate did it, 1 when the gate is
// unreachable or refused (one line on stderr saying why).
int run(const Args& args);

// The request a verb sends (tests and run()).
ipc::AdminEnvelope request_for(const Args& args);

// Text renderings of replies (what run() prints without --json).
std::string format_status(const ipc::StatusReply& status);
std::string format_orders(const ipc::OrdersReply& orders, bool all);
std::string format_positions(const ipc::PositionSnapshot& snapshot);
// JSON of any reply body: field names as in the .proto, every field printed.
std::string to_json(const google::protobuf::Message& message);

}  // namespace ta::tradectl
