// Journal benchmarks (docs/performance.md records the figures):
//  (a) one durable append (kPerRecord: write + fdatasync) against a bare
//      pwrite + fdatasync of the same number of bytes, in the same run and
//      the same directory;
//  (b) group commit throughput: records made durable per second by one
//      appending thread with the default window and group size;
//  (c) replay: read, checksum, chain-check and decode GateRecords.
// The journals live under $TA_BENCH_DIR, else the system temp directory,
// which must be on the disk being measured (not tmpfs) for (a) and (b).
#include <fcntl.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <google/protobuf/arena.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>
#include <filesystem>
#include <string>

#include "journal/journal.h"
#include "record_decoder.h"
#include "journal_records.pb.h"

namespace {

namespace fs = std::filesystem;
namespace tj = ta::journal;

fs::path bench_dir(const std::string& name) {
  const char* env = std::getenv("TA_BENCH_DIR");
  const fs::path base = env != nullptr ? fs::path(env) : fs::temp_directory_path();
  fs::path p = base / ("ta_bench_journal_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(p);
  return p;
}

// A typical gate record: an accepted intent with its decision (~200 bytes).
std::string gate_record_payload(std::int64_t ts_ns) {
  ta::ipc::GateRecord g;
  g.set_ts_ns(ts_ns);
  auto* d = g.mutable_intent_decided();
  auto* i = d->mutable_intent();
  i->set_intent_id("mr-BTC-USD-1712345678-0001");
  i->set_strategy("mean_reversion");
  i->set_product("BTC-USD");
  i->set_side(ta::ipc::SIDE_BUY);
  i->set_type(ta::ipc::ORDER_TYPE_LIMIT);
  i->set_quantity("0.00123400");
  i->set_limit_price("60000.01");
  i->set_protective_stop_price("59000");
  i->set_time_in_force(ta::ipc::TIME_IN_FORCE_GTC);
  i->set_created_ts_ns(ts_ns - 1000);
  auto* dec = d->mutable_decision();
  dec->set_intent_id("mr-BTC-USD-1712345678-0001");
  dec->set_accepted(true);
  dec->set_order_id("g-000000123");
  dec->set_quantity("0.00123400");
  dec->add_rules_fired("core.max_notional");
  dec->set_decided_ts_ns(ts_ns);
  return g.SerializeAsString();
}

void BM_DurableAppendPerRecord(benchmark::State& state) {
  const fs::path dir = bench_dir("per_record");
  const std::string payload = gate_record_payload(1);
  {
    auto w = tj::Writer::open(dir, {});
    if (!w) {
      state.SkipWithError(w.error().message.c_str());
      return;
    }
    std::int64_t ts = 0;
    for (auto _ : state) {
      if (!w.value()->append(++ts, 1, payload)) state.SkipWithError("append failed");
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (tj::kRecordHeaderBytes + payload.size())));
  state.counters["record_bytes"] = static_cast<double>(tj::kRecordHeaderBytes + payload.size());
  fs::remove_all(dir);
}
BENCHMARK(BM_DurableAppendPerRecord)->UseRealTime()->MinTime(3.0);

// The floor (a) is compared with: what any durable append of the same
// bytes to the end of a file costs.
void BM_BareWriteFdatasync(benchmark::State& state) {
  const fs::path dir = bench_dir("bare");
  fs::create_directories(dir);
  const std::string bytes(tj::kRecordHeaderBytes + gate_record_payload(1).size(), 'x');
  const int fd = ::open((dir / "bare.dat").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0640);
  std::uint64_t offset = 0;
  for (auto _ : state) {
    if (::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write failed");
    }
    offset += bytes.size();
  }
  ::close(fd);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["record_bytes"] = static_cast<double>(bytes.size());
  fs::remove_all(dir);
}
BENCHMARK(BM_BareWriteFdatasync)->UseRealTime()->MinTime(3.0);

// (a) again, with the two interleaved: each iteration does one journal
// append and one bare write + fdatasync of the same size, so both see the
// same disk load (on a shared machine the sync latency drifts by 10x within
// seconds). The reported time is the journal append's; counters give both
// means and their ratio.
void BM_DurableAppendVsBareInterleaved(benchmark::State& state) {
  const fs::path dir = bench_dir("interleaved");
  const fs::path bare_dir = bench_dir("interleaved_bare");
  fs::create_directories(bare_dir);
  const std::string payload = gate_record_payload(1);
  const std::string bytes(tj::kRecordHeaderBytes + payload.size(), 'x');
  const int fd = ::open((bare_dir / "bare.dat").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0640);
  std::uint64_t offset = 0;
  double journal_s = 0;
  double bare_s = 0;
  {
    auto w = tj::Writer::open(dir, {});
    if (!w || fd < 0) {
      state.SkipWithError("open failed");
      return;
    }
    std::int64_t ts = 0;
    for (auto _ : state) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!w.value()->append(++ts, 1, payload)) state.SkipWithError("append failed");
      const auto t1 = std::chrono::steady_clock::now();
      if (::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) !=
              static_cast<ssize_t>(bytes.size()) ||
          ::fdatasync(fd) != 0) {
        state.SkipWithError("write failed");
      }
      const auto t2 = std::chrono::steady_clock::now();
      offset += bytes.size();
      const double j = std::chrono::duration<double>(t1 - t0).count();
      journal_s += j;
      bare_s += std::chrono::duration<double>(t2 - t1).count();
      state.SetIterationTime(j);
    }
  }
  ::close(fd);
  const auto n = static_cast<double>(state.iterations());
  state.counters["journal_us"] = journal_s / n * 1e6;
  state.counters["bare_us"] = bare_s / n * 1e6;
  state.counters["ratio"] = bare_s > 0 ? journal_s / bare_s : 0;
  fs::remove_all(dir);
  fs::remove_all(bare_dir);
}
BENCHMARK(BM_DurableAppendVsBareInterleaved)->UseManualTime()->MinTime(5.0);

