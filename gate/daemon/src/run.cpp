// trading-gate's process shell: --check-config, the io_context, signals
// and systemd notification.
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "gate/daemon.h"
#include "records.h"
#include "rules/rules.h"

#ifdef TA_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace ta::gate {

namespace {

// systemd notification, only when started by systemd with Type=notify
// (NOTIFY_SOCKET set) and only when built with libsystemd.
class Notifier {
 public:
  Notifier() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && *socket != '\0';
#ifdef TA_HAVE_SYSTEMD
    std::uint64_t usec = 0;
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_period_ms_ = static_cast<std::int64_t>(usec / 2000);
#endif
  }
  bool enabled() const { return enabled_; }
  // Half of WatchdogSec, 0 when the watchdog is off.
  std::int64_t watchdog_period_ms() const { return watchdog_period_ms_; }
  void send([[maybe_unused]] const char* state) const {
#ifdef TA_HAVE_SYSTEMD
    if (enabled_) sd_notify(0, state);
#endif
  }

 private:
  bool enabled_ = false;
  std::int64_t watchdog_period_ms_ = 0;
};

}  // namespace

std::vector<std::string> check_gate_config(const std::filesystem::path& gate_yaml) {
  std::vector<std::string> lines;
  ConfigLoad load = load_config(gate_yaml);
  for (const auto& p : load.problems) lines.push_back(p.to_string());
  if (!lines.empty()) return lines;
  if (load.config.gate.mode == Mode::kLive) {
    lines.push_back(gate_yaml.string() + ": key 'mode': LIVE needs the Coinbase venue, which this build of "
                                         "trading-gate does not have");
  }
  auto rules = rules::load_rules(load.config.gate.rules_core_dir.string(), load.config.gate.rules_active_dir.string());
  for (const auto& d : rules.errors()) {
    lines.push_back(d.file + ":" + std::to_string(d.line) + ":" + std::to_string(d.column) + ": " + d.message);
  }
  return lines;
}

int run_gate_daemon(DaemonOptions options) {
  auto log = daemon::logger("gate.app");
  boost::asio::io_context io(1);
  // Installed first, so a SIGTERM during recovery waits for the loop
  // instead of killing the process.
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  const std::int64_t grace_ms = options.app.shutdown_grace_ms;
  GateApp app(io, std::move(options.app));
  if (auto st = app.start(); !st) {
    log->error("start failed: {}", st.error().message);
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
    std::fprintf(stderr, "trading-gate: %s\n", st.error().message.c_str());
    return 1;
  }

  Notifier notifier;
  notifier.send("READY=1");
  boost::asio::steady_timer watchdog(io);
  std::function<void()> pet = [&] {
    notifier.send("WATCHDOG=1");
    watchdog.expires_after(std::chrono::milliseconds(notifier.watchdog_period_ms()));
    watchdog.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) pet();
    });
  };
  if (notifier.watchdog_period_ms() > 0) pet();

  bool stopping = false;
  boost::asio::steady_timer deadline(io);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        // The outcome (in force, or the compile errors) is logged and
        // journaled by the reload itself.
        log->info("SIGHUP received: reloading the rules");
        if (!stopping) static_cast<void>(app.reload_rules("SIGHUP"));
        wait_signal();
        return;
      }
      if (stopping) {
        log->warn("signal {} during shutdown: still stopping", signo);
        wait_signal();
        return;
      }
      stopping = true;
      log->info("signal {} received: stopping", signo);
      notifier.send("STOPPING=1");
      watchdog.cancel();
      // The graceful stop is bounded; this is the backstop if it hangs.
      deadline.expires_after(std::chrono::milliseconds(grace_ms + options.stop_deadline_ms));
      deadline.async_wait([&](const boost::system::error_code& e) {
        if (e) return;
        log->error("graceful stop took longer than {} ms; stopping the loop", grace_ms + options.stop_deadline_ms);
        io.stop();
      });
      app.stop(signo == SIGTERM ? "SIGTERM" : "SIGINT", [&] {
        deadline.cancel();
        signals.cancel();
        io.stop();
      });
      wait_signal();
    });
  };
  wait_signal();
  io.run();
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  return 0;
}

}  // namespace ta::gate
