// CRC-32C against published vectors (RFC 3720 appendix B.4 and the common
// "123456789" check value), and the hardware and table paths against each
// other on random data at every alignment.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "journal/journal.h"

namespace ta::journal {
namespace {

struct Vector {
  std::string data;
  std::uint32_t crc;
};

std::vector<Vector> vectors() {
  std::string inc(32, '\0');
  std::string dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[static_cast<std::size_t>(i)] = static_cast<char>(i);
    dec[static_cast<std::size_t>(i)] = static_cast<char>(31 - i);
  }
  return {
      {"", 0x00000000u},
      {"123456789", 0xE3069283u},
      {std::string(32, '\0'), 0x8A9136AAu},
      {std::string(32, '\xFF'), 0x62A8AB43u},
      {inc, 0x46DD794Eu},
      {dec, 0x113FDB5Cu},
  };
}

TEST(Crc32c, KnownVectors) {
  for (const auto& v : vectors()) {
    EXPECT_EQ(crc32c(v.data.data(), v.data.size()), v.crc) << "size " << v.data.size();
    EXPECT_EQ(crc32c_portable(v.data.data(), v.data.size()), v.crc) << "size " << v.data.size();
  }
}

TEST(Crc32c, ContinuationEqualsOneShot) {
  const std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  for (std::size_t split = 0; split <= s.size(); ++split) {
    const std::uint32_t a = crc32c(s.data(), split);
    EXPECT_EQ(crc32c(s.data() + split, s.size() - split, a), crc32c(s.data(), s.size()));
    const std::uint32_t b = crc32c_portable(s.data(), split);
    EXPECT_EQ(crc32c_portable(s.data() + split, s.size() - split, b), crc32c(s.data(), s.size()));
  }
}

TEST(Crc32c, HardwareAndPortableAgreeOnRandomData) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::printf("hardware crc32c: %s\n", crc32c_hardware_available() ? "yes" : "no");
  std::mt19937 rng(seed);
  std::string buf(4096 + 16, '\0');
  for (auto& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    const std::size_t off = rng() % 16;
    const std::size_t len = rng() % 4096;
    const std::uint32_t init = rng();
    ASSERT_EQ(crc32c(buf.data() + off, len, init), crc32c_portable(buf.data() + off, len, init))
        << "off " << off << " len " << len;
  }
}

}  // namespace
}  // namespace ta::journal
