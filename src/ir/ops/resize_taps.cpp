// Resize sampling shared by the CPU and CUDA kernels: coordinate transformations, the nearest,
// linear and cubic filters (antialiased too), and the tap selection of the ONNX reference.
#include "ir/ops/resize_taps.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/float_types.hpp"
#include "ir/ops/resize.hpp"

namespace kiln::ir {
namespace {

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

// Float inputs (roi, scales) as doubles; scales are float32 in ONNX and round as float.
std::vector<double> float_values(const Tensor& t, const std::string& who, const char* what) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DataType::kFloat32:
        v[i] = t.data<float>()[i];
        break;
      case DataType::kFloat64:
        v[i] = t.data<double>()[i];
        break;
      case DataType::kFloat16:
        v[i] = static_cast<float>(t.data<Half>()[i]);
        break;
      case DataType::kBFloat16:
        v[i] = static_cast<float>(t.data<BFloat16>()[i]);
        break;
      default:
        fail(ErrorCode::kInvalidArgument, who, ": ", what, " must be a float tensor, not ",
             to_string(t.dtype()));
    }
  }
  return v;
}

}  // namespace

ResizeAttrs resize_attrs(const Attributes& a) {
  ResizeAttrs at;
  at.mode = a.get_string("mode", "nearest");
  at.coordinate_mode = a.get_string("coordinate_transformation_mode", "half_pixel");
  at.nearest_mode = a.get_string("nearest_mode", "round_prefer_floor");
  at.cubic_a = a.get_float("cubic_coeff_a", -0.75f);
  at.exclude_outside = a.get_int("exclude_outside", 0) != 0;
  at.antialias = a.get_int("antialias", 0) != 0 && at.mode != "nearest";
  at.extrapolation_value = a.get_float("extrapolation_value", 0.f);
  return at;
}

ResizeAttrs upsample_attrs(const Attributes& a) {
  ResizeAttrs at;
  at.mode = a.get_string("mode", "nearest") == "nearest" ? "nearest" : "linear";
  at.coordinate_mode = "asymmetric";
  at.nearest_mode = "floor";
  return at;
}

