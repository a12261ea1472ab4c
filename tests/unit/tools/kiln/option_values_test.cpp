// Strict numbers and shapes on the command line: the parsers themselves, then every numeric
// flag of every subcommand refusing garbage, out-of-range and non-finite values as a usage error.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "option_values.hpp"
#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

using tools::parse_dims;
using tools::parse_finite_number;
using tools::parse_whole_number;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(OptionValues, WholeNumbersAreDecimalDigitsOnly) {
  EXPECT_EQ(parse_whole_number("0"), 0u);
  EXPECT_EQ(parse_whole_number("010"), 10u);  // decimal, not octal
  EXPECT_EQ(parse_whole_number("18446744073709551615"), std::numeric_limits<uint64_t>::max());
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "5abc",
                          "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_EQ(parse_whole_number(bad), std::nullopt) << bad;
  }
}

TEST(OptionValues, RealNumbersAreFiniteDecimals) {
  EXPECT_EQ(parse_finite_number("0.5"), 0.5);
  EXPECT_EQ(parse_finite_number("1e-3"), 1e-3);
  EXPECT_EQ(parse_finite_number("-2"), -2.0);
  EXPECT_EQ(parse_finite_number("1e300"), 1e300);  // finite: the option's range refuses it
  for (const char* bad : {"", "nan", "NaN", "inf", "-inf", "infinity", "1e400", "0x1p3", " 1", "1 ",
                          "+1", "1abc", "1,5"}) {
    EXPECT_EQ(parse_finite_number(bad), std::nullopt) << bad;
  }
}

std::string dims_error(const std::string& text) {
  try {
    parse_dims(text, "--shape x");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(OptionValues, ShapesAreStrict) {
  EXPECT_EQ(parse_dims("1x3x224x224", "s"), (Shape{1, 3, 224, 224}));
  EXPECT_EQ(parse_dims("1,3", "s"), (Shape{1, 3}));
  EXPECT_EQ(parse_dims("0x5", "s"), (Shape{0, 5}));
  EXPECT_EQ(parse_dims("", "s"), Shape{});
  EXPECT_TRUE(contains(dims_error("1x-3"),
                       "--shape x: '1x-3' is not a shape: it has a negative dimension '-3'"))
      << dims_error("1x-3");
  EXPECT_TRUE(contains(dims_error("1xx3"), "has an empty dimension")) << dims_error("1xx3");
  EXPECT_TRUE(contains(dims_error("3x"), "has an empty dimension"));
  EXPECT_TRUE(contains(dims_error("1x3.5"), "a dimension '3.5' that is not a whole number"));
  EXPECT_TRUE(contains(dims_error("1x 3"), "not a whole number"));
  EXPECT_TRUE(contains(dims_error("abc"), "'abc' that is not a whole number"));
  EXPECT_TRUE(contains(dims_error("99999999999999999999"), "a dimension past 64 bits"));
  EXPECT_TRUE(contains(dims_error("9223372036854775807x2"), "more elements than fit in 64 bits"));
  // 10^18 one-byte elements fit in int64 but not in kiln's tensor size limit.
  EXPECT_TRUE(contains(dims_error("1000000x1000000x1000000"), "tensor size limit"))
      << dims_error("1000000x1000000x1000000");
  // A hostile 100 KB shape is quoted in part.
  std::string long_shape = "1x" + std::string(100000, 'a');
  EXPECT_LT(dims_error(long_shape).size(), 1000u);
  EXPECT_TRUE(contains(dims_error(long_shape), "(100002 bytes)"));
}

// `args` is a usage error (exit code 2) whose message contains `part`.
void expect_usage_error(const std::vector<std::string>& args, const std::string& part) {
  CliResult r = run_kiln(args);
  std::string cmd;
  for (const std::string& a : args) cmd += a + " ";
  EXPECT_EQ(r.code, 2) << cmd << "\n" << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "usage error")) << cmd << "\n" << r.err;
  EXPECT_TRUE(contains(r.err, part)) << cmd << "\n" << r.err;
}

class NumericFlags : public PassthroughModelTest {};

