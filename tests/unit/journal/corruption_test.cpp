// Every kind of damage a journal can suffer, and what verify(), recover()
// and Writer::open() make of it: a torn tail (incomplete trailing write of
// the last segment) is cut back and reported; everything else is a loud
// error naming the segment and byte offset, and changes nothing on disk.
#include <openssl/evp.h>

#include <cstdio>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "journal/journal.h"
#include "journal_test_util.h"

namespace ta::journal {
namespace {

namespace fs = std::filesystem;
using testing::payload_for;
using testing::read_file;
using testing::record_offsets;
using testing::segment_files;
using testing::TempDir;
using testing::ts_for;
using testing::type_for;
using testing::write_file;

constexpr std::uint64_t kRecords = 60;
// The last record has a fixed 100-byte payload so the tail tests know its size.
constexpr std::size_t kLastPayloadBytes = 100;

void put_le(std::string& s, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}

void fix_record_crc(std::string& seg, std::size_t at) {
  put_le(seg, at, crc32c(seg.data() + at + 4, 60), 4);
}

void fix_segment_crc(std::string& seg) { put_le(seg, 60, crc32c(seg.data(), 60), 4); }

std::string sha256(const std::string& data) {
  unsigned char out[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

// A journal of kRecords records over several 4 KiB segments.
class Corruption : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() / "j";
    Options o;
    o.segment_bytes_max = kSegmentBytesMaxMin;
    auto w = Writer::open(dir_, o);
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (std::uint64_t seq = 1; seq < kRecords; ++seq) {
      ASSERT_TRUE(w.value()->append(ts_for(seq), type_for(seq), payload_for(seq)).ok());
    }
    ASSERT_TRUE(w.value()->append(ts_for(kRecords), 1, std::string(kLastPayloadBytes, 'L')).ok());
    ASSERT_TRUE(w.value()->close().ok());
    files_ = segment_files(dir_);
    ASSERT_GE(files_.size(), 3u);
    snapshot_ = snapshot();
  }

  std::vector<std::string> snapshot() const {
    std::vector<std::string> out;
    for (const auto& f : segment_files(dir_)) out.push_back(f.filename().string() + ":" + read_file(f));
    return out;
  }

  // verify() finds `kind` at (segment, offset); recover() and Writer::open()
  // refuse with a message naming both, and nothing on disk changes.
  void expect_problem(ProblemKind kind, const fs::path& segment, std::uint64_t offset) {
    const auto before = snapshot();
    const Summary s = verify(dir_);
    ASSERT_FALSE(s.ok()) << "damage went undetected";
    EXPECT_EQ(s.problem->kind, kind) << s.problem->message();
    EXPECT_EQ(s.problem->segment, segment.filename().string()) << s.problem->message();
    EXPECT_EQ(s.problem->offset, offset) << s.problem->message();
    const std::string where = segment.filename().string() + " offset " + std::to_string(offset);
    auto rec = recover(dir_);
    ASSERT_FALSE(rec.ok());
    EXPECT_NE(rec.error().message.find(where), std::string::npos) << rec.error().message;
    auto w = Writer::open(dir_, {});
    ASSERT_FALSE(w.ok());
    EXPECT_NE(w.error().message.find(where), std::string::npos) << w.error().message;
    // The reader stops at the same place, after returning the good records.
    auto reader = Reader::open(dir_);
    if (reader.ok()) {
      for (;;) {
        auto r = reader.value()->next();
        if (!r.ok()) {
          EXPECT_NE(r.error().message.find(where), std::string::npos) << r.error().message;
          break;
        }
        ASSERT_TRUE(r.value().has_value()) << "reader reached the end without seeing the damage";
      }
    }
    EXPECT_EQ(snapshot(), before) << "a failed recovery changed the journal";
  }

  // Offsets of records in segment file i.
  std::vector<std::size_t> offsets(std::size_t i) const { return record_offsets(read_file(files_[i])); }

  TempDir tmp_;
  fs::path dir_;
  std::vector<fs::path> files_;
  std::vector<std::string> snapshot_;
};

TEST_F(Corruption, HealthyJournalVerifies) {
  const Summary s = verify(dir_);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.records, kRecords);
  EXPECT_EQ(s.segments, files_.size());
  EXPECT_EQ(s.first_seq, 1u);
  EXPECT_EQ(s.last_seq, kRecords);
  EXPECT_EQ(s.first_ts_ns, ts_for(1));
  EXPECT_EQ(s.last_ts_ns, ts_for(kRecords));
  std::uint64_t bytes = 0;
  for (const auto& f : files_) bytes += fs::file_size(f);
  EXPECT_EQ(s.bytes, bytes);
  EXPECT_EQ(s.last_segment, files_.back().filename().string());
  auto rec = recover(dir_);
  ASSERT_TRUE(rec.ok());
  EXPECT_FALSE(rec.value().cut);
}

TEST_F(Corruption, BitFlipInPayloadInTheMiddle) {
  const std::string seg = read_file(files_[1]);
  const auto offs = offsets(1);
  // The first record in the middle of segment 1 that has a payload.
  std::size_t off = 0;
  for (std::size_t i = 1; i + 1 < offs.size() && off == 0; ++i) {
    if (testing::le32(seg, offs[i] + 4) > 0) off = offs[i];
  }
  ASSERT_NE(off, 0u);
  testing::flip_bit(files_[1], off + 64, 3);
  expect_problem(ProblemKind::kPayloadChecksum, files_[1], off);
}

TEST_F(Corruption, BitFlipInPayloadOfTheLastRecordIsNotATornTail) {
  const auto off = offsets(files_.size() - 1).back();
  testing::flip_bit(files_.back(), off + 64 + kLastPayloadBytes - 1, 0);
  expect_problem(ProblemKind::kPayloadChecksum, files_.back(), off);
}

TEST_F(Corruption, BitFlipInEveryRecordHeaderField) {
  const auto off = offsets(0).at(3);
  for (std::size_t byte = 0; byte < 64; ++byte) {
    SCOPED_TRACE("header byte " + std::to_string(byte));
    testing::flip_bit(files_[0], off + byte, static_cast<int>(byte % 8));
    expect_problem(ProblemKind::kHeaderChecksum, files_[0], off);
    testing::flip_bit(files_[0], off + byte, static_cast<int>(byte % 8));
  }
  EXPECT_TRUE(verify(dir_).ok());
}

TEST_F(Corruption, BitFlipInStoredHashOfTheLastRecord) {
  const auto off = offsets(files_.size() - 1).back();
  testing::flip_bit(files_.back(), off + 40, 7);
  expect_problem(ProblemKind::kHeaderChecksum, files_.back(), off);
}

TEST_F(Corruption, RandomBitFlipsAnywhereAreAllDetected) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 300; ++i) {
    const auto& f = files_[rng() % files_.size()];
    const std::size_t byte = rng() % fs::file_size(f);
    const int bit = static_cast<int>(rng() % 8);
    testing::flip_bit(f, byte, bit);
    const Summary s = verify(dir_);
    EXPECT_FALSE(s.ok()) << "undetected flip: " << f.filename() << " byte " << byte << " bit " << bit;
    EXPECT_FALSE(recover(dir_).ok());
    testing::flip_bit(f, byte, bit);
  }
  EXPECT_TRUE(verify(dir_).ok());
}

