#include "indicators/rolling.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ta::agent::ind {
namespace {

// Exact recomputation at least this rarely: for short windows the O(period)
// pass is then negligible (period / 1024 extra operations per update), for
// long windows it happens once per window length (one extra per update).
constexpr std::size_t kRecomputeIntervalMin = 1024;

// An M2 below this fraction of its peak since the last recomputation has
// lost about three digits to cancellation: recompute early.
constexpr double kCollapseRatio = 1e-3;

void check_period(std::size_t period) {
  if (period < 1) throw std::invalid_argument("rolling window: period must be >= 1");
}

}  // namespace

// ---- RollingMoments -------------------------------------------------------

RollingMoments::RollingMoments(std::size_t period)
    : period_(period), recompute_interval_(std::max(period, kRecomputeIntervalMin)) {
  check_period(period);
  ring_.assign(period, 0.0);
}

void RollingMoments::reset() {
  head_ = 0;
  count_ = 0;
  shift_ = 0;
  mean_ = 0;
  m2_ = 0;
  m2_peak_ = 0;
  since_recompute_ = 0;
  equal_run_ = 0;
  last_ = 0;
}

void RollingMoments::push(double x) {
  equal_run_ = (count_ > 0 && x == last_) ? equal_run_ + 1 : 1;
  last_ = x;
  if (count_ == 0) shift_ = x;
  // Work on x - shift: for prices within a factor of two of the shift the
  // subtraction is exact (Sterbenz), and the running mean is then a small
  // number whose rounding error is tiny compared with one at 100,000.
  const double xs = x - shift_;
  if (count_ < period_) {
    // Welford's insertion.
    ring_[head_] = x;
    head_ = head_ + 1 == period_ ? 0 : head_ + 1;
    ++count_;
    const double d = xs - mean_;
    mean_ += d / static_cast<double>(count_);
    m2_ += d * (xs - mean_);
    return;
  }
  // Replacement of the oldest value x_out by x in a full window:
  //   mean' = mean + (x - x_out) / n
  //   M2'   = M2 + (x - x_out) * (x - mean' + x_out - mean)
  const double outs = ring_[head_] - shift_;
  ring_[head_] = x;
  head_ = head_ + 1 == period_ ? 0 : head_ + 1;
  const double n = static_cast<double>(period_);
  const double d = xs - outs;
  const double old_mean = mean_;
  mean_ += d / n;
  m2_ += d * (xs - mean_ + outs - old_mean);
  if (m2_ < 0) m2_ = 0;  // rounding can push a near-zero M2 below zero
  m2_peak_ = std::max(m2_peak_, m2_);
  // Recompute on schedule, or early when M2 has collapsed (a jump left the
  // window): its absolute error is still that of the large M2, which would
  // now be a large relative error. At most once per window length, so
  // still amortized O(1).
  ++since_recompute_;
  if (since_recompute_ >= recompute_interval_ ||
      (since_recompute_ >= period_ && m2_ < m2_peak_ * kCollapseRatio)) {
    recompute();
  }
}

void RollingMoments::recompute() {
  // Two passes from the stored values, re-centred on the newest value so
  // the shifted numbers stay small as prices drift.
  since_recompute_ = 0;
  shift_ = last_;
  double sum = 0;
  for (std::size_t i = 0; i < count_; ++i) sum += ring_[i] - shift_;
  mean_ = sum / static_cast<double>(count_);
  double m2 = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    const double d = ring_[i] - shift_ - mean_;
    m2 += d * d;
  }
  m2_ = m2;
  m2_peak_ = m2;
}

double RollingMoments::mean() const { return equal_run_ >= count_ ? last_ : shift_ + mean_; }

double RollingMoments::m2() const { return equal_run_ >= count_ ? 0.0 : m2_; }

double RollingMoments::variance_population() const { return m2() / static_cast<double>(count_); }

