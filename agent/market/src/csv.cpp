#include "market/csv.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <memory>
#include <system_error>

#include "log.h"

namespace ta::agent {
namespace {

constexpr std::string_view kHeader = "ts,open,high,low,close,volume";
constexpr std::size_t kColumns = 6;
constexpr const char* kColumnNames[kColumns] = {"ts", "open", "high", "low", "close", "volume"};

// Shows untrusted text in a message: printable ASCII only, bounded.
std::string printable(std::string_view text) {
  constexpr std::size_t kShownMax = 40;
  std::string out;
  for (char c : text.substr(0, kShownMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kShownMax) out += "...";
  return out;
}

struct Field {
  std::string_view text;
  std::size_t column = 1;  // 1-based character position in the line
};

// One data line split into fields. `count` may exceed kColumns (only the
// first kColumns are kept).
struct Row {
  std::array<Field, kColumns> fields;
  std::size_t count = 0;
};

Row split(std::string_view line) {
  Row row;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
    if (row.count < kColumns) row.fields[row.count] = Field{line.substr(start, end - start), start + 1};
    ++row.count;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return row;
}

bool parse_int(std::string_view text, std::int64_t& out) {
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, out);
  return !text.empty() && r.ec == std::errc() && r.ptr == end;
}

bool parse_double(std::string_view text, double& out) {
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, out, std::chars_format::general);
  return !text.empty() && r.ec == std::errc() && r.ptr == end;
}

struct Defect {
  RowDefect kind;
  std::size_t field;  // index of the offending field
};

std::size_t first_field(const std::array<double, kColumns>& v, bool (*bad)(double)) {
  for (std::size_t i = 1; i < kColumns; ++i) {
    if (bad(v[i])) return i;
  }
  return 1;
}

// Maps a check_bar() verdict to the CSV defect and the field to point at.
Defect to_row_defect(BarDefect d, const std::array<double, kColumns>& v) {
  switch (d) {
    case BarDefect::kTimestampNotMinute:
      return {RowDefect::kTimestampNotMinute, 0};
    case BarDefect::kTimestampOutOfRange:
      return {RowDefect::kTimestampOutOfRange, 0};
    case BarDefect::kNotFinite:
      return {RowDefect::kNotFinite, first_field(v, [](double x) { return !std::isfinite(x); })};
    case BarDefect::kPriceNotPositive:
      return {RowDefect::kPriceNotPositive, first_field(v, [](double x) { return !(x > 0); })};
    case BarDefect::kVolumeNegative:
      return {RowDefect::kVolumeNegative, 5};
    case BarDefect::kHighBelowLow:
      return {RowDefect::kHighBelowLow, 2};
    case BarDefect::kOpenOutsideRange:
      return {RowDefect::kOpenOutsideRange, 1};
    case BarDefect::kCloseOutsideRange:
      return {RowDefect::kCloseOutsideRange, 4};
    case BarDefect::kNone:
    case BarDefect::kQuoteInvalid:  // CSV bars carry no quote
      break;
  }
  return {RowDefect::kNumberSyntax, 0};
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view source, ProductId product, const CsvOptions& options)
      : text_(text), source_(source), product_(product), options_(options) {}

  Result<CsvBars> run() {
    if (product_.empty()) return make_error("reading " + std::string(source_) + ": no product id given");
    if (text_.size() > options_.limits.file_size_max_bytes) {
      return make_error(std::string(source_) + ": file is " + std::to_string(text_.size()) +
                        " bytes, more than the limit of " +
                        std::to_string(options_.limits.file_size_max_bytes));
    }
    out_.bars.reserve(text_.size() / 40 + 1);
    std::string_view line;
    if (!next_line(line)) return error_at(1, 1, "empty file: missing header \"" + std::string(kHeader) + "\"");
    if (auto s = check_length(line); !s.ok()) return s.error();
    if (line != kHeader) {
      return error_at(1, 1, "header must be \"" + std::string(kHeader) + "\", found \"" + printable(line) + "\"");
    }
    while (next_line(line)) {
      if (auto s = check_length(line); !s.ok()) return s.error();
      if (line.empty()) {
        ++out_.report.blank_lines;
        continue;
      }
      if (++out_.report.rows_read > options_.limits.rows_max) {
        return error_at(line_no_, 1, "more than " + std::to_string(options_.limits.rows_max) + " rows");
      }
      if (auto s = row(line); !s.ok()) return s.error();
    }
    out_.report.rows_accepted = out_.bars.size();
    return std::move(out_);
  }

 private:
  // Next line without its "\n" or "\r\n"; false at end of text.
  bool next_line(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const std::size_t nl = text_.find('\n', pos_);
    const std::size_t end = nl == std::string_view::npos ? text_.size() : nl;
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++line_no_;
    return true;
  }

  Status check_length(std::string_view line) const {
    if (line.size() <= options_.limits.line_length_max) return {};
    return error_at(line_no_, options_.limits.line_length_max + 1,
                    "line longer than " + std::to_string(options_.limits.line_length_max) + " characters");
  }

  Error error_at(std::size_t line, std::size_t column, const std::string& why) const {
    return make_error(std::string(source_) + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": " + why);
  }

