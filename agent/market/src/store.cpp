#include "market/store.h"

#include <sqlite3.h>

#include <memory>
#include <string>

namespace ta::agent {
namespace {

// Another process (the daemon) may hold the write lock briefly; wait this
// long before failing with "database is locked".
constexpr int kBusyTimeout_ms = 5'000;

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ta_schema (
  component TEXT PRIMARY KEY,
  version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS candles (
  product TEXT NOT NULL,
  ts INTEGER NOT NULL,
  open REAL NOT NULL,
  high REAL NOT NULL,
  low REAL NOT NULL,
  close REAL NOT NULL,
  volume REAL NOT NULL,
  PRIMARY KEY (product, ts)
) WITHOUT ROWID;
INSERT OR IGNORE INTO ta_schema (component, version) VALUES ('candles', 1);
)sql";

}  // namespace

struct CandleStore::Impl {
  sqlite3* db = nullptr;
  std::string path;

  ~Impl() {
    if (db != nullptr) sqlite3_close_v2(db);
  }

  Error error(const std::string& what) const {
    return make_error(path + ": " + what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
  }

  Status exec(const char* sql, const char* what) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) == SQLITE_OK) return {};
    std::string text = msg != nullptr ? msg : sqlite3_errmsg(db);
    sqlite3_free(msg);
    return make_error(path + ": " + what + ": " + text);
  }

  Result<Stmt> prepare(const char* sql) const {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
      return error("prepare");
    }
    return Stmt(raw);
  }
};

namespace {

void bind_product(sqlite3_stmt* s, int index, const ProductId& product) {
  const std::string_view text = product.view();
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

Bar read_bar(sqlite3_stmt* s, ProductId product, int first_column) {
  Bar bar;
  bar.product = product;
  bar.open_ts_s = sqlite3_column_int64(s, first_column);
  bar.open = sqlite3_column_double(s, first_column + 1);
  bar.high = sqlite3_column_double(s, first_column + 2);
  bar.low = sqlite3_column_double(s, first_column + 3);
  bar.close = sqlite3_column_double(s, first_column + 4);
  bar.volume = sqlite3_column_double(s, first_column + 5);
  return bar;
}

std::string where(const Bar& bar) {
  return bar.product.str() + " ts=" + std::to_string(bar.open_ts_s) + " (" + format_utc(bar.open_ts_s) + ")";
}

}  // namespace

CandleStore::CandleStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CandleStore::CandleStore(CandleStore&&) noexcept = default;
CandleStore& CandleStore::operator=(CandleStore&&) noexcept = default;
CandleStore::~CandleStore() = default;

Result<CandleStore> CandleStore::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path.string();
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(impl->path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK) {
    return impl->error("cannot open database");
  }
  sqlite3_busy_timeout(impl->db, kBusyTimeout_ms);
  sqlite3_extended_result_codes(impl->db, 1);
  {
    auto stmt = impl->prepare("PRAGMA journal_mode=WAL");
    if (!stmt) return stmt.error();
    if (sqlite3_step(stmt->get()) != SQLITE_ROW) return impl->error("cannot switch to WAL");
    const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 0));
    if (mode == nullptr || std::string_view(mode) != "wal") {
      return make_error(impl->path + ": journal mode is " + (mode ? mode : "unknown") + ", WAL required");
    }
  }
  // With WAL, NORMAL loses at most the last transactions on power failure,
  // never consistency; bars can always be imported again.
  if (auto s = impl->exec("PRAGMA synchronous=NORMAL", "set synchronous"); !s) return s.error();
  if (auto s = impl->exec("BEGIN IMMEDIATE", "begin"); !s) return s.error();
  if (auto s = impl->exec(kSchema, "create schema"); !s) {
    (void)impl->exec("ROLLBACK", "rollback");
    return s.error();
  }
  if (auto s = impl->exec("COMMIT", "commit"); !s) return s.error();
  auto stmt = impl->prepare("SELECT version FROM ta_schema WHERE component = 'candles'");
  if (!stmt) return stmt.error();
  if (sqlite3_step(stmt->get()) != SQLITE_ROW) return impl->error("read schema version");
  const std::int64_t version = sqlite3_column_int64(stmt->get(), 0);
  if (version != kSchemaVersion) {
    return make_error(impl->path + ": candles schema version " + std::to_string(version) + ", expected " +
                      std::to_string(kSchemaVersion));
  }
  return CandleStore(std::move(impl));
}

