// Dimension merging for StridedLayout.
#include "backends/cuda/strided_layout.hpp"

#include "core/error.hpp"

namespace kiln::cuda {

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> s(out.size(), 0);
  std::vector<int64_t> own = contiguous_strides(in);
  size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) s[lead + i] = in[i] == 1 ? 0 : own[i];
  return s;
}

template <int N>
StridedLayout<N> make_strided_layout(const Shape& shape,
                                     const std::vector<std::vector<int64_t>>& strides) {
  // Drop size-1 dims, then merge dim d into d+1 when every operand has stride[d] ==
  // stride[d+1] * size[d+1] (the pair walks memory as one dim).
  std::vector<int64_t> sizes;
  std::vector<std::vector<int64_t>> st(N);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (int k = 0; k < N && merge; ++k) {
      merge = st[k].back() == strides[k][d] * shape[d];
    }
    if (merge) {
      sizes.back() *= shape[d];
      for (int k = 0; k < N; ++k) st[k].back() = strides[k][d];
    } else {
      sizes.push_back(shape[d]);
      for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (sizes.size() > static_cast<size_t>(kMaxDims)) {
    fail(ErrorCode::kUnsupported, "CUDA strided kernels take at most ", kMaxDims,
         " non-mergeable dimensions, got ", sizes.size());
  }
  StridedLayout<N> l;
  l.rank = static_cast<int>(sizes.size());
  for (int d = 0; d < l.rank; ++d) {
    l.sizes[d] = sizes[d];
    for (int k = 0; k < N; ++k) l.strides[k][d] = st[k][d];
  }
  return l;
}

BinaryPlan plan_binary(const Shape& a, const Shape& b, const Shape& out) {
  BinaryPlan p;
  int64_t n = shape_numel(out);
  bool a_flat = shape_numel(a) == n || shape_numel(a) == 1;
  bool b_flat = shape_numel(b) == n || shape_numel(b) == 1;
  if (a_flat && b_flat) {
    p.flat = true;
    p.a_scalar = shape_numel(a) == 1 && n != 1;
    p.b_scalar = shape_numel(b) == 1 && n != 1;
    return p;
  }
  p.layout = make_strided_layout<2>(out, {broadcast_strides(a, out), broadcast_strides(b, out)});
  return p;
}

template StridedLayout<1> make_strided_layout<1>(const Shape&,
                                                 const std::vector<std::vector<int64_t>>&);
template StridedLayout<2> make_strided_layout<2>(const Shape&,
                                                 const std::vector<std::vector<int64_t>>&);
template StridedLayout<3> make_strided_layout<3>(const Shape&,
                                                 const std::vector<std::vector<int64_t>>&);
template StridedLayout<16> make_strided_layout<16>(const Shape&,
                                                   const std::vector<std::vector<int64_t>>&);

}  // namespace kiln::cuda