// What a file that grows costs each fdatasync: each iteration writes one
// record-sized block at the end of a growing file and syncs it, then
// overwrites the same offset of a file whose blocks were written (zeros)
// and synced beforehand, and syncs that. Only the first changes the file's
// size, which fdatasync must commit as metadata (on ext4 a journal commit).
// The journal appends like the first (docs/performance-gate-daemon.md).
void BM_FdatasyncGrowingVsPreallocated(benchmark::State& state) {
  const fs::path dir = bench_dir("grow_vs_prealloc");
  fs::create_directories(dir);
  const std::string bytes(tj::kRecordHeaderBytes + gate_record_payload(1).size(), 'x');
  const int grow = ::open((dir / "grow.dat").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0640);
  const int pre = ::open((dir / "pre.dat").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0640);
  // 64 MiB of written zeros: room for about 250,000 records.
  constexpr std::uint64_t kPreBytes = 64ull << 20;
  const std::string zeros(1u << 20, '\0');
  bool ok = grow >= 0 && pre >= 0;
  for (std::uint64_t at = 0; ok && at < kPreBytes; at += zeros.size()) {
    ok = ::pwrite(pre, zeros.data(), zeros.size(), static_cast<off_t>(at)) == static_cast<ssize_t>(zeros.size());
  }
  if (!ok || ::fsync(pre) != 0) {
    state.SkipWithError("set-up failed");
    return;
  }
  std::uint64_t offset = 0;
  double grow_s = 0;
  double pre_s = 0;
  for (auto _ : state) {
    if (offset + bytes.size() > kPreBytes) offset = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const bool a = ::pwrite(grow, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
                       static_cast<ssize_t>(bytes.size()) &&
                   ::fdatasync(grow) == 0;
    const auto t1 = std::chrono::steady_clock::now();
    const bool b = ::pwrite(pre, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
                       static_cast<ssize_t>(bytes.size()) &&
                   ::fdatasync(pre) == 0;
    const auto t2 = std::chrono::steady_clock::now();
    if (!a || !b) state.SkipWithError("write failed");
    offset += bytes.size();
    const double g = std::chrono::duration<double>(t1 - t0).count();
    grow_s += g;
    pre_s += std::chrono::duration<double>(t2 - t1).count();
    state.SetIterationTime(g);
  }
  ::close(grow);
  ::close(pre);
  const auto n = static_cast<double>(state.iterations());
  state.counters["growing_us"] = grow_s / n * 1e6;
  state.counters["preallocated_us"] = pre_s / n * 1e6;
  state.counters["saved_us"] = (grow_s - pre_s) / n * 1e6;
  fs::remove_all(dir);
}
BENCHMARK(BM_FdatasyncGrowingVsPreallocated)->UseManualTime()->MinTime(3.0);

// (b) One thread appends `records` records, then waits until the last is
// durable; items/s is durable records per second.
void BM_GroupCommitThroughput(benchmark::State& state) {
  const auto records = static_cast<std::uint64_t>(state.range(0));
  const std::string payload = gate_record_payload(1);
  const fs::path dir = bench_dir("group");
  tj::Options o;
  o.durability = tj::Durability::kGroupCommit;
  auto w = tj::Writer::open(dir, o);
  if (!w) {
    state.SkipWithError(w.error().message.c_str());
    return;
  }
  std::int64_t ts = 0;
  for (auto _ : state) {
    std::uint64_t last = 0;
    for (std::uint64_t i = 0; i < records; ++i) {
      auto r = w.value()->append(++ts, 1, payload);
      if (!r) {
        state.SkipWithError("append failed");
        break;
      }
      last = r.value();
    }
    if (!w.value()->wait_durable(last)) state.SkipWithError("not durable");
  }
  if (!w.value()->close()) state.SkipWithError("close failed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
  fs::remove_all(dir);
}
BENCHMARK(BM_GroupCommitThroughput)->Arg(100'000)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3.0);

// (c) A journal of 200k GateRecords, written once; each iteration reads it
// all back through a Reader (checksums and chain) and, in the decode
// variants, parses every payload as a GateRecord. The main journal holds
// IntentDecided records (the largest common kind); a second one holds
// MarkPrice records (small and the most frequent).
constexpr int kReplayRecords = 200'000;

std::string mark_price_payload(std::int64_t ts_ns) {
  ta::ipc::GateRecord g;
  g.set_ts_ns(ts_ns);
  auto* m = g.mutable_mark();
  m->set_product("BTC-USD");
  m->set_price("60000.01");
  m->set_ts_ns(ts_ns);
  return g.SerializeAsString();
}

fs::path write_replay_journal(const std::string& name, std::string (*payload)(std::int64_t)) {
  fs::path d = bench_dir(name);
  tj::Options o;
  o.durability = tj::Durability::kGroupCommit;
  auto w = tj::Writer::open(d, o);
  if (!w) std::abort();
  for (int i = 1; i <= kReplayRecords; ++i) {
    if (!w.value()->append(i, 1, payload(i))) std::abort();
  }
  if (!w.value()->close()) std::abort();
  return d;
}

// The replay journals are written once per process and removed at exit.
// The paths are never destroyed, so the exit handler can still use them.
const fs::path& replay_journal() {
  static const fs::path* const dir = [] {
    auto* d = new fs::path(write_replay_journal("replay", gate_record_payload));
    std::atexit([] { fs::remove_all(replay_journal()); });
    return d;
  }();
  return *dir;
}

const fs::path& mark_journal() {
  static const fs::path* const dir = [] {
    auto* d = new fs::path(write_replay_journal("replay_mark", mark_price_payload));
    std::atexit([] { fs::remove_all(mark_journal()); });
    return d;
  }();
  return *dir;
}

enum class Decode { kNone, kReused, kArena, kGateDecoder };

// Parses `payload` as a GateRecord: into one reused message, or into
// arena-allocated messages with the arena reset every 4096 records (how a
// replay loop that keeps no message beyond its record would do it).
class Decoder {
 public:
  explicit Decoder(Decode mode) : mode_(mode) {}
  bool decode(std::string_view payload) {
    const auto size = static_cast<int>(payload.size());
    switch (mode_) {
      case Decode::kNone: return true;
      case Decode::kReused: {
        const bool ok = reused_.ParseFromArray(payload.data(), size);
        benchmark::DoNotOptimize(reused_);
        return ok;
      }
      case Decode::kArena: {
        if (++in_arena_ == 4096) {
          arena_.Reset();
          in_arena_ = 0;
        }
        auto* m = google::protobuf::Arena::CreateMessage<ta::ipc::GateRecord>(&arena_);
        const bool ok = m->ParseFromArray(payload.data(), size);
        benchmark::DoNotOptimize(m);
        return ok;
      }
      case Decode::kGateDecoder: {
        const bool ok = gate_decoder_.decode(payload);
        benchmark::DoNotOptimize(gate_decoder_);
        return ok;
      }
    }
    return false;
  }

 private:
  Decode mode_;
  ta::ipc::GateRecord reused_;
  ta::gate::daemon::GateRecordDecoder gate_decoder_;
  google::protobuf::Arena arena_;
  int in_arena_ = 0;
};

void replay(benchmark::State& state, Decode mode, const fs::path& dir) {
  Decoder decoder(mode);
  for (auto _ : state) {
    auto reader = tj::Reader::open(dir);
    if (!reader) {
      state.SkipWithError("open failed");
      break;
    }
    std::uint64_t n = 0;
    for (;;) {
      auto r = reader.value()->next();
      if (!r) {
        state.SkipWithError(r.error().message.c_str());
        break;
      }
      if (!r.value()) break;
      if (!decoder.decode(r.value()->payload)) state.SkipWithError("decode failed");
      ++n;
    }
    if (n != kReplayRecords) state.SkipWithError("wrong record count");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kReplayRecords);
}

void BM_ReplayVerifyDecodeGateRecord(benchmark::State& state) { replay(state, Decode::kReused, replay_journal()); }
void BM_ReplayVerifyDecodeGateRecordArena(benchmark::State& state) {
  replay(state, Decode::kArena, replay_journal());
}
// The gate's own replay decoder (gate/daemon/src/record_decoder.h): the
// intent and decision parsed into messages kept across records.
void BM_ReplayVerifyDecodeGateDecoder(benchmark::State& state) {
  replay(state, Decode::kGateDecoder, replay_journal());
}
void BM_ReplayVerifyOnly(benchmark::State& state) { replay(state, Decode::kNone, replay_journal()); }
void BM_ReplayVerifyDecodeMarkPrice(benchmark::State& state) { replay(state, Decode::kReused, mark_journal()); }
BENCHMARK(BM_ReplayVerifyDecodeGateRecord)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayVerifyDecodeGateRecordArena)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayVerifyDecodeGateDecoder)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayVerifyOnly)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayVerifyDecodeMarkPrice)->Unit(benchmark::kMillisecond)->UseRealTime();

