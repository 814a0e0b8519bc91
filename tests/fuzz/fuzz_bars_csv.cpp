// Fuzzes the bar CSV parser under both bad-row policies. Nothing may crash;
// accepted bars must satisfy every invariant; the counters must add up; and
// accepted bars must survive a format/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "market/csv.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ta::agent;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ProductId product = ProductId::parse("BTC-USD").value();
  for (BadRowPolicy policy : {BadRowPolicy::kStrict, BadRowPolicy::kSkip}) {
    CsvOptions options;
    options.policy = policy;
    options.limits.rows_max = 10'000;
    auto r = parse_bars_csv(text, "fuzz.csv", product, options);
    if (!r.ok()) {
      check(!r.error().message.empty());
      continue;
    }
    const CsvBars& out = r.value();
    check(out.report.rows_read == out.report.rows_accepted + out.report.rows_skipped + out.report.duplicates);
    check(out.bars.size() == out.report.rows_accepted);
    for (std::size_t i = 0; i < out.bars.size(); ++i) {
      check(check_bar(out.bars[i]) == BarDefect::kNone);
      check(out.bars[i].product == product);
      if (i > 0) check(out.bars[i - 1].open_ts_s < out.bars[i].open_ts_s);
    }
    auto again = parse_bars_csv(format_bars_csv(out.bars), "again.csv", product);
    check(again.ok());
    check(again.value().bars == out.bars);
  }
  return 0;
}
