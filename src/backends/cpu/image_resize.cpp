// CPU kernel for Resize (every mode, coordinate transformation, nearest mode, antialias) and
// Upsample. Interpolation is separable: each resized axis is done in its own pass, with the taps
// and weights of every output coordinate from ir/ops/resize_taps (shared with the CUDA kernel).
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "ir/ops/resize_taps.hpp"

namespace kiln::cpu {
namespace {

using ir::AxisTaps;
using ir::ResizeAttrs;

// One separable pass: resizes axis `axis` of `cur` (shape `shape`) in place of a new buffer.
std::vector<double> resize_axis(const std::vector<double>& cur, Shape& shape, size_t axis,
                                int64_t out_len, const AxisTaps& t, double extrapolation) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  int64_t in_len = shape[axis];
  std::vector<double> out(static_cast<size_t>(outer * out_len * inner));
  for (int64_t o = 0; o < outer; ++o) {
    const double* src = cur.data() + o * in_len * inner;
    double* dst = out.data() + o * out_len * inner;
    for (int64_t y = 0; y < out_len; ++y) {
      double* d = dst + y * inner;
      if (t.outside[static_cast<size_t>(y)]) {
        std::fill(d, d + inner, extrapolation);
        continue;
      }
      for (int64_t k = 0; k < t.n; ++k) {
        auto tap = static_cast<size_t>(y * t.n + k);
        double w = t.weight[tap];
        if (w == 0 && !t.keep_zero_weights) continue;
        const double* s = src + t.index[tap] * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] += w * s[i];
      }
    }
  }
  shape[axis] = out_len;
  return out;
}

// Saturating conversion of the interpolated result: integers round half to even and clamp,
// finite floats clamp to their finite range (as the reference's saturate_cast); an infinity or a
// NaN the input held stays one (as in ONNX Runtime).
template <typename T>
T saturate_from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T{0};
    v = std::nearbyint(v);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    double lim = std::is_same_v<T, double>     ? std::numeric_limits<double>::max()
                 : std::is_same_v<T, float>    ? std::numeric_limits<float>::max()
                 : std::is_same_v<T, Half>     ? 65504.0
                 : std::is_same_v<T, BFloat16> ? 3.3895313892515355e38
                                               : 448.0;
    if (std::isfinite(v)) v = std::clamp(v, -lim, lim);
    return store<T>(static_cast<compute_t<T>>(v));
  }
}

void run_resize(KernelContext& ctx, const ResizeAttrs& at, const std::vector<double>& scales,
                const std::vector<double>& roi) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Shape& in = x.shape();
  const Shape& out_shape = y.shape();
  size_t r = in.size();
  ir::ResizeTaps plan = ir::resize_taps(at, in, out_shape, scales, roi);
  const std::vector<AxisTaps>& taps = plan.taps;
  const std::vector<bool>& active = plan.active;
  if (y.numel() == 0) return;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x.data<T>();
    T* dst = y.data<T>();
    std::vector<double> cur(static_cast<size_t>(x.numel()));
    for (size_t i = 0; i < cur.size(); ++i) cur[i] = static_cast<double>(load(src[i]));
    // The passes commute; shrinking axes go first so intermediates stay small.
    std::vector<size_t> order;
    for (size_t a = 0; a < r; ++a) {
      if (active[a]) order.push_back(a);
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t p, size_t q) {
      return static_cast<double>(out_shape[p]) / static_cast<double>(in[p]) <
             static_cast<double>(out_shape[q]) / static_cast<double>(in[q]);
    });
    Shape shape = in;
    for (size_t a : order)
      cur = resize_axis(cur, shape, a, out_shape[a], taps[a], at.extrapolation_value);
    // Nearest taps copy values, and integers beyond 2^53 must not go through double.
    bool exact_copy = at.mode == "nearest" && !at.exclude_outside &&
                      (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>);
    if (!exact_copy) {
      for (size_t i = 0; i < cur.size(); ++i) dst[i] = saturate_from_double<T>(cur[i]);
      return;
    }
    // Gather path: the source element of every output element, axis by axis.
    std::vector<int64_t> index(r, 0);
    std::vector<int64_t> in_strides(r, 1);
    for (size_t a = r; a-- > 1;) in_strides[a - 1] = in_strides[a] * in[a];
    for (int64_t o = 0; o < y.numel(); ++o) {
      int64_t off = 0;
      bool outside = false;
      for (size_t a = 0; a < r; ++a) {
        int64_t s = index[a];
        if (active[a]) {
          const AxisTaps& t = taps[a];
          outside = outside || t.outside[static_cast<size_t>(s)];
          int64_t pick = 0;
          for (int64_t k = 0; k < t.n; ++k) {
            if (t.weight[static_cast<size_t>(s * t.n + k)] != 0) pick = k;
          }
          s = t.index[static_cast<size_t>(s * t.n + pick)];
        }
        off += s * in_strides[a];
      }
      dst[o] = outside ? saturate_from_double<T>(at.extrapolation_value) : src[off];
      for (size_t a = r; a-- > 0;) {
        if (++index[a] < out_shape[a]) break;
        index[a] = 0;
      }
    }
  });
}

void resize_kernel(KernelContext& ctx) {
  const ir::Attributes& a = ctx.node.attrs;
  ResizeAttrs at = ir::resize_attrs(a);
  auto optional = [&](size_t i) { return ctx.has_input(i) ? &ctx.input(i) : nullptr; };
  ir::ResizeParams p = ir::resize_params(a, at, ctx.input(0).shape(), optional(1), optional(2),
                                         optional(3), ctx.node.describe());
  run_resize(ctx, at, p.scales, p.roi);
}

// Upsample is rewritten to Resize at import; a hand-built graph may still hold one.
void upsample_kernel(KernelContext& ctx) {
  std::vector<double> scales =
      ir::upsample_scales(ctx.node.attrs, ctx.has_input(1) ? &ctx.input(1) : nullptr,
                          static_cast<size_t>(ctx.input(0).rank()), ctx.node.describe());
  run_resize(ctx, ir::upsample_attrs(ctx.node.attrs), scales, {});
}

}  // namespace

void register_image_resize_kernels(CpuKernelRegistry& r) {
  r.add("Resize", resize_kernel);
  r.add("Upsample", upsample_kernel);
}

}  // namespace kiln::cpu
