// Strict reading of the numbers and shapes given on the command line: the whole text must be the
// value, and the value must be in range. "1e300" seconds, a seed of "-1", a tolerance of "nan",
// "0x10", " 5" and "5abc" are refused with a reason, never wrapped, rounded or cut short.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kiln/tensor.hpp"

namespace kiln::tools {

// Decimal digits only (no sign, space or prefix) of a value up to UINT64_MAX; nothing otherwise.
std::optional<uint64_t> parse_whole_number(std::string_view text);
// A finite decimal number ("0.5", "1e-3", "-2"); nothing for NaN, infinity, hex, spaces or a value
// beyond double's range.
std::optional<double> parse_finite_number(std::string_view text);

// CLI11 transforms for number options. Each refuses what the parsers above refuse and values out
// of range, saying what the option expects ("expects a whole number from 1 to 64 ..., got '0'";
// `note` explains the bound), and hands CLI11 the value in plain decimal, so that CLI11's own
// conversion (which reads "010" as octal) reads the same number.
CLI::Validator whole_number_in(uint64_t min, uint64_t max, std::string note = "");
CLI::Validator number_in(double min, double max, std::string note = "");
CLI::Validator positive_number_up_to(double max, std::string note = "");

// --seed, the seed of random inputs (run, bench, compare): any whole number in uint64.
CLI::Option* add_seed_option(CLI::App& sub, uint64_t& seed);

// Parses "1x3x224x224" (or "1,3,224,224"; "" is a scalar) into dims >= 0. Throws
// Error(kInvalidArgument) mentioning `what` on anything else: an empty, negative or non-decimal
// dimension, one past int64, or a shape whose element count passes kiln's tensor size limit.
Shape parse_dims(const std::string& text, const std::string& what);

// One dimension of parse_dims: a whole number up to INT64_MAX, or nothing.
std::optional<int64_t> parse_dim(std::string_view text);

}  // namespace kiln::tools
