// CPU kernels of the extra family's same-shape ops: RMSNormalization, LRN,
// MeanVarianceNormalization, Swish, SwiGLU and Shrink. Statistics accumulate in double; the
// activations round each step to the input type as the ONNX reference does.
#include <algorithm>
#include <cmath>

#include "backends/cpu/extra_kernels.hpp"
#include "backends/cpu/kernel_helpers.hpp"

namespace kiln::cpu {
namespace {

DataType stash_dtype(int64_t stash) {
  switch (stash) {
    case 10:
      return DataType::kFloat16;
    case 11:
      return DataType::kFloat64;
    case 16:
      return DataType::kBFloat16;
    default:
      return DataType::kFloat32;
  }
}

// Y = X / sqrt(mean(X^2 over axes >= axis) + epsilon) * scale; the first stage in stash_type's
// precision, its result cast to X's type, the product with scale in Y's.
void run_rms_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t axis = ctx.node.attrs.get_int("axis", -1);
  if (axis < 0) axis += x.rank();
  double eps = ctx.node.attrs.get_float("epsilon", 1e-5f);
  RoundFn stash = round_fn(stash_dtype(ctx.node.attrs.get_int("stash_type", 1)));
  RoundFn round_x = round_fn(x.dtype()), round_y = round_fn(y.dtype());
  Shape normalized(x.shape().begin() + axis, x.shape().end());
  int64_t cols = shape_numel(normalized);
  if (cols == 0 || x.numel() == 0) return;
  int64_t rows = x.numel() / cols;
  // Scale broadcast to the normalized shape (it broadcasts one way, from the right).
  const Tensor& s = ctx.input(1);
  std::vector<double> sv = to_doubles(s), scale(static_cast<size_t>(cols));
  for (int64_t i = 0; i < cols; ++i) {
    int64_t rem = i, off = 0, stride = 1;
    for (int64_t k = static_cast<int64_t>(normalized.size()) - 1; k >= 0; --k) {
      int64_t n = normalized[static_cast<size_t>(k)];
      int64_t idx = rem % n;
      rem /= n;
      int64_t sk = k - (static_cast<int64_t>(normalized.size()) - s.rank());
      if (sk >= 0) {
        int64_t sn = s.dim(sk);
        off += (sn == 1 ? 0 : idx) * stride;
        stride *= sn;
      }
    }
    scale[static_cast<size_t>(i)] = sv[static_cast<size_t>(off)];
  }
  std::vector<double> xv = to_doubles(x), out(xv.size());
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const double* xr = xv.data() + r * cols;
    double sum = 0;
    for (int64_t i = 0; i < cols; ++i) sum += stash(stash(xr[i]) * stash(xr[i]));
    double rms = stash(std::sqrt(stash(stash(sum / static_cast<double>(cols)) + eps)));
    double inv = stash(1.0 / rms);
    for (int64_t i = 0; i < cols; ++i) {
      double normalized_x = round_x(stash(stash(xr[i]) * inv));
      out[static_cast<size_t>(r * cols + i)] =
          round_y(normalized_x * scale[static_cast<size_t>(i)]);
    }
  }
  from_doubles(y, out);
}

// Local response normalization across channels: y = x / (bias + alpha / size * sum x^2)^beta,
// the sum over channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
void run_lrn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const auto& a = ctx.node.attrs;
  double alpha = a.get_float("alpha", 1e-4f), beta = a.get_float("beta", 0.75f);
  double bias = a.get_float("bias", 1.0f);
  int64_t size = a.get_int("size");
  int64_t before = (size - 1) / 2, after = size / 2;  // floor and ceil of (size-1)/2
  int64_t n = x.dim(0), c = x.dim(1);
  int64_t spatial = n * c == 0 ? 0 : x.numel() / (n * c);
  std::vector<double> xv = to_doubles(x), out(xv.size());
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      int64_t lo = std::max<int64_t>(0, ch - before), hi = std::min(c - 1, ch + after);
      for (int64_t i = 0; i < spatial; ++i) {
        double sq = 0;
        for (int64_t k = lo; k <= hi; ++k) {
          double v = xv[static_cast<size_t>((b * c + k) * spatial + i)];
          sq += v * v;
        }
        auto at = static_cast<size_t>((b * c + ch) * spatial + i);
        out[at] = xv[at] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta);
      }
    }
  }
  from_doubles(ctx.output(0), out);
}