TEST_F(NumericFlags, BenchTimingIsBoundedToADay) {
  expect_usage_error({"bench", model_, "--duration", "1e300"},
                     "--duration: expects a number above 0 and at most 86400 (a day), got '1e300'");
  expect_usage_error({"bench", model_, "--duration", "86401"}, "--duration");
  expect_usage_error({"bench", model_, "--duration", "nan"}, "got 'nan'");
  expect_usage_error({"bench", model_, "--duration", "inf"}, "got 'inf'");
  expect_usage_error({"bench", model_, "--warmup-ms", "1e18"},
                     "--warmup-ms: expects a number from 0 to 86400000 (a day), got '1e18'");
  expect_usage_error({"bench", model_, "--warmup-ms", "-0.5"}, "--warmup-ms");
  expect_usage_error({"bench", model_, "--iterations", "1e9"}, "--iterations");
  expect_usage_error({"bench", model_, "--iterations", "100000001"},
                     "expects a whole number from 1 to 100000000");
  expect_usage_error({"bench", model_, "--iterations", "99999999999999999999"}, "--iterations");
  expect_usage_error({"bench", model_, "--streams", "0x10"}, "--streams");
  expect_usage_error({"bench", model_, "--streams", "65"}, "from 1 to 64");
}

TEST_F(NumericFlags, SeedsAreWholeNumbersInUint64) {
  for (const char* sub : {"run", "bench", "compare"}) {
    expect_usage_error({sub, model_, "--seed", "-1"},
                       "--seed: expects a whole number from 0 to 18446744073709551615, got '-1'");
    expect_usage_error({sub, model_, "--seed", "18446744073709551616"}, "--seed");
    expect_usage_error({sub, model_, "--seed", "1.5"}, "--seed");
    expect_usage_error({sub, model_, "--seed", "0x10"}, "--seed");
  }
  // "010" is ten (CLI11 alone reads it as octal 8).
  CliResult r = run_kiln({"run", model_, "--shape", "x=2x3", "--shape", "m=2x2", "--seed", "010"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "random (seed 10)")) << r.out;
  CliResult top = run_kiln({"run", model_, "--seed", "18446744073709551615"});
  EXPECT_EQ(top.code, 0) << top.err;
}

TEST_F(NumericFlags, TolerancesAreFiniteAndNotNegative) {
  expect_usage_error({"compare", model_, "--atol", "nan"},
                     "--atol: expects a finite number of 0 or more, got 'nan'");
  expect_usage_error({"compare", model_, "--rtol", "nan"}, "--rtol");
  expect_usage_error({"compare", model_, "--atol", "-1e-3"}, "--atol");
  expect_usage_error({"compare", model_, "--rtol", "inf"}, "--rtol");
  expect_usage_error({"compare", model_, "--atol", "1e-3x"}, "--atol");
  expect_usage_error({"compare", model_, "--max-builds", "2"}, "from 3 to 10000");
}

TEST_F(NumericFlags, BuildAndSurgeonNumbers) {
  expect_usage_error({"build", model_, "--workspace-limit", "99999999999999"},
                     "--workspace-limit: expects a whole number from 1 to 1048576 (1 TiB)");
  expect_usage_error({"build", model_, "--workspace-limit", "0"}, "--workspace-limit");
  expect_usage_error({"build", model_, "--opt-level", "3.0"}, "--opt-level");
  expect_usage_error({"build", model_, "--opt-level", "4"}, "from 0 to 3");
  expect_usage_error({"surgeon", "replace", model_, "--op", "Relu", "--with", "Identity",
                      "--input-index", "-1", "-o", dir_.file("o.onnx")},
                     "--input-index");
  expect_usage_error({"surgeon", "replace", model_, "--op", "Relu", "--with", "Identity",
                      "--input-index", "4294967296", "-o", dir_.file("o.onnx")},
                     "--input-index");
}

TEST_F(NumericFlags, ShapeFlagsRefuseGarbageAsErrors) {
  auto error = [&](std::vector<std::string> args, const std::string& part) {
    CliResult r = run_kiln(args);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_TRUE(contains(r.err, part)) << r.err;
  };
  error({"run", model_, "--shape", "x=2x-3"}, "negative dimension '-3'");
  error({"run", model_, "--shape", "x=2x3abc"}, "'3abc' that is not a whole number");
  error({"run", model_, "--shape", "x=4294967296x4294967296"}, "more elements than fit in 64 bits");
  error({"run", model_, "--shape", "x=100000x100000x100000x3"}, "tensor size limit");
  error({"build", model_, "--shape", "x=1x99999999999999999999"}, "past 64 bits");
  error({"surgeon", "set-shape", model_, "--shape", "x=4294967296x4294967296", "-o",
         dir_.file("o.onnx")},
        "more elements than fit in 64 bits");
  error({"surgeon", "set-shape", model_, "--shape", "x=99999999999999999999x3", "-o",
         dir_.file("o.onnx")},
        "is too large");
}

}  // namespace
}  // namespace kiln::test
