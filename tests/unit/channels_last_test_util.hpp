// Test helpers for channels-last layers: random float tensors of any float dtype, moving a
// tensor's data between [N, C, spatial...] and [N, spatial..., C], and reading it as doubles.
#pragma once

#include <cstring>
#include <random>
#include <vector>

#include "core/float_types.hpp"
#include "ir/ops/channels_last.hpp"
#include "kiln/tensor.hpp"

namespace kiln::test {

inline double element_as_double(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data<float>()[i];
    case DataType::kFloat64:
      return t.data<double>()[i];
    case DataType::kFloat16:
      return static_cast<float>(t.data<Half>()[i]);
    case DataType::kBFloat16:
      return static_cast<float>(t.data<BFloat16>()[i]);
    default:
      throw std::runtime_error("element_as_double: not a float tensor");
  }
}

inline std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = element_as_double(t, i);
  return v;
}

// Uniform values in [lo, hi), rounded to `dtype`.
inline Tensor random_tensor(DataType dtype, const Shape& shape, uint32_t seed, float lo = -1,
                            float hi = 1) {
  Tensor t(dtype, shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = dist(gen);
    switch (dtype) {
      case DataType::kFloat32:
        t.data<float>()[i] = v;
        break;
      case DataType::kFloat64:
        t.data<double>()[i] = v;
        break;
      case DataType::kFloat16:
        t.data<Half>()[i] = Half(v);
        break;
      case DataType::kBFloat16:
        t.data<BFloat16>()[i] = BFloat16(v);
        break;
      default:
        throw std::runtime_error("random_tensor: not a float dtype");
    }
  }
  return t;
}

// Copies `t` with its axis 1 moved last (to_last) or its last axis moved to 1 (!to_last).
inline Tensor move_channels(const Tensor& t, bool to_last) {
  const Shape& s = t.shape();
  Shape out = to_last ? ir::to_channels_last(s) : ir::to_channels_first(s);
  Tensor r(t.dtype(), out);
  const size_t es = element_size(t.dtype());
  // Work in NC-spatial coordinates: (n, c, p) with p the flat spatial index.
  const Shape first = to_last ? s : out;
  const int64_t n = first[0], c = first[1], p = n * c == 0 ? 0 : t.numel() / (n * c);
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(r.raw());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t q = 0; q < p; ++q) {
        int64_t nchw = (i * c + k) * p + q, nhwc = (i * p + q) * c + k;
        int64_t from = to_last ? nchw : nhwc, to = to_last ? nhwc : nchw;
        std::memcpy(dst + static_cast<size_t>(to) * es, src + static_cast<size_t>(from) * es, es);
      }
  return r;
}

inline Tensor to_nhwc(const Tensor& t) {
  return move_channels(t, true);
}
inline Tensor to_nchw(const Tensor& t) {
  return move_channels(t, false);
}

}  // namespace kiln::test
