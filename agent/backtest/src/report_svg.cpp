// equity.svg, written by hand: the return of the account and of each book
// over time (top), their drawdown from the running peak (bottom), and trade
// markers on each book's line (green triangle up: a trade opened; red
// triangle down: it closed). Long runs are reduced to kSvgBucketsMax
// buckets per series, keeping each bucket's lowest and highest point, so
// no spike disappears.
#include <algorithm>
#include <cmath>

#include "backtest/report.h"
#include "format.h"

namespace ta::backtest {
namespace {

constexpr double kWidth = 1120;
constexpr double kHeight = 660;
constexpr double kLeft = 70;
constexpr double kRight = 830;  // the legend sits right of this
constexpr double kTop1 = 50, kBottom1 = 390;   // return panel
constexpr double kTop2 = 440, kBottom2 = 610;  // drawdown panel
// Markers per book; beyond it every k-th trade is drawn, smaller, so the
// lines (drawn over the markers) stay readable.
constexpr std::size_t kMarkersMax = 150;

constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
                                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"};

std::string n1(double v) { return fmt::fixed(v, 1); }

struct Series {
  std::string name;
  std::string color;
  std::vector<double> ret;  // per step, in percent
  std::vector<double> dd;   // per step, percent below the running peak (<= 0)
  const BookResult* book = nullptr;
};

Series make_series(std::string name, std::string color, const std::vector<std::int64_t>& eq, std::int64_t start) {
  Series s;
  s.name = std::move(name);
  s.color = std::move(color);
  std::int64_t peak = start;
  for (std::int64_t e : eq) {
    peak = std::max(peak, e);
    s.ret.push_back(start == 0 ? 0.0 : (static_cast<double>(e) / static_cast<double>(start) - 1.0) * 100.0);
    s.dd.push_back(peak <= 0 ? 0.0 : -(static_cast<double>(peak - e) / static_cast<double>(peak)) * 100.0);
  }
  return s;
}

struct Axis {
  double t0, t1;  // seconds
  double v0, v1;  // values
  double top, bottom;
  double x(double t) const { return t1 <= t0 ? kLeft : kLeft + (t - t0) / (t1 - t0) * (kRight - kLeft); }
  double y(double v) const { return v1 <= v0 ? bottom : bottom - (v - v0) / (v1 - v0) * (bottom - top); }
};

// The polyline of one series, min and max of each bucket in time order.
std::string polyline(const std::vector<double>& values, const std::vector<std::int64_t>& times, const Axis& a,
                     const std::string& color, double width) {
  std::string pts;
  const std::size_t n = values.size();
  const std::size_t buckets = std::min(n, kSvgBucketsMax);
  for (std::size_t b = 0; b < buckets; ++b) {
    const std::size_t lo = b * n / buckets;
    const std::size_t hi = (b + 1) * n / buckets;
    std::size_t imin = lo, imax = lo;
    for (std::size_t i = lo; i < hi; ++i) {
      if (values[i] < values[imin]) imin = i;
      if (values[i] > values[imax]) imax = i;
    }
    const std::size_t first = std::min(imin, imax), second = std::max(imin, imax);
    pts += n1(a.x(static_cast<double>(times[first]))) + "," + n1(a.y(values[first])) + " ";
    if (second != first) pts += n1(a.x(static_cast<double>(times[second]))) + "," + n1(a.y(values[second])) + " ";
  }
  if (!pts.empty()) pts.pop_back();
  return "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"" + n1(width) + "\" points=\"" + pts +
         "\"/>\n";
}

// A "nice" tick spacing (1, 2 or 5 times a power of ten) giving at most
// `ticks` intervals over `span`.
double nice_step(double span, int ticks) {
  const double raw = span / ticks;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= raw) return m * p;
  }
  return 10.0 * p;
}

void grid(std::string& out, const Axis& a, const char* unit, int ticks) {
  const double step = nice_step(a.v1 - a.v0, ticks);
  const int digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  for (double v = std::ceil(a.v0 / step) * step; v <= a.v1 + step * 1e-9; v += step) {
    const double y = a.y(v);
    out += "<line x1=\"" + n1(kLeft) + "\" y1=\"" + n1(y) + "\" x2=\"" + n1(kRight) + "\" y2=\"" + n1(y) +
           "\" stroke=\"#e6e6e6\"/>\n";
    out += "<text x=\"" + n1(kLeft - 6) + "\" y=\"" + n1(y + 4) + "\" text-anchor=\"end\">" + fmt::fixed(v, digits) +
           unit + "</text>\n";
  }
  out += "<rect x=\"" + n1(kLeft) + "\" y=\"" + n1(a.top) + "\" width=\"" + n1(kRight - kLeft) + "\" height=\"" +
         n1(a.bottom - a.top) + "\" fill=\"none\" stroke=\"#999999\"/>\n";
}

