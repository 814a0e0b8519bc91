// load_rules(): read every *.rule of the two directories, hash them, and
// compile them together. Pure: it returns a new RuleSet or the errors, and
// never touches the caller's current set, which makes loading atomic.
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <system_error>

#include "compile.h"
#include "diagnostics.h"

namespace ta::rules {
namespace {

namespace fs = std::filesystem;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

// Lists dir/*.rule sorted by file name. A missing directory is an error only
// when `required`.
bool list_rule_files(const std::string& dir, bool required, std::vector<fs::path>& out, DiagnosticSink& sink) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (required) sink.file_error(dir, "rule directory does not exist");
    return !required;
  }
  if (!fs::is_directory(dir, ec)) {
    sink.file_error(dir, "not a directory");
    return false;
  }
  std::vector<fs::path> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".rule") found.push_back(p);
  }
  if (ec) {
    sink.file_error(dir, "cannot list directory: " + ec.message());
    return false;
  }
  std::sort(found.begin(), found.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  out.insert(out.end(), found.begin(), found.end());
  return true;
}

// Reads at most kSourceSizeMax + 1 bytes, enough to tell an oversized file
// without reading all of it.
bool read_file(const fs::path& path, std::string& out, DiagnosticSink& sink) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    sink.file_error(path.string(), "not a regular file");
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    sink.file_error(path.string(), "cannot open file");
    return false;
  }
  out.resize(kSourceSizeMax + 1);
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    sink.file_error(path.string(), "read error");
    return false;
  }
  return true;
}

// Applies an override to one directory's sorted listing: the entry with
// that file name is dropped (no text) or marked as the override (text),
// and an override for a name not listed is inserted in name order.
// `overridden` receives the index of the override's entry, if any.
void apply_override(std::vector<fs::path>& files, const std::string& dir, const FileOverride& o,
                    std::optional<std::size_t>& overridden) {
  auto it = std::find_if(files.begin(), files.end(),
                         [&](const fs::path& p) { return p.filename().string() == o.file_name; });
  if (!o.text) {
    if (it != files.end()) files.erase(it);
    return;
  }
  if (it == files.end()) {
    it = std::lower_bound(files.begin(), files.end(), o.file_name,
                          [](const fs::path& p, const std::string& name) { return p.filename().string() < name; });
    it = files.insert(it, fs::path(dir) / o.file_name);
  }
  overridden = static_cast<std::size_t>(it - files.begin());
}

Compiled<LoadedRules> load(const std::string& core_dir, const std::string& active_dir, const FileOverride* o) {
  DiagnosticSink sink;
  std::vector<fs::path> core_files, active_files;
  list_rule_files(core_dir, true, core_files, sink);
  list_rule_files(active_dir, false, active_files, sink);
  std::optional<std::size_t> overridden;  // index into core_files + active_files
  if (o != nullptr && sink.count() == 0) {
    if (o->core) {
      apply_override(core_files, core_dir, *o, overridden);
    } else {
      apply_override(active_files, active_dir, *o, overridden);
      if (overridden) *overridden += core_files.size();
    }
  }
  const std::size_t file_count = core_files.size() + active_files.size();
  if (file_count > kFileCountMax) {
    sink.file_error(active_dir, "found " + std::to_string(file_count) + " rule files; the limit is " +
                                    std::to_string(kFileCountMax));
  }
  if (sink.count() > 0) return sink.take();

  std::vector<std::string> texts(file_count);
  std::vector<SourceUnit> units;
  std::vector<RuleFile> files;
  for (std::size_t i = 0; i < file_count; ++i) {
    const bool core = i < core_files.size();
    const fs::path& path = core ? core_files[i] : active_files[i - core_files.size()];
    std::string name = path.string();
    if (overridden == i) {
      // Cut like a file read from disk, so the size limit reports the same.
      texts[i] = o->text->substr(0, kSourceSizeMax + 1);
      name = o->display_name;
    } else if (!read_file(path, texts[i], sink)) {
      continue;
    }
    units.push_back(SourceUnit{name, texts[i], core ? SourceOrigin::core() : SourceOrigin::any_proposal()});
    files.push_back(RuleFile{name, sha256_hex(texts[i]), texts[i].size()});
  }
  if (sink.count() > 0) return sink.take();

  auto compiled = compile_units(units);
  if (!compiled.ok()) return compiled.errors();
  return LoadedRules{std::move(compiled).value(), std::move(files)};
}

}  // namespace

Compiled<LoadedRules> load_rules(const std::string& core_dir, const std::string& active_dir) {
  return load(core_dir, active_dir, nullptr);
}

Compiled<LoadedRules> load_rules(const std::string& core_dir, const std::string& active_dir,
                                 const FileOverride& override_file) {
  const std::string& name = override_file.file_name;
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    DiagnosticSink sink;
    sink.file_error(override_file.display_name, "'" + name + "' is not a file name");
    return sink.take();
  }
  return load(core_dir, active_dir, &override_file);
}

}  // namespace ta::rules
