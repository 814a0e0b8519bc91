// Writes the seed corpus of fuzz_journal_reader: small valid segments and
// damaged variants (torn, bit-flipped, zero-filled, oversized length,
// several segments concatenated). Run by scripts/gen-journal-corpus.sh;
// the output is committed under tests/fuzz/corpus/fuzz_journal_reader/.
//
//   make_journal_corpus OUT_DIR
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "journal/journal.h"

namespace {

namespace fs = std::filesystem;
namespace tj = ta::journal;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A journal of `payloads` (types cycling 1, 2, 3) in segments of
// `segment_bytes`, returned as its segment files concatenated in order.
std::string journal(const fs::path& work, const std::vector<std::string>& payloads,
                    std::uint64_t segment_bytes = tj::kSegmentBytesMaxDefault) {
  fs::remove_all(work);
  tj::Options o;
  o.segment_bytes_max = segment_bytes;
  auto w = tj::Writer::open(work, o);
  if (!w) {
    std::fprintf(stderr, "make_journal_corpus: %s\n", w.error().message.c_str());
    std::exit(1);
  }
  std::int64_t ts = 1'712'000'000'000'000'000;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    if (!w.value()->append(ts + static_cast<std::int64_t>(i), static_cast<std::uint16_t>(1 + i % 3), payloads[i])) {
      std::exit(1);
    }
  }
  if (!w.value()->close()) std::exit(1);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(work)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string out;
  for (const auto& f : files) out += slurp(f);
  return out;
}

void emit(const fs::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void put_le(std::string& s, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s[at + static_cast<std::size_t>(i)] = static_cast<char>(v >> (8 * i));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_journal_corpus OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  const fs::path work = fs::temp_directory_path() / "ta_make_journal_corpus";

  const std::vector<std::string> three{"alpha", "", std::string(40, 'c')};
  const std::string base = journal(work, three);
  const std::size_t first = 64;
  const std::size_t last = base.size() - (64 + 40);

  emit(out, "empty_segment", journal(work, {}));
  emit(out, "three_records", base);
  emit(out, "torn_header", base.substr(0, last + 30));
  emit(out, "torn_payload", base.substr(0, base.size() - 5));
  std::string flipped = base;
  flipped[last + 64 + 3] = static_cast<char>(flipped[last + 64 + 3] ^ 0x10);
  emit(out, "payload_bit_flip", flipped);
  flipped = base;
  flipped[first + 9] = static_cast<char>(flipped[first + 9] ^ 0x01);
  emit(out, "header_bit_flip", flipped);
  flipped = base;
  flipped[first + 40] = static_cast<char>(flipped[first + 40] ^ 0x80);
  emit(out, "hash_bit_flip", flipped);
  flipped = base;
  flipped[20] = static_cast<char>(flipped[20] ^ 0x02);
  emit(out, "segment_header_bit_flip", flipped);
  emit(out, "zero_tail", base + std::string(100, '\0'));
  std::string oversized = base;
  put_le(oversized, last + 4, std::uint64_t{tj::kPayloadBytesMax} + 1, 4);
  put_le(oversized, last, tj::crc32c(oversized.data() + last + 4, 60), 4);
  emit(out, "oversized_length", oversized);
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back(std::string(static_cast<std::size_t>(i * 7), static_cast<char>('a' + i % 26)));
  const std::string segments = journal(work, many, tj::kSegmentBytesMaxMin);
  emit(out, "several_segments", segments);
  emit(out, "several_segments_torn", segments.substr(0, segments.size() - 17));
  emit(out, "garbage", std::string("not a journal at all, just some text that is longer than a header......"));
  fs::remove_all(work);
  return 0;
}
