// install_active_rule() / remove_active_rule(): change one file of
// rules/active atomically (temporary file, fsync, rename, fsync of the
// directory), reload everything, and undo the change when the reload fails.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>

#include "rules/rules.h"

namespace ta::rules {
namespace {

namespace fs = std::filesystem;

Diagnostic file_diagnostic(const std::string& path, std::string message) {
  Diagnostic d;
  d.file = path;
  d.message = std::move(message);
  return d;
}

std::vector<Diagnostic> failure(const std::string& path, const std::string& what) {
  return {file_diagnostic(path, what + ": " + std::strerror(errno))};
}

// fsync of a directory, so that a rename in it is durable.
bool sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Writes `text` to `tmp` (replacing a leftover from a crash), fsyncs it and
// renames it to `target`, then fsyncs the directory. Returns the error.
std::optional<std::vector<Diagnostic>> write_atomically(const std::string& dir, const std::string& tmp,
                                                        const std::string& target, std::string_view text) {
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return failure(tmp, "cannot create");
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto err = failure(tmp, "cannot write");
      ::close(fd);
      ::unlink(tmp.c_str());
      return err;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto err = failure(tmp, "cannot fsync");
    ::close(fd);
    ::unlink(tmp.c_str());
    return err;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    auto err = failure(target, "cannot rename " + tmp + " to it");
    ::unlink(tmp.c_str());
    return err;
  }
  if (!sync_directory(dir)) return failure(dir, "cannot fsync the directory");
  return std::nullopt;
}

std::optional<std::string> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string hidden(const std::string& dir, std::string_view rule_id, const char* suffix) {
  return dir + "/." + std::string(rule_id) + ".rule" + suffix;
}

}  // namespace

bool is_rule_id(std::string_view id) {
  if (id.empty() || id.size() > kIdentifierLengthMax || id[0] < 'a' || id[0] > 'z') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string active_rule_path(const std::string& active_dir, std::string_view rule_id) {
  return active_dir + "/" + std::string(rule_id) + ".rule";
}

Compiled<LoadedRules> install_active_rule(const std::string& core_dir, const std::string& active_dir,
                                          std::string_view rule_id, std::string_view text) {
  const std::string target = active_rule_path(active_dir, rule_id);
  if (!is_rule_id(rule_id)) {
    return std::vector<Diagnostic>{file_diagnostic(active_dir, "'" + std::string(rule_id) + "' is not a rule id")};
  }
  if (text.size() > kSourceSizeMax) {
    return std::vector<Diagnostic>{file_diagnostic(target, "rule text of " + std::to_string(text.size()) +
                                                               " bytes; the limit is " + std::to_string(kSourceSizeMax))};
  }
  std::error_code ec;
  if (!fs::exists(active_dir, ec)) {
    fs::create_directories(active_dir, ec);
    if (ec) return std::vector<Diagnostic>{file_diagnostic(active_dir, "cannot create directory: " + ec.message())};
  }
  if (!fs::is_directory(active_dir, ec)) return std::vector<Diagnostic>{file_diagnostic(active_dir, "not a directory")};

  const std::optional<std::string> previous = fs::exists(target, ec) ? read_whole(target) : std::nullopt;
  const std::string tmp = hidden(active_dir, rule_id, ".tmp");
  if (auto err = write_atomically(active_dir, tmp, target, text)) return *err;

  auto loaded = load_rules(core_dir, active_dir);
  if (loaded.ok()) return loaded;
  // Undo: the previous file back, or no file.
  if (previous) {
    (void)write_atomically(active_dir, tmp, target, *previous);
  } else {
    ::unlink(target.c_str());
    (void)sync_directory(active_dir);
  }
  return loaded.errors();
}

Compiled<LoadedRules> remove_active_rule(const std::string& core_dir, const std::string& active_dir,
                                         std::string_view rule_id) {
  const std::string target = active_rule_path(active_dir, rule_id);
  if (!is_rule_id(rule_id)) {
    return std::vector<Diagnostic>{file_diagnostic(active_dir, "'" + std::string(rule_id) + "' is not a rule id")};
  }
  std::error_code ec;
  if (!fs::is_regular_file(target, ec)) return std::vector<Diagnostic>{file_diagnostic(target, "no such rule file")};
  const std::string aside = hidden(active_dir, rule_id, ".retired");
  ::unlink(aside.c_str());
  if (::rename(target.c_str(), aside.c_str()) != 0) return failure(target, "cannot rename to " + aside);
  if (!sync_directory(active_dir)) {
    auto err = failure(active_dir, "cannot fsync the directory");
    (void)::rename(aside.c_str(), target.c_str());
    return err;
  }
  auto loaded = load_rules(core_dir, active_dir);
  if (!loaded.ok()) {
    (void)::rename(aside.c_str(), target.c_str());
    (void)sync_directory(active_dir);
    return loaded.errors();
  }
  ::unlink(aside.c_str());
  (void)sync_directory(active_dir);
  return loaded;
}

}  // namespace ta::rules