TEST_F(Corruption, PayloadEditedWithChecksumsRecomputedBreaksTheChain) {
  const auto off = offsets(1).at(1);
  std::string seg = read_file(files_[1]);
  const std::uint32_t len = testing::le32(seg, off + 4);
  // Edit the payload (or, when it is empty, the timestamp) and recompute
  // both checksums, as a careless forger would.
  if (len > 0) {
    seg[off + 64] = static_cast<char>(seg[off + 64] ^ 0x55);
    put_le(seg, off + 28, crc32c(seg.data() + off + 64, len), 4);
  } else {
    put_le(seg, off + 16, 42, 8);
  }
  fix_record_crc(seg, off);
  write_file(files_[1], seg);
  expect_problem(ProblemKind::kChainBreak, files_[1], off);
}

TEST_F(Corruption, RecordRehashedByAForgerBreaksTheChainAtTheNextRecord) {
  const auto offs = offsets(1);
  const auto off = offs.at(1);
  std::string seg = read_file(files_[1]);
  // The forger changes the timestamp and recomputes this record's hash from
  // the true previous hash, but cannot fix every later record.
  put_le(seg, off + 16, 7, 8);
  const std::string prev_hash = seg.substr(offs.at(0) + 32, 32);
  const std::uint32_t len = testing::le32(seg, off + 4);
  const std::string h = sha256(prev_hash + seg.substr(off + 4, 28) + seg.substr(off + 64, len));
  seg.replace(off + 32, 32, h);
  fix_record_crc(seg, off);
  write_file(files_[1], seg);
  expect_problem(ProblemKind::kChainBreak, files_[1], offs.at(2));
}

