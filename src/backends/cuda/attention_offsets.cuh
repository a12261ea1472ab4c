// Where batch entry `b` of an attention layer starts in each operand (device code shared by the
// attention kernels): the flat batch index decomposed over the batch dims, times each operand's
// stride along them (0 where it broadcasts).
#pragma once

#include <cstdint>

#include "backends/cuda/attention.hpp"

namespace kiln::cuda {

struct AttentionOffsets {
  int64_t q = 0, k = 0, v = 0, mask = 0, y = 0;
};

__device__ inline AttentionOffsets attention_offsets(const AttentionArgs& a, int64_t b) {
  AttentionOffsets o;
  for (int dim = a.num_batch_dims - 1; dim >= 0; --dim) {
    const int64_t idx = b % a.batch[dim];
    b /= a.batch[dim];
    o.q += idx * a.q_batch[dim];
    o.k += idx * a.k_batch[dim];
    o.v += idx * a.v_batch[dim];
    o.mask += idx * a.m_batch[dim];
    o.y += idx * a.y_batch[dim];
  }
  return o;
}

}  // namespace kiln::cuda
