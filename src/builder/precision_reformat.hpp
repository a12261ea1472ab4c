// Applying chosen layer precisions to a graph: retyped values, weights converted at build time,
// and Cast (reformat) layers where a value's type differs from what a reader needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "builder/precision_policy.hpp"
#include "ir/graph.hpp"

namespace kiln::builder {

// One layer's precision as the builder chose it.
struct LayerChoice {
  ir::Node* node = nullptr;
  LayerPolicy policy;
  std::vector<size_t> in_slots;         // FP32 inputs that take the layer's type (ascending)
  std::vector<size_t> out_slots;        // FP32 outputs that take it (ascending)
  bool float_work = false;              // it has such slots
  DataType dtype = DataType::kFloat32;  // the type of those slots
  bool tf32 = false;                    // FP32 matrix work that may use TF32
  bool pinned = false;                  // set by a user constraint
  bool flexible = false;                // may still follow its neighbours
};

// "fp32", "tf32", "fp16", "bf16", "fp64", "fp8e4m3"; other types by their name ("int64").
std::string precision_name(DataType t, bool tf32);

// The type layer `l` needs on input `slot`, whose value was declared `declared`: the layer's type
// on the slots it retypes, nothing where any type will do, else the declared type.
std::optional<DataType> required_type(const LayerChoice& l, size_t slot, DataType declared);

struct ReformatCounts {
  int64_t reformat_layers = 0;
  int64_t converted_weights = 0;
};

// Retypes the outputs of the layers in `layers` (every node of `graph`) to their chosen type,
// keeps graph outputs at their declared type behind one Cast each, converts constant inputs and
// inserts one Cast per value and needed type elsewhere. Leaves the graph sorted and verified.
ReformatCounts retype_and_reformat(ir::Graph& graph, const std::vector<LayerChoice>& layers);

// `t` (FP32) converted to `to` (FP16/BF16), rounding to nearest even. FP16 clamps values beyond
// its range to +-65504 rather than making them infinite; `name` names the weights in the warning.
Tensor convert_weights(const Tensor& t, DataType to, const std::string& name);

}  // namespace kiln::builder
