// Collects compiler errors with their source line, up to
// kDiagnosticCountMax; the rest are only counted.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ast.h"
#include "rules/rules.h"

namespace ta::rules {

class DiagnosticSink {
 public:
  // Starts a new file: later errors carry `file` and lines of `text`.
  void set_source(std::string_view file, std::string_view text) {
    file_ = std::string(file);
    text_ = text;
  }
  void error(Loc loc, std::string message);
  // A whole-file error (line 0).
  void file_error(std::string_view file, std::string message);
  std::size_t count() const { return total_; }
  // The collected diagnostics, sorted by file (in the order the files were
  // first seen), line and column; when some were dropped, a last line says
  // how many.
  std::vector<Diagnostic> take();

 private:
  std::uint32_t file_ordinal(const std::string& file);

  std::string file_;
  std::string_view text_;
  std::vector<Diagnostic> kept_;
  std::vector<std::uint32_t> kept_file_;  // order of first appearance of each kept diagnostic's file
  std::vector<std::string> files_seen_;
  std::size_t total_ = 0;
};

// The text of line `line` (1-based) of `text`, without its line break.
std::string_view line_of(std::string_view text, std::uint32_t line);

}  // namespace ta::rules
