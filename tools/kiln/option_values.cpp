// Strict number and shape parsing for every command-line option, in one place.
#include "option_values.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "kiln/error.hpp"
#include "kiln/tensor.hpp"
#include "quote.hpp"

namespace kiln::tools {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// 86400000 rather than 8.64e+07 in messages.
std::string number_text(double v) {
  if (std::abs(v) < 1e15 && v == std::floor(v)) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

std::string with_note(std::string expects, const std::string& note) {
  return note.empty() ? expects : expects + " (" + note + ")";
}

// A CLI11 transform accepting finite numbers for which `in_range` holds.
template <typename InRange>
CLI::Validator real_check(std::string expects, InRange in_range) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::optional<double> v = parse_finite_number(text);
        if (!v || !in_range(*v)) return "expects " + expects + ", got " + quote(text);
        return {};
      },
      expects);
}

}  // namespace

std::optional<uint64_t> parse_whole_number(std::string_view text) {
  if (!all_digits(text)) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_finite_number(std::string_view text) {
  // from_chars takes no leading '+' or space and no hex without being asked; it does take "nan"
  // and "inf", which the finiteness check refuses.
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

CLI::Validator whole_number_in(uint64_t min, uint64_t max, std::string note) {
  std::string expects = with_note(cat("a whole number from ", min, " to ", max), note);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        std::optional<uint64_t> v = parse_whole_number(text);
        if (!v || *v < min || *v > max) return "expects " + expects + ", got " + quote(text);
        text = std::to_string(*v);  // "010" would be octal to CLI11
        return {};
      },
      expects);
}

CLI::Validator number_in(double min, double max, std::string note) {
  std::string range = std::isinf(max)
                          ? cat("a finite number of ", number_text(min), " or more")
                          : cat("a number from ", number_text(min), " to ", number_text(max));
  return real_check(with_note(range, note), [=](double v) { return v >= min && v <= max; });
}

CLI::Validator positive_number_up_to(double max, std::string note) {
  std::string range = cat("a number above 0 and at most ", number_text(max));
  return real_check(with_note(range, note), [=](double v) { return v > 0 && v <= max; });
}

CLI::Option* add_seed_option(CLI::App& sub, uint64_t& seed) {
  return sub.add_option("--seed", seed, "seed of the random inputs")
      ->transform(whole_number_in(0, std::numeric_limits<uint64_t>::max()))
      ->capture_default_str();
}

std::optional<int64_t> parse_dim(std::string_view text) {
  std::optional<uint64_t> v = parse_whole_number(text);
  if (!v || *v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(*v);
}

Shape parse_dims(const std::string& text, const std::string& what) {
  Shape s;
  if (text.empty()) return s;
  size_t start = 0;
  while (true) {
    size_t end = text.find_first_of("x,", start);
    std::string_view item = std::string_view(text).substr(start, end - start);
    std::optional<int64_t> d = parse_dim(item);
    if (!d) {
      std::string why = item.empty()     ? "an empty dimension"
                        : item[0] == '-' ? "a negative dimension " + quote(item)
                        : all_digits(item)
                            ? "a dimension past 64 bits " + quote(item)
                            : "a dimension " + quote(item) + " that is not a whole number";
      fail(ErrorCode::kInvalidArgument, what, ": ", quote(text), " is not a shape: it has ", why,
           "; write dimensions like 1x3x224x224");
    }
    s.push_back(*d);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  checked_numel(s, 1, ErrorCode::kInvalidArgument, what);
  return s;
}

}  // namespace kiln::tools