  // Under kStrict an error; under kSkip counted, logged and skipped.
  Status defect(RowDefect kind, const Field& field, const std::string& detail) {
    const std::string why = std::string(describe(kind)) + (detail.empty() ? "" : " (" + detail + ")");
    if (options_.policy == BadRowPolicy::kStrict) return error_at(line_no_, field.column, why);
    CsvReport& r = out_.report;
    ++r.rows_skipped;
    ++r.skipped_by_defect[static_cast<std::size_t>(kind)];
    if (r.issues.size() < CsvReport::kIssuesListedMax) {
      r.issues.push_back(error_at(line_no_, field.column, why).message);
      market_log().warn("csv row skipped: {}", r.issues.back());
    }
    return {};
  }

  Status row(std::string_view line) {
    const Row r = split(line);
    if (r.count != kColumns) {
      return defect(RowDefect::kColumnCount, r.fields[0],
                    std::to_string(r.count) + " columns, expected " + std::to_string(kColumns));
    }
    std::int64_t ts = 0;
    if (!parse_int(r.fields[0].text, ts)) {
      return defect(RowDefect::kNumberSyntax, r.fields[0], "ts \"" + printable(r.fields[0].text) + "\"");
    }
    std::array<double, kColumns> v{};
    for (std::size_t i = 1; i < kColumns; ++i) {
      if (!parse_double(r.fields[i].text, v[i])) {
        return defect(RowDefect::kNumberSyntax, r.fields[i],
                      std::string(kColumnNames[i]) + " \"" + printable(r.fields[i].text) + "\"");
      }
    }
    Bar bar;
    bar.product = product_;
    bar.open_ts_s = ts;
    bar.open = v[1];
    bar.high = v[2];
    bar.low = v[3];
    bar.close = v[4];
    bar.volume = v[5];
    if (const BarDefect d = check_bar(bar); d != BarDefect::kNone) {
      const Defect rd = to_row_defect(d, v);
      return defect(rd.kind, r.fields[rd.field],
                    std::string(kColumnNames[rd.field]) + " \"" + printable(r.fields[rd.field].text) + "\"");
    }
    if (!out_.bars.empty()) {
      const Bar& prev = out_.bars.back();
      if (ts < prev.open_ts_s) {
        return defect(RowDefect::kTimestampUnsorted, r.fields[0],
                      "ts " + std::to_string(ts) + " after " + std::to_string(prev.open_ts_s));
      }
      if (ts == prev.open_ts_s) {
        if (bar == prev) {
          ++out_.report.duplicates;
          return {};
        }
        return defect(RowDefect::kTimestampConflict, r.fields[0], "ts " + std::to_string(ts));
      }
    }
    out_.bars.push_back(bar);
    return {};
  }

  std::string_view text_;
  std::string_view source_;
  ProductId product_;
  const CsvOptions& options_;
  std::size_t pos_ = 0;
  std::size_t line_no_ = 0;
  CsvBars out_;
};

}  // namespace

std::string_view describe(RowDefect defect) {
  switch (defect) {
    case RowDefect::kColumnCount:
      return "wrong number of columns";
    case RowDefect::kNumberSyntax:
      return "not a number";
    case RowDefect::kNotFinite:
      return "value is not finite";
    case RowDefect::kTimestampNotMinute:
      return "ts is not a multiple of 60";
    case RowDefect::kTimestampOutOfRange:
      return "ts outside [1970, 2200)";
    case RowDefect::kPriceNotPositive:
      return "price is not > 0";
    case RowDefect::kVolumeNegative:
      return "volume is negative";
    case RowDefect::kHighBelowLow:
      return "high is below low";
    case RowDefect::kOpenOutsideRange:
      return "open is outside [low, high]";
    case RowDefect::kCloseOutsideRange:
      return "close is outside [low, high]";
    case RowDefect::kTimestampUnsorted:
      return "ts is below the previous row's";
    case RowDefect::kTimestampConflict:
      return "ts repeats the previous row's with different values";
  }
  return "unknown defect";
}

Result<CsvBars> parse_bars_csv(std::string_view text, std::string_view source_name, ProductId product,
                               const CsvOptions& options) {
  return Parser(text, source_name, product, options).run();
}

Result<CsvBars> read_bars_csv(const std::filesystem::path& path, ProductId product, const CsvOptions& options) {
  const std::string name = path.string();
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(name + ": cannot read: " + ec.message());
  if (size > options.limits.file_size_max_bytes) {
    return make_error(name + ": file is " + std::to_string(size) + " bytes, more than the limit of " +
                      std::to_string(options.limits.file_size_max_bytes));
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(name.c_str(), "rb"), &std::fclose);
  if (!file) return make_error(name + ": cannot open: " + std::make_error_code(std::errc(errno)).message());
  std::string text(static_cast<std::size_t>(size), '\0');
  const std::size_t got = std::fread(text.data(), 1, text.size(), file.get());
  if (got != text.size()) return make_error(name + ": short read (" + std::to_string(got) + " bytes)");
  return parse_bars_csv(text, name, product, options);
}

std::string format_bars_csv(std::span<const Bar> bars) {
  std::string out(kHeader);
  out += '\n';
  char buf[64];
  for (const Bar& b : bars) {
    out += std::to_string(b.open_ts_s);
    for (double v : {b.open, b.high, b.low, b.close, b.volume}) {
      const auto r = std::to_chars(buf, buf + sizeof buf, v);
      out += ',';
      out.append(buf, r.ptr);
    }
    out += '\n';
  }
  return out;
}

}  // namespace ta::agent
