// CPU kernel for Resize (every mode, coordinate transformation, nearest mode, antialias) and
// Upsample. Interpolation is separable: each resized axis is done in its own pass, with the
// taps and weights of every output coordinate computed once, exactly as the ONNX reference does.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/reduction_family.hpp"
#include "ir/ops/resize.hpp"

namespace kiln::cpu {
namespace {

struct ResizeAttrs {
  std::string mode = "nearest";
  std::string coordinate_mode = "half_pixel";
  std::string nearest_mode = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
  bool antialias = false;
  double extrapolation_value = 0;
};

// For one axis: `n` taps per output coordinate (input index and weight), and whether the
// coordinate falls outside the crop (tf_crop_and_resize) and takes extrapolation_value.
struct AxisTaps {
  int64_t n = 0;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<bool> outside;
};

std::vector<double> nearest_coeffs(double ratio, const std::string& mode) {
  if (ratio == std::floor(ratio)) return {0, 1};
  if (mode == "round_prefer_floor") return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
  if (mode == "round_prefer_ceil") return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
  if (mode == "floor") return {1, 0};
  return {0, 1};  // ceil
}

std::vector<double> cubic_coeffs(double r, double a) {
  double s = 1 - r;
  return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
          ((a + 2) * r - (a + 3)) * r * r + 1, ((a + 2) * s - (a + 3)) * s * s + 1,
          ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
}

// Antialiased filters stretch the kernel by 1/scale when downsampling.
std::vector<double> cubic_coeffs_antialias(double ratio, double scale, double a) {
  scale = std::min(scale, 1.0);
  auto coeff = [&](double x) {
    x = std::abs(x);
    if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
    if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    return 0.0;
  };
  auto start = static_cast<int64_t>(std::floor(-2 / scale) + 1);
  std::vector<double> c;
  double sum = 0;
  for (int64_t i = start; i < 2 - start; ++i) {
    c.push_back(coeff(scale * (static_cast<double>(i) - ratio)));
    sum += c.back();
  }
  for (double& v : c) v /= sum;
  return c;
}

std::vector<double> linear_coeffs_antialias(double ratio, double scale) {
  scale = std::min(scale, 1.0);
  auto start = static_cast<int64_t>(std::floor(-1 / scale) + 1);
  int64_t footprint = 2 - 2 * start;
  std::vector<double> c;
  double sum = 0;
  for (int64_t i = start; i < start + footprint; ++i) {
    double arg = (static_cast<double>(i) - ratio) * scale;
    c.push_back(std::clamp(1 - std::abs(arg), 0.0, 1.0));
    sum += c.back();
  }
  for (double& v : c) v /= sum;
  return c;
}

std::vector<double> coeffs(const ResizeAttrs& at, double ratio, double scale) {
  if (at.mode == "nearest") return nearest_coeffs(ratio, at.nearest_mode);
  if (at.mode == "linear")
    return at.antialias ? linear_coeffs_antialias(ratio, scale)
                        : std::vector<double>{1 - ratio, ratio};
  return at.antialias ? cubic_coeffs_antialias(ratio, scale, at.cubic_a)
                      : cubic_coeffs(ratio, at.cubic_a);
}

// Maps output coordinate y to the input coordinate; sets `outside` for crop extrapolation.
double original_coordinate(const ResizeAttrs& at, double y, double scale, int64_t in_len,
                           int64_t out_len, double roi_start, double roi_end, bool& outside) {
  auto in = static_cast<double>(in_len);
  double out = scale * in;  // the real-valued output length, as the reference uses
  const std::string& m = at.coordinate_mode;
  outside = false;
  if (m == "align_corners") return out == 1 ? 0 : y * (in - 1) / (out - 1);
  if (m == "asymmetric") return y / scale;
  if (m == "tf_half_pixel_for_nearest") return (y + 0.5) / scale;
  if (m == "tf_crop_and_resize") {
    double x = out == 1 ? (roi_end - roi_start) * (in - 1) / 2
                        : y * (roi_end - roi_start) * (in - 1) / (out - 1);
    x += roi_start * (in - 1);
    outside = x < 0 || x > in - 1;
    return x;
  }
  if (m == "pytorch_half_pixel") return out == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
  if (m == "half_pixel_symmetric") {
    double adjustment = static_cast<double>(out_len) / out;
    double offset = in / 2 * (1 - adjustment);
    return offset + (y + 0.5) / scale - 0.5;
  }
  return (y + 0.5) / scale - 0.5;  // half_pixel
}

AxisTaps axis_taps(const ResizeAttrs& at, int64_t in_len, int64_t out_len, double scale,
                   double roi_start, double roi_end) {
  AxisTaps t;
  t.outside.resize(static_cast<size_t>(out_len));
  for (int64_t y = 0; y < out_len; ++y) {
    bool outside = false;
    double x = original_coordinate(at, static_cast<double>(y), scale, in_len, out_len, roi_start,
                                   roi_end, outside);
    t.outside[static_cast<size_t>(y)] = outside;
    double fl = std::floor(x);
    double ratio = x == fl ? 1.0 : x - fl;
    std::vector<double> c = coeffs(at, ratio, scale);
    auto n = static_cast<int64_t>(c.size());
    t.n = n;
    // The n nearest input positions to x (lower ones preferred), as the reference picks them.
    int64_t pad = (n + 1) / 2;
    double xp = x + static_cast<double>(pad);
    double p = std::floor(xp);
    double frac = xp - p;
    int64_t off = n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1)
                             : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    int64_t start = static_cast<int64_t>(p) + off - pad;
    if (at.exclude_outside) {
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        int64_t i = start + j;
        if (i < 0 || i >= in_len) c[static_cast<size_t>(j)] = 0;
        sum += c[static_cast<size_t>(j)];
      }
      if (sum == 0) sum = 1;
      for (double& v : c) v /= sum;
    }
    for (int64_t j = 0; j < n; ++j) {
      t.index.push_back(std::clamp<int64_t>(start + j, 0, in_len - 1));
      t.weight.push_back(c[static_cast<size_t>(j)]);
    }
  }
  return t;
}

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
        if (w == 0) continue;
        const double* s = src + t.index[tap] * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] += w * s[i];
      }
    }
  }
  shape[axis] = out_len;
  return out;
}

