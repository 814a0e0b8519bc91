// mini_gate: MiniGate (mini_gate.h) as its own process, so tests can kill
// the real trading-agent binary with SIGKILL and restart it against a gate
// that lives on. Test tool only.
//
//   mini_gate GATE_YAML SOCKET REPORT_JSON
//
// Runs until SIGTERM or SIGINT, then writes REPORT_JSON: decisions per
// intent id (fresh and replayed), the fills, the final positions and the
// equity.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "mini_gate.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mini_gate GATE_YAML SOCKET REPORT_JSON\n");
    return 2;
  }
  auto load = ta::gate::load_config(argv[1]);
  if (!load.problems.empty()) {
    std::fprintf(stderr, "mini_gate: %s\n", load.problems[0].to_string().c_str());
    return 1;
  }
  boost::asio::io_context io;
  ta::test::MiniGate gate(io, load.config, argv[2]);
  if (auto st = gate.start(); !st) {
    std::fprintf(stderr, "mini_gate: %s\n", st.error().message.c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int) {
    gate.shutdown();
    io.stop();
  });
  io.run();

  boost::json::object report;
  boost::json::object fresh;
  for (const auto& [id, n] : gate.decisions_fresh) fresh[id] = n;
  report["decisions_fresh"] = std::move(fresh);
  boost::json::object replayed;
  for (const auto& [id, n] : gate.decisions_replayed) replayed[id] = n;
  report["decisions_replayed"] = std::move(replayed);
  boost::json::array fills;
  for (const auto& f : gate.fills) fills.push_back(boost::json::value(f.fill_id()));
  report["fills"] = std::move(fills);
  const auto snap = gate.snapshot();
  boost::json::object positions;
  for (const auto& p : snap.positions()) positions[p.product()] = p.quantity();
  report["positions"] = std::move(positions);
  report["equity"] = snap.account().equity();
  report["bars_processed"] = gate.bars_processed;
  report["bars_repeated"] = gate.bars_repeated;
  report["connects"] = gate.connects;
  report["protocol_errors"] = gate.protocol_errors;
  std::ofstream(argv[3]) << boost::json::serialize(report) << "\n";
  return 0;
}
