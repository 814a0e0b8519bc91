// CRC-32C (Castagnoli). The hardware path uses the SSE4.2 crc32 instruction
// eight bytes at a time; the portable path is slicing-by-8 over tables built
// at compile time. Both compute the same function and are tested to agree.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "journal/journal.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace ta::journal {
namespace {

// Reflected Castagnoli polynomial.
constexpr std::uint32_t kPoly = 0x82F63B78u;

using Tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr Tables make_tables() {
  Tables t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i) {
    for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

constexpr Tables kTables = make_tables();

std::uint32_t portable_raw(std::uint32_t c, const unsigned char* p, std::size_t n) {
  while (n >= 8) {
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    for (int i = 0; i < 4; ++i) lo |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    for (int i = 0; i < 4; ++i) hi |= static_cast<std::uint32_t>(p[4 + i]) << (8 * i);
    lo ^= c;
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t hardware_raw(std::uint32_t c, const unsigned char* p,
                                                              std::size_t n) {
  std::uint64_t c64 = c;
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c64);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool detect_hardware() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}
#else
std::uint32_t hardware_raw(std::uint32_t c, const unsigned char* p, std::size_t n) {
  return portable_raw(c, p, n);
}
bool detect_hardware() { return false; }
#endif

// Function-local so that it is ready even when called during another
// translation unit's static initialisation.
bool hardware() {
  static const bool available = detect_hardware();
  return available;
}

}  // namespace

bool crc32c_hardware_available() { return hardware(); }

std::uint32_t crc32c_portable(const void* data, std::size_t size, std::uint32_t crc) {
  return ~portable_raw(~crc, static_cast<const unsigned char*>(data), size);
}

std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  return hardware() ? ~hardware_raw(~crc, p, size) : ~portable_raw(~crc, p, size);
}

}  // namespace ta::journal