Result<ImportReport> CandleStore::insert(std::span<const Bar> bars) {
  for (std::size_t i = 0; i < bars.size(); ++i) {
    if (bars[i].product.empty()) return make_error("bar " + std::to_string(i) + " has no product id");
    if (const BarDefect d = check_bar(bars[i]); d != BarDefect::kNone) {
      return make_error("bar " + where(bars[i]) + ": " + std::string(describe(d)));
    }
  }
  Impl& db = *impl_;
  auto ins = db.prepare(
      "INSERT INTO candles (product, ts, open, high, low, close, volume) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
      "ON CONFLICT (product, ts) DO NOTHING");
  if (!ins) return ins.error();
  auto sel = db.prepare("SELECT ts, open, high, low, close, volume FROM candles WHERE product = ?1 AND ts = ?2");
  if (!sel) return sel.error();
  if (auto s = db.exec("BEGIN IMMEDIATE", "begin import"); !s) return s.error();

  ImportReport report;
  const auto fail = [&](const std::string& what) -> Result<ImportReport> {
    Error e = db.error(what);
    (void)db.exec("ROLLBACK", "rollback");
    return e;
  };
  for (const Bar& bar : bars) {
    sqlite3_stmt* s = ins->get();
    sqlite3_reset(s);
    bind_product(s, 1, bar.product);
    sqlite3_bind_int64(s, 2, bar.open_ts_s);
    sqlite3_bind_double(s, 3, bar.open);
    sqlite3_bind_double(s, 4, bar.high);
    sqlite3_bind_double(s, 5, bar.low);
    sqlite3_bind_double(s, 6, bar.close);
    sqlite3_bind_double(s, 7, bar.volume);
    if (sqlite3_step(s) != SQLITE_DONE) return fail("insert " + where(bar));
    if (sqlite3_changes(db.db) == 1) {
      ++report.rows_inserted;
      continue;
    }
    sqlite3_stmt* q = sel->get();
    sqlite3_reset(q);
    bind_product(q, 1, bar.product);
    sqlite3_bind_int64(q, 2, bar.open_ts_s);
    if (sqlite3_step(q) != SQLITE_ROW) return fail("read back " + where(bar));
    const Bar stored = read_bar(q, bar.product, 0);
    if (stored == bar) {
      ++report.rows_already_present;
      continue;
    }
    ++report.conflict_count;
    if (report.conflicts.size() < ImportReport::kConflictsListedMax) {
      report.conflicts.push_back(ImportConflict{stored, bar});
    }
  }
  if (report.conflict_count > 0) {
    if (auto s = db.exec("ROLLBACK", "rollback import"); !s) return s.error();
    report.rows_inserted = 0;
    report.committed = false;
    return report;
  }
  if (auto s = db.exec("COMMIT", "commit import"); !s) {
    (void)db.exec("ROLLBACK", "rollback");
    return s.error();
  }
  report.committed = true;
  return report;
}

Result<std::vector<Bar>> CandleStore::load(ProductId product, std::int64_t from_ts_s, std::int64_t to_ts_s,
                                           std::size_t rows_max) const {
  auto sel = impl_->prepare(
      "SELECT ts, open, high, low, close, volume FROM candles WHERE product = ?1 AND ts >= ?2 AND ts < ?3 "
      "ORDER BY ts");
  if (!sel) return sel.error();
  sqlite3_stmt* s = sel->get();
  bind_product(s, 1, product);
  sqlite3_bind_int64(s, 2, from_ts_s);
  sqlite3_bind_int64(s, 3, to_ts_s);
  std::vector<Bar> bars;
  for (;;) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return impl_->error("load " + product.str());
    if (bars.size() == rows_max) {
      return make_error(impl_->path + ": more than " + std::to_string(rows_max) + " bars of " + product.str() +
                        " in the requested range");
    }
    bars.push_back(read_bar(s, product, 0));
    // The file may have been edited by hand: never trust it blindly.
    if (const BarDefect d = check_bar(bars.back()); d != BarDefect::kNone) {
      return make_error(impl_->path + ": stored bar " + where(bars.back()) + ": " + std::string(describe(d)));
    }
  }
  return bars;
}

Result<std::uint64_t> CandleStore::count(ProductId product) const {
  auto sel = impl_->prepare("SELECT COUNT(*) FROM candles WHERE product = ?1");
  if (!sel) return sel.error();
  bind_product(sel->get(), 1, product);
  if (sqlite3_step(sel->get()) != SQLITE_ROW) return impl_->error("count " + product.str());
  return static_cast<std::uint64_t>(sqlite3_column_int64(sel->get(), 0));
}

Result<std::vector<ProductId>> CandleStore::products() const {
  auto sel = impl_->prepare("SELECT DISTINCT product FROM candles ORDER BY product");
  if (!sel) return sel.error();
  std::vector<ProductId> out;
  for (;;) {
    const int rc = sqlite3_step(sel->get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return impl_->error("list products");
    if (out.size() == kProductsMax) {
      return make_error(impl_->path + ": more than " + std::to_string(kProductsMax) + " products");
    }
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(sel->get(), 0));
    auto id = ProductId::parse(text != nullptr ? text : "");
    if (!id) return make_error(impl_->path + ": stored " + id.error().message);
    out.push_back(*id);
  }
  return out;
}

Result<CsvImportReport> import_csv(CandleStore& store, const std::filesystem::path& file, ProductId product,
                                   const CsvOptions& options) {
  auto csv = read_bars_csv(file, product, options);
  if (!csv) return csv.error();
  CsvBars& data = csv.value();
  CsvImportReport report;
  report.csv = std::move(data.report);
  auto stored = store.insert(data.bars);
  if (!stored) return stored.error();
  report.store = std::move(stored.value());
  report.gaps = find_gaps(data.bars);
  return report;
}

}  // namespace ta::agent
