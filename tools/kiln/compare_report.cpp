// Formatting of `kiln compare` results: aligned text columns and JSON.
#include "compare_report.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "kiln/error.hpp"

namespace kiln::tools {
namespace {

// Columns padded to their widest cell; the first `left` columns are left-aligned.
std::string render(const std::vector<std::vector<std::string>>& rows, size_t left) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string pad(width[i] - row[i].size(), ' ');
      line += (i ? "  " : "") + (i < left ? row[i] + pad : pad + row[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string verdict(const TensorComparison& c) {
  return c.passed ? "PASS" : "FAIL";
}

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.7g", v);
  return buf;
}

std::string cosine(const TensorComparison& c) {
  if (!c.problem.empty()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6f", c.cosine);
  return buf;
}

// Why a failing tensor failed: its problem, or its worst element.
std::string failure_note(const TensorComparison& c) {
  if (!c.problem.empty()) return c.problem;
  std::string s = cat(c.failing, " of ", c.elements, " elements beyond tolerance");
  if (c.nonfinite_mismatch) s += cat(" (", c.nonfinite_mismatch, " NaN/Inf mismatches)");
  if (c.worst_index >= 0) {
    s += cat("; worst at ", index_to_string(c.worst_index, c.shape), ": ",
             format_value(c.worst_value), " vs reference ", format_value(c.worst_reference));
  }
  return s;
}

}  // namespace

std::string format_error(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

std::string outputs_table(const std::vector<TensorComparison>& rows) {
  std::vector<std::vector<std::string>> t = {
      {"output", "type", "max abs", "max rel", "mean abs", "cosine", "failing", "result"}};
  for (const TensorComparison& c : rows) {
    bool ok = c.problem.empty();
    t.push_back({c.name, ok ? c.dtype + shape_to_string(c.shape) : "-",
                 ok ? format_error(c.max_abs) : "-", ok ? format_error(c.max_rel) : "-",
                 ok ? format_error(c.mean_abs) : "-", cosine(c),
                 ok ? cat(c.failing, "/", c.elements) : "-", verdict(c)});
  }
  std::string out = render(t, 2);
  for (const TensorComparison& c : rows) {
    if (!c.passed) out += "  " + c.name + ": " + failure_note(c) + "\n";
  }
  return out;
}

std::string layerwise_table(const LayerwiseReport& report) {
  std::vector<std::vector<std::string>> t = {
      {"#", "tensor", "produced by", "max abs", "max rel", "cosine", "result"}};
  for (size_t i = 0; i < report.tensors.size(); ++i) {
    const TensorComparison& c = report.tensors[i].comparison;
    bool ok = c.problem.empty();
    t.push_back({std::to_string(i + 1), c.name, report.tensors[i].producer,
                 ok ? format_error(c.max_abs) : "-", ok ? format_error(c.max_rel) : "-", cosine(c),
                 verdict(c)});
  }
  std::string out = render(t, 3);
  if (!report.missing.empty()) {
    out +=
        cat(report.missing.size(), " tensor(s) not compared (one runner does not produce them):");
    for (size_t i = 0; i < report.missing.size() && i < 8; ++i) out += " " + report.missing[i];
    out += report.missing.size() > 8 ? " ...\n" : "\n";
  }
  if (report.first_failing < 0) {
    out += cat("layerwise: all ", report.tensors.size(), " tensors within tolerance\n");
  } else {
    const LayerwiseTensor& f = report.tensors[static_cast<size_t>(report.first_failing)];
    out += cat("layerwise: ", report.failing, " of ", report.tensors.size(),
               " tensors beyond tolerance; the first is '", f.comparison.name, "' (#",
               report.first_failing + 1, "), the output of ", f.producer, ": ",
               failure_note(f.comparison), "\n");
  }
  return out;
}

nlohmann::json comparison_json(const TensorComparison& c) {
  auto number = [](double v) -> nlohmann::json {
    if (std::isfinite(v)) return v;
    return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  };
  nlohmann::json j;
  j["name"] = c.name;
  j["passed"] = c.passed;
  if (!c.problem.empty()) {
    j["problem"] = c.problem;
    return j;
  }
  j["dtype"] = c.dtype;
  j["shape"] = c.shape;
  j["elements"] = c.elements;
  j["failing_elements"] = c.failing;
  j["nonfinite_mismatches"] = c.nonfinite_mismatch;
  j["max_abs_error"] = number(c.max_abs);
  j["max_rel_error"] = number(c.max_rel);
  j["mean_abs_error"] = number(c.mean_abs);
  j["cosine_similarity"] = number(c.cosine);
  j["rel_l2_error"] = number(c.rel_l2);
  if (c.worst_index >= 0) {
    j["worst"] = {{"index", index_to_string(c.worst_index, c.shape)},
                  {"value", number(c.worst_value)},
                  {"reference", number(c.worst_reference)}};
  }
  return j;
}

}  // namespace kiln::tools
