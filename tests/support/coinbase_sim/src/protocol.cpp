#include "protocol.h"

#include <boost/json.hpp>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

namespace ta::coinbase_sim {
namespace {

namespace json = boost::json;

struct Civil {
  std::int64_t year;
  unsigned month, day;
};

// Howard Hinnant's civil_from_days.
Civil civil_from_days(std::int64_t z) {
  z += 719'468;
  const std::int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const std::int64_t doe = z - era * 146'097;
  const std::int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const auto d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146'097 + doe - 719'468;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0); }

// Date and time parts of a Unix microsecond time.
struct Parts {
  Civil date;
  int hour, minute, second;
  std::int64_t micros;
};

Parts split(std::int64_t time_us) {
  const std::int64_t secs = floor_div(time_us, 1'000'000);
  const std::int64_t days = floor_div(secs, 86'400);
  const std::int64_t sod = secs - days * 86'400;
  return {civil_from_days(days), static_cast<int>(sod / 3'600), static_cast<int>(sod / 60 % 60),
          static_cast<int>(sod % 60), time_us - secs * 1'000'000};
}

bool plain_number(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  std::size_t i = s[0] == '-' ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::int64_t granularity_seconds(std::string_view g) {
  if (g == "ONE_MINUTE") return 60;
  if (g == "FIVE_MINUTE") return 300;
  if (g == "FIFTEEN_MINUTE") return 900;
  if (g == "THIRTY_MINUTE") return 1'800;
  if (g == "ONE_HOUR") return 3'600;
  if (g == "TWO_HOUR") return 7'200;
  if (g == "FOUR_HOUR") return 14'400;
  if (g == "SIX_HOUR") return 21'600;
  if (g == "ONE_DAY") return 86'400;
  return 0;  // UNKNOWN_GRANULARITY and anything else
}

}  // namespace

std::string format_rfc3339(std::int64_t time_us) {
  const Parts p = split(time_us);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%06" PRId64 "000Z", p.date.year,
                p.date.month, p.date.day, p.hour, p.minute, p.second, p.micros);
  return buf;
}

std::int64_t unix_seconds(int year, int month, int day, int hour, int minute, int second) {
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86'400 + hour * 3'600 +
         minute * 60 + second;
}

Result<std::vector<SimCandle>> load_candles_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return make_error(path.string() + ": cannot read");
  std::string line;
  if (!std::getline(in, line)) return make_error(path.string() + ": empty");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line != "ts,open,high,low,close,volume") return make_error(path.string() + ":1: unexpected header");
  std::vector<SimCandle> out;
  std::size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    const auto ts = f.size() == 6 ? parse_int(f[0]) : std::nullopt;
    if (!ts || !plain_number(f[1]) || !plain_number(f[2]) || !plain_number(f[3]) || !plain_number(f[4]) ||
        !plain_number(f[5])) {
      return make_error(path.string() + ":" + std::to_string(line_no) + ": bad row");
    }
    if (!out.empty() && *ts <= out.back().start_s) {
      return make_error(path.string() + ":" + std::to_string(line_no) + ": not ascending");
    }
    out.push_back(SimCandle{*ts, f[1], f[2], f[3], f[4], f[5]});
  }
  return out;
}

namespace detail {

std::string error_body(std::string_view error, int code, std::string_view message) {
  json::object o;
  o["error"] = json::string_view(error.data(), error.size());
  o["code"] = code;
  o["message"] = json::string_view(message.data(), message.size());
  o["error_details"] = json::string_view(message.data(), message.size());
  o["details"] = json::array();
  return json::serialize(o);
}

HttpReply candles_reply(std::string_view product, const std::vector<SimCandle>* candles, std::string_view query) {
  HttpReply r;
  const auto invalid = [&](std::string_view message) {
    r.status = 400;
    r.body = error_body("INVALID_ARGUMENT", 3, message);
    return r;
  };
  std::optional<std::string> start_text, end_text, granularity, limit_text;
  // Plain key=value pairs: every value we accept is digits or an enum
  // name, so percent-encoded text is simply not a valid value.
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (key == "start") start_text = value;
    if (key == "end") end_text = value;
    if (key == "granularity") granularity = value;
    if (key == "limit") limit_text = value;
  }
  const auto start = start_text ? parse_int(*start_text) : std::nullopt;
  const auto end = end_text ? parse_int(*end_text) : std::nullopt;
  if (!start || !end) return invalid("start and end argument is invalid - start and end are required unix seconds");
  const std::int64_t g = granularity ? granularity_seconds(*granularity) : 0;
  if (g == 0) return invalid("granularity argument is invalid");
  if (g != 60) return invalid("granularity argument is invalid - the simulator serves ONE_MINUTE only");
  if (*end < *start) return invalid("start and end argument is invalid - end is before start");
  std::int64_t limit = kCandlesPerRequestMax;
  if (limit_text) {
    const auto l = parse_int(*limit_text);
    if (!l || *l < 1 || *l > kCandlesPerRequestMax) {
      return invalid("limit argument is invalid - limit should be between 1 and 350");
    }
    limit = *l;
  }
  const std::int64_t buckets = (*end - *start + g - 1) / g;
  if (buckets > limit) {
    r.too_many_candles = true;
    return invalid("start and end argument is invalid - number of candles requested should be less than or equal to " +
                   std::to_string(limit));
  }
  if (candles == nullptr) {
    r.status = 404;
    r.body = error_body("NOT_FOUND", 5, "ProductID " + std::string(product) + " not found");
    return r;
  }
  json::array rows;
  for (auto it = candles->rbegin(); it != candles->rend(); ++it) {
    if (it->start_s >= *end || it->start_s < *start) continue;
    json::object c;
    c["start"] = std::to_string(it->start_s);
    c["low"] = it->low;
    c["high"] = it->high;
    c["open"] = it->open;
    c["close"] = it->close;
    c["volume"] = it->volume;
    rows.push_back(std::move(c));
  }
  r.rows = rows.size();
  json::object body;
  body["candles"] = std::move(rows);
  r.body = json::serialize(body);
  return r;
}