double RollingMoments::variance_sample() const { return m2() / static_cast<double>(count_ - 1); }

// ---- RollingSum2 ----------------------------------------------------------

RollingSum2::RollingSum2(std::size_t period)
    : period_(period), recompute_interval_(std::max(period, kRecomputeIntervalMin)) {
  check_period(period);
  ring_a_.assign(period, 0.0);
  ring_b_.assign(period, 0.0);
}

void RollingSum2::reset() {
  head_ = 0;
  count_ = 0;
  sum_a_ = 0;
  sum_b_ = 0;
  peak_a_ = 0;
  peak_b_ = 0;
  since_recompute_ = 0;
}

RollingSum2::Evicted RollingSum2::push(double a, double b) {
  Evicted out;
  if (count_ == period_) {
    out = Evicted{true, ring_a_[head_], ring_b_[head_]};
    sum_a_ -= out.a;
    sum_b_ -= out.b;
  } else {
    ++count_;
  }
  ring_a_[head_] = a;
  ring_b_[head_] = b;
  head_ = head_ + 1 == period_ ? 0 : head_ + 1;
  sum_a_ += a;
  sum_b_ += b;
  if (!out.any) return out;
  peak_a_ = std::max(peak_a_, std::abs(sum_a_));
  peak_b_ = std::max(peak_b_, std::abs(sum_b_));
  // Same schedule and early trigger as RollingMoments: a sum that collapsed
  // after a large value left carries the large sum's absolute error.
  ++since_recompute_;
  if (since_recompute_ >= recompute_interval_ ||
      (since_recompute_ >= period_ &&
       (std::abs(sum_a_) < peak_a_ * kCollapseRatio || std::abs(sum_b_) < peak_b_ * kCollapseRatio))) {
    recompute();
  }
  return out;
}

void RollingSum2::recompute() {
  since_recompute_ = 0;
  double a = 0;
  double b = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    a += ring_a_[i];
    b += ring_b_[i];
  }
  sum_a_ = a;
  sum_b_ = b;
  peak_a_ = std::abs(a);
  peak_b_ = std::abs(b);
}

// ---- RollingExtremum ------------------------------------------------------

RollingExtremum::RollingExtremum(Kind kind, std::size_t period) : kind_(kind), period_(period) {
  check_period(period);
  block_.assign(period, 0.0);
  suffix_.assign(period, 0.0);
}

void RollingExtremum::reset() {
  pos_ = 0;
  count_ = 0;
  prefix_ = 0;
  value_ = 0;
}

// van Herk / Gil-Werman: split the stream into blocks of `period` values.
// The window ending at position pos of the current block is the tail
// [pos+1, period) of the previous block plus the head [0, pos] of this one,
// so its extremum is better(suffix of the previous block at pos+1, running
// prefix of this block). Suffixes are computed once per block (period
// operations per period pushes): amortized O(1) with no data-dependent
// branches, unlike a monotonic deque whose pops mispredict.
void RollingExtremum::push(double x) {
  const bool is_max = kind_ == Kind::kMax;
  const auto better = [is_max](double a, double b) { return is_max ? std::max(a, b) : std::min(a, b); };
  if (pos_ == period_) {  // the current block is complete: it becomes the previous one
    suffix_[period_ - 1] = block_[period_ - 1];
    for (std::size_t k = period_ - 1; k-- > 0;) suffix_[k] = better(block_[k], suffix_[k + 1]);
    pos_ = 0;
  }
  block_[pos_] = x;
  prefix_ = pos_ == 0 ? x : better(prefix_, x);
  // Before the first block is complete there is no previous block.
  const bool has_tail = count_ >= period_ && pos_ + 1 < period_;
  value_ = has_tail ? better(suffix_[pos_ + 1], prefix_) : prefix_;
  ++pos_;
  ++count_;
}

double RollingExtremum::value() const { return value_; }

}  // namespace ta::agent::ind
