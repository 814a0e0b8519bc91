// Helpers shared by the agent's unit tests: where the data lives, seeds,
// scratch directories.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace ta::agent::test {

inline std::filesystem::path env_path(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return std::filesystem::path(v != nullptr && *v != '\0' ? v : fallback);
}

// Repository root (TA_SOURCE_DIR, set by ctest).
inline std::filesystem::path source_dir() { return env_path("TA_SOURCE_DIR", "."); }

// ../shared/data with the real market CSVs (TA_SHARED_DATA).
inline std::filesystem::path shared_data() { return env_path("TA_SHARED_DATA", "../shared/data"); }

inline std::filesystem::path demo_data() { return source_dir() / "data" / "demo"; }

// A seed for a property test: TA_TEST_SEED when set (to replay a failure),
// otherwise random. Always printed first.
inline unsigned test_seed() {
  unsigned seed = 0;
  if (const char* v = std::getenv("TA_TEST_SEED"); v != nullptr && *v != '\0') {
    seed = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
  } else {
    seed = std::random_device{}();
  }
  std::printf("seed=%u\n", seed);
  std::fflush(stdout);
  return seed;
}

// A fresh directory under the system temp dir, removed on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ta_agent_test_XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace ta::agent::test