std::string marker(double x, double y, bool up, const std::string& color, double s = 4.5) {
  const std::string pts = up ? n1(x) + "," + n1(y - s) + " " + n1(x - s) + "," + n1(y + s) + " " + n1(x + s) + "," +
                                   n1(y + s)
                             : n1(x) + "," + n1(y + s) + " " + n1(x - s) + "," + n1(y - s) + " " + n1(x + s) + "," +
                                   n1(y - s);
  return "<polygon points=\"" + pts + "\" fill=\"" + color + "\" fill-opacity=\"0.8\"/>\n";
}

// The step whose sample shows the state after time ts_s.
std::size_t step_at(const std::vector<std::int64_t>& closes, std::int64_t ts_s) {
  const auto it = std::lower_bound(closes.begin(), closes.end(), ts_s);
  return it == closes.end() ? closes.size() - 1 : static_cast<std::size_t>(it - closes.begin());
}

}  // namespace

std::string render_svg(const Report& rep, const BacktestResult& result) {
  std::vector<std::int64_t> closes;
  for (std::int64_t t : result.step_open_ts_s) closes.push_back(t + agent::kBarSeconds);
  std::vector<Series> series;
  if (result.books.size() > 1) {
    std::vector<std::int64_t> account(closes.size(), 0);
    std::int64_t start = 0;
    for (const BookResult& b : result.books) {
      start += b.capital.units();
      for (std::size_t i = 0; i < account.size() && i < b.equity_units.size(); ++i) account[i] += b.equity_units[i];
    }
    series.push_back(make_series("account", "#000000", account, start));
  }
  for (std::size_t k = 0; k < result.books.size(); ++k) {
    const BookResult& b = result.books[k];
    Series s = make_series(b.name, kColors[k % std::size(kColors)], b.equity_units, b.capital.units());
    s.book = &b;
    series.push_back(std::move(s));
  }

  double r_lo = 0, r_hi = 0, d_lo = 0;
  for (const Series& s : series) {
    for (double v : s.ret) r_lo = std::min(r_lo, v), r_hi = std::max(r_hi, v);
    for (double v : s.dd) d_lo = std::min(d_lo, v);
  }
  const double pad = std::max((r_hi - r_lo) * 0.05, 0.05);
  const double t0 = closes.empty() ? 0 : static_cast<double>(result.step_open_ts_s.front());
  const double t1 = closes.empty() ? 1 : static_cast<double>(closes.back());
  const Axis ret{t0, t1, r_lo - pad, r_hi + pad, kTop1, kBottom1};
  const Axis dd{t0, t1, std::min(d_lo * 1.05, -0.05), 0.0, kTop2, kBottom2};

  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + n1(kWidth) + "\" height=\"" + n1(kHeight) +
         "\" viewBox=\"0 0 " + n1(kWidth) + " " + n1(kHeight) +
         "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\">\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  out += "<text x=\"" + n1(kLeft) + "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Backtest: return and drawdown (" +
         (rep.first_open_ts_s > 0 ? agent::format_utc(rep.first_open_ts_s) : std::string("-")) + " .. " +
         (rep.last_close_ts_s > 0 ? agent::format_utc(rep.last_close_ts_s) : std::string("-")) + ")</text>\n";
  out += "<text x=\"" + n1(kLeft) + "\" y=\"" + n1(kTop1 - 8) + "\">return on starting equity (%)</text>\n";
  out += "<text x=\"" + n1(kLeft) + "\" y=\"" + n1(kTop2 - 8) + "\">drawdown from the running peak (%)</text>\n";
  grid(out, ret, "%", 8);
  grid(out, dd, "%", 4);
  // Zero return line.
  out += "<line x1=\"" + n1(kLeft) + "\" y1=\"" + n1(ret.y(0)) + "\" x2=\"" + n1(kRight) + "\" y2=\"" + n1(ret.y(0)) +
         "\" stroke=\"#888888\" stroke-dasharray=\"4,3\"/>\n";
  // Time ticks on whole hours or days, at most kTimeTicks of them.
  constexpr std::int64_t kTimeTicks = 8;
  constexpr std::int64_t kSteps_s[] = {3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
                                       7 * 86400, 14 * 86400, 28 * 86400, 91 * 86400, 182 * 86400, 364 * 86400};
  const std::int64_t first_s = static_cast<std::int64_t>(t0), last_s = static_cast<std::int64_t>(t1);
  std::int64_t tick_s = kSteps_s[std::size(kSteps_s) - 1];
  for (std::int64_t st : kSteps_s) {
    if ((last_s - first_s) / st <= kTimeTicks) {
      tick_s = st;
      break;
    }
  }
  for (std::int64_t ts = (first_s + tick_s - 1) / tick_s * tick_s; ts <= last_s && !closes.empty(); ts += tick_s) {
    const double x = ret.x(static_cast<double>(ts));
    const std::string utc = agent::format_utc(ts);
    const std::string label = tick_s % 86400 == 0 ? utc.substr(0, 10) : utc.substr(5, 5) + " " + utc.substr(11, 5);
    out += "<line x1=\"" + n1(x) + "\" y1=\"" + n1(kBottom2) + "\" x2=\"" + n1(x) + "\" y2=\"" + n1(kBottom2 + 5) +
           "\" stroke=\"#999999\"/>\n";
    out += "<text x=\"" + n1(x) + "\" y=\"" + n1(kBottom2 + 18) + "\" text-anchor=\"middle\">" + label + "</text>\n";
  }
  out += "<text x=\"" + n1(kRight) + "\" y=\"" + n1(kBottom2 + 36) + "\" text-anchor=\"end\">time (UTC)</text>\n";

  // Trade markers on each book's line.
  for (const Series& s : series) {
    if (s.book == nullptr || s.ret.empty()) continue;
    const auto& trades = s.book->trades;
    const std::size_t every = trades.size() / kMarkersMax + 1;
    const double size = trades.size() <= kMarkersMax / 3 ? 4.5 : 3.0;
    for (std::size_t i = 0; i < trades.size(); i += every) {
      const TradeRecord& t = trades[i];
      const std::int64_t open_s = t.open_ts_ns / 1'000'000'000;
      const std::size_t a = step_at(closes, open_s);
      out += marker(ret.x(static_cast<double>(open_s)), ret.y(s.ret[a]), true, "#2ca02c", size);
      if (t.closed) {
        const std::int64_t close_s = t.close_ts_ns / 1'000'000'000;
        const std::size_t b = step_at(closes, close_s);
        out += marker(ret.x(static_cast<double>(close_s)), ret.y(s.ret[b]), false, "#d62728", size);
      }
    }
  }
  for (const Series& s : series) {
    if (s.ret.empty()) continue;
    const double width = s.book == nullptr ? 2.0 : 1.2;
    out += polyline(s.ret, closes, ret, s.color, width);
    out += polyline(s.dd, closes, dd, s.color, width);
  }
  // Legend.
  double ly = kTop1 + 10;
  for (const Series& s : series) {
    out += "<line x1=\"" + n1(kRight + 15) + "\" y1=\"" + n1(ly) + "\" x2=\"" + n1(kRight + 40) + "\" y2=\"" + n1(ly) +
           "\" stroke=\"" + s.color + "\" stroke-width=\"2\"/>\n";
    const double final_ret = s.ret.empty() ? 0 : s.ret.back();
    out += "<text x=\"" + n1(kRight + 46) + "\" y=\"" + n1(ly + 4) + "\">" + s.name + " " + fmt::fixed(final_ret, 2) +
           "%</text>\n";
    ly += 18;
  }
  out += marker(kRight + 27, ly + 4, true, "#2ca02c");
  out += "<text x=\"" + n1(kRight + 46) + "\" y=\"" + n1(ly + 8) + "\">trade opened</text>\n";
  ly += 18;
  out += marker(kRight + 27, ly + 4, false, "#d62728");
  out += "<text x=\"" + n1(kRight + 46) + "\" y=\"" + n1(ly + 8) + "\">trade closed</text>\n";
  out += "</svg>\n";
  return out;
}

}  // namespace ta::backtest
