// Loading and merging bars for a run. The agent's readers validate every
// row; this file adds what a backtest must refuse on top (repeated rows,
// empty inputs, products named twice) and builds the merged stream.
#include "backtest/data.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <fstream>
#include <optional>
#include <type_traits>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gate/time_units.h"
#include "market/csv.h"
#include "market/feed.h"
#include "market/store.h"

namespace ta::backtest {
namespace {

// The first line of an SQLite 3 database file.
constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};

bool is_sqlite_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<char, 16> head{};
  if (!in.read(head.data(), head.size())) return false;
  return std::string_view(head.data(), head.size()) == kSqliteMagic;
}

// The CSV reader skips rows identical to the previous one (harmless overlap
// when importing); a backtest refuses them. Finds the first such line to
// name it in the message. Returns 0 when none is found.
std::size_t first_repeated_line(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string prev, line;
  std::size_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == prev) return no;
    prev = line;
  }
  return 0;
}

// Decimal::from_double(value, kHalfEven), faster: the product value x 1e8
// in double precision is within a few thousandths of the exact product for
// |value| below 1e7, so when it is more than a quarter away from a half
// (no tie to break) its nearest integer is the same as the long double
// computation's. Anything else takes the exact path.
Result<Decimal> price_of(double value, const char* name) {
  constexpr double kScale = static_cast<double>(Decimal::kScale);
  constexpr double kFastMax = 1e15;  // 1e7 in 1e-8 units, far below 2^53
  const double scaled = value * kScale;
  const double nearest = std::rint(scaled);  // round half to even in the default mode, like nearbyint
  if (std::fabs(nearest) < kFastMax && std::fabs(scaled - nearest) < 0.25) {
    return Decimal::from_units(static_cast<std::int64_t>(nearest));
  }
  auto d = Decimal::from_double(value, Rounding::kHalfEven);
  if (!d) return make_error(std::string("bar ") + name + ": " + d.error().message);
  return d;
}

// A whole file mapped read-only (a view of nothing for an empty file).
// Mapping instead of reading saves copying the bytes and zeroing a buffer
// for them: when the cache is warm, the CSV text is only hashed.
class MappedFile {
 public:
  static Result<MappedFile> open(const std::filesystem::path& path, std::uint64_t size_max) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(path.string() + ": cannot open");
    MappedFile m;
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      problem = ": not a regular file";
    } else if (static_cast<std::uint64_t>(st.st_size) > size_max) {
      problem = ": larger than " + std::to_string(size_max) + " bytes";
    } else if (st.st_size > 0) {
      const auto size = static_cast<std::size_t>(st.st_size);
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        problem = ": cannot map";
      } else {
        m.data_ = static_cast<const char*>(p);
        m.size_ = size;
      }
    }
    ::close(fd);
    if (!problem.empty()) return make_error(path.string() + problem);
    return m;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { unmap(); }
  std::string_view bytes() const { return {data_, size_}; }

 private:
  void unmap() {
    if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// ------------------------------------------------------------ CSV cache

// Header of a cache file; the payload follows: `count` records of the open
// time, the five values as read (doubles) and the same five in the gate's
// fixed point (Decimal units, rounded as to_gate_bar() rounds them), in the
// byte order of the machine that wrote it (the byte-order mark tells). The
// fixed-point values save the dearest step of building market data,
// converting doubles to decimals. A cache file is written only for bars
// that passed every check of make_market_data(), and read only when its
// payload hash matches, so its bars need no second check.
struct CacheHeader {
  char magic[8];            // kCacheMagic
  std::uint64_t byte_order;  // kByteOrderMark as written
  char product[16];         // ProductId text, NUL-padded
  std::uint64_t csv_size;
  std::uint64_t csv_hash;
  std::uint64_t count;
  std::uint64_t payload_hash;
};
struct CacheRecord {
  std::int64_t ts;
  double open, high, low, close, volume;
  std::int64_t open_units, high_units, low_units, close_units, volume_units;
};
static_assert(sizeof(CacheHeader) == 64 && sizeof(CacheRecord) == 88);
static_assert(std::is_trivially_copyable_v<CacheRecord>);
// The records start right after the header in a page-aligned mapping.
static_assert(sizeof(CacheHeader) % alignof(CacheRecord) == 0);
// Version 2 added the fixed-point values (and a new hash); other versions
// are ignored and rewritten.
constexpr char kCacheMagic[8] = {'T', 'A', 'B', 'A', 'R', 'S', '0', '2'};
constexpr std::uint64_t kByteOrderMark = 0x0102030405060708ull;

// A fast 64-bit hash of bytes (not cryptographic: it tells whether a CSV
// file or a cache payload changed, not whether someone forged one). Four
// independent lanes of eight bytes, so their multiplications overlap; the
// lanes, the rest and the tail are folded together at the end.
std::uint64_t hash_bytes(std::string_view bytes) {
  constexpr std::uint64_t kMul = 0xff51afd7ed558ccdull;
  const auto step = [](std::uint64_t h, std::uint64_t w) {
    h = (h ^ w) * kMul;
    return h ^ (h >> 29);
  };
  std::uint64_t lane[4] = {0x9e3779b97f4a7c15ull ^ bytes.size(), 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
                           0x27d4eb2f165667c5ull};
  std::size_t i = 0;
  for (; i + 32 <= bytes.size(); i += 32) {
    std::uint64_t w[4];
    std::memcpy(w, bytes.data() + i, sizeof w);
    for (int k = 0; k < 4; ++k) lane[k] = step(lane[k], w[k]);
  }
  std::uint64_t h = lane[0];
  for (int k = 1; k < 4; ++k) h = step(h, lane[k]);
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = step(h, w);
  }
  std::uint64_t tail = 0;
  // An empty file maps to no bytes at all (data() may be null, which
  // memcpy must not get even for a length of zero).
  if (i < bytes.size()) std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 32);
}

