#include "diagnostics.h"

#include <algorithm>
#include <numeric>

namespace ta::rules {
namespace {
// Longest part of a source line shown under a diagnostic: a terminal width
// and a bit; a longer line (or an error past it) is shown without it.
constexpr std::size_t kSourceLineShownMax = 160;
}  // namespace

std::string_view line_of(std::string_view text, std::uint32_t line) {
  std::size_t start = 0;
  for (std::uint32_t l = 1; l < line; ++l) {
    const std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
  std::size_t end = text.find('\n', start);
  if (end == std::string_view::npos) end = text.size();
  if (end > start && text[end - 1] == '\r') --end;
  return text.substr(start, end - start);
}

std::uint32_t DiagnosticSink::file_ordinal(const std::string& file) {
  auto it = std::find(files_seen_.begin(), files_seen_.end(), file);
  if (it == files_seen_.end()) {
    files_seen_.push_back(file);
    return static_cast<std::uint32_t>(files_seen_.size() - 1);
  }
  return static_cast<std::uint32_t>(it - files_seen_.begin());
}

void DiagnosticSink::error(Loc loc, std::string message) {
  ++total_;
  if (kept_.size() >= kDiagnosticCountMax) return;
  kept_file_.push_back(file_ordinal(file_));
  Diagnostic d;
  d.file = file_;
  d.line = loc.line;
  d.column = loc.column;
  d.message = std::move(message);
  // Show the line as printable ASCII (the lexer refuses anything else
  // outside comments) and not beyond kSourceLineShownMax characters.
  const std::string_view raw = line_of(text_, loc.line);
  if (loc.column <= kSourceLineShownMax) {
    for (char c : raw.substr(0, kSourceLineShownMax)) {
      d.source_line += (c == '\t' || (c >= 0x20 && c < 0x7f)) ? c : '?';
    }
  }
  kept_.push_back(std::move(d));
}

void DiagnosticSink::file_error(std::string_view file, std::string message) {
  ++total_;
  if (kept_.size() >= kDiagnosticCountMax) return;
  Diagnostic d;
  d.file = std::string(file);
  d.message = std::move(message);
  kept_file_.push_back(file_ordinal(d.file));
  kept_.push_back(std::move(d));
}

std::vector<Diagnostic> DiagnosticSink::take() {
  std::vector<std::size_t> order(kept_.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const Diagnostic& x = kept_[a];
    const Diagnostic& y = kept_[b];
    if (kept_file_[a] != kept_file_[b]) return kept_file_[a] < kept_file_[b];
    if (x.line != y.line) return x.line < y.line;
    return x.column < y.column;
  });
  std::vector<Diagnostic> out;
  out.reserve(kept_.size() + 1);
  for (std::size_t i : order) out.push_back(std::move(kept_[i]));
  if (total_ > out.size()) {
    Diagnostic d;
    d.file = out.empty() ? file_ : out.back().file;
    d.message = "too many errors: " + std::to_string(total_ - out.size()) + " more not shown";
    out.push_back(std::move(d));
  }
  kept_.clear();
  kept_file_.clear();
  files_seen_.clear();
  total_ = 0;
  return out;
}

std::string Diagnostic::render() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": error: " + message + "\n";
  if (line > 0 && !source_line.empty()) {
    out += "  " + source_line + "\n  ";
    // Keep tabs so the caret lines up under the same column in a terminal.
    for (std::size_t i = 0; i + 1 < column && i < source_line.size(); ++i) {
      out += source_line[i] == '\t' ? '\t' : ' ';
    }
    out += "^\n";
  }
  return out;
}

}  // namespace ta::rules
