// trading-gate, the daemon: the gate core (gate/core.h) wired to the IPC
// server (gate/ipc_server.h), the journal (journal/journal.h), the rule
// loader (rules/rules.h) and SimVenue. docs/operations.md describes running
// it; docs/ipc.md the protocol it speaks.
//
// One io_context thread owns everything (DESIGN.md section 4): the state,
// the venue, the IPC server and the timers. The journal's group-commit
// flusher is the only other thread; it reports durability by posting to
// the io_context, so the core has no mutexes.
//
// Write-ahead rule. Every event is applied to the in-memory state and
// appended to the journal in the same step (the core refuses events that do
// not fit, and refused events are not journaled, so a replay in journal
// order always succeeds). What leaves the process - a message to the agent
// or an admin client, an order or cancel handed to the venue, a bar fed to
// SimVenue - waits in one FIFO until the journal reports every record
// before it durable. Nothing outside the gate ever sees an effect of a
// record that a crash could lose.
//
// Limits: kPendingEffectsMax effects wait for durability at once; an agent
// that pushes beyond it is disconnected ("gate overloaded").
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gate/config.h"
#include "gate/core.h"
#include "proto/result.h"

namespace boost::asio {
class io_context;
}
namespace ta::journal {
class FileOps;
}

namespace ta::gate {

// Messages, venue calls and bars waiting for the journal. At the default
// outbound queue of 1024 frames per connection and a handful of sessions,
// 65,536 is far beyond any real backlog; reaching it means the disk has
// stalled and the agent keeps sending.
inline constexpr std::size_t kPendingEffectsMax = 65'536;
// The timer that checks the dead-man's switch, the journal's health, the
// loss cooldown (PAPER/LIVE) and flushes the log: every 100 ms, so the
// switch trips at most 100 ms after heartbeat.timeout.
inline constexpr std::int64_t kHousekeepingPeriodMs = 100;
// Graceful stop: sessions get this long to drain before they are cut.
inline constexpr std::int64_t kShutdownGraceMsDefault = 2'000;

struct GateAppOptions {
  Config config;                       // from load_config()
  std::filesystem::path config_file;   // gate.yaml, hashed into GateStarted
  std::string gate_version;
  std::int64_t shutdown_grace_ms = kShutdownGraceMsDefault;
  // Tests: a disk that fails on purpose. nullptr: the OS.
  journal::FileOps* journal_file_ops = nullptr;
  // Wall clock in ns since the epoch (heartbeat times, PAPER/LIVE
  // decisions, journal timestamps). Empty: the system clock.
  std::function<std::int64_t()> wall_now_ns;
};

// What an admin "status" reports, also for in-process tests.
struct GateAppStatus {
  bool ready = false;
  bool journal_failed = false;
  std::string journal_error;
  HaltState halt = HaltState::kActive;
  std::string halt_reason;
  std::size_t live_orders = 0;
  std::uint64_t journal_last_seq = 0;
  std::uint64_t journal_durable_seq = 0;
  std::size_t pending_effects = 0;
  std::size_t agent_sessions = 0;
};

class GateApp {
 public:
  // `io` must outlive the app. Nothing happens until start().
  GateApp(boost::asio::io_context& io, GateAppOptions options);
  ~GateApp();
  GateApp(const GateApp&) = delete;
  GateApp& operator=(const GateApp&) = delete;

  // Recovery and start, on the io_context thread before or while it runs:
  // loads the rules (a compile error stops here with the compiler's
  // messages), cuts a torn journal tail, replays the journal (corruption or
  // a record that does not apply stops here), opens the journal for
  // appending, listens on both sockets, journals GateStarted and
  // RulesLoaded, reconciles with the venue (journaling ReconcileResult) and
  // only then accepts intents. Errors are one line for people.
  [[nodiscard]] Status start();

  // Graceful stop: journals GateStopped, makes the journal durable, lets
  // the messages that were waiting for it go out, closes the sessions
  // within shutdown_grace_ms and closes the journal; then calls `done` on
  // the io_context thread. Harmless to call twice.
  void stop(const std::string& reason, std::function<void()> done);

  // Reloads rules/core then rules/active, on the io_context thread after
  // start() (SIGHUP does this; so does "tradectl rules reload"). All or
  // nothing: when every file compiles, the set is journaled (RulesLoaded:
  // each file's SHA-256, each rule's id and version, `cause`) and used for
  // every decision after that record is durable; otherwise the rules in
  // force stay, the failed attempt is journaled and logged, and the error
  // holds the compiler's messages (file:line:column, source line, caret).
  [[nodiscard]] Status reload_rules(const std::string& cause);

  GateAppStatus status() const;
  // Read-only view of the state (tests). Only on the io_context thread.
  const GateState& state() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// For --check-config: every problem of gate.yaml and safety.yaml, then
// every rule compile error, one line each, "file:line:column: message".
// Empty when the gate would start with this configuration.
std::vector<std::string> check_gate_config(const std::filesystem::path& gate_yaml);

struct DaemonOptions {
  GateAppOptions app;
  // Extra wait after the grace period before the loop is stopped anyway.
  std::int64_t stop_deadline_ms = 3'000;
};

// trading-gate's main loop: starts a GateApp on its own io_context, tells
// systemd READY=1 (and WATCHDOG=1 on its period) when NOTIFY_SOCKET is set,
// stops gracefully on SIGTERM or SIGINT, reloads the rules on SIGHUP
// (GateApp::reload_rules, cause "SIGHUP"). Returns the process
// exit code: 0 after a clean stop, 1 when the start failed (the reason is
// logged and printed on stderr as one line).
int run_gate_daemon(DaemonOptions options);

}  // namespace ta::gate
