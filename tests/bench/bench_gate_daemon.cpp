// The real trading-gate, measured from outside (docs/performance-gate-daemon.md).
//
// One run starts the gate binary (SIM, a generated config, the journal in
// --dir) pinned to --cpu-gate, and measures with a blocking raw client on
// gate.sock pinned to --cpu-client:
//
//   bare         a socketpair ping-pong of the same byte counts as the
//                intent and denial frames, both threads in this process
//                (--cpu-client / --cpu-gate): the kernel's floor; also
//                between two processes (a forked echo), which costs the
//                same here, so the address-space switch is not the gap
//   denied       intent -> Decision round trip for an intent the gate
//                denies (PRODUCT_NOT_ALLOWED): decided and journaled, but
//                answered without waiting for the disk ("non-durable ack")
//   accepted     intent -> Decision round trip for an intent the gate
//                accepts: answered only once its record is fdatasync'd
//   fdatasync    a 512-byte pwrite + fdatasync on a file in --dir after
//                each accepted round trip: the disk's floor for "accepted",
//                measured under the same disk conditions; the medians are
//                compared, and so is each round trip with the sync right
//                after it ("paired"), which the disk's drift disturbs less
//   throughput   intents pipelined (--window in flight, written up to
//                --send-batch per send) for --throughput intents; most are
//                denied by the rate limit once it is reached, every one is
//                decided and journaled
//   session      a SIM trading day first: 1440 bars in lockstep, a market
//                order every fifth bar
//   VmRSS        of the gate process after start, after the SIM day, after
//                the latency runs and after the throughput run
//
// Prints percentiles in microseconds, and CPU time per round trip or intent
// (the client thread's, and the gate's over all its threads, from
// /proc/PID/task/*/schedstat). The client reads whatever the socket holds
// and takes frames from its buffer, as the agent's own connection does, so
// a reply costs it one recv. Not a test: it asserts nothing.
//
//   bench_gate_daemon --gate PATH [--dir DIR] [--iterations N] [--warmup N]
//                     [--throughput N] [--window N] [--send-batch N] [--cpu-client C]
//                     [--cpu-gate G] [--log-level LEVEL] [--log-file PATH]
//                     [--cases session,denied,accepted,throughput]
//                     [--gate-wrapper "valgrind --tool=callgrind"]
//                     [--group-commit-window 50ms]
//
// --cases picks which measurements run (default: all), so one case can be
// repeated or profiled alone (the gate's pid is printed for perf -p).
// --gate-wrapper runs the gate under another program (space-separated
// words before the gate's own command line), e.g. callgrind, to count the
// instructions each intent costs independently of the machine's load.
// --group-commit-window sets gate.yaml's journal.group_commit_window (how
// long records nobody waits for, such as denials, gather before a sync).
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gate.pb.h"
#include "latency_support.h"
#include "proto/framing.h"
#include "proto/ipc_socket.h"

