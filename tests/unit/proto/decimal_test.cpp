#include "proto/decimal.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>

namespace ta {
namespace {

Decimal D(const char* text) {
  auto r = Decimal::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? r.value() : Decimal();
}

TEST(Decimal, ParsesAndFormatsExactly) {
  const char* cases[] = {"0", "1", "-1", "0.00012345", "0.00000001", "-0.00000001", "123456.789",
                         "92233720368.54775807", "-92233720368.54775807", "60000.01", "10"};
  for (const char* c : cases) EXPECT_EQ(D(c).to_string(), c);
  EXPECT_EQ(D("0.00012345").units(), 12345);
  EXPECT_EQ(D("1.50000000").to_string(), "1.5");
  EXPECT_EQ(D("-0").to_string(), "0");
  EXPECT_EQ(D("007.10").to_string(), "7.1");
}

TEST(Decimal, RefusesBadTextWithReason) {
  struct Case {
    const char* text;
    const char* fragment;
  } cases[] = {
      {"", "empty"},
      {" 1", "unexpected character at position 1"},
      {"1 ", "unexpected character at position 2"},
      {"+1", "unexpected character"},
      {"1e5", "unexpected character at position 2"},
      {"1.", "no digits after"},
      {".5", "needs a digit before"},
      {"-", "no digits"},
      {"1.000000001", "more than 8 fractional digits"},
      {"92233720368.54775808", "out of range"},
      {"-92233720368.54775808", "out of range"},
      {"99999999999999999999", "out of range"},
      {"nan", "unexpected character"},
      {"123456789012345678901234567890123", "longer than 32"},
      {"1..2", "no digits after"},
      {"--1", "unexpected character"},
  };
  for (const auto& c : cases) {
    auto r = Decimal::parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().message.find(c.fragment), std::string::npos) << c.text << " -> " << r.error().message;
  }
}

TEST(Decimal, ParseRoundedUsesMode) {
  EXPECT_EQ(Decimal::parse_rounded("1.000000005", Rounding::kHalfEven)->to_string(), "1");
  EXPECT_EQ(Decimal::parse_rounded("1.000000015", Rounding::kHalfEven)->to_string(), "1.00000002");
  EXPECT_EQ(Decimal::parse_rounded("1.0000000051", Rounding::kHalfEven)->to_string(), "1.00000001");
  EXPECT_EQ(Decimal::parse_rounded("-1.000000001", Rounding::kFloor)->to_string(), "-1.00000001");
  EXPECT_EQ(Decimal::parse_rounded("-1.000000001", Rounding::kCeiling)->to_string(), "-1");
  EXPECT_EQ(Decimal::parse_rounded("1.000000001", Rounding::kAwayFromZero)->to_string(), "1.00000001");
  EXPECT_EQ(Decimal::parse_rounded("1.000000009", Rounding::kTowardZero)->to_string(), "1");
  // A sticky digit far to the right still counts for "more than half".
  EXPECT_EQ(Decimal::parse_rounded("0.000000005000000000000000000001", Rounding::kHalfEven)->to_string(),
            "0.00000001");
}

TEST(Decimal, CheckedArithmetic) {
  EXPECT_EQ(D("0.1").add(D("0.2"))->to_string(), "0.3");
  EXPECT_EQ(D("1").sub(D("2.5"))->to_string(), "-1.5");
  EXPECT_EQ(D("60000.01").mul(D("0.00012345"), Rounding::kHalfEven)->to_string(), "7.40700123");
  EXPECT_EQ(D("1").div(D("3"), Rounding::kTowardZero)->to_string(), "0.33333333");
  EXPECT_EQ(D("2").div(D("3"), Rounding::kHalfEven)->to_string(), "0.66666667");
  EXPECT_FALSE(D("1").div(D("0"), Rounding::kHalfEven).ok());
  const Decimal max = D("92233720368.54775807");
  EXPECT_FALSE(max.add(D("0.00000001")).ok());
  EXPECT_FALSE(max.negate()->sub(D("0.00000001")).ok());
  EXPECT_FALSE(max.mul(D("2"), Rounding::kHalfEven).ok());
  EXPECT_TRUE(max.mul(D("1"), Rounding::kHalfEven).ok());
  EXPECT_EQ(max.negate()->abs(), max);
}

TEST(Decimal, RoundsToIncrement) {
  const Decimal inc = D("0.0001");
  EXPECT_EQ(D("0.123456").round_to_increment(inc, Rounding::kTowardZero)->to_string(), "0.1234");
  EXPECT_EQ(D("0.123456").round_to_increment(inc, Rounding::kAwayFromZero)->to_string(), "0.1235");
  EXPECT_EQ(D("0.12345").round_to_increment(inc, Rounding::kHalfEven)->to_string(), "0.1234");
  EXPECT_EQ(D("0.12355").round_to_increment(inc, Rounding::kHalfEven)->to_string(), "0.1236");
  EXPECT_EQ(D("-0.12345").round_to_increment(inc, Rounding::kFloor)->to_string(), "-0.1235");
  EXPECT_EQ(D("60000.015").round_to_increment(D("0.01"), Rounding::kCeiling)->to_string(), "60000.02");
  EXPECT_FALSE(D("1").round_to_increment(D("0"), Rounding::kHalfEven).ok());
  EXPECT_FALSE(D("1").round_to_increment(D("-0.1"), Rounding::kHalfEven).ok());
  EXPECT_TRUE(D("0.1234").is_multiple_of(inc));
  EXPECT_FALSE(D("0.12345").is_multiple_of(inc));
}

TEST(Decimal, FixedFormatting) {
  EXPECT_EQ(D("1.005").to_string_fixed(2, Rounding::kHalfEven), "1.00");
  EXPECT_EQ(D("1.005").to_string_fixed(2, Rounding::kAwayFromZero), "1.01");
  EXPECT_EQ(D("-0.5").to_string_fixed(0, Rounding::kHalfEven), "0");
  EXPECT_EQ(D("-1.5").to_string_fixed(0, Rounding::kHalfEven), "-2");
  EXPECT_EQ(D("12").to_string_fixed(3), "12.000");
}

TEST(Decimal, FromDouble) {
  EXPECT_EQ(Decimal::from_double(0.1, Rounding::kHalfEven)->to_string(), "0.1");
  EXPECT_EQ(Decimal::from_double(-2.123456789, Rounding::kTowardZero)->to_string(), "-2.12345678");
  EXPECT_FALSE(Decimal::from_double(std::nan(""), Rounding::kHalfEven).ok());
  EXPECT_FALSE(Decimal::from_double(1e300, Rounding::kHalfEven).ok());
  EXPECT_FALSE(Decimal::from_double(-1.0 / 0.0, Rounding::kHalfEven).ok());
}

TEST(Decimal, RandomRoundTripProperty) {
  const unsigned seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(-9'000'000'000'000'000'000LL, 9'000'000'000'000'000'000LL);
  for (int i = 0; i < 100000; ++i) {
    const Decimal d = Decimal::from_units(dist(rng) >> (rng() % 60));
    auto back = Decimal::parse(d.to_string());
    ASSERT_TRUE(back.ok()) << "seed=" << seed << " " << d.to_string();
    ASSERT_EQ(back.value(), d) << "seed=" << seed;
    // a + b - b == a whenever no overflow happened.
    const Decimal e = Decimal::from_units(dist(rng) >> 20);
    auto sum = d.add(e);
    if (sum.ok()) {
      ASSERT_EQ(sum->sub(e).value(), d) << "seed=" << seed;
    }
  }
}

// The text to_string() would print for `units`, built by the independent
// to_string_fixed(8) with the trailing zeros (and a bare point) cut.
std::string reference_text(Decimal d) {
  std::string fixed = d.to_string_fixed(Decimal::kFractionDigits);
  while (fixed.back() == '0') fixed.pop_back();
  if (fixed.back() == '.') fixed.pop_back();
  return fixed == "-0" ? "0" : fixed;
}

// The same text as `text` with the fraction padded by zeros past eight
// digits: the value is unchanged, but parse_rounded() must take its general
// path (the plain fast path stops at eight fractional digits).
std::string with_long_fraction(const std::string& text, std::size_t extra_zeros) {
  const auto point = text.find('.');
  const std::size_t frac = point == std::string::npos ? 0 : text.size() - point - 1;
  std::string out = point == std::string::npos ? text + "." : text;
  out.append(static_cast<std::size_t>(Decimal::kFractionDigits) - frac + extra_zeros, '0');
  return out;
}

// The same text with leading zeros to more than ten whole digits, which
// the fast path leaves to the general one as well.
std::string with_long_whole(const std::string& text, std::size_t zeros) {
  const std::size_t sign = text[0] == '-' ? 1 : 0;
  return text.substr(0, sign) + std::string(zeros, '0') + text.substr(sign);
}

TEST(Decimal, PlainTextFastPathAgreesWithTheGeneralPath) {
  // Random [-]whole[.fraction] texts, with leading and trailing zeros and
  // up to 11 whole digits. Each is parsed as it is (the fast path when it
  // has at most ten whole digits) and in two longer spellings of the same
  // value that only the general path accepts; all must agree with each
  // other and with the value computed from the digits.
  const std::uint32_t seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  const Rounding modes[] = {Rounding::kTowardZero, Rounding::kAwayFromZero, Rounding::kFloor, Rounding::kCeiling,
                            Rounding::kHalfEven};
  for (int i = 0; i < 100'000; ++i) {
    const int whole_digits = 1 + static_cast<int>(rng() % 11);
    const int frac_digits = static_cast<int>(rng() % 9);
    std::string text = (rng() & 1) != 0 ? "-" : "";
    std::int64_t whole = 0, frac = 0;
    for (int d = 0; d < whole_digits; ++d) {
      const int digit = static_cast<int>(rng() % 10);
      text += static_cast<char>('0' + digit);
      whole = whole * 10 + digit;
    }
    if (frac_digits > 0) text += '.';
    for (int d = 0; d < Decimal::kFractionDigits; ++d) {
      const int digit = d < frac_digits ? static_cast<int>(rng() % 10) : 0;
      if (d < frac_digits) text += static_cast<char>('0' + digit);
      frac = frac * 10 + digit;
    }
    const Int128 expected = (Int128{whole} * Decimal::kScale + frac) * (text[0] == '-' ? -1 : 1);
    const auto parsed = Decimal::parse(text);
    const std::string long_fraction = with_long_fraction(text, 1 + rng() % 4);
    const std::string long_whole = with_long_whole(text, 11 - static_cast<std::size_t>(whole_digits) + rng() % 3);
    const auto general_whole = Decimal::parse(long_whole);
    if (expected > INT64_MAX || expected < -INT64_MAX) {
      ASSERT_FALSE(parsed.ok()) << text << " seed=" << seed;
      ASSERT_FALSE(general_whole.ok()) << long_whole << " seed=" << seed;
      for (Rounding m : modes) ASSERT_FALSE(Decimal::parse_rounded(long_fraction, m).ok()) << long_fraction;
      continue;
    }
    ASSERT_TRUE(parsed.ok()) << text << " seed=" << seed;
    ASSERT_EQ(parsed->units(), static_cast<std::int64_t>(expected)) << text << " seed=" << seed;
    ASSERT_TRUE(general_whole.ok()) << long_whole << " seed=" << seed;
    ASSERT_EQ(*general_whole, *parsed) << long_whole << " seed=" << seed;
    for (Rounding m : modes) {
      ASSERT_EQ(Decimal::parse_rounded(text, m).value(), *parsed) << text << " seed=" << seed;
      ASSERT_EQ(Decimal::parse_rounded(long_fraction, m).value(), *parsed) << long_fraction << " seed=" << seed;
    }
    // Printing gives the canonical text, which parses back to the same value.
    const std::string printed = parsed->to_string();
    ASSERT_EQ(printed, reference_text(*parsed)) << text << " seed=" << seed;
    ASSERT_EQ(Decimal::parse(printed).value(), *parsed) << printed << " seed=" << seed;
  }
}

TEST(Decimal, PrintsEveryValueLikeTheFixedFormat) {
  // Units over the whole range (and its ends), printed by to_string() and by
  // the reference built on to_string_fixed(); both parse back to the value.
  const std::uint32_t seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(-INT64_MAX, INT64_MAX);
  for (std::int64_t units : {INT64_MAX, -INT64_MAX, std::int64_t{0}, std::int64_t{1}, std::int64_t{-1},
                             Decimal::kScale, -Decimal::kScale, Decimal::kScale - 1, 1 - Decimal::kScale}) {
    const Decimal d = Decimal::from_units(units);
    ASSERT_EQ(d.to_string(), reference_text(d)) << units;
    ASSERT_EQ(Decimal::parse(d.to_string()).value(), d) << units;
  }
  for (int i = 0; i < 100'000; ++i) {
    const Decimal d = Decimal::from_units(dist(rng) >> (rng() % 64));
    const std::string printed = d.to_string();
    ASSERT_EQ(printed, reference_text(d)) << d.units() << " seed=" << seed;
    const auto back = Decimal::parse(printed);
    ASSERT_TRUE(back.ok()) << printed << " seed=" << seed;
    ASSERT_EQ(*back, d) << printed << " seed=" << seed;
  }
}

TEST(Decimal, PlainLookingBadTextStillFails) {
  for (const char* bad : {"", "-", ".5", "-.5", "1.", "-1.", "1..2", "12a", "1.2a", "1.2.3", "+1", " 1", "1 ", "0x1",
                          "1e5", "1.234567891", "--1", "-+1", "1-", "1.-2"}) {
    EXPECT_FALSE(Decimal::parse(bad).ok()) << bad;
    // parse_rounded() takes more fractional digits than eight (and rounds).
    if (std::string_view(bad) != "1.234567891") {
      EXPECT_FALSE(Decimal::parse_rounded(bad, Rounding::kHalfEven).ok()) << bad;
    }
  }
  // Ten whole digits and eight fractional ones: the largest plain text.
  EXPECT_EQ(D("9999999999.99999999").units(), 999'999'999'999'999'999);
  EXPECT_EQ(D("-9999999999.99999999").units(), -999'999'999'999'999'999);
  EXPECT_EQ(D("00000000000000000001").units(), Decimal::kScale);  // 20 whole digits, general path
  EXPECT_EQ(D("-0.00000000").to_string(), "0");
}

TEST(DivideRounded, AllModesOnSigns) {
  EXPECT_EQ(static_cast<long>(divide_rounded(7, 2, Rounding::kHalfEven)), 4);
  EXPECT_EQ(static_cast<long>(divide_rounded(5, 2, Rounding::kHalfEven)), 2);
  EXPECT_EQ(static_cast<long>(divide_rounded(-5, 2, Rounding::kHalfEven)), -2);
  EXPECT_EQ(static_cast<long>(divide_rounded(-7, 2, Rounding::kFloor)), -4);
  EXPECT_EQ(static_cast<long>(divide_rounded(-7, 2, Rounding::kCeiling)), -3);
  EXPECT_EQ(static_cast<long>(divide_rounded(7, -2, Rounding::kTowardZero)), -3);
  EXPECT_EQ(static_cast<long>(divide_rounded(7, -2, Rounding::kAwayFromZero)), -4);
}

// The signed long-division definition, written once more as the reference
// for divide_rounded() (which takes a 64-bit path when it can).
Int128 reference_divide(Int128 num, Int128 den, Rounding mode) {
  Int128 q = num / den;
  const Int128 r = num % den;
  if (r == 0) return q;
  const bool negative = (num < 0) != (den < 0);
  const Int128 abs_r = r < 0 ? -r : r;
  const Int128 abs_den = den < 0 ? -den : den;
  bool away = false;
  switch (mode) {
    case Rounding::kTowardZero:
      break;
    case Rounding::kAwayFromZero:
      away = true;
      break;
    case Rounding::kFloor:
      away = negative;
      break;
    case Rounding::kCeiling:
      away = !negative;
      break;
    case Rounding::kHalfEven:
      away = abs_r * 2 > abs_den || (abs_r * 2 == abs_den && q % 2 != 0);
      break;
  }
  if (away) q += negative ? -1 : 1;
  return q;
}

TEST(DivideRounded, MatchesLongDivisionAcrossWidthsAndTies) {
  const std::uint32_t seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  const Rounding modes[] = {Rounding::kTowardZero, Rounding::kAwayFromZero, Rounding::kFloor, Rounding::kCeiling,
                            Rounding::kHalfEven};
  // A value of 1 to 126 bits with a random sign.
  const auto value = [&](int bits) {
    __extension__ typedef unsigned __int128 U;
    const U raw = (U{rng()} << 64) | rng();
    const Int128 v = static_cast<Int128>(raw >> (128 - bits));
    return (rng() & 1) != 0 ? -v : v;
  };
  for (int i = 0; i < 50'000; ++i) {
    const Int128 num = value(1 + static_cast<int>(rng() % 126));
    Int128 den = value(1 + static_cast<int>(rng() % 126));
    if (den == 0) den = 3;
    for (Rounding m : modes) {
      ASSERT_TRUE(divide_rounded(num, den, m) == reference_divide(num, den, m)) << "seed=" << seed << " i=" << i;
      // An exact half: den x (2k + 1) / (2 den) = k + 1/2.
      if (den < (Int128{1} << 100) && den > -(Int128{1} << 100)) {
        const Int128 k = static_cast<Int128>(rng() % 1001) - 500;
        const Int128 tie = den * (2 * k + 1);
        ASSERT_TRUE(divide_rounded(tie, den * 2, m) == reference_divide(tie, den * 2, m)) << "seed=" << seed;
      }
    }
  }
  // The 64-bit edges, where the fast path hands over to the 128-bit one.
  const Int128 edges[] = {INT64_MAX, INT64_MIN, Int128{INT64_MAX} + 1, Int128{INT64_MIN} - 1, UINT64_MAX,
                          Int128{UINT64_MAX} + 1, -Int128{UINT64_MAX}, 1, -1, 2, -2, 3};
  for (Int128 n : edges) {
    for (Int128 d : edges) {
      for (Rounding m : modes) {
        ASSERT_TRUE(divide_rounded(n, d, m) == reference_divide(n, d, m));
      }
    }
  }
}

TEST(DivideRounded, ByScaleMatchesTheGeneralDivision) {
  const std::uint32_t seed = std::random_device{}();
  std::printf("seed=%u\n", seed);
  std::mt19937_64 rng(seed);
  const Rounding modes[] = {Rounding::kTowardZero, Rounding::kAwayFromZero, Rounding::kFloor, Rounding::kCeiling,
                            Rounding::kHalfEven};
  __extension__ typedef unsigned __int128 U;
  for (int i = 0; i < 50'000; ++i) {
    const int bits = 1 + static_cast<int>(rng() % 127);
    const U raw = (U{rng()} << 64) | rng();
    Int128 num = static_cast<Int128>(raw >> (128 - bits));
    if ((rng() & 1) != 0) num = -num;
    // Every third value an exact half or an exact multiple of the scale.
    if (i % 3 == 1 && bits < 90) num = num * Decimal::kScale + Decimal::kScale / 2;
    if (i % 3 == 2 && bits < 90) num = num * Decimal::kScale;
    for (Rounding m : modes) {
      ASSERT_TRUE(divide_by_scale_rounded(num, m) == divide_rounded(num, Decimal::kScale, m))
          << "seed=" << seed << " i=" << i;
    }
  }
  const Int128 max = static_cast<Int128>((U{1} << 127) - 1);
  for (Int128 num : {max, -max, -max - 1, Int128{0}, Int128{1}, Int128{-1}, Int128{Decimal::kScale / 2},
                     Int128{-Decimal::kScale / 2}, Int128{3 * Decimal::kScale / 2}}) {
    for (Rounding m : modes) ASSERT_TRUE(divide_by_scale_rounded(num, m) == divide_rounded(num, Decimal::kScale, m));
  }
}

TEST(Decimal, AddAndSubRefuseTheMostNegativeUnitsAndOverflow) {
  const Decimal max = Decimal::from_units(INT64_MAX);
  const Decimal min = Decimal::from_units(-INT64_MAX);  // the smallest Decimal
  const Decimal one_unit = Decimal::from_units(1);
  EXPECT_FALSE(max.add(one_unit).ok());
  EXPECT_EQ(max.add(one_unit).error().message, "decimal overflow in add");
  EXPECT_TRUE(max.sub(one_unit).ok());
  EXPECT_FALSE(min.sub(one_unit).ok());  // would be INT64_MIN
  EXPECT_EQ(min.sub(one_unit).error().message, "decimal overflow in sub");
  EXPECT_FALSE(min.add(Decimal::from_units(-1)).ok());
  EXPECT_EQ(min.add(one_unit).value().units(), -INT64_MAX + 1);
  EXPECT_FALSE(min.sub(max).ok());
  EXPECT_EQ(max.sub(max).value(), Decimal());
}

}  // namespace
}  // namespace ta
