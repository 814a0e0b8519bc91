// Writing the three report files. Each goes to "NAME.tmp" first and is
// renamed into place, so an interrupted run never leaves a truncated
// report that looks complete.
#include <cstdio>
#include <fstream>

#include "backtest/report.h"

namespace ta::backtest {
namespace {

Status write_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(tmp.string() + ": cannot open for writing");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) return make_error(tmp.string() + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return make_error(path.string() + ": " + ec.message());
  return {};
}

}  // namespace

Status write_reports(const std::filesystem::path& dir, const Report& report, const BacktestResult& result) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(dir.string() + ": " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return make_error(dir.string() + ": not a directory");
  if (auto st = write_file(dir / "report.json", render_json(report, result)); !st) return st;
  if (auto st = write_file(dir / "report.md", render_markdown(report)); !st) return st;
  return write_file(dir / "equity.svg", render_svg(report, result));
}

}  // namespace ta::backtest