namespace {

using Clock = std::chrono::steady_clock;
using ta::bench::pin;
using ta::bench::Stats;
using ta::bench::summarize;
using ta::bench::write_all;

struct Args {
  std::string gate;
  std::string dir = "/tmp/bench-gate-daemon";
  int iterations = 20000;
  int warmup = 2000;
  int throughput = 200000;
  int window = 256;
  int send_batch = 64;
  int cpu_client = 0;
  int cpu_gate = 1;
  std::string log_level = "info";
  std::string log_file;  // default: DIR/gate.log
  std::string cases = "session,denied,accepted,throughput";
  std::string gate_wrapper;
  std::string group_commit_window;  // gate.yaml journal.group_commit_window; empty: the gate's default
  bool has(const char* c) const { return ("," + cases + ",").find("," + std::string(c) + ",") != std::string::npos; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--gate") a.gate = v;
    else if (k == "--dir") a.dir = v;
    else if (k == "--iterations") a.iterations = std::atoi(v.c_str());
    else if (k == "--warmup") a.warmup = std::atoi(v.c_str());
    else if (k == "--throughput") a.throughput = std::atoi(v.c_str());
    else if (k == "--window") a.window = std::atoi(v.c_str());
    else if (k == "--send-batch") a.send_batch = std::atoi(v.c_str());
    else if (k == "--cpu-client") a.cpu_client = std::atoi(v.c_str());
    else if (k == "--cpu-gate") a.cpu_gate = std::atoi(v.c_str());
    else if (k == "--log-level") a.log_level = v;
    else if (k == "--log-file") a.log_file = v;
    else if (k == "--cases") a.cases = v;
    else if (k == "--gate-wrapper") a.gate_wrapper = v;
    else if (k == "--group-commit-window") a.group_commit_window = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.gate.empty()) {
    std::fprintf(stderr, "usage: bench_gate_daemon --gate PATH/trading-gate [options]\n");
    std::exit(2);
  }
  return a;
}


void print_row(const char* name, const Stats& s) {
  std::printf("%-34s p50 %9.2f  p90 %9.2f  p99 %9.2f  p99.9 %9.2f  mean %9.2f us\n", name, s.p50, s.p90, s.p99,
              s.p999, s.mean);
}

// ------------------------------------------------------------------ the gate

void write_config(const Args& a) {
  std::filesystem::remove_all(a.dir);
  std::filesystem::create_directories(a.dir);
  std::ofstream(a.dir + "/gate.yaml") << "mode: SIM\n"
                                         "journal_dir: journal\n"
                                      << (a.group_commit_window.empty()
                                              ? std::string()
                                              : "journal: {group_commit_window: " + a.group_commit_window + "}\n")
                                      <<
                                         "rules: {core_dir: rules-core, active_dir: rules-active}\n"
                                         "sockets:\n"
                                         "  gate: {path: gate.sock}\n"
                                         "  admin: {path: admin.sock}\n"
                                         "heartbeat: {period: 1s, timeout: 10m}\n"
                                         "products:\n"
                                         "  BTC-USD: {base_increment: \"0.00000001\", quote_increment: \"0.01\"}\n";
  // Limits wide enough that the accepted case keeps accepting: 50 open
  // orders, 600 per minute of market time (a bar every 40 intents moves
  // market time on), positions up to the whole (large) account.
  std::ofstream(a.dir + "/safety.yaml")
      << "products:\n"
         "  BTC-USD: {size_min: \"0.0001\", size_max: \"1\", size_increment: \"0.00000001\", price_increment: \"0.01\"}\n"
         "order_notional_max: \"1000000\"\n"
         "position_fraction_max: \"1\"\n"
         "gross_exposure_fraction_max: \"1\"\n"
         "risk_per_trade_fraction_max: \"0.1\"\n"
         "open_orders_max: 50\n"
         "order_rate_per_minute_max: 600\n"
         "starting_cash: \"1000000000\"\n";
  std::filesystem::create_directories(a.dir + "/rules-core");
}

pid_t g_gate = -1;

// Whatever way the bench ends, the gate goes with it.
void stop_gate() {
  if (g_gate > 0) {
    ::kill(g_gate, SIGKILL);
    ::waitpid(g_gate, nullptr, 0);
    g_gate = -1;
  }
}

pid_t start_gate(const Args& a) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the gate never outlives the bench
    pin(a.cpu_gate);
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    const std::string config = a.dir + "/gate.yaml";
    const std::string log = a.log_file.empty() ? a.dir + "/gate.log" : a.log_file;
    std::vector<std::string> words;
    std::istringstream wrapper(a.gate_wrapper);
    for (std::string w; wrapper >> w;) words.push_back(w);
    for (const char* w : {a.gate.c_str(), "--config", config.c_str(), "--log-file", log.c_str(), "--log-level",
                          a.log_level.c_str()}) {
      words.emplace_back(w);
    }
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// CPU time used so far by every thread of process `pid` (the first field of
// each /proc/PID/task/TID/schedstat, in nanoseconds): what the gate spends,
// whichever of its threads spends it.
double process_cpu_us(pid_t pid) {
  double ns = 0;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(t.path() / "schedstat");
    double v = 0;
    if (in >> v) ns += v;
  }
  return ns / 1000.0;
}

// CPU time of the calling thread.
double thread_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// CPU time of this whole process.
double self_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

