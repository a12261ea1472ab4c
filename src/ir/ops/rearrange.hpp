// Rearrange, kiln's own op for an input layer's whole reformat in one copy: the builder makes it
// from a chain of Cast, Reshape, Transpose and a zero Pad after the last axis (an image's FP32
// NCHW -> FP16 NHWC, padded to whole vectors of channels). Its output, read row-major, is the
// input's elements at `strides` (elements) over the virtual dims `sizes` (row-major), converted to
// `to`, laid out as rows of the output's last axis with `pad` zeros after each row's
// shape.back() - pad elements.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::ir {

struct RearrangeSpec {
  std::vector<int64_t> sizes;    // the valid elements' virtual dims, row-major
  std::vector<int64_t> strides;  // the input element stride of each
  Shape shape;                   // the output's
  int64_t pad = 0;               // zeros after each output row
  DataType to = DataType::kFloat32;
};

// The types Rearrange reads and writes: float32, float16 and bfloat16.
bool is_rearranged_type(DataType t);

// Reads and checks a Rearrange node's attributes against its input (`input_elements` -1 when
// unknown): every read in bounds, the sizes covering exactly the valid output elements, floating
// types only. Failures go to `fail`, which must throw.
RearrangeSpec read_rearrange_spec(const Node& node, int64_t input_elements, DataType input_dtype,
                                  const std::function<void(const std::string&)>& fail);

}  // namespace kiln::ir
