// Index arithmetic for broadcasting and strided walks over N-d tensors.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::cpu {

// Row-major strides of a contiguous tensor.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// Strides that read a tensor of `in` shape as if broadcast to `out` shape (0 on broadcast dims).
// `in` is right-aligned against `out`, numpy style.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Walks every index of `shape` in row-major order, keeping one linear offset per stride set.
// Usage: for (StridedWalk w(shape, {a_strides, b_strides}); !w.done(); w.next()) use w.offset(k).
class StridedWalk {
 public:
  StridedWalk(const Shape& shape, std::vector<std::vector<int64_t>> strides);
  bool done() const { return done_; }
  int64_t offset(size_t k) const { return offsets_[k]; }
  const std::vector<int64_t>& index() const { return index_; }
  void next();

 private:
  Shape shape_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> index_;
  std::vector<int64_t> offsets_;
  bool done_ = false;
};

}  // namespace kiln::cpu