// A blocking client on gate.sock.
class Client {
 public:
  bool connect(const std::string& path) {
    for (int i = 0; i < 12000; ++i) {  // up to a minute: the gate may run under valgrind
      auto fd = ta::proto::connect_unix(path);
      if (fd.ok()) {
        fd_ = std::move(fd).value();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!fd_.valid()) return false;
    const int flags = ::fcntl(fd_.get(), F_GETFL);
    ::fcntl(fd_.get(), F_SETFL, flags & ~O_NONBLOCK);
    ta::ipc::Envelope hello;
    hello.set_request_id(next_id_++);
    hello.mutable_hello()->set_protocol_version(ta::ipc::PROTOCOL_VERSION_CURRENT);
    hello.mutable_hello()->set_client_name("bench");
    if (!send(hello)) return false;
    ta::ipc::Envelope ack;
    return read(ack) && ack.has_hello_ack() && ack.hello_ack().accepted();
  }
  bool send(const ta::ipc::Envelope& e) {
    out_.clear();
    if (!ta::proto::encode_frame(e, out_).ok()) return false;
    return write_all(fd_.get(), out_.data(), out_.size());
  }
  bool send_frame(const std::string& frame) { return write_all(fd_.get(), frame.data(), frame.size()); }
  // Reads one frame. Like the agent's own connection, it reads whatever the
  // socket holds into a buffer and takes frames from there, so a reply
  // costs one recv, as in the bare ping-pong.
  bool read(ta::ipc::Envelope& e) {
    for (;;) {
      const std::size_t have = in_end_ - in_at_;
      if (have >= 4) {
        const auto* h = reinterpret_cast<const std::uint8_t*>(in_.data() + in_at_);
        const std::uint32_t n = h[0] | (h[1] << 8) | (h[2] << 16) | (static_cast<std::uint32_t>(h[3]) << 24);
        if (n > ta::proto::kFrameSizeMaxDefault) return false;
        if (have >= 4 + n) {
          const bool ok = e.ParseFromArray(in_.data() + in_at_ + 4, static_cast<int>(n));
          in_at_ += 4 + n;
          last_frame_bytes_ = 4 + n;
          return ok;
        }
      }
      if (in_at_ > 0) {  // keep the partial frame at the front
        std::memmove(in_.data(), in_.data() + in_at_, have);
        in_at_ = 0;
        in_end_ = have;
      }
      if (in_.size() - in_end_ < 64 * 1024) in_.resize(in_end_ + 64 * 1024);
      const ssize_t r = ::recv(fd_.get(), in_.data() + in_end_, in_.size() - in_end_, 0);
      if (r <= 0) return false;
      in_end_ += static_cast<std::size_t>(r);
    }
  }
  // Reads until the reply to `request_id`; pushes in between are skipped.
  bool reply(std::uint64_t request_id, ta::ipc::Envelope& e) {
    for (;;) {
      if (!read(e)) return false;
      if (e.request_id() == request_id && !e.has_heartbeat()) return true;
    }
  }
  std::uint64_t next_id() { return next_id_++; }
  int fd() const { return fd_.get(); }
  std::size_t last_frame_bytes() const { return last_frame_bytes_; }

 private:
  ta::proto::UniqueFd fd_;
  std::string out_;
  std::vector<char> in_;
  std::size_t in_at_ = 0;   // first unread byte in in_
  std::size_t in_end_ = 0;  // end of the received bytes in in_
  std::uint64_t next_id_ = 1;
  std::size_t last_frame_bytes_ = 0;
};

// Creation times count up, as an agent's market time does: once the
// gate's idempotency memory overflows, an intent created no later than a
// forgotten one is denied INTENT_TOO_OLD instead of being decided.
std::int64_t g_created_ns = 0;

ta::ipc::OrderIntent intent(const std::string& id, const char* product, ta::ipc::Side side) {
  ta::ipc::OrderIntent i;
  i.set_intent_id(id);
  i.set_created_ts_ns(++g_created_ns);
  i.set_strategy("bench");
  i.set_product(product);
  i.set_side(side);
  i.set_type(ta::ipc::ORDER_TYPE_MARKET);
  i.set_quantity("0.0001");
  i.set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  i.set_protective_stop_price(side == ta::ipc::SIDE_BUY ? "6000" : "9000");
  return i;
}

constexpr std::int64_t kFirstBarS = 1522800000;
int g_bar = 0;

// A bar one minute after the previous, answered (lockstep) before return.
void bar(Client& c) {
  ta::ipc::Envelope e;
  e.set_request_id(c.next_id());
  ta::ipc::Bar* b = e.mutable_bar();
  b->set_product("BTC-USD");
  b->set_open_ts_s(kFirstBarS + 60LL * g_bar++);
  b->set_open("7400");
  b->set_high("7410");
  b->set_low("7390");
  b->set_close("7400");
  b->set_volume("1000");
  ta::ipc::Envelope reply;
  if (!c.send(e) || !c.reply(e.request_id(), reply) || !reply.has_position_snapshot()) {
    std::fprintf(stderr, "bar not answered\n");
    std::exit(1);
  }
}

// The disk's floor, taken between accepted round trips so both see the
// same disk: a 512-byte pwrite that extends a file, then fdatasync.
class SyncProbe {
 public:
  explicit SyncProbe(const std::string& dir) : path_(dir + "/fdatasync.probe") {
    fd_ = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd_ < 0) std::exit(1);
  }
  ~SyncProbe() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  double once_us() {
    static const std::string block(512, 'j');
    const auto t0 = Clock::now();
    if (::pwrite(fd_, block.data(), block.size(), offset_) != 512 || ::fdatasync(fd_) != 0) std::exit(1);
    offset_ += 512;
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }

