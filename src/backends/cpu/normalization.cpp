// Normalization kernels on the CPU: BatchNormalization (inference and training mode),
// LayerNormalization (with Mean/InvStdDev), InstanceNormalization, GroupNormalization and
// LpNormalization, and RMSNormalization, LRN and MeanVarianceNormalization (whose stages round to
// the input type as the ONNX reference does). Statistics accumulate in double so
// reduced-precision inputs stay accurate.
#include <cmath>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/kernel_helpers.hpp"
#include "backends/cpu/values_as_double.hpp"

namespace kiln::cpu {
namespace {

// The tensor's values as doubles (any float dtype).
std::vector<double> as_doubles(const KernelContext& ctx, const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  visit_float_dtype(ctx, t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(load(p[i]));
  });
  return v;
}

template <typename T>
void store_doubles(T* out, size_t i, double v) {
  out[i] = store<T>(static_cast<compute_t<T>>(v));
}

void write_doubles(const KernelContext& ctx, Tensor& t, const std::vector<double>& v) {
  visit_float_dtype(ctx, t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) store_doubles(p, i, v[i]);
  });
}

struct MeanVar {
  double mean = 0, var = 0;
};

// Population mean and variance of n values starting at p with stride 1 (two passes).
template <typename T>
MeanVar mean_var(const T* p, int64_t n) {
  MeanVar r;
  if (n == 0) return r;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(load(p[i]));
  r.mean = sum / static_cast<double>(n);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(load(p[i])) - r.mean;
    sq += d * d;
  }
  r.var = sq / static_cast<double>(n);
  return r;
}

void run_batch_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  double eps = ctx.node.attrs.get_float("epsilon", 1e-5f);
  double momentum = ctx.node.attrs.get_float("momentum", 0.9f);
  bool training = ctx.node.attrs.get_int("training_mode", 0) != 0;
  std::vector<double> scale = as_doubles(ctx, ctx.input(1)), bias = as_doubles(ctx, ctx.input(2));
  std::vector<double> mean = as_doubles(ctx, ctx.input(3)), var = as_doubles(ctx, ctx.input(4));
  int64_t n = x.dim(0), c = x.dim(1);
  int64_t spatial = n * c == 0 ? 0 : x.numel() / (n * c);
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    if (training) {
      // Batch statistics over N and the spatial axes; the running ones blend in with momentum.
      std::vector<double> running_mean(mean.size()), running_var(var.size());
      for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0, sq = 0;
        for (int64_t b = 0; b < n; ++b) {
          const T* p = xp + (b * c + ch) * spatial;
          for (int64_t i = 0; i < spatial; ++i) sum += static_cast<double>(load(p[i]));
        }
        double count = static_cast<double>(n * spatial);
        double m = count > 0 ? sum / count : 0.0;
        for (int64_t b = 0; b < n; ++b) {
          const T* p = xp + (b * c + ch) * spatial;
          for (int64_t i = 0; i < spatial; ++i) {
            double d = static_cast<double>(load(p[i])) - m;
            sq += d * d;
          }
        }
        double v = count > 0 ? sq / count : 0.0;
        auto k = static_cast<size_t>(ch);
        running_mean[k] = mean[k] * momentum + m * (1 - momentum);
        running_var[k] = var[k] * momentum + v * (1 - momentum);
        mean[k] = m;
        var[k] = v;
      }
      if (ctx.has_output(1)) write_doubles(ctx, ctx.output(1), running_mean);
      if (ctx.has_output(2)) write_doubles(ctx, ctx.output(2), running_var);
    }
    T* yp = y.data<T>();
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        auto k = static_cast<size_t>(ch);
        double mul = scale[k] / std::sqrt(var[k] + eps);
        double add = bias[k] - mean[k] * mul;
        int64_t base = (b * c + ch) * spatial;
        for (int64_t i = 0; i < spatial; ++i)
          store_doubles(yp, static_cast<size_t>(base + i),
                        static_cast<double>(load(xp[base + i])) * mul + add);
      }
    }
  });
}

// Normalizes `rows` contiguous rows of `cols` values: y = (x - mean) / sqrt(var + eps) * scale + b
// with scale and bias given per (row, col) by the callbacks' indices.
template <typename T, typename Affine>
void normalize_rows(const T* x, T* y, int64_t rows, int64_t cols, double eps, Affine affine,
                    std::vector<double>* means = nullptr, std::vector<double>* inv_stds = nullptr) {
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    MeanVar mv = mean_var(x + r * cols, cols);
    double inv = 1.0 / std::sqrt(mv.var + eps);
    if (means) (*means)[static_cast<size_t>(r)] = mv.mean;
    if (inv_stds) (*inv_stds)[static_cast<size_t>(r)] = inv;
    for (int64_t i = 0; i < cols; ++i) {
      double v = (static_cast<double>(load(x[r * cols + i])) - mv.mean) * inv;
      store_doubles(y, static_cast<size_t>(r * cols + i), affine(r, i, v));
    }
  }
}

