// CPU kernels for the generators family, which make tensors from a shape or a pattern:
// ConstantOfShape, Range, EyeLike, Trilu.
#include <cstring>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/shape_kernels.hpp"

namespace kiln::cpu {
namespace {

void constant_of_shape(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  if (!ctx.node.attrs.has("value")) return;  // float32 zeros, as allocated
  const Tensor& value = ctx.node.attrs.get_tensor("value");
  visit_element_bytes(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T v;
    std::memcpy(&v, value.raw(), sizeof(T));
    std::fill_n(out.data<T>(), out.numel(), v);
  });
}

void range(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      ctx.fail(ErrorCode::kInvalidArgument, "Range does not take bool");
    } else {
      auto start = load(ctx.input(0).data<T>()[0]);
      auto delta = load(ctx.input(2).data<T>()[0]);
      T* dst = out.data<T>();
      // start + i * delta rather than a running sum, so float error does not accumulate; integers
      // in 64 bits, since i may not fit the element type (int8 ranges of 255 elements).
      for (int64_t i = 0; i < out.numel(); ++i) {
        if constexpr (std::is_integral_v<T>) {
          dst[i] = static_cast<T>(static_cast<uint64_t>(start) +
                                  static_cast<uint64_t>(i) * static_cast<uint64_t>(delta));
        } else {
          using C = decltype(start);
          dst[i] = store<T>(static_cast<C>(start + static_cast<C>(i) * delta));
        }
      }
    }
  });
}

void eye_like(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  int64_t rows = out.shape()[0], cols = out.shape()[1];
  int64_t k = ctx.node.attrs.get_int("k", 0);
  visit_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T one = store<T>(static_cast<compute_t<T>>(1));
    T* dst = out.data<T>();
    for (int64_t i = 0; i < rows; ++i) {
      // j = i + k, kept in range without overflowing for extreme k.
      if (k >= cols - i || k < -i) continue;
      dst[i * cols + i + k] = one;
    }
  });
}

void trilu(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  bool upper = ctx.node.attrs.get_int("upper", 1) != 0;
  int64_t k = 0;
  if (ctx.has_input(1)) {
    std::vector<int64_t> kv = read_indices(ctx, ctx.input(1));
    if (kv.size() != 1) ctx.fail(ErrorCode::kInvalidArgument, "k must hold one value");
    k = kv[0];
  }
  const Shape& s = in.shape();
  int64_t rows = s[s.size() - 2], cols = s[s.size() - 1];
  int64_t mats = dims_product(s, 0, s.size() - 2);
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j, ++src, ++dst) {
          // Kept: j - i >= k (upper) or j - i <= k (lower); zero bits are zero in every dtype.
          bool keep = upper ? j - i >= k : j - i <= k;
          *dst = keep ? *src : T{0};
        }
  });
}

}  // namespace

void register_generators_kernels(CpuKernelRegistry& r) {
  r.add("ConstantOfShape", constant_of_shape);
  r.add("Range", range);
  r.add("EyeLike", eye_like);
  r.add("Trilu", trilu);
}

}  // namespace kiln::cpu