 private:
  std::string path_;
  int fd_ = -1;
  off_t offset_ = 0;
};

// Round trips of one intent at a time; `accepted` says which kind. With a
// probe, one fdatasync is measured after each round trip.
std::vector<double> round_trips(Client& c, const Args& a, bool accepted, std::size_t& intent_bytes,
                                std::size_t& decision_bytes, SyncProbe* probe = nullptr,
                                std::vector<double>* sync_us = nullptr) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(a.iterations));
  static int serial = 0;
  for (int i = 0; i < a.warmup + a.iterations; ++i) {
    // Accepted orders (market buys; the account is large): a bar every 40
    // fills them and moves market time a minute on, so the open-order and
    // rate limits never bind.
    if (accepted && i % 40 == 0) bar(c);
    const std::string id = std::string(accepted ? "a-" : "d-") + std::to_string(serial++);
    ta::ipc::Envelope e;
    e.set_request_id(c.next_id());
    *e.mutable_order_intent() = intent(id, accepted ? "BTC-USD" : "XRP-USD", ta::ipc::SIDE_BUY);
    std::string frame;
    if (!ta::proto::encode_frame(e, frame).ok()) std::exit(1);
    intent_bytes = frame.size();
    ta::ipc::Envelope reply;
    const auto t0 = Clock::now();
    if (!c.send_frame(frame) || !c.reply(e.request_id(), reply)) {
      std::fprintf(stderr, "no reply\n");
      std::exit(1);
    }
    const auto t1 = Clock::now();
    if (!reply.has_decision() || reply.decision().accepted() != accepted) {
      std::fprintf(stderr, "unexpected reply: %s\n", reply.ShortDebugString().c_str());
      std::exit(1);
    }
    decision_bytes = c.last_frame_bytes();
    if (i >= a.warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    if (probe != nullptr) {
      const double s = probe->once_us();
      if (i >= a.warmup) sync_us->push_back(s);
    }
  }
  return us;
}

// A trading day in SIM: 1440 one-minute bars in lockstep and a market
// order every fifth bar, alternately buying and selling. Returns how many
// intents were sent.
int session(Client& c) {
  int intents = 0;
  for (int i = 0; i < 1440; ++i) {
    bar(c);
    if (i % 5 != 0) continue;
    ta::ipc::Envelope e;
    e.set_request_id(c.next_id());
    *e.mutable_order_intent() = intent("s-" + std::to_string(i), "BTC-USD",
                                       intents % 2 == 0 ? ta::ipc::SIDE_BUY : ta::ipc::SIDE_SELL);
    ta::ipc::Envelope reply;
    if (!c.send(e) || !c.reply(e.request_id(), reply) || !reply.decision().accepted()) {
      std::fprintf(stderr, "session: %s\n", reply.ShortDebugString().c_str());
      std::exit(1);
    }
    ++intents;
  }
  return intents;
}

