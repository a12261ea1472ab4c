// Text tables and JSON of `kiln compare`: one row per compared tensor with its errors and
// verdict, notes on mismatches, and the machine-readable form of the same.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compare_layerwise.hpp"
#include "compare_metrics.hpp"

namespace kiln::tools {

// "1.23e-05"; "inf" and "nan" spelled out.
std::string format_error(double v);

// The outputs table: tensor, dtype[shape], max abs, max rel, mean abs, cosine, failing, result;
// then one line per failing output saying where its worst element is, or why it could not be
// compared.
std::string outputs_table(const std::vector<TensorComparison>& rows);

// The layerwise table (tensor, producing node, max abs, max rel, cosine, result) and the verdict
// naming the first tensor beyond tolerance.
std::string layerwise_table(const LayerwiseReport& report);

nlohmann::json comparison_json(const TensorComparison& c);

}  // namespace kiln::tools
