// run_agent_daemon: the process around an AgentApp (signals, exit codes)
// and --check-config.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>

#include "app_impl.h"

namespace ta::agent {

std::vector<std::string> check_agent_config(const std::filesystem::path& agent_yaml) {
  std::vector<std::string> out;
  const AgentConfigLoad load = load_agent_config(agent_yaml);
  for (const auto& p : load.problems) out.push_back(p.to_string());
  return out;
}

int run_agent_daemon(AgentAppOptions options) {
  boost::asio::io_context io;
  int exit_code = 0;
  std::string reason;
  bool done = false;
  auto user_finished = std::move(options.on_finished);
  options.on_finished = [&](int code, const std::string& why) {
    exit_code = code;
    reason = why;
    done = true;
    if (user_finished) user_finished(code, why);
    io.stop();
  };
  AgentApp app(io, std::move(options));
  if (auto st = app.start(); !st) {
    std::fprintf(stderr, "trading-agent: %s\n", st.error().message.c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signal_number) {
    if (ec) return;
    app.stop(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    done = true;
    io.stop();
  });
  while (!done) {
    io.run();
    if (!done) io.restart();
  }
  if (exit_code != 0) std::fprintf(stderr, "trading-agent: %s\n", reason.c_str());
  return exit_code;
}

}  // namespace ta::agent