TEST_F(Corruption, SequenceNumberRewritten) {
  const auto off = offsets(0).at(4);
  std::string seg = read_file(files_[0]);
  put_le(seg, off + 8, 1000, 8);
  fix_record_crc(seg, off);
  write_file(files_[0], seg);
  expect_problem(ProblemKind::kSequenceGap, files_[0], off);
}

TEST_F(Corruption, PayloadLengthAboveLimitIsRefusedBeforeReading) {
  const auto off = offsets(files_.size() - 1).back();
  std::string seg = read_file(files_.back());
  put_le(seg, off + 4, std::uint64_t{kPayloadBytesMax} + 1, 4);
  fix_record_crc(seg, off);
  write_file(files_.back(), seg);
  expect_problem(ProblemKind::kBadRecordHeader, files_.back(), off);
  const Summary s = verify(dir_);
  EXPECT_NE(s.problem->detail.find("exceeds the limit"), std::string::npos);
}

TEST_F(Corruption, PayloadLengthAtLimitWithMissingBytesIsATornTail) {
  // A checksummed header announcing kPayloadBytesMax (or one below) with
  // only 100 bytes present: an incomplete write, cut back on recovery.
  for (const std::uint32_t len : {kPayloadBytesMax, kPayloadBytesMax - 1}) {
    const auto off = offsets(files_.size() - 1).back();
    std::string seg = read_file(files_.back());
    put_le(seg, off + 4, len, 4);
    fix_record_crc(seg, off);
    write_file(files_.back(), seg);
    const Summary s = verify(dir_);
    ASSERT_TRUE(s.ok()) << s.problem->message();
    ASSERT_TRUE(s.torn_tail.has_value());
    EXPECT_EQ(s.torn_tail->offset, off);
    EXPECT_EQ(s.torn_tail->bytes, 64 + kLastPayloadBytes);
    EXPECT_EQ(s.records, kRecords - 1);
    write_file(files_.back(), snapshot_.back().substr(snapshot_.back().find(':') + 1));
  }
}

TEST_F(Corruption, UnknownFlagsOrTypeZeroInACheckedHeader) {
  const auto off = offsets(0).at(1);
  std::string seg = read_file(files_[0]);
  put_le(seg, off + 26, 1, 2);
  fix_record_crc(seg, off);
  write_file(files_[0], seg);
  expect_problem(ProblemKind::kBadRecordHeader, files_[0], off);
  seg = read_file(files_[0]);
  put_le(seg, off + 26, 0, 2);
  put_le(seg, off + 24, 0, 2);
  fix_record_crc(seg, off);
  write_file(files_[0], seg);
  expect_problem(ProblemKind::kBadRecordHeader, files_[0], off);
}

TEST_F(Corruption, TruncatedTailAtEveryByteOfTheLastRecord) {
  const auto last = files_.back();
  const std::string original = read_file(last);
  const std::size_t start = record_offsets(original).back();
  ASSERT_EQ(original.size(), start + 64 + kLastPayloadBytes);
  const fs::path work = tmp_.path() / "work";
  for (std::size_t cut = start; cut < original.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    testing::copy_dir(dir_, work);
    fs::resize_file(work / last.filename(), cut);
    const Summary s = verify(work);
    ASSERT_TRUE(s.ok()) << s.problem->message();
    EXPECT_EQ(s.records, kRecords - 1);
    if (cut == start) {
      EXPECT_FALSE(s.torn_tail.has_value());
    } else {
      ASSERT_TRUE(s.torn_tail.has_value());
      EXPECT_EQ(s.torn_tail->segment, last.filename().string());
      EXPECT_EQ(s.torn_tail->offset, start);
      EXPECT_EQ(s.torn_tail->bytes, cut - start);
      EXPECT_FALSE(s.torn_tail->whole_segment);
    }
    // Opening for append cuts the tail, says so, and continues the chain.
    auto w = Writer::open(work, {});
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(w.value()->recovery().cut, cut != start);
    if (cut != start) {
      EXPECT_EQ(w.value()->recovery().torn_tail.bytes, cut - start);
    }
    EXPECT_EQ(fs::file_size(work / last.filename()), start);
    auto seq = w.value()->append(1, 1, "after the cut");
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(seq.value(), kRecords);
    ASSERT_TRUE(w.value()->close().ok());
    const Summary after = verify(work);
    ASSERT_TRUE(after.ok()) << after.problem->message();
    EXPECT_EQ(after.records, kRecords);
    EXPECT_FALSE(after.torn_tail.has_value());
  }
}

