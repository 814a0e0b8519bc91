// Shared by the latency programs (bench_ipc, bench_gate_daemon): CPU
// pinning, percentiles, blocking full reads and writes on a socket, and the
// bare socketpair ping-pong every round trip is compared with.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace ta::bench {

// Pins the calling thread to one CPU; exits when that is impossible.
inline void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    std::fprintf(stderr, "cannot pin to cpu %d\n", cpu);
    std::exit(1);
  }
}

struct Stats {
  double p50, p90, p99, p999, mean;
};

inline Stats summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))]; };
  double sum = 0;
  for (double v : us) sum += v;
  return {at(0.50), at(0.90), at(0.99), at(0.999), sum / static_cast<double>(us.size())};
}

inline bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

inline bool read_all(int fd, char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// The kernel's floor: `out_bytes` one way and `in_bytes` back over a
// socketpair, blocking send/recv, the caller's thread pinned to cpu_client
// and the echoing thread to cpu_server. Round-trip times in microseconds
// of the `iterations` after `warmup`.
inline std::vector<double> bare_ping_pong(int warmup, int iterations, int cpu_client, int cpu_server,
                                          std::size_t out_bytes, std::size_t in_bytes) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::exit(1);
  const int total = warmup + iterations;
  std::thread server([&] {
    pin(cpu_server);
    std::vector<char> in(out_bytes), out(in_bytes, 'd');
    for (int i = 0; i < total; ++i) {
      if (!read_all(sv[1], in.data(), in.size())) return;
      if (!write_all(sv[1], out.data(), out.size())) return;
    }
  });
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  pin(cpu_client);
  std::vector<char> out(out_bytes, 'i'), in(in_bytes);
  for (int i = 0; i < total; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!write_all(sv[0], out.data(), out.size()) || !read_all(sv[0], in.data(), in.size())) std::exit(1);
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  server.join();
  ::close(sv[0]);
  ::close(sv[1]);
  return us;
}

// The same ping-pong between two processes: the echoing side is a forked
// child pinned to cpu_server. A round trip between the agent and the gate
// crosses address spaces, so every switch also changes the page tables; a
// pair of threads in one process does not pay that.
inline std::vector<double> bare_ping_pong_processes(int warmup, int iterations, int cpu_client, int cpu_server,
                                                    std::size_t out_bytes, std::size_t in_bytes) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::exit(1);
  const int total = warmup + iterations;
  const pid_t child = ::fork();
  if (child < 0) std::exit(1);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    pin(cpu_server);
    ::close(sv[0]);
    std::vector<char> in(out_bytes), out(in_bytes, 'd');
    for (int i = 0; i < total; ++i) {
      if (!read_all(sv[1], in.data(), in.size())) ::_exit(1);
      if (!write_all(sv[1], out.data(), out.size())) ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(sv[1]);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  pin(cpu_client);
  std::vector<char> out(out_bytes, 'i'), in(in_bytes);
  for (int i = 0; i < total; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!write_all(sv[0], out.data(), out.size()) || !read_all(sv[0], in.data(), in.size())) std::exit(1);
    const auto t1 = std::chrono::steady_clock::now();
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  ::close(sv[0]);
  ::waitpid(child, nullptr, 0);
  return us;
}

}  // namespace ta::bench
