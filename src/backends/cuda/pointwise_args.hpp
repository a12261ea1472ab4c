// The launch arguments of a Pointwise layer's kernel (generated or interpreted): its inputs read
// through per-input strides over the collapsed output dims (stride 0 where an input broadcasts),
// its contiguous outputs. A plain struct passed by value; the generated source declares the same
// layout (pointwise_codegen.cpp writes it from these constants).
#pragma once

#include <cstdint>

namespace kiln::cuda {

constexpr int kPointwiseMaxInputs = 16;
constexpr int kPointwiseMaxOutputs = 8;
constexpr int kPointwiseMaxRank = 8;

struct PointwiseArgs {
  const void* in[kPointwiseMaxInputs];
  void* out[kPointwiseMaxOutputs];
  long long dims[kPointwiseMaxRank];
  long long strides[kPointwiseMaxInputs][kPointwiseMaxRank];
  long long total;
  int rank;
};

}  // namespace kiln::cuda
