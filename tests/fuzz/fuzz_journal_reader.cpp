// Fuzzes the journal reader, verify() and recovery. The input is written as
// segment files into a scratch directory: split before every later
// occurrence of the segment magic "TAJOURNL", the first part named as
// segment 1 and each later part by the first sequence number its header
// claims. Then:
//  * verify() and a Reader must agree (same record count; the reader fails
//    exactly when verify reports a problem);
//  * recover() must succeed exactly when verify() found no problem, and
//    afterwards the journal verifies clean with the same records;
//  * after a successful recovery a Writer must open, append one record that
//    continues the sequence, and leave a journal that verifies clean.
// Nothing may crash; a broken property aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include "journal/journal.h"

namespace {

namespace fs = std::filesystem;
namespace tj = ta::journal;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_journal_reader: property broken: %s\n", what);
    std::abort();
  }
}

void remove_scratch();

const fs::path& scratch() {
  // Never destroyed, so remove_scratch() can use it at exit.
  static const fs::path* const dir = [] {
    // tmpfs when there is one: the writer's fsyncs are then free.
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    auto* d = new fs::path(base / ("ta_fuzz_journal_" + std::to_string(::getpid())));
    fs::create_directories(*d);
    std::atexit(remove_scratch);
    return d;
  }();
  return *dir;
}

void remove_scratch() {
  std::error_code ec;
  fs::remove_all(scratch(), ec);
}

void write_segments(const fs::path& dir, std::string_view data) {
  constexpr std::string_view kMagic = "TAJOURNL";
  std::size_t start = 0;
  std::uint64_t name_seq = 1;
  while (start <= data.size()) {
    std::size_t next = data.find(kMagic, start + 1);
    if (next == std::string_view::npos) next = data.size();
    const std::string_view part = data.substr(start, next - start);
    std::ofstream(dir / tj::segment_file_name(name_seq), std::ios::binary)
        .write(part.data(), static_cast<std::streamsize>(part.size()));
    if (next >= data.size()) break;
    // The next part is named by the first_seq its header claims (bytes 16..24).
    std::uint64_t seq = 0;
    if (next + 24 <= data.size()) {
      for (int i = 7; i >= 0; --i) seq = (seq << 8) | static_cast<unsigned char>(data[next + 16 + static_cast<std::size_t>(i)]);
    }
    name_seq = seq > name_seq ? seq : name_seq + 1;
    start = next;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path dir = scratch() / "j";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  write_segments(dir, std::string_view(reinterpret_cast<const char*>(data), size));

  const tj::Summary s = tj::verify(dir);
  if (s.problem) {
    check(!s.problem->message().empty(), "a problem has a message");
  }

  auto reader = tj::Reader::open(dir);
  check(reader.ok() || s.problem.has_value(), "reader opens when verify is clean");
  if (reader.ok()) {
    std::uint64_t n = 0;
    bool failed = false;
    for (;;) {
      auto r = reader.value()->next();
      if (!r.ok()) {
        failed = true;
        break;
      }
      if (!r.value()) break;
      check(r.value()->seq == n + 1, "reader sequence is contiguous from 1");
      ++n;
    }
    check(failed == s.problem.has_value(), "reader fails exactly when verify finds a problem");
    check(n == s.records, "reader and verify count the same records");
  }

  auto rec = tj::recover(dir);
  check(rec.ok() == !s.problem.has_value(), "recover succeeds exactly when verify is clean");
  if (!rec.ok()) return 0;
  check(rec.value().cut == s.torn_tail.has_value(), "recover cuts exactly the torn tail");
  const tj::Summary after = tj::verify(dir);
  check(after.ok() && !after.torn_tail && after.records == s.records, "recovered journal verifies clean");

  tj::Options options;
  options.segment_bytes_max = tj::kSegmentBytesMaxMin;
  auto writer = tj::Writer::open(dir, options);
  check(writer.ok(), "a writer opens a recovered journal");
  auto seq = writer.value()->append(1, 1, "fuzz");
  check(seq.ok() && seq.value() == s.records + 1, "append continues the sequence");
  check(writer.value()->close().ok(), "close");
  const tj::Summary final_summary = tj::verify(dir);
  check(final_summary.ok() && final_summary.records == s.records + 1, "journal verifies after the append");
  return 0;
}