// (x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9), statistics over `axes`.
void run_mvn(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = ctx.node.attrs.get_ints("axes", {0, 2, 3});
  std::vector<bool> reduced(static_cast<size_t>(x.rank()), false);
  for (int64_t ax : axes) reduced[static_cast<size_t>(ax < 0 ? ax + x.rank() : ax)] = true;
  // Each element's group: its index with the reduced axes dropped.
  std::vector<double> xv = to_doubles(x), out(xv.size());
  std::vector<int64_t> group(xv.size());
  int64_t groups = 1;
  for (int64_t k = 0; k < x.rank(); ++k) {
    if (!reduced[static_cast<size_t>(k)]) groups *= x.dim(k);
  }
  for (size_t e = 0; e < xv.size(); ++e) {
    int64_t rem = static_cast<int64_t>(e), g = 0, stride = 1;
    for (int64_t k = x.rank() - 1; k >= 0; --k) {
      int64_t idx = rem % x.dim(k);
      rem /= x.dim(k);
      if (!reduced[static_cast<size_t>(k)]) {
        g += idx * stride;
        stride *= x.dim(k);
      }
    }
    group[e] = g;
  }
  std::vector<double> sum(static_cast<size_t>(groups)), sq(static_cast<size_t>(groups));
  std::vector<int64_t> count(static_cast<size_t>(groups));
  for (size_t e = 0; e < xv.size(); ++e) {
    auto g = static_cast<size_t>(group[e]);
    sum[g] += xv[e];
    sq[g] += xv[e] * xv[e];
    ++count[g];
  }
  for (size_t e = 0; e < xv.size(); ++e) {
    auto g = static_cast<size_t>(group[e]);
    double n = static_cast<double>(count[g]);
    double mean = sum[g] / n;
    double var = sq[g] / n - mean * mean;
    out[e] = (xv[e] - mean) / (std::sqrt(std::max(var, 0.0)) + 1e-9);
  }
  from_doubles(ctx.output(0), out);
}

// x * sigmoid(alpha * x) computed as the reference does: x * (1 / (1 + exp(-alpha * x))), each
// step rounded to T.
template <typename T>
double swish(double x, double neg_alpha) {
  double e = round_to<T>(std::exp(round_to<T>(neg_alpha * x)));
  return round_to<T>(x * round_to<T>(1.0 / round_to<T>(1.0 + e)));
}

void run_swish(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  double alpha = ctx.node.attrs.get_float("alpha", 1.0f);
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    double neg_alpha = round_to<T>(-alpha);
    const T* xp = x.data<T>();
    T* yp = ctx.output(0).data<T>();
#pragma omp parallel for
    for (int64_t i = 0; i < x.numel(); ++i)
      yp[i] = store<T>(
          static_cast<compute_t<T>>(swish<T>(static_cast<double>(load(xp[i])), neg_alpha)));
  });
}

void run_swiglu(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.shape() != b.shape())
    ctx.fail(ErrorCode::kInvalidArgument, "A ", shape_to_string(a.shape()), " and B ",
             shape_to_string(b.shape()), " must have the same shape");
  double alpha = ctx.node.attrs.get_float("alpha", 1.0f);
  visit_float_dtype(ctx, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    double neg_alpha = round_to<T>(-alpha);
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* yp = ctx.output(0).data<T>();
#pragma omp parallel for
    for (int64_t i = 0; i < a.numel(); ++i) {
      double s = swish<T>(static_cast<double>(load(ap[i])), neg_alpha);
      yp[i] = store<T>(static_cast<compute_t<T>>(s * static_cast<double>(load(bp[i]))));
    }
  });
}

// x < -lambd: x + bias; x > lambd: x - bias; else 0. Integers compute in double and truncate.
void run_shrink(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  double lambd = ctx.node.attrs.get_float("lambd", 0.5f),
         bias = ctx.node.attrs.get_float("bias", 0.0f);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(x.dtype()), " is not supported");
    } else {
      const T* xp = x.data<T>();
      T* yp = ctx.output(0).data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        double v = static_cast<double>(load(xp[i]));
        double r = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
        if constexpr (std::is_integral_v<T>) {
          yp[i] = static_cast<T>(static_cast<int64_t>(r));
        } else {
          yp[i] = store<T>(static_cast<compute_t<T>>(r));
        }
      }
    }
  });
}

}  // namespace

void register_norm_activation_kernels(CpuKernelRegistry& r) {
  r.add("RMSNormalization", run_rms_norm);
  r.add("LRN", run_lrn);
  r.add("MeanVarianceNormalization", run_mvn);
  r.add("Swish", run_swish);
  r.add("SwiGLU", run_swiglu);
  r.add("Shrink", run_shrink);
}

}  // namespace kiln::cpu
