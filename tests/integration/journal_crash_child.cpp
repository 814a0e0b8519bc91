// Child process of journal_crash_test: opens (and so recovers) the journal
// in DIR, then appends the deterministic records seq = last + 1, last + 2,
// ... forever, reporting each durable sequence number to REPORT_FD as an
// 8-byte little-endian integer. Before the first append it reports 0 as a
// "ready" marker. The parent SIGKILLs it at a random moment.
//
//   journal_crash_child DIR per-record|group SEGMENT_BYTES REPORT_FD
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "journal/journal.h"
#include "../unit/journal/journal_test_util.h"

namespace {

int g_report_fd = -1;

void report(std::uint64_t seq) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(seq >> (8 * i));
  // 8 bytes to a pipe is below PIPE_BUF: written whole or not at all.
  if (::write(g_report_fd, b, sizeof(b)) != static_cast<ssize_t>(sizeof(b))) std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  namespace tj = ta::journal;
  if (argc != 5) {
    std::fprintf(stderr, "usage: journal_crash_child DIR per-record|group SEGMENT_BYTES REPORT_FD\n");
    return 2;
  }
  const std::string mode = argv[2];
  g_report_fd = std::atoi(argv[4]);
  tj::Options o;
  o.segment_bytes_max = std::strtoull(argv[3], nullptr, 10);
  if (mode == "group") {
    o.durability = tj::Durability::kGroupCommit;
    o.group_commit_window_us = 500;
    o.group_commit_records_max = 256;
    o.on_durable = report;
  } else if (mode != "per-record") {
    std::fprintf(stderr, "journal_crash_child: unknown mode %s\n", mode.c_str());
    return 2;
  }
  auto w = tj::Writer::open(argv[1], o);
  if (!w) {
    std::fprintf(stderr, "journal_crash_child: %s\n", w.error().message.c_str());
    return 1;
  }
  report(0);
  for (std::uint64_t seq = w.value()->last_sequence() + 1;; ++seq) {
    namespace t = ta::journal::testing;
    auto r = w.value()->append(t::ts_for(seq), t::type_for(seq), t::payload_for(seq));
    if (!r || r.value() != seq) {
      std::fprintf(stderr, "journal_crash_child: append %llu failed\n", static_cast<unsigned long long>(seq));
      return 1;
    }
    if (mode == "per-record") report(seq);
  }
}