// Saturating conversion of the interpolated result: integers round half to even and clamp,
// floats clamp to their finite range (as the reference's saturate_cast).
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
    if (!std::isnan(v)) v = std::clamp(v, -lim, lim);
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
  std::vector<AxisTaps> taps(r);
  std::vector<bool> active(r, false);
  for (size_t a = 0; a < r; ++a) {
    double rs = roi.empty() ? 0.0 : roi[a];
    double re = roi.empty() ? 1.0 : roi[a + r];
    bool trivial_roi = std::abs(rs) < 1e-9 && std::abs(re - 1) < 1e-9;
    if (std::abs(scales[a] - 1) <= 1e-9 && out_shape[a] == in[a] && trivial_roi) continue;
    if (in[a] == 0) continue;  // nothing to sample; the output axis is empty too
    active[a] = true;
    taps[a] = axis_taps(at, in[a], out_shape[a], scales[a], rs, re);
  }
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

std::vector<double> tensor_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(load(t.data<T>()[i]));
  });
  return v;
}

void resize_kernel(KernelContext& ctx) {
  const ir::Attributes& a = ctx.node.attrs;
  ResizeAttrs at;
  at.mode = a.get_string("mode", "nearest");
  at.coordinate_mode = a.get_string("coordinate_transformation_mode", "half_pixel");
  at.nearest_mode = a.get_string("nearest_mode", "round_prefer_floor");
  at.cubic_a = a.get_float("cubic_coeff_a", -0.75f);
  at.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  at.antialias = a.get_int("antialias", 0) != 0 && at.mode != "nearest";
  at.extrapolation_value = a.get_float("extrapolation_value", 0.f);
  const Tensor& x = ctx.input(0);
  auto r = static_cast<int64_t>(x.rank());
  std::vector<int64_t> axes;
  for (int64_t ax : a.get_ints("axes", {})) axes.push_back(ax < 0 ? ax + r : ax);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  auto given = [&](size_t i) { return ctx.has_input(i) && ctx.input(i).numel() > 0; };
  std::vector<double> scale_values;
  std::vector<int64_t> sizes;
  if (given(2)) {
    for (double s : tensor_doubles(ctx.input(2)))
      scale_values.push_back(static_cast<double>(static_cast<float>(s)));
  } else if (given(3)) {
    const Tensor& s = ctx.input(3);
    sizes.assign(s.data<int64_t>(), s.data<int64_t>() + s.numel());
  }
  ir::ResizeGeometry g = ir::resize_geometry(x.shape(), given(2) ? &scale_values : nullptr,
                                             given(2) ? nullptr : &sizes, axes,
                                             a.get_string("keep_aspect_ratio_policy", "stretch"),
                                             ctx.node.describe(), ErrorCode::kInvalidArgument);
  // roi holds starts then ends for the listed axes; expand it to every axis.
  std::vector<double> roi;
  if (at.coordinate_mode == "tf_crop_and_resize" && given(1)) {
    std::vector<double> raw = tensor_doubles(ctx.input(1));
    if (raw.size() != 2 * axes.size())
      ctx.fail(ErrorCode::kInvalidArgument, "roi has ", raw.size(), " values, expected ",
               2 * axes.size());
    roi.assign(2 * static_cast<size_t>(r), 0.0);
    for (int64_t i = 0; i < r; ++i) roi[static_cast<size_t>(r + i)] = 1.0;
    for (size_t i = 0; i < axes.size(); ++i) {
      roi[static_cast<size_t>(axes[i])] = raw[i];
      roi[static_cast<size_t>(r + axes[i])] = raw[axes.size() + i];
    }
  }
  run_resize(ctx, at, g.scales, roi);
}

// Upsample is rewritten to Resize at import; a hand-built graph may still hold one.
void upsample_kernel(KernelContext& ctx) {
  const ir::Attributes& a = ctx.node.attrs;
  ResizeAttrs at;
  at.mode = a.get_string("mode", "nearest") == "nearest" ? "nearest" : "linear";
  at.coordinate_mode = "asymmetric";
  at.nearest_mode = "floor";
  std::vector<double> scales;
  if (ctx.has_input(1)) {
    scales = tensor_doubles(ctx.input(1));
  } else {
    for (float f : a.get_floats("scales")) scales.push_back(f);
  }
  for (double& s : scales) s = static_cast<double>(static_cast<float>(s));
  if (scales.size() != static_cast<size_t>(ctx.input(0).rank()))
    ctx.fail(ErrorCode::kInvalidArgument, "scales has ", scales.size(), " values, expected ",
             ctx.input(0).rank());
  run_resize(ctx, at, scales, {});
}

}  // namespace

void register_resize_kernels(CpuKernelRegistry& r) {
  r.add("Resize", resize_kernel);
  r.add("Upsample", upsample_kernel);
}

}  // namespace kiln::cpu