// Replay on several threads: the reader (checksums and chain) runs on the
// benchmark thread and hands batches of verified payloads to
// state.range(0) decoding threads through a queue of at most
// kQueueBatchesMax batches. The decoding threads use the gate's replay
// decoder.
void BM_ReplayVerifyDecodeThreaded(benchmark::State& state) {
  const auto decoders = static_cast<int>(state.range(0));
  constexpr std::size_t kBatchRecords = 1024;
  constexpr std::size_t kQueueBatchesMax = 8;
  struct Batch {
    std::string bytes;
    std::vector<std::uint32_t> ends;
  };
  const fs::path& dir = replay_journal();
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Batch> queue;
    bool done = false;
    std::atomic<std::uint64_t> decoded{0};
    std::atomic<bool> bad{false};
    auto consume = [&] {
      Decoder decoder(Decode::kGateDecoder);
      for (;;) {
        Batch b;
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return done || !queue.empty(); });
          if (queue.empty()) return;
          b = std::move(queue.front());
          queue.pop_front();
        }
        cv.notify_all();
        std::uint32_t at = 0;
        for (const std::uint32_t end : b.ends) {
          if (!decoder.decode(std::string_view(b.bytes).substr(at, end - at))) bad = true;
          at = end;
        }
        decoded += b.ends.size();
      }
    };
    std::vector<std::thread> consumers;
    for (int i = 0; i < decoders; ++i) consumers.emplace_back(consume);
    auto reader = tj::Reader::open(dir);
    Batch batch;
    auto push = [&] {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return queue.size() < kQueueBatchesMax; });
      queue.push_back(std::move(batch));
      batch = Batch{};
      cv.notify_all();
    };
    while (reader) {
      auto r = reader.value()->next();
      if (!r || !r.value()) break;
      batch.bytes.append(r.value()->payload);
      batch.ends.push_back(static_cast<std::uint32_t>(batch.bytes.size()));
      if (batch.ends.size() == kBatchRecords) push();
    }
    if (!batch.ends.empty()) push();
    {
      std::lock_guard lk(mu);
      done = true;
    }
    cv.notify_all();
    for (auto& c : consumers) c.join();
    if (bad || decoded != kReplayRecords) state.SkipWithError("replay incomplete");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kReplayRecords);
}
BENCHMARK(BM_ReplayVerifyDecodeThreaded)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