// The bars of one product on their way into MarketData: checked and
// converted vectors, or the records of a mapped cache file.
struct SeriesData {
  agent::ProductId product;
  std::string source;
  std::vector<agent::Bar> bars;
  std::vector<gate::Bar> gate_bars;
  MappedFile cache;                      // keeps `records` valid
  const CacheRecord* records = nullptr;  // from the cache: record_count records
  std::size_t record_count = 0;

  std::size_t count() const { return records != nullptr ? record_count : bars.size(); }
  std::int64_t open_ts_s(std::size_t i) const { return records != nullptr ? records[i].ts : bars[i].open_ts_s; }
};

// What the run reports about a series, by agent::find_gaps' rules on the
// open times alone.
ProductData describe(const SeriesData& s) {
  ProductData d;
  d.product = s.product;
  d.source = s.source;
  d.bars = s.count();
  d.first_open_ts_s = s.open_ts_s(0);
  d.last_open_ts_s = s.open_ts_s(s.count() - 1);
  for (std::size_t i = 1; i < s.count(); ++i) {
    const std::int64_t expected = s.open_ts_s(i - 1) + agent::kBarSeconds;
    const std::int64_t ts = s.open_ts_s(i);
    if (ts == expected) continue;
    ++d.gap_count;
    d.missing_minutes += (ts - expected) / agent::kBarSeconds;
  }
  return d;
}

// Merges checked series, each strictly increasing and of its own product,
// into (open time, product) order - the order of agent::merge_bars - in
// linear time, writing every bar once in both forms.
MarketData assemble(std::vector<SeriesData>& series) {
  MarketData out;
  std::size_t total = 0;
  for (const SeriesData& s : series) {
    total += s.count();
    out.products.push_back(describe(s));
  }
  std::sort(out.products.begin(), out.products.end(),
            [](const ProductData& a, const ProductData& b) { return a.product < b.product; });
  // Series in product order, so the first of equal open times wins ties.
  std::vector<std::size_t> order(series.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return series[a].product < series[b].product; });
  std::vector<std::string> names;
  for (const SeriesData& s : series) names.push_back(s.product.str());
  out.bars.reserve(total);
  out.gate_bars.reserve(total);
  std::vector<std::size_t> next(series.size(), 0);
  while (out.bars.size() < total) {
    std::size_t best = series.size();
    std::int64_t best_ts = 0;
    for (std::size_t k : order) {
      if (next[k] == series[k].count()) continue;
      const std::int64_t ts = series[k].open_ts_s(next[k]);
      if (best == series.size() || ts < best_ts) {
        best = k;
        best_ts = ts;
      }
    }
    SeriesData& s = series[best];
    const std::size_t i = next[best]++;
    if (s.records == nullptr) {
      out.bars.push_back(s.bars[i]);
      out.gate_bars.push_back(std::move(s.gate_bars[i]));
      continue;
    }
    const CacheRecord& r = s.records[i];
    agent::Bar& b = out.bars.emplace_back();
    b.product = s.product;
    b.open_ts_s = r.ts;
    b.open = r.open;
    b.high = r.high;
    b.low = r.low;
    b.close = r.close;
    b.volume = r.volume;
    gate::Bar& g = out.gate_bars.emplace_back();
    g.product = names[best];
    g.open_ts_ns = r.ts * gate::kNanosPerSecond;
    g.open = Decimal::from_units(r.open_units);
    g.high = Decimal::from_units(r.high_units);
    g.low = Decimal::from_units(r.low_units);
    g.close = Decimal::from_units(r.close_units);
    g.volume = Decimal::from_units(r.volume_units);
  }
  return out;
}