AxisTaps axis_taps(const ResizeAttrs& at, int64_t in_len, int64_t out_len, double scale,
                   double roi_start, double roi_end) {
  AxisTaps t;
  t.outside.resize(static_cast<size_t>(out_len));
  // Plain linear and cubic sampling keep their zero-weight taps: ONNX Runtime multiplies every
  // tap by its weight, so a NaN or an infinity beside the sampled point gives NaN (0 * NaN), and
  // it picks those taps above an integral coordinate (the reference, below) and clamps a linear
  // coordinate into the input first. The numbers are the same either way.
  t.keep_zero_weights =
      (at.mode == "linear" || at.mode == "cubic") && !at.antialias && !at.exclude_outside;
  for (int64_t y = 0; y < out_len; ++y) {
    bool outside = false;
    double x = original_coordinate(at, static_cast<double>(y), scale, in_len, out_len, roi_start,
                                   roi_end, outside);
    t.outside[static_cast<size_t>(y)] = outside;
    if (t.keep_zero_weights && at.mode == "linear" && !outside)
      x = std::clamp(x, 0.0, static_cast<double>(in_len - 1));
    double fl = std::floor(x);
    double ratio = x == fl ? (t.keep_zero_weights ? 0.0 : 1.0) : x - fl;
    std::vector<double> c = coeffs(at, ratio, scale);
    auto n = static_cast<int64_t>(c.size());
    t.n = n;
    // The n nearest input positions to x (lower ones preferred), as the reference picks them.
    int64_t pad = (n + 1) / 2;
    double xp = x + static_cast<double>(pad);
    double p = std::floor(xp);
    double frac = xp - p;
    int64_t off = n % 2 == 0 ? (frac == 0 && !t.keep_zero_weights ? -(n / 2) : -(n / 2) + 1)
                             : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    int64_t start = static_cast<int64_t>(p) + off - pad;
    // At the last input position both linear taps are that position, at half weight each (as in
    // ONNX Runtime): an infinity there stays one rather than becoming inf + 0 * inf = NaN.
    if (t.keep_zero_weights && at.mode == "linear" && start >= in_len - 1) c = {0.5, 0.5};
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

ResizeTaps resize_taps(const ResizeAttrs& at, const Shape& in, const Shape& out,
                       const std::vector<double>& scales, const std::vector<double>& roi) {
  size_t r = in.size();
  ResizeTaps t;
  t.active.assign(r, false);
  t.taps.resize(r);
  for (size_t a = 0; a < r; ++a) {
    double rs = roi.empty() ? 0.0 : roi[a];
    double re = roi.empty() ? 1.0 : roi[a + r];
    bool trivial_roi = std::abs(rs) < 1e-9 && std::abs(re - 1) < 1e-9;
    if (std::abs(scales[a] - 1) <= 1e-9 && out[a] == in[a] && trivial_roi) continue;
    if (in[a] == 0) continue;  // nothing to sample; the output axis is empty too
    t.active[a] = true;
    t.taps[a] = axis_taps(at, in[a], out[a], scales[a], rs, re);
  }
  return t;
}

ResizeParams resize_params(const Attributes& a, const ResizeAttrs& at, const Shape& input,
                           const Tensor* roi, const Tensor* scales, const Tensor* sizes,
                           const std::string& who) {
  auto r = static_cast<int64_t>(input.size());
  std::vector<int64_t> axes;
  for (int64_t ax : a.get_ints("axes", {})) axes.push_back(ax < 0 ? ax + r : ax);
  if (axes.empty()) {
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  auto given = [](const Tensor* t) { return t && t->numel() > 0; };
  std::vector<double> scale_values;
  std::vector<int64_t> size_values;
  if (given(scales)) {
    for (double s : float_values(*scales, who, "scales"))
      scale_values.push_back(static_cast<double>(static_cast<float>(s)));
  } else if (given(sizes)) {
    if (sizes->dtype() != DataType::kInt64)
      fail(ErrorCode::kInvalidArgument, who, ": sizes must be int64");
    size_values.assign(sizes->data<int64_t>(), sizes->data<int64_t>() + sizes->numel());
  }
  ResizeGeometry g = resize_geometry(
      input, given(scales) ? &scale_values : nullptr, given(scales) ? nullptr : &size_values, axes,
      a.get_string("keep_aspect_ratio_policy", "stretch"), who, ErrorCode::kInvalidArgument);
  ResizeParams p;
  p.scales = g.scales;
  // roi holds starts then ends for the listed axes; expand it to every axis.
  if (at.coordinate_mode == "tf_crop_and_resize" && given(roi)) {
    std::vector<double> raw = float_values(*roi, who, "roi");
    if (raw.size() != 2 * axes.size())
      fail(ErrorCode::kInvalidArgument, who, ": roi has ", raw.size(), " values, expected ",
           2 * axes.size());
    p.roi.assign(2 * static_cast<size_t>(r), 0.0);
    for (int64_t i = 0; i < r; ++i) p.roi[static_cast<size_t>(r + i)] = 1.0;
    for (size_t i = 0; i < axes.size(); ++i) {
      p.roi[static_cast<size_t>(axes[i])] = raw[i];
      p.roi[static_cast<size_t>(r + axes[i])] = raw[axes.size() + i];
    }
  }
  return p;
}

std::vector<double> upsample_scales(const Attributes& a, const Tensor* scales, size_t rank,
                                    const std::string& who) {
  std::vector<double> v;
  if (scales) {
    v = float_values(*scales, who, "scales");
  } else {
    for (float f : a.get_floats("scales")) v.push_back(f);
  }
  for (double& s : v) s = static_cast<double>(static_cast<float>(s));
  if (v.size() != rank)
    fail(ErrorCode::kInvalidArgument, who, ": scales has ", v.size(), " values, expected ", rank);
  return v;
}

}  // namespace kiln::ir
