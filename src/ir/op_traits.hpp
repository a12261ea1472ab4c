// The facts about an op that passes, planners and backends ask the op table for, instead of keeping
// lists of op names: how it maps elements, whether its output is a view of its input or may
// overwrite it, whether it runs channels-last unchanged, which precision suits it, what it costs in
// FLOPs, which Pointwise instruction it becomes, and why a GPU runs it on the host. Each op states
// them where it is registered (src/ir/ops/*.cpp), in OpSchema::traits.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ir/activation_math.hpp"
#include "ir/graph.hpp"

namespace kiln::ir {

// How the op's output elements depend on its input elements.
enum class ElementwiseClass {
  kNone,  // reads elements at other positions (Conv, Softmax, Transpose), or is no arithmetic
  // out[i] = f(x[i]); any further input is a scalar parameter (Clip's bounds) or gives a type
  // (CastLike).
  kUnary,
  // out[i] = f(a[i], b[i], ...) over a fixed number of inputs broadcast together, numpy-style
  // (Add, Where, PRelu).
  kBroadcast,
  kVariadic,  // the same over any number of inputs (Sum, Max, Pointwise)
};

// Which precision the builder gives the op's layers (builder/precision_policy.hpp).
enum class PrecisionClass {
  kMatrix,             // matrix work: reduced whenever allowed; TF32 in FP32
  kFollowsNeighbours,  // cheap float work: reduced when that costs no more reformat layers
  kKeepFp32,           // loses range or accuracy in 16 bits (Exp, most norms): FP32 unless pinned
  kKeepsTypes,         // its types are fixed (subgraphs, quantization, a type attribute)
};

// For an op that otherwise follows its neighbours: why this node must keep FP32 (a long sum, an
// exponential in its program), or "" when it need not.
using Fp32ReasonFn = std::string (*)(const Node& node);

struct PrecisionTraits {
  PrecisionClass cls = PrecisionClass::kFollowsNeighbours;
  const char* reason = "";  // why kKeepFp32 or kKeepsTypes, for the build log
  Fp32ReasonFn fp32_reason = nullptr;
  // Bit i set: input i has a float type the op fixes, whatever the layer's (Resize's scales).
  uint32_t fixed_type_inputs = 0;
  // Bit i set: input i is read only for its shape, or converted by the op itself (Shape, Cast), so
  // any type will do and it never needs a reformat layer.
  uint32_t any_type_inputs = 0;
};

// The reasons several ops share.
inline constexpr const char* kNormStatisticsNeedFp32 = "normalisation statistics need FP32";
inline constexpr const char* kExponentialsOverflow =
    "exponentials of large values overflow 16 bits";
inline constexpr const char* kTypeIsAnAttribute = "its output type is an attribute";
inline constexpr const char* kSubgraphsKeepTypes = "subgraphs keep their types";
inline constexpr const char* kQuantizationScales = "quantization scales are part of the model";
inline constexpr const char* kDataDependentShape =
    "its output's size depends on the data: a GPU engine runs it and the layers after it on the "
    "host (builder/host_tail.hpp)";

// The FLOPs of one node, as graph_stats reports them (one multiply-add counts 2).
class FlopShapes;
using FlopsFn = std::optional<double> (*)(const Node& node, const FlopShapes& shapes);

struct FlopFormula {
  enum class Kind {
    kUnknown,           // kiln has no formula: the node is reported as uncounted
    kDataMovement,      // 0: moves or reinterprets data
    kPerOutputElement,  // per_element for every element of output 0
    kPerLargerElement,  // per_element for every element of the larger of input 0 and output 0
    kFormula,           // formula(node, shapes)
  };
  Kind kind = Kind::kUnknown;
  double per_element = 0;
  FlopsFn formula = nullptr;
};

constexpr FlopFormula data_movement_flops() {
  return {FlopFormula::Kind::kDataMovement};
}
constexpr FlopFormula flops_per_output_element(double n) {
  return {FlopFormula::Kind::kPerOutputElement, n};
}
constexpr FlopFormula flops_per_larger_element(double n) {
  return {FlopFormula::Kind::kPerLargerElement, n};
}
constexpr FlopFormula flops_from(FlopsFn formula) {
  return {FlopFormula::Kind::kFormula, 0, formula};
}

// An attribute that becomes a constant operand of the op's Pointwise instruction, after its inputs.
struct AttributeOperand {
  const char* name = nullptr;  // nullptr: no operand
  float fallback = 0;          // ONNX's default
};

// How fuse_pointwise writes a node of the op as an instruction of a Pointwise program: `opcode`
// over the node's inputs, then its attribute operands. A kVariadic op folds its inputs left to
// right with the (binary) opcode.
struct PointwiseLowering {
  PointwiseOpcode opcode = PointwiseOpcode::kConst;
  std::array<AttributeOperand, 2> attribute_operands{};
  // Another formula for one value of a string attribute (Gelu's approximate="tanh").
  const char* variant_attribute = nullptr;
  const char* variant_value = nullptr;
  PointwiseOpcode variant_opcode = PointwiseOpcode::kConst;
  // What omitted optional inputs 1 and 2 stand for (Clip's bounds: the float range's ends).
  std::array<float, 2> omitted_inputs{};
  // For a kVariadic op: the most inputs the fold may take (0: any). Sum stops at 2, where one add
  // rounds as the unfused layer does.
  int max_inputs = 0;
};

struct OpTraits {
  ElementwiseClass elementwise = ElementwiseClass::kNone;
  // Output 0 is input 0's bytes under another shape (Reshape, Squeeze...): the memory plan makes it
  // a view and copies nothing.
  bool view = false;
  // The output may overwrite any input of its type and size: every backend's kernel reads out[i]'s
  // operands at i only, before writing out[i] (the CPU's map_unary / map_binary loops).
  bool safe_in_place = false;
  // Runs unchanged on channels-last tensors when every tensor operand is permuted alike, so a
  // channels-last region (builder/choose_layout.cpp) can take it in.
  bool layout_agnostic = false;
  PrecisionTraits precision{};
  FlopFormula flops{};
  std::optional<PointwiseLowering> pointwise{};
  // Set where the CUDA backend has no kernel for the op and runs its CPU kernel on the host, in
  // stream order (backends/cuda/host_fallback.hpp): why. The op table coverage test holds every op
  // to a CUDA kernel or this.
  const char* host_fallback = nullptr;
};

// The traits of `op` in the default (ONNX) domain; an op the table does not know has the default
// traits (not elementwise, no view, not in place, unknown FLOPs, follows its neighbours).
const OpTraits& op_traits(std::string_view op);
// The traits of the node's op; the default traits for a node of another domain.
const OpTraits& op_traits(const Node& node);

}  // namespace kiln::ir
