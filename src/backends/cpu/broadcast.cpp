// Broadcast strides and the strided N-d walker.
#include "backends/cpu/broadcast.hpp"

namespace kiln::cpu {

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  std::vector<int64_t> c = contiguous_strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[off + i] = in[i] == 1 ? 0 : c[i];
  return s;
}

StridedWalk::StridedWalk(const Shape& shape, std::vector<std::vector<int64_t>> strides)
    : shape_(shape),
      strides_(std::move(strides)),
      index_(shape.size(), 0),
      offsets_(strides_.size(), 0) {
  for (int64_t d : shape_) done_ |= d == 0;
}

void StridedWalk::next() {
  for (size_t i = shape_.size(); i-- > 0;) {
    if (++index_[i] < shape_[i]) {
      for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] += strides_[k][i];
      return;
    }
    for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] -= strides_[k][i] * (shape_[i] - 1);
    index_[i] = 0;
  }
  done_ = true;
}

}  // namespace kiln::cpu