// The checks make_market_data() makes on one series.
Status check_series(const std::vector<agent::Bar>& bars, const std::string& source) {
  if (bars.empty()) return make_error(source + ": no bars");
  const agent::ProductId product = bars.front().product;
  if (product.empty()) return make_error(source + ": bars without a product");
  for (std::size_t k = 0; k < bars.size(); ++k) {
    const agent::Bar& b = bars[k];
    if (b.product != product) return make_error(source + ": bars of more than one product");
    if (const agent::BarDefect d = agent::check_bar(b); d != agent::BarDefect::kNone) {
      return make_error(source + ": bar at " + std::to_string(b.open_ts_s) + ": " + std::string(agent::describe(d)));
    }
    if (k > 0 && b.open_ts_s <= bars[k - 1].open_ts_s) {
      return make_error(source + ": bars are not strictly increasing in time at " + std::to_string(b.open_ts_s) +
                        (b.open_ts_s == bars[k - 1].open_ts_s ? " (repeated minute)" : " (unsorted)"));
    }
  }
  return {};
}

// A checked series in the gate's fixed point (to_gate_bar).
Result<std::vector<gate::Bar>> to_gate_bars(const std::vector<agent::Bar>& bars);

std::filesystem::path cache_file(const std::filesystem::path& dir, agent::ProductId product, std::uint64_t hash) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return dir / (product.str() + "-" + hex + ".bars");
}

// Maps the cache file into `s` when it exists and matches the CSV bytes;
// false otherwise (missing, truncated, corrupt, another version).
bool map_cache(const std::filesystem::path& file, std::uint64_t csv_size, std::uint64_t csv_hash, SeriesData& s) {
  const agent::CsvLimits limits;
  auto mapped = MappedFile::open(file, sizeof(CacheHeader) + limits.rows_max * sizeof(CacheRecord));
  if (!mapped) return false;
  const std::string_view bytes = mapped->bytes();
  if (bytes.size() < sizeof(CacheHeader)) return false;
  CacheHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  char name[16] = {};
  std::memcpy(name, s.product.view().data(), s.product.view().size());
  if (std::memcmp(h.magic, kCacheMagic, 8) != 0 || h.byte_order != kByteOrderMark ||
      std::memcmp(h.product, name, 16) != 0 || h.csv_size != csv_size || h.csv_hash != csv_hash ||
      h.count == 0 || h.count > limits.rows_max || bytes.size() != sizeof h + h.count * sizeof(CacheRecord)) {
    return false;
  }
  const std::string_view payload = bytes.substr(sizeof h);
  if (hash_bytes(payload) != h.payload_hash) return false;
  s.records = reinterpret_cast<const CacheRecord*>(payload.data());
  s.record_count = h.count;
  s.cache = std::move(mapped).value();
  return true;
}

Status write_cache(const std::filesystem::path& file, std::uint64_t csv_size, std::uint64_t csv_hash,
                   const SeriesData& s) {
  std::string payload(s.bars.size() * sizeof(CacheRecord), '\0');
  for (std::size_t i = 0; i < s.bars.size(); ++i) {
    const agent::Bar& b = s.bars[i];
    const gate::Bar& g = s.gate_bars[i];
    const CacheRecord r{b.open_ts_s,      b.open,           b.high,          b.low,          b.close,
                        b.volume,         g.open.units(),   g.high.units(),  g.low.units(),  g.close.units(),
                        g.volume.units()};
    std::memcpy(payload.data() + i * sizeof r, &r, sizeof r);
  }
  CacheHeader h{};
  std::memcpy(h.magic, kCacheMagic, 8);
  h.byte_order = kByteOrderMark;
  std::memcpy(h.product, s.product.view().data(), s.product.view().size());
  h.csv_size = csv_size;
  h.csv_hash = csv_hash;
  h.count = s.bars.size();
  h.payload_hash = hash_bytes(payload);
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    out.flush();
    if (!out) return make_error(tmp.string() + ": cannot write the bar cache");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return make_error(file.string() + ": " + ec.message());
  return {};
}