TEST_F(Corruption, RecoverReportsAndCutsATornTail) {
  fs::resize_file(files_.back(), fs::file_size(files_.back()) - 7);
  auto rec = recover(dir_);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_TRUE(rec.value().cut);
  EXPECT_EQ(rec.value().torn_tail.segment, files_.back().filename().string());
  EXPECT_EQ(rec.value().torn_tail.bytes, 64 + kLastPayloadBytes - 7);
  EXPECT_EQ(rec.value().summary.records, kRecords - 1);
  EXPECT_FALSE(rec.value().summary.torn_tail.has_value());
  // Idempotent.
  auto again = recover(dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again.value().cut);
}

TEST_F(Corruption, ZeroFilledTailIsATornTail) {
  std::string seg = read_file(files_.back());
  const std::size_t end = seg.size();
  seg.append(500, '\0');
  write_file(files_.back(), seg);
  const Summary s = verify(dir_);
  ASSERT_TRUE(s.ok()) << s.problem->message();
  ASSERT_TRUE(s.torn_tail.has_value());
  EXPECT_EQ(s.torn_tail->offset, end);
  EXPECT_EQ(s.torn_tail->bytes, 500u);
  auto rec = recover(dir_);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(fs::file_size(files_.back()), end);
}

TEST_F(Corruption, ZeroesFollowedByDataAreCorruption) {
  std::string seg = read_file(files_.back());
  const std::size_t end = seg.size();
  seg.append(500, '\0');
  seg.append("x");
  write_file(files_.back(), seg);
  expect_problem(ProblemKind::kHeaderChecksum, files_.back(), end);
}

TEST_F(Corruption, GarbageAfterTheLastRecordIsCorruption) {
  std::string seg = read_file(files_.back());
  const std::size_t end = seg.size();
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) seg.push_back(static_cast<char>(rng() | 1));
  write_file(files_.back(), seg);
  expect_problem(ProblemKind::kHeaderChecksum, files_.back(), end);
}

TEST_F(Corruption, ShortGarbageAfterTheLastRecordIsATornTail) {
  // Fewer bytes than a record header: cannot be told from a partial header.
  std::string seg = read_file(files_.back());
  const std::size_t end = seg.size();
  seg.append(std::string(63, '\x7f'));
  write_file(files_.back(), seg);
  const Summary s = verify(dir_);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.torn_tail.has_value());
  EXPECT_EQ(s.torn_tail->offset, end);
  EXPECT_EQ(s.torn_tail->bytes, 63u);
}

TEST_F(Corruption, TruncationInsideAMiddleSegment) {
  const auto off = offsets(1).at(2);
  fs::resize_file(files_[1], off + 10);
  expect_problem(ProblemKind::kTruncatedSegment, files_[1], off);
}

TEST_F(Corruption, TruncationOfAMiddleSegmentAtARecordBoundary) {
  const auto off = offsets(1).at(2);
  fs::resize_file(files_[1], off);
  expect_problem(ProblemKind::kSequenceGap, files_[2], 0);
}

TEST_F(Corruption, MiddleSegmentCutToAPartialHeader) {
  fs::resize_file(files_[1], 20);
  expect_problem(ProblemKind::kTruncatedSegment, files_[1], 0);
}

TEST_F(Corruption, DeletedMiddleSegment) {
  fs::remove(files_[1]);
  expect_problem(ProblemKind::kSequenceGap, files_[2], 0);
}

TEST_F(Corruption, DeletedFirstSegment) {
  fs::remove(files_[0]);
  expect_problem(ProblemKind::kSequenceGap, files_[1], 0);
  EXPECT_NE(verify(dir_).problem->detail.find("first segment is missing"), std::string::npos);
}