std::string time_reply(std::int64_t time_us) {
  json::object o;
  o["iso"] = format_rfc3339(time_us);
  o["epochSeconds"] = std::to_string(floor_div(time_us, 1'000'000));
  o["epochMillis"] = std::to_string(floor_div(time_us, 1'000));
  return json::serialize(o);
}

std::string format_go_time(std::int64_t time_us) {
  const Parts p = split(time_us);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d.%06" PRId64 "000 +0000 UTC m=+%" PRId64 ".%06" PRId64,
                p.date.year, p.date.month, p.date.day, p.hour, p.minute, p.second, p.micros,
                floor_div(time_us, 1'000'000) % 100'000, p.micros);
  return buf;
}

std::string envelope(std::string_view channel, std::int64_t time_us, std::uint64_t sequence_num,
                     std::string_view events_json) {
  std::string out = R"({"channel":")";
  out += channel;
  out += R"(","client_id":"","timestamp":")";
  out += format_rfc3339(time_us);
  out += R"(","sequence_num":)";
  out += std::to_string(sequence_num);
  out += R"(,"events":)";
  out += events_json;
  out += "}";
  return out;
}

std::string error_message(std::string_view message) {
  json::object o;
  o["type"] = "error";
  o["message"] = json::string_view(message.data(), message.size());
  return json::serialize(o);
}

std::string trades_events(std::string_view type, const std::vector<SimTrade>& newest_first) {
  json::array trades;
  for (const SimTrade& t : newest_first) {
    json::object o;
    o["trade_id"] = std::to_string(t.trade_id);
    o["product_id"] = t.product;
    o["price"] = t.price;
    o["size"] = t.size;
    o["side"] = t.maker_buy ? "BUY" : "SELL";
    o["time"] = format_rfc3339(t.time_us);
    trades.push_back(std::move(o));
  }
  json::object event;
  event["type"] = json::string_view(type.data(), type.size());
  event["trades"] = std::move(trades);
  return json::serialize(json::array{std::move(event)});
}

std::string ticker_events(std::string_view type, const std::vector<std::pair<std::string, TickerState>>& tickers) {
  json::array list;
  for (const auto& [product, t] : tickers) {
    json::object o;
    o["type"] = "ticker";
    o["product_id"] = product;
    o["price"] = t.price;
    o["volume_24_h"] = "0";
    o["low_24_h"] = t.price;
    o["high_24_h"] = t.price;
    o["low_52_w"] = t.price;
    o["high_52_w"] = t.price;
    o["price_percent_chg_24_h"] = "0";
    o["best_bid"] = t.best_bid;
    o["best_bid_quantity"] = "1";
    o["best_ask"] = t.best_ask;
    o["best_ask_quantity"] = "1";
    list.push_back(std::move(o));
  }
  json::object event;
  event["type"] = json::string_view(type.data(), type.size());
  event["tickers"] = std::move(list);
  return json::serialize(json::array{std::move(event)});
}

std::string heartbeat_events(std::int64_t time_us, std::uint64_t counter, bool counter_as_string) {
  json::object event;
  event["current_time"] = format_go_time(time_us);
  if (counter_as_string) {
    event["heartbeat_counter"] = std::to_string(counter);
  } else {
    event["heartbeat_counter"] = counter;
  }
  return json::serialize(json::array{std::move(event)});
}

std::string subscriptions_events(const std::map<std::string, std::vector<std::string>>& subscriptions) {
  json::object subs;
  for (const auto& [channel, ids] : subscriptions) {
    json::array list;
    for (const std::string& id : ids) list.emplace_back(id);
    subs[channel] = std::move(list);
  }
  json::object event;
  event["subscriptions"] = std::move(subs);
  return json::serialize(json::array{std::move(event)});
}

std::string cents_text(std::int64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%02" PRId64, cents / 100, cents % 100);
  return buf;
}

std::string units8_text(std::int64_t units) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%08" PRId64, units / 100'000'000, units % 100'000'000);
  return buf;
}

}  // namespace detail
}  // namespace ta::coinbase_sim
