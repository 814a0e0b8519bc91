// A journal's records as raw bytes, and a copy of its first k records: what
// a crash leaves behind when it lands between record k and record k + 1.
// The copy has the same timestamps, types and payloads, so the same chain
// of hashes, and it is written with the real Writer, so recovery sees a
// journal it could have written itself.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "journal/journal.h"

namespace ta::test {

struct RawJournalRecord {
  std::int64_t ts_ns = 0;
  std::uint16_t type = 0;
  std::string payload;
};

// Every record of the journal in `dir`, in order; a reader error fails the
// test and ends the list.
inline std::vector<RawJournalRecord> read_raw_journal(const std::filesystem::path& dir) {
  std::vector<RawJournalRecord> out;
  auto reader = journal::Reader::open(dir);
  EXPECT_TRUE(reader) << reader.error().message;
  if (!reader) return out;
  for (;;) {
    auto next = (*reader)->next();
    EXPECT_TRUE(next) << next.error().message;
    if (!next || !next->has_value()) return out;
    out.push_back({(*next)->ts_ns, (*next)->type, std::string((*next)->payload)});
  }
}

// A journal in `dir` (which must not hold one) with the first `k` of
// `records`.
inline void write_journal_prefix(const std::filesystem::path& dir, const std::vector<RawJournalRecord>& records,
                                 std::size_t k) {
  ASSERT_LE(k, records.size());
  journal::Options o;
  o.durability = journal::Durability::kGroupCommit;
  auto w = journal::Writer::open(dir, o);
  ASSERT_TRUE(w) << w.error().message;
  for (std::size_t i = 0; i < k; ++i) {
    ASSERT_TRUE((*w)->append(records[i].ts_ns, records[i].type, records[i].payload));
  }
  ASSERT_TRUE((*w)->close());
}

}  // namespace ta::test