// Pipelined: a writer keeps `window` intents in flight, a reader counts
// decisions. Returns intents per second.
double throughput(Client& c, const Args& a) {
  std::atomic<int> answered{0};
  const int n = a.throughput;
  std::thread reader([&] {
    ta::ipc::Envelope e;
    while (answered.load(std::memory_order_relaxed) < n) {
      if (!c.read(e)) {
        std::fprintf(stderr, "throughput: connection lost\n");
        std::exit(1);
      }
      if (e.has_decision()) answered.fetch_add(1, std::memory_order_release);
    }
  });
  // The writer sends the intents it has room for in one send, up to
  // --send-batch of them, as a pipelining client's framed connection
  // gathers its queued frames into one write.
  std::string batch;
  const auto t0 = Clock::now();
  for (int i = 0; i < n;) {
    while (i - answered.load(std::memory_order_acquire) >= a.window) std::this_thread::yield();
    const int room = a.window - (i - answered.load(std::memory_order_acquire));
    const int count = std::min({room, a.send_batch, n - i});
    batch.clear();
    for (int k = 0; k < count; ++k, ++i) {
      ta::ipc::Envelope e;
      e.set_request_id(c.next_id());
      *e.mutable_order_intent() = intent("t-" + std::to_string(i), "BTC-USD", ta::ipc::SIDE_BUY);
      if (!ta::proto::encode_frame(e, batch).ok()) std::exit(1);
    }
    if (!c.send_frame(batch)) std::exit(1);
  }
  reader.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return n / s;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // lines appear as they are measured
  const Args a = parse(argc, argv);
  write_config(a);
  const pid_t gate = start_gate(a);
  g_gate = gate;
  std::atexit(stop_gate);
  pin(a.cpu_client);
  Client c;
  if (!c.connect(a.dir + "/gate.sock")) {
    std::fprintf(stderr, "cannot reach the gate; see %s/gate.log\n", a.dir.c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::printf("gate pid %d\n", static_cast<int>(gate));
  const long rss_start = rss_kib(gate);
  int session_intents = 0;
  if (a.has("session")) session_intents = session(c);
  const long rss_session = rss_kib(gate);

  std::size_t intent_bytes = 0;
  std::size_t decision_bytes = 0;
  if (a.has("denied")) {
    const double total = a.warmup + a.iterations;
    const double gate0 = process_cpu_us(gate);
    const double client0 = thread_cpu_us();
    const Stats denied = summarize(round_trips(c, a, false, intent_bytes, decision_bytes));
    const double client_cpu = (thread_cpu_us() - client0) / total;
    const double gate_cpu = (process_cpu_us(gate) - gate0) / total;
    const double bare0 = self_cpu_us();
    const Stats floor = summarize(
        ta::bench::bare_ping_pong(a.warmup, a.iterations, a.cpu_client, a.cpu_gate, intent_bytes, decision_bytes));
    const double bare_cpu = (self_cpu_us() - bare0) / total;
    const Stats floor_processes = summarize(ta::bench::bare_ping_pong_processes(
        a.warmup, a.iterations, a.cpu_client, a.cpu_gate, intent_bytes, decision_bytes));
    std::printf("frames: intent %zu bytes, denial %zu bytes\n", intent_bytes, decision_bytes);
    print_row("bare unix ping-pong", floor);
    print_row("bare ping-pong, two processes", floor_processes);
    print_row("gate: denied (non-durable ack)", denied);
    std::printf("ratio denied/bare p50 %.2fx; against two processes %.2fx\n", denied.p50 / floor.p50,
                denied.p50 / floor_processes.p50);
    std::printf("cpu per round trip: bare %.2f us (both sides); denied: client %.2f us, gate %.2f us (all threads)\n",
                bare_cpu, client_cpu, gate_cpu);
  }
  if (a.has("accepted")) {
    std::vector<double> sync_us;
    Stats accepted;
    const double gate0 = process_cpu_us(gate);
    std::vector<double> accepted_us;
    {
      SyncProbe probe(a.dir);
      accepted_us = round_trips(c, a, true, intent_bytes, decision_bytes, &probe, &sync_us);
      accepted = summarize(accepted_us);
    }
    const double gate_cpu = (process_cpu_us(gate) - gate0) / (a.warmup + a.iterations);
    const Stats sync = summarize(sync_us);
    // Each round trip less the fdatasync measured right after it: the disk's
    // speed drifts over seconds, so pairs taken together compare like with
    // like better than two separate medians do.
    std::vector<double> paired;
    for (std::size_t i = 0; i < accepted_us.size() && i < sync_us.size(); ++i) {
      paired.push_back(accepted_us[i] - sync_us[i]);
    }
    const Stats over = summarize(paired);
    bar(c);  // fill what the accepted run left open
    print_row("gate: accepted (durable)", accepted);
    print_row("pwrite 512 B + fdatasync", sync);
    print_row("accepted - its fdatasync, paired", over);
    std::printf("accepted - fdatasync p50 %+.1f us; paired p50 %+.1f us; gate cpu per accepted intent %.2f us (all "
                "threads, with the bar every 40)\n",
                accepted.p50 - sync.p50, over.p50, gate_cpu);
  }
  const long rss_steady = rss_kib(gate);

  if (a.has("throughput")) {
    const double gate0 = process_cpu_us(gate);
    const double rate = throughput(c, a);
    const double gate_cpu = (process_cpu_us(gate) - gate0) / a.throughput;
    std::printf("throughput: %d intents, window %d, up to %d per send: %.0f intents/s; gate cpu %.2f us per intent\n",
                a.throughput, a.window, a.send_batch, rate, gate_cpu);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long rss_after = rss_kib(gate);
  std::printf("gate VmRSS: after start %ld KiB, after a SIM day (1440 bars, %d orders) %ld KiB, after the latency "
              "runs %ld KiB, after throughput %ld KiB\n",
              rss_start, session_intents, rss_session, rss_steady, rss_after);

  ::kill(gate, SIGTERM);
  ::waitpid(gate, nullptr, 0);
  g_gate = -1;
  return 0;
}
