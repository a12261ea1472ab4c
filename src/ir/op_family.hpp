// The op families: the one grouping of ops that every tree follows. An op's family names its files
// in each of them (src/ir/ops/<family>.cpp, src/onnx/ops/<family>.cpp where it has importers,
// src/backends/cpu/<family>.cpp, src/backends/cuda/<family>.cu or .cpp, plus helper files whose
// names start with the family's), and each tree registers a family's ops from functions it lists
// with that family. The op table records every op's family (OpSchema::family); the coverage tests
// hold each kernel and importer to the family of its op.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace kiln::ir {

enum class OpFamily {
  kElementwise,    // unary and binary math, activations, comparisons, Where, Cast, Pointwise
  kConv,           // Conv, ConvTranspose, FusedConv
  kMatmul,         // MatMul, Gemm, Einsum, FusedMatMul
  kPool,           // MaxPool, AveragePool, LpPool, Global*Pool
  kNormalization,  // BatchNorm, LayerNorm, InstanceNorm, GroupNorm, RMSNorm, LRN, MVN, ...
  kSoftmax,        // Softmax, LogSoftmax, Hardmax
  kReduction,      // Reduce*, ArgMax, ArgMin, TopK, CumSum, CumProd
  kAttention,      // Attention, RotaryEmbedding, ScaledDotProductAttention
  kShape,          // Reshape, Transpose, Concat, Split, Slice, Pad, Tile, Shape, Rearrange, ...
  kIndexing,       // Gather*, Scatter*, NonZero, OneHot, Unique, Compress, ReverseSequence
  kImage,          // Resize, RoiAlign, GridSample, NonMaxSuppression, Col2Im, ...
  kGenerators,     // ConstantOfShape, Range, EyeLike, Trilu
  kQuantization,   // QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear
  kControlFlow,    // If, Loop, Scan (ops with subgraphs)
};

inline constexpr std::array<OpFamily, 14> kOpFamilies = {
    OpFamily::kElementwise,   OpFamily::kConv,       OpFamily::kMatmul,    OpFamily::kPool,
    OpFamily::kNormalization, OpFamily::kSoftmax,    OpFamily::kReduction, OpFamily::kAttention,
    OpFamily::kShape,         OpFamily::kIndexing,   OpFamily::kImage,     OpFamily::kGenerators,
    OpFamily::kQuantization,  OpFamily::kControlFlow};

static_assert(
    [] {
      for (size_t i = 0; i < kOpFamilies.size(); ++i) {
        if (static_cast<size_t>(kOpFamilies[i]) != i) return false;
      }
      return true;
    }(),
    "kOpFamilies lists every OpFamily once, in order");

// The family's name, as its files spell it ("control_flow").
constexpr std::string_view op_family_name(OpFamily family) {
  constexpr std::array<std::string_view, kOpFamilies.size()> kNames = {
      "elementwise", "conv",  "matmul",   "pool",  "normalization", "softmax",      "reduction",
      "attention",   "shape", "indexing", "image", "generators",    "quantization", "control_flow"};
  return kNames[static_cast<size_t>(family)];
}

}  // namespace kiln::ir