// One CSV source: the cache when it matches the file's bytes, else the
// strict reader, the checks of make_market_data() and the conversion to
// fixed point (and then a new cache file).
Result<SeriesData> read_csv_source(const CsvSource& s, const std::filesystem::path& cache_dir) {
  const std::string name = s.path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(s.path, ec)) {
    return make_error(name + ": no such file (data for " + s.product.str() + ")");
  }
  const agent::CsvLimits limits;
  auto text = MappedFile::open(s.path, limits.file_size_max_bytes);
  if (!text) return text.error();
  SeriesData out;
  out.product = s.product;
  out.source = name;
  const std::string_view bytes = text->bytes();
  const std::uint64_t hash = hash_bytes(bytes);
  const std::filesystem::path cached =
      cache_dir.empty() ? std::filesystem::path() : cache_file(cache_dir, s.product, hash);
  if (!cached.empty() && map_cache(cached, bytes.size(), hash, out)) return out;
  auto csv = agent::parse_bars_csv(bytes, name, s.product);
  if (!csv) return csv.error();
  if (csv->report.duplicates > 0) {
    const std::size_t line = first_repeated_line(s.path);
    return make_error(name + (line > 0 ? ":" + std::to_string(line) + ":1" : std::string()) + ": " +
                      std::to_string(csv->report.duplicates) +
                      " repeated row(s); a backtest refuses duplicated data (remove the repeats)");
  }
  if (csv->bars.empty()) return make_error(name + ": no bars (the file has only a header or nothing)");
  out.bars = std::move(csv).value().bars;
  if (auto st = check_series(out.bars, name); !st) return st.error();
  auto gate_bars = to_gate_bars(out.bars);
  if (!gate_bars) return gate_bars.error();
  out.gate_bars = std::move(gate_bars).value();
  if (!cached.empty()) {
    if (auto st = write_cache(cached, bytes.size(), hash, out); !st) return st.error();
  }
  return out;
}

Result<std::vector<gate::Bar>> to_gate_bars(const std::vector<agent::Bar>& bars) {
  std::vector<gate::Bar> out;
  out.reserve(bars.size());
  for (const agent::Bar& b : bars) {
    auto g = to_gate_bar(b);
    if (!g) {
      return make_error(b.product.str() + " bar at " + agent::format_utc(b.open_ts_s) + ": " + g.error().message);
    }
    out.push_back(std::move(g).value());
  }
  return out;
}

}  // namespace

Result<DataArgument> parse_data_argument(std::string_view text) {
  DataArgument out;
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    if (text.empty()) return make_error("--data needs a file");
    out.is_store = true;
    out.path = std::filesystem::path(std::string(text));
    return out;
  }
  auto product = agent::ProductId::parse(text.substr(0, eq));
  if (!product) return make_error("--data " + std::string(text) + ": " + product.error().message);
  if (eq + 1 == text.size()) return make_error("--data " + std::string(text) + ": no file after '='");
  out.product = *product;
  out.path = std::filesystem::path(std::string(text.substr(eq + 1)));
  return out;
}

Result<gate::Bar> to_gate_bar(const agent::Bar& bar) {
  gate::Bar g;
  g.product = bar.product.str();
  g.open_ts_ns = bar.open_ts_s * gate::kNanosPerSecond;
  const std::pair<double, Price*> fields[] = {{bar.open, &g.open},     {bar.high, &g.high},
                                              {bar.low, &g.low},       {bar.close, &g.close},
                                              {bar.volume, &g.volume}};
  for (const auto& [value, out] : fields) {
    auto d = price_of(value, "field");
    if (!d) return d.error();
    *out = *d;
  }
  if (bar.quote) {
    auto bid = price_of(bar.quote->bid, "bid");
    auto ask = price_of(bar.quote->ask, "ask");
    if (!bid) return bid.error();
    if (!ask) return ask.error();
    g.bid = *bid;
    g.ask = *ask;
  }
  // The checks gate::parse_bar makes, so both paths refuse the same bars.
  if (auto st = gate::check_bar(g); !st) return st.error();
  return g;
}

