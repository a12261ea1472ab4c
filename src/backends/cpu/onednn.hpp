// The process-wide oneDNN CPU engine and small conversions, for kernels that call oneDNN.
#pragma once

#include <dnnl.hpp>

#include "kiln/tensor.hpp"

namespace kiln::cpu {

dnnl::engine& onednn_engine();

inline dnnl::memory::dims to_dnnl_dims(const Shape& s) {
  return dnnl::memory::dims(s.begin(), s.end());
}

// A plain (row-major, contiguous) float32 memory descriptor.
dnnl::memory::desc plain_f32_desc(const Shape& shape);

// Runs `prim` on a fresh stream and waits for it; wraps oneDNN errors into kiln::Error.
void run_primitive(const dnnl::primitive& prim, const std::unordered_map<int, dnnl::memory>& args);

}  // namespace kiln::cpu
