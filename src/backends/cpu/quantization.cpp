// CPU kernels for QuantizeLinear and DequantizeLinear: per-tensor, per-axis and blocked scales,
// integer and float8 quantized types, round half to even, saturation; DynamicQuantizeLinear.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"

namespace kiln::cpu {
namespace {

// Which scale (and zero point) element applies to each input element.
class ScaleIndex {
 public:
  ScaleIndex(const KernelContext& ctx, const Tensor& x, const Tensor& scale) {
    block_ = ctx.node.attrs.get_int("block_size", 0);
    if (block_ == 0 && scale.numel() == 1) return;  // per tensor
    int64_t axis = ctx.node.attrs.get_int("axis", 1);
    if (axis < 0) axis += x.rank();
    mode_ = block_ == 0 ? Mode::kAxis : Mode::kBlocked;
    for (int64_t i = 0; i < x.rank(); ++i) {
      if (i < axis) outer_ *= x.dim(i);
      if (i == axis) len_ = x.dim(i);
      if (i > axis) inner_ *= x.dim(i);
    }
    if (mode_ == Mode::kBlocked) scale_len_ = (len_ + block_ - 1) / block_;
  }

  int64_t operator()(int64_t e) const {
    if (mode_ == Mode::kTensor) return 0;
    int64_t i = e % inner_;
    int64_t k = (e / inner_) % len_;
    if (mode_ == Mode::kAxis) return k;
    int64_t o = e / (inner_ * len_);
    return (o * scale_len_ + k / block_) * inner_ + i;
  }

 private:
  enum class Mode { kTensor, kAxis, kBlocked };
  Mode mode_ = Mode::kTensor;
  int64_t block_ = 0, outer_ = 1, len_ = 1, inner_ = 1, scale_len_ = 1;
};

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(load(t.data<T>()[i]));
  });
  return v;
}

// The float type x / scale is computed in, as numpy would: the `precision` attribute, else
// the promotion of the input and scale types (int32 input promotes to double).
DataType division_type(const ir::Attributes& attrs, DataType x, DataType scale) {
  switch (attrs.get_int("precision", 0)) {
    case 1:
      return DataType::kFloat32;
    case 10:
      return DataType::kFloat16;
    case 11:
      return DataType::kFloat64;
    case 16:
      return DataType::kBFloat16;
    default:
      break;
  }
  if (x == DataType::kInt32 || x == DataType::kFloat64 || scale == DataType::kFloat64 ||
      scale == DataType::kInt32)
    return DataType::kFloat64;
  if (x == scale) return x;
  return DataType::kFloat32;
}

double round_to(DataType t, double v) {
  switch (t) {
    case DataType::kFloat16:
      return static_cast<float>(Half(static_cast<float>(v)));
    case DataType::kBFloat16:
      return static_cast<float>(BFloat16(static_cast<float>(v)));
    case DataType::kFloat32:
      return static_cast<float>(v);
    default:
      return v;
  }
}

double quotient(DataType t, double x, double s) {
  return t == DataType::kFloat64 ? x / s : round_to(t, round_to(t, x) / round_to(t, s));
}

void quantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  ScaleIndex si(ctx, x, scale_t);
  std::vector<double> xs = as_doubles(x);
  std::vector<double> scales = as_doubles(scale_t);
  std::vector<double> zps;
  if (ctx.has_input(2)) zps = as_doubles(ctx.input(2));
  bool saturate = ctx.node.attrs.get_int("saturate", 1) != 0;
  DataType div = division_type(ctx.node.attrs, x.dtype(), scale_t.dtype());
  visit_dtype(y.dtype(), [&](auto tag) {
    using Q = decltype(tag);
    Q* out = y.data<Q>();
    for (int64_t e = 0; e < x.numel(); ++e) {
      auto k = static_cast<size_t>(si(e));
      double q = quotient(div, xs[static_cast<size_t>(e)], scales[k]);
      if constexpr (std::is_same_v<Q, Float8E4M3>) {
        // The reference ignores the float8 zero point (it must be 0).
        out[e].bits = float_to_fp8e4m3_bits(static_cast<float>(q), saturate);
      } else if constexpr (std::is_integral_v<Q> && !std::is_same_v<Q, bool>) {
        double v = std::nearbyint(q) + (zps.empty() ? 0.0 : zps[k]);  // round half to even
        // NaN saturates low, as in ONNX Runtime (its vector clamp gives the lower bound).
        if (std::isnan(v)) v = static_cast<double>(std::numeric_limits<Q>::lowest());
        v = std::clamp(v, static_cast<double>(std::numeric_limits<Q>::lowest()),
                       static_cast<double>(std::numeric_limits<Q>::max()));
        out[e] = static_cast<Q>(v);
      } else {
        ctx.fail(ErrorCode::kUnsupported, "cannot quantize to ", to_string(y.dtype()));
      }
    }
  });
}

void dequantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& scale_t = ctx.input(1);
  Tensor& y = ctx.output(0);
  ScaleIndex si(ctx, x, scale_t);
  std::vector<double> xs = as_doubles(x);
  std::vector<double> scales = as_doubles(scale_t);
  std::vector<double> zps;
  bool wide = x.dtype() == DataType::kInt32;  // numpy computes int32 inputs in double
  if (ctx.has_input(2) && x.dtype() != DataType::kFloat8E4M3) zps = as_doubles(ctx.input(2));
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      ctx.fail(ErrorCode::kUnsupported, "cannot dequantize to ", to_string(y.dtype()));
    } else {
      T* out = y.data<T>();
      for (int64_t e = 0; e < x.numel(); ++e) {
        auto k = static_cast<size_t>(si(e));
        double xv = static_cast<float>(xs[static_cast<size_t>(e)]);
        double zp = zps.empty() ? 0.0 : zps[k];
        double v =
            wide ? (xv - zp) * scales[k]
                 : static_cast<float>(static_cast<float>(xv - zp) * static_cast<float>(scales[k]));
        out[e] = store<T>(static_cast<compute_t<T>>(v));
      }
    }
  });
}

// uint8 quantization with the scale and zero point chosen from the data's range (widened to
// include 0), computed in float32 as the ONNX reference does.
void dynamic_quantize_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const float* in = x.data<float>();
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, in[i]);
    hi = std::max(hi, in[i]);
  }
  float scale = (hi == lo ? 1.0f : hi - lo) / 255.0f;
  float zp = std::nearbyint(std::clamp(0.0f - lo / scale, 0.0f, 255.0f));
  uint8_t* out = ctx.output(0).data<uint8_t>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    float v = std::nearbyint(in[i] / scale) + zp;
    out[i] = static_cast<uint8_t>(std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 255.0f));
  }
  ctx.output(1).data<float>()[0] = scale;
  ctx.output(2).data<uint8_t>()[0] = static_cast<uint8_t>(zp);
}

}  // namespace

void register_quantization_kernels(CpuKernelRegistry& r) {
  r.add("QuantizeLinear", quantize_kernel);
  r.add("DequantizeLinear", dequantize_kernel);
  r.add("DynamicQuantizeLinear", dynamic_quantize_kernel);
}

}  // namespace kiln::cpu