Result<MarketData> make_market_data(std::vector<std::vector<agent::Bar>> series, std::vector<std::string> sources) {
  if (series.empty()) return make_error("no market data: give at least one --data source");
  if (series.size() > kDataSourcesMax) {
    return make_error("at most " + std::to_string(kDataSourcesMax) + " data sources");
  }
  if (!sources.empty() && sources.size() != series.size()) return make_error("one source name per series");
  std::vector<SeriesData> data;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::string source = sources.empty() ? "series " + std::to_string(i + 1) : sources[i];
    if (auto st = check_series(series[i], source); !st) return st.error();
    const agent::ProductId product = series[i].front().product;
    for (const SeriesData& d : data) {
      if (d.product == product) return make_error("product " + product.str() + " has more than one data source");
    }
    SeriesData& d = data.emplace_back();
    d.product = product;
    d.source = source;
    d.bars = std::move(series[i]);
  }
  for (SeriesData& d : data) {
    auto gate_bars = to_gate_bars(d.bars);
    if (!gate_bars) return gate_bars.error();
    d.gate_bars = std::move(gate_bars).value();
  }
  return assemble(data);
}

Result<MarketData> load_csv_data(std::span<const CsvSource> sources, const std::filesystem::path& cache_dir) {
  if (sources.empty()) return make_error("no market data: give at least one --data PRODUCT=FILE");
  if (sources.size() > kDataSourcesMax) {
    return make_error("at most " + std::to_string(kDataSourcesMax) + " data sources");
  }
  if (!cache_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    if (ec || !std::filesystem::is_directory(cache_dir, ec)) {
      return make_error(cache_dir.string() + ": cannot use as a cache directory");
    }
  }
  std::vector<SeriesData> series;
  for (const CsvSource& s : sources) {
    const std::string name = s.path.string();
    for (const SeriesData& d : series) {
      if (d.product == s.product) {
        return make_error("product " + s.product.str() + " is given twice (" + d.source + " and " + name + ")");
      }
    }
    auto data = read_csv_source(s, cache_dir);
    if (!data) return data.error();
    series.push_back(std::move(data).value());
  }
  return assemble(series);
}

Result<MarketData> load_store_data(const std::filesystem::path& path, std::span<const agent::ProductId> products,
                                   std::int64_t from_ts_s, std::int64_t to_ts_s) {
  const std::string name = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return make_error(name + ": no such file");
  if (!is_sqlite_file(path)) {
    return make_error(name + " is not an SQLite candle store; for a CSV file name its product: --data BTC-USD=" + name);
  }
  auto store = agent::CandleStore::open(path);
  if (!store) return store.error();
  std::vector<agent::ProductId> wanted(products.begin(), products.end());
  if (wanted.empty()) {
    auto all = store->products();
    if (!all) return all.error();
    wanted = *all;
    if (wanted.empty()) return make_error(name + ": the store holds no bars");
  }
  if (wanted.size() > kDataSourcesMax) return make_error("at most " + std::to_string(kDataSourcesMax) + " products");
  std::vector<std::vector<agent::Bar>> series;
  std::vector<std::string> names;
  for (const agent::ProductId& p : wanted) {
    if (std::count(wanted.begin(), wanted.end(), p) > 1) return make_error("product " + p.str() + " is given twice");
    auto bars = store->load(p, from_ts_s, to_ts_s);
    if (!bars) return bars.error();
    if (bars->empty()) return make_error(name + ": no bars of " + p.str() + " in the requested range");
    series.push_back(std::move(bars).value());
    names.push_back(name + " (" + p.str() + ")");
  }
  return make_market_data(std::move(series), std::move(names));
}

Result<std::int64_t> parse_time_s(std::string_view text) {
  const auto bad = [&] {
    return make_error("time '" + std::string(text) +
                      "': expected Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC)");
  };
  if (text.empty()) return bad();
  if (std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    std::int64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || v > agent::kTimestampMax_s) return bad();
    return v;
  }
  const auto number = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > text.size()) return false;
    const auto r = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == text.data() + pos + len;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() < 10 || text[4] != '-' || text[7] != '-' || !number(0, 4, y) || !number(5, 2, mo) ||
      !number(8, 2, d)) {
    return bad();
  }
  if (text.size() > 10) {
    const bool with_seconds = text.size() == 20;
    if ((text.size() != 17 && !with_seconds) || text[10] != 'T' || text[13] != ':' || text.back() != 'Z' ||
        !number(11, 2, h) || !number(14, 2, mi) || (with_seconds && (text[16] != ':' || !number(17, 2, s)))) {
      return bad();
    }
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return bad();
  // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
  const int yy = y - (mo <= 2 ? 1 : 0);
  const int era = yy / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  const std::int64_t ts = days * 86400 + h * 3600 + mi * 60 + s;
  if (ts > agent::kTimestampMax_s) return bad();
  if (agent::format_utc(ts).substr(0, 10) != text.substr(0, 10)) return bad();  // e.g. 2025-02-30
  return ts;
}

}  // namespace ta::backtest
