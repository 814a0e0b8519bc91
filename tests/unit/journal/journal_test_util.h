// Helpers shared by the journal tests: temporary directories, a
// deterministic payload generator and raw file surgery. The byte offsets
// used here follow docs/journal.md independently of the library's code.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace ta::journal::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ta_journal_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The payload record `seq` gets in every test: 0..299 bytes derived from seq.
inline std::string payload_for(std::uint64_t seq) {
  const std::size_t len = static_cast<std::size_t>(splitmix64(seq) % 300);
  std::string s(len, '\0');
  std::uint64_t x = seq * 7919;
  for (std::size_t i = 0; i < len; ++i) {
    if (i % 8 == 0) x = splitmix64(x);
    s[i] = static_cast<char>(x >> (8 * (i % 8)));
  }
  return s;
}
inline std::int64_t ts_for(std::uint64_t seq) { return 1'700'000'000'000'000'000 + static_cast<std::int64_t>(seq) * 1000; }
inline std::uint16_t type_for(std::uint64_t seq) { return static_cast<std::uint16_t>(1 + seq % 3); }

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::filesystem::path> segment_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::uint32_t le32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

// Byte offsets of every record in a segment file (64-byte segment header,
// 64-byte record headers with the payload length at offset 4).
inline std::vector<std::size_t> record_offsets(const std::string& seg) {
  std::vector<std::size_t> out;
  std::size_t at = 64;
  while (at + 64 <= seg.size()) {
    const std::size_t len = 64 + le32(seg, at + 4);
    if (at + len > seg.size()) break;
    out.push_back(at);
    at += len;
  }
  return out;
}

inline void flip_bit(const std::filesystem::path& p, std::size_t byte, int bit) {
  std::string s = read_file(p);
  s.at(byte) = static_cast<char>(s.at(byte) ^ (1 << bit));
  write_file(p, s);
}

inline void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to);
}

}  // namespace ta::journal::testing