TEST_F(Corruption, GarbageFileInPlaceOfASegment) {
  std::mt19937 rng(11);
  std::string junk(3000, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  write_file(files_[1], junk);
  expect_problem(ProblemKind::kBadSegmentHeader, files_[1], 0);
  EXPECT_NE(verify(dir_).problem->detail.find("bad magic"), std::string::npos);
}

TEST_F(Corruption, GarbageFileAfterTheLastSegment) {
  const fs::path extra = dir_ / segment_file_name(kRecords + 1);
  write_file(extra, std::string(200, 'G'));
  expect_problem(ProblemKind::kBadSegmentHeader, extra, 0);
}

TEST_F(Corruption, StraySegmentFarAhead) {
  const fs::path extra = dir_ / segment_file_name(kRecords + 50);
  write_file(extra, std::string(200, 'G'));
  expect_problem(ProblemKind::kSequenceGap, extra, 0);
}

TEST_F(Corruption, UnparsableSegmentName) {
  const fs::path bad = dir_ / "journal-12x.seg";
  write_file(bad, "x");
  const Summary s = verify(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem->kind, ProblemKind::kBadSegmentName);
  EXPECT_EQ(s.problem->segment, "journal-12x.seg");
  EXPECT_FALSE(Writer::open(dir_, {}).ok());
}

TEST_F(Corruption, UnrelatedFilesAreIgnored) {
  write_file(dir_ / "README", "notes");
  EXPECT_TRUE(verify(dir_).ok());
}

TEST_F(Corruption, SegmentHeaderBitFlips) {
  for (std::size_t byte = 0; byte < 64; ++byte) {
    SCOPED_TRACE("segment header byte " + std::to_string(byte));
    testing::flip_bit(files_[1], byte, 2);
    expect_problem(ProblemKind::kBadSegmentHeader, files_[1], 0);
    testing::flip_bit(files_[1], byte, 2);
  }
}

TEST_F(Corruption, SegmentHeaderWithAnotherVersion) {
  std::string seg = read_file(files_[0]);
  put_le(seg, 8, 2, 4);
  fix_segment_crc(seg);
  write_file(files_[0], seg);
  expect_problem(ProblemKind::kBadSegmentHeader, files_[0], 0);
  EXPECT_NE(verify(dir_).problem->detail.find("version 2"), std::string::npos);
}

TEST_F(Corruption, SegmentHeaderPreviousHashRewritten) {
  std::string seg = read_file(files_[2]);
  seg[30] = static_cast<char>(seg[30] ^ 1);
  fix_segment_crc(seg);
  write_file(files_[2], seg);
  expect_problem(ProblemKind::kChainBreak, files_[2], 0);
}

TEST_F(Corruption, SegmentHeaderFirstSeqDisagreesWithName) {
  std::string seg = read_file(files_[2]);
  put_le(seg, 16, 999, 8);
  fix_segment_crc(seg);
  write_file(files_[2], seg);
  expect_problem(ProblemKind::kSegmentNameMismatch, files_[2], 0);
}

TEST_F(Corruption, IncompleteHeaderOfANewLastSegmentIsTorn) {
  // A crash while creating the next segment: the file exists with part of
  // its header. Recovery removes it; appends continue in the previous one.
  std::string next_header = read_file(files_.back()).substr(0, 30);
  const fs::path torn = dir_ / segment_file_name(kRecords + 1);
  for (const std::size_t len : {std::size_t{0}, std::size_t{30}}) {
    write_file(torn, next_header.substr(0, len));
    const Summary s = verify(dir_);
    ASSERT_TRUE(s.ok()) << s.problem->message();
    ASSERT_TRUE(s.torn_tail.has_value());
    EXPECT_TRUE(s.torn_tail->whole_segment);
    EXPECT_EQ(s.torn_tail->segment, torn.filename().string());
    EXPECT_EQ(s.torn_tail->bytes, len);
    EXPECT_EQ(s.records, kRecords);
  }
  write_file(torn, std::string(64, '\0'));
  auto w = Writer::open(dir_, {});
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_TRUE(w.value()->recovery().cut);
  EXPECT_TRUE(w.value()->recovery().torn_tail.whole_segment);
  EXPECT_FALSE(fs::exists(torn));
  auto seq = w.value()->append(1, 1, "continues");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(seq.value(), kRecords + 1);
  ASSERT_TRUE(w.value()->close().ok());
  EXPECT_TRUE(verify(dir_).ok());
  EXPECT_EQ(verify(dir_).records, kRecords + 1);
}

TEST_F(Corruption, ProblemMessageNamesSegmentOffsetAndWhat) {
  const auto off = offsets(files_.size() - 1).back();
  testing::flip_bit(files_.back(), off + 64 + 5, 1);
  const Summary s = verify(dir_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.problem->message(), files_.back().filename().string() + " offset " + std::to_string(off) +
                                      ": payload checksum mismatch: seq " + std::to_string(kRecords));
}

}  // namespace
}  // namespace ta::journal
