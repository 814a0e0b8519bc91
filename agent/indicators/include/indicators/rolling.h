// Rolling-window building blocks shared by the indicators. Public only
// because the indicator classes hold them by value (no allocation after
// construction); strategies should use the indicators in indicators.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ta::agent::ind {

// Mean and sum of squared deviations (M2) of the last `period` values.
//
// Numerics: Welford's update, extended to remove the value leaving the
// window, works on deviations, so prices near 100,000 with a standard
// deviation of a few cents do not cancel catastrophically the way
// sum(x^2) - n*mean^2 does. The values are also shifted by a recent value
// (exact subtraction for nearby prices), so the running mean is a small
// number and its rounding errors stay tiny. Rounding still accumulates
// slowly, so every recompute_interval() replacements the moments are
// recomputed from the window (two passes, re-centred): amortized O(1), at
// most one extra add and multiply per update. After a large value leaves
// the window, M2 collapses and its absolute error, inherited from the large
// M2, becomes a large relative one; a collapse below 1/1000 of the peak
// triggers the recomputation early (at most once per window length). A window whose values are all identical (flat bars)
// is detected by counting the run of equal values and reports exactly
// mean = value, M2 = 0.
class RollingMoments {
 public:
  explicit RollingMoments(std::size_t period);  // period >= 1

  void push(double x);
  void reset();

  std::size_t period() const { return period_; }
  std::size_t count() const { return count_; }  // values in the window
  bool full() const { return count_ == period_; }
  double mean() const;
  double m2() const;  // >= 0
  double variance_population() const;  // M2 / n, n >= 1
  double variance_sample() const;      // M2 / (n - 1), n >= 2
  std::size_t recompute_interval() const { return recompute_interval_; }

 private:
  void recompute();

  std::size_t period_;
  std::size_t recompute_interval_;
  std::vector<double> ring_;
  std::size_t head_ = 0;  // next write position
  std::size_t count_ = 0;
  double shift_ = 0;  // subtracted from every value
  double mean_ = 0;   // mean of the shifted values
  double m2_ = 0;
  double m2_peak_ = 0;  // largest M2 since the last recomputation
  std::size_t since_recompute_ = 0;
  std::size_t equal_run_ = 0;  // how many latest values equal the last one
  double last_ = 0;
};

// Sums of the last `period` values of two series, recomputed from the
// window on the same schedule as RollingMoments (periodically, and early
// when a sum collapses below 1/1000 of its peak).
class RollingSum2 {
 public:
  struct Evicted {
    bool any = false;  // false while the window was not yet full
    double a = 0;
    double b = 0;
  };
  explicit RollingSum2(std::size_t period);  // period >= 1
  // Adds (a, b); returns the pair that left the window, if one did.
  Evicted push(double a, double b);
  void reset();
  std::size_t count() const { return count_; }
  bool full() const { return count_ == period_; }
  double sum_a() const { return sum_a_; }
  double sum_b() const { return sum_b_; }

 private:
  void recompute();
  std::size_t period_;
  std::size_t recompute_interval_;
  std::vector<double> ring_a_;
  std::vector<double> ring_b_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  double sum_a_ = 0;
  double sum_b_ = 0;
  double peak_a_ = 0;  // largest |sum| since the last recomputation
  double peak_b_ = 0;
  std::size_t since_recompute_ = 0;
};

// Maximum (kMax) or minimum of the last `period` values (van Herk /
// Gil-Werman block decomposition): amortized O(1) per push, about three
// comparisons and no data-dependent branches.
class RollingExtremum {
 public:
  enum class Kind { kMax, kMin };
  RollingExtremum(Kind kind, std::size_t period);  // period >= 1
  void push(double x);
  void reset();
  double value() const;  // precondition: at least one push since reset
  std::size_t count() const { return count_ < period_ ? static_cast<std::size_t>(count_) : period_; }

 private:
  Kind kind_;
  std::size_t period_;
  std::vector<double> block_;   // the current block's values
  std::vector<double> suffix_;  // suffix extrema of the previous block
  std::size_t pos_ = 0;         // next position in the current block
  std::uint64_t count_ = 0;     // values pushed since reset
  double prefix_ = 0;           // extremum of the current block so far
  double value_ = 0;
};

}  // namespace ta::agent::ind