// A per-column vector broadcast from `t` to the normalized shape.
std::vector<double> expand_to(const KernelContext& ctx, const Tensor& t, const Shape& shape) {
  std::vector<double> src = as_doubles(ctx, t);
  std::vector<double> out;
  out.reserve(static_cast<size_t>(shape_numel(shape)));
  for (StridedWalk w(shape, {broadcast_strides(t.shape(), shape)}); !w.done(); w.next())
    out.push_back(src[static_cast<size_t>(w.offset(0))]);
  return out;
}

void run_layer_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t axis = ctx.node.attrs.get_int("axis", -1);
  if (axis < 0) axis += x.rank();
  double eps = ctx.node.attrs.get_float("epsilon", 1e-5f);
  Shape normalized(x.shape().begin() + axis, x.shape().end());
  int64_t cols = shape_numel(normalized);
  int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  if (cols == 0) return;
  std::vector<double> scale = expand_to(ctx, ctx.input(1), normalized);
  std::vector<double> bias = ctx.has_input(2) ? expand_to(ctx, ctx.input(2), normalized)
                                              : std::vector<double>(scale.size(), 0.0);
  std::vector<double> means(static_cast<size_t>(rows)), inv_stds(static_cast<size_t>(rows));
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normalize_rows(
        x.data<T>(), y.data<T>(), rows, cols, eps,
        [&](int64_t, int64_t i, double v) {
          return v * scale[static_cast<size_t>(i)] + bias[static_cast<size_t>(i)];
        },
        &means, &inv_stds);
  });
  if (ctx.has_output(1)) write_doubles(ctx, ctx.output(1), means);
  if (ctx.has_output(2)) write_doubles(ctx, ctx.output(2), inv_stds);
}

void run_instance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  double eps = ctx.node.attrs.get_float("epsilon", 1e-5f);
  std::vector<double> scale = as_doubles(ctx, ctx.input(1)), bias = as_doubles(ctx, ctx.input(2));
  int64_t c = x.dim(1), rows = x.dim(0) * c;
  int64_t cols = rows == 0 ? 0 : x.numel() / rows;
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normalize_rows(x.data<T>(), y.data<T>(), rows, cols, eps, [&](int64_t r, int64_t, double v) {
      auto ch = static_cast<size_t>(r % c);
      return v * scale[ch] + bias[ch];
    });
  });
}

void run_group_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  double eps = ctx.node.attrs.get_float("epsilon", 1e-5f);
  int64_t groups = ctx.node.attrs.get_int("num_groups");
  bool per_group = ctx.node.attrs.get_int("scale_per_group", 0) != 0;
  std::vector<double> scale = as_doubles(ctx, ctx.input(1)), bias = as_doubles(ctx, ctx.input(2));
  int64_t c = x.dim(1), rows = x.dim(0) * groups;
  int64_t cols = rows == 0 ? 0 : x.numel() / rows;  // (C / groups) * spatial
  int64_t per_channel = c == 0 ? 0 : cols * groups / c;
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normalize_rows(x.data<T>(), y.data<T>(), rows, cols, eps, [&](int64_t r, int64_t i, double v) {
      int64_t g = r % groups;
      auto k = static_cast<size_t>(per_group ? g : g * (c / groups) + i / per_channel);
      return v * scale[k] + bias[k];
    });
  });
}

void run_lp_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t axis = ctx.node.attrs.get_int("axis", -1);
  if (axis < 0) axis += x.rank();
  int64_t p = ctx.node.attrs.get_int("p", 2);
  int64_t n = x.dim(axis), inner = 1;
  for (int64_t i = axis + 1; i < x.rank(); ++i) inner *= x.dim(i);
  int64_t outer = n * inner == 0 ? 0 : x.numel() / (n * inner);
  visit_float_dtype(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
#pragma omp parallel for collapse(2)
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t in = 0; in < inner; ++in) {
        int64_t base = o * n * inner + in;
        double norm = 0;
        for (int64_t i = 0; i < n; ++i) {
          double v = static_cast<double>(load(xp[base + i * inner]));
          norm += p == 1 ? std::fabs(v) : v * v;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t i = 0; i < n; ++i) {
          double v = static_cast<double>(load(xp[base + i * inner]));
          // A zero norm gives 0; a NaN one NaN (as in ONNX Runtime).
          store_doubles(yp, static_cast<size_t>(base + i * inner), norm == 0 ? 0.0 : v / norm);
        }
      }
    }
  });
}

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

}  // namespace

void register_normalization_kernels(CpuKernelRegistry& r) {
  r.add("BatchNormalization", run_batch_norm);
  r.add("LayerNormalization", run_layer_norm);
  r.add("InstanceNormalization", run_instance_norm);
  r.add("GroupNormalization", run_group_norm);
  r.add("LpNormalization", run_lp_norm);
  r.add("RMSNormalization", run_rms_norm);
  r.add("LRN", run_lrn);
  r.add("MeanVarianceNormalization", run_mvn);
}

}  // namespace kiln::cpu
