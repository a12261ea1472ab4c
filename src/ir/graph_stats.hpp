// Size and cost of a graph, as `kiln inspect` and the benchmarks report them: op histogram,
// parameter count, and a FLOP estimate from per-op formulas over the inferred shapes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::ir {

// FLOPs of one node, by its op's formula in the op table (OpTraits::flops). Matrix work (Conv,
// ConvTranspose, Gemm, MatMul, two-operand Einsum) counts a multiply-add as 2; elementwise ops
// count ~1 per output element; normalizations, softmax, reductions and pooling a few per element.
// 0 for pure data movement (Reshape, Transpose...). nullopt when the shapes the formula needs are
// not known, or when the node is a compute op kiln has no formula for. With `symbols_as_one`,
// unknown dimensions of known-rank shapes count as 1 and their symbols ("?" if anonymous) are added
// to the set; without it they make the result nullopt.
std::optional<double> node_flops(const Node& node, std::set<std::string>* symbols_as_one = nullptr);

struct GraphStats {
  std::map<std::string, int64_t> op_histogram;  // op name -> number of nodes
  // Elements of the distinct constant tensors that nodes read and that hold weights, i.e. are
  // floating point or 8-bit integers (quantized weights); int32/int64/bool constants are shapes,
  // axes and indices, not parameters.
  int64_t parameters = 0;
  double flops = 0;
  std::set<std::string> symbols_as_one;  // symbolic dims taken as 1 in `flops` ("batch")
  std::vector<const Node*> uncounted;    // compute nodes whose FLOPs could not be estimated
};

GraphStats graph_stats(const Graph& graph);

}  // namespace kiln::ir
