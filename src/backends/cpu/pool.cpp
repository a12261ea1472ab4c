// Pooling on the CPU: MaxPool (with Indices and storage_order), AveragePool (count_include_pad),
// LpPool, and the global pools, for any number of spatial axes. Each axis's window positions are
// listed once per output coordinate, so the inner loops only visit in-bounds inputs. With
// channels_last=1 (x and y [N, spatial..., C]) the innermost loop runs along the contiguous C.
#include <cmath>
#include <limits>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "ir/nan_minmax.hpp"
#include "ir/ops/channels_last.hpp"
#include "ir/ops/window.hpp"

namespace kiln::cpu {
namespace {

enum class PoolKind { kMax, kAverage, kLp };

// For one spatial axis and each output coordinate: the in-bounds input positions of its window
// and how many window positions fall inside the padded input (count_include_pad's divisor).
struct AxisTaps {
  std::vector<std::vector<int64_t>> positions;
  std::vector<int64_t> padded_count;
};

AxisTaps axis_taps(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t pb,
                   int64_t pe) {
  AxisTaps t;
  t.positions.resize(static_cast<size_t>(out));
  t.padded_count.resize(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    int64_t count = 0;
    for (int64_t j = 0; j < k; ++j) {
      int64_t pos = o * s - pb + j * d;
      if (pos >= -pb && pos < in + pe) ++count;
      if (pos >= 0 && pos < in) t.positions[static_cast<size_t>(o)].push_back(pos);
    }
    t.padded_count[static_cast<size_t>(o)] = count;
  }
  return t;
}

struct PoolPlan {
  std::vector<int64_t> in, out;
  std::vector<AxisTaps> taps;
  int64_t planes = 0;  // N * C
  int64_t batch = 0, channels = 0;
  int64_t in_size = 1, out_size = 1;
};

bool channels_last(const KernelContext& ctx) {
  return ctx.node.attrs.get_int(ir::kChannelsLastAttr, 0) != 0;
}

PoolPlan pool_plan(const KernelContext& ctx) {
  const Shape x =
      channels_last(ctx) ? ir::to_channels_first(ctx.input(0).shape()) : ctx.input(0).shape();
  size_t spatial = x.size() - 2;
  ir::WindowFail fail = [&ctx](const std::string& m) { ctx.fail(ErrorCode::kInvalidArgument, m); };
  ir::WindowSpec spec = ir::read_window_spec(ctx.node, spatial, {}, fail);
  PoolPlan p;
  p.batch = x[0];
  p.channels = x[1];
  p.planes = x[0] * x[1];
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = x[i + 2];
    ir::AxisWindow a = ir::forward_window(ctx.node, spec, i, in, fail);
    p.in.push_back(in);
    p.out.push_back(a.out);
    p.taps.push_back(axis_taps(in, a.out, spec.kernel[i], spec.strides[i], spec.dilations[i],
                               a.pad_begin, a.pad_end));
    p.in_size *= in;
    p.out_size *= a.out;
  }
  return p;
}

// Calls visit(flat_input_offset, spatial_coords) for every in-bounds tap of the output at `oc`.
template <typename F>
void for_each_tap(const PoolPlan& p, const std::vector<int64_t>& oc, std::vector<int64_t>& ic,
                  size_t axis, int64_t offset, F& visit) {
  if (axis == p.in.size()) {
    visit(offset, ic);
    return;
  }
  for (int64_t pos : p.taps[axis].positions[static_cast<size_t>(oc[axis])]) {
    ic[axis] = pos;
    for_each_tap(p, oc, ic, axis + 1, offset * p.in[axis] + pos, visit);
  }
}

template <typename T>
void pool_reference(const KernelContext& ctx, const PoolPlan& p, PoolKind kind, Tensor& yt,
                    Tensor* indices) {
  const Tensor& xt = ctx.input(0);
  const T* x = xt.data<T>();
  T* y = yt.data<T>();
  int64_t* idx = indices ? indices->data<int64_t>() : nullptr;
  bool include_pad = ctx.node.attrs.get_int("count_include_pad", 0) != 0;
  bool column_major = ctx.node.attrs.get_int("storage_order", 0) != 0;
  double pw = static_cast<double>(ctx.node.attrs.get_int("p", 2));
  size_t spatial = p.in.size();
#pragma omp parallel for
  for (int64_t plane = 0; plane < p.planes; ++plane) {
    std::vector<int64_t> oc(spatial, 0), ic(spatial, 0);
    const T* xp = x + plane * p.in_size;
    for (int64_t o = 0; o < p.out_size; ++o) {
      int64_t flat = o;
      for (size_t i = spatial; i-- > 0;) {
        oc[i] = flat % p.out[i];
        flat /= p.out[i];
      }
      T* yo = y + plane * p.out_size + o;
      if (kind == PoolKind::kMax) {
        using C = compute_t<T>;
        C best = std::numeric_limits<C>::lowest();
        int64_t best_at = -1;
        std::vector<int64_t> best_coord;
        auto visit = [&](int64_t off, const std::vector<int64_t>& coord) {
          C v = load(xp[off]);
          if (best_at < 0 || ir::greater_nan_first(v, best)) {  // the first NaN, else first max
            best = v;
            best_at = off;
            if (idx && column_major) best_coord = coord;
          }
        };
        for_each_tap(p, oc, ic, 0, 0, visit);
        *yo = store<T>(best);
        if (idx) {
          int64_t local = best_at;
          if (column_major && best_at >= 0) {
            // Column-major storage order: the first spatial axis varies fastest.
            local = 0;
            for (size_t i = spatial; i-- > 0;) local = local * p.in[i] + best_coord[i];
          }
          idx[plane * p.out_size + o] = plane * p.in_size + local;
        }
      } else {
        double sum = 0.0;
        int64_t count = 0;
        auto visit = [&](int64_t off, const std::vector<int64_t>&) {
          double v = static_cast<double>(load(xp[off]));
          sum += kind == PoolKind::kLp ? std::pow(std::fabs(v), pw) : v;
          ++count;
        };
        for_each_tap(p, oc, ic, 0, 0, visit);
        double r;
        if (kind == PoolKind::kLp) {
          r = std::pow(sum, 1.0 / pw);
        } else {
          if (include_pad) {
            count = 1;
            for (size_t i = 0; i < spatial; ++i)
              count *= p.taps[i].padded_count[static_cast<size_t>(oc[i])];
          }
          r = count > 0 ? sum / static_cast<double>(count) : 0.0;
        }
        *yo = store<T>(static_cast<compute_t<T>>(r));
      }
    }
  }
}

// Channels-last MaxPool / AveragePool: for each (n, output position), the window's taps are
// visited once and each tap updates all C channels from one contiguous row.
template <typename T>
void pool_channels_last(const KernelContext& ctx, const PoolPlan& p, PoolKind kind, Tensor& yt) {
  using C = compute_t<T>;
  const T* x = ctx.input(0).data<T>();
  T* y = yt.data<T>();
  bool include_pad = ctx.node.attrs.get_int("count_include_pad", 0) != 0;
  size_t spatial = p.in.size();
  const int64_t channels = p.channels;
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t o = 0; o < p.out_size; ++o) {
      std::vector<int64_t> oc(spatial, 0), ic(spatial, 0);
      std::vector<C> best(static_cast<size_t>(channels), std::numeric_limits<C>::lowest());
      std::vector<double> sum(static_cast<size_t>(channels), 0.0);
      int64_t flat = o;
      for (size_t i = spatial; i-- > 0;) {
        oc[i] = flat % p.out[i];
        flat /= p.out[i];
      }
      const T* xn = x + n * p.in_size * channels;
      int64_t count = 0;
      auto visit = [&](int64_t off, const std::vector<int64_t>&) {
        const T* row = xn + off * channels;
        if (kind == PoolKind::kMax) {
          for (int64_t c = 0; c < channels; ++c)
            best[static_cast<size_t>(c)] =
                ir::max_keep_nan(best[static_cast<size_t>(c)], load(row[c]));
        } else {
          for (int64_t c = 0; c < channels; ++c)
            sum[static_cast<size_t>(c)] += static_cast<double>(load(row[c]));
        }
        ++count;
      };
      for_each_tap(p, oc, ic, 0, 0, visit);
      T* yo = y + (n * p.out_size + o) * channels;
      if (kind == PoolKind::kMax) {
        for (int64_t c = 0; c < channels; ++c) yo[c] = store<T>(best[static_cast<size_t>(c)]);
        continue;
      }
      if (include_pad) {
        count = 1;
        for (size_t i = 0; i < spatial; ++i)
          count *= p.taps[i].padded_count[static_cast<size_t>(oc[i])];
      }
      for (int64_t c = 0; c < channels; ++c) {
        double r = count > 0 ? sum[static_cast<size_t>(c)] / static_cast<double>(count) : 0.0;
        yo[c] = store<T>(static_cast<C>(r));
      }
    }
  }
}

template <PoolKind kKind>
void run_pool(KernelContext& ctx) {
  Tensor& y = ctx.output(0);
  Tensor* indices = ctx.has_output(1) ? &ctx.output(1) : nullptr;
  if (y.numel() == 0) return;
  PoolPlan plan = pool_plan(ctx);
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
    } else if (channels_last(ctx)) {
      // Inference accepts channels_last on MaxPool and AveragePool only, without Indices.
      pool_channels_last<T>(ctx, plan, kKind, y);
    } else {
      pool_reference<T>(ctx, plan, kKind, y, indices);
    }
  });
}

// Channels-last GlobalMaxPool / GlobalAveragePool: per batch item, a running max or sum of C
// values over every spatial position.
template <typename T, PoolKind kKind>
void global_pool_channels_last(const Tensor& x, Tensor& y) {
  using C = compute_t<T>;
  int64_t batch = x.dim(0), channels = x.dim(x.rank() - 1);
  int64_t size = batch * channels == 0 ? 0 : x.numel() / (batch * channels);
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
#pragma omp parallel for
  for (int64_t n = 0; n < batch; ++n) {
    std::vector<double> acc(static_cast<size_t>(channels),
                            kKind == PoolKind::kMax ? -std::numeric_limits<double>::infinity() : 0);
    for (int64_t i = 0; i < size; ++i) {
      const T* row = xp + (n * size + i) * channels;
      for (int64_t c = 0; c < channels; ++c) {
        double v = static_cast<double>(load(row[c]));
        double& a = acc[static_cast<size_t>(c)];
        a = kKind == PoolKind::kMax ? ir::max_keep_nan(a, v) : a + v;
      }
    }
    for (int64_t c = 0; c < channels; ++c) {
      double r = acc[static_cast<size_t>(c)];
      if (kKind == PoolKind::kMax && size == 0)
        r = static_cast<double>(std::numeric_limits<C>::lowest());
      if (kKind != PoolKind::kMax) r /= static_cast<double>(size);
      yp[n * channels + c] = store<T>(static_cast<C>(r));
    }
  }
}

template <PoolKind kKind>
void run_global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (channels_last(ctx)) {
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
        ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
      } else if constexpr (kKind != PoolKind::kLp) {
        global_pool_channels_last<T, kKind>(x, y);
      }
    });
    return;
  }
  int64_t planes = x.dim(0) * x.dim(1);
  int64_t size = planes == 0 ? 0 : x.numel() / planes;
  double pw = static_cast<double>(ctx.node.attrs.get_int("p", 2));
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
    } else {
      using C = compute_t<T>;
      const T* xp = x.data<T>();
      T* yp = y.data<T>();
#pragma omp parallel for
      for (int64_t plane = 0; plane < planes; ++plane) {
        const T* in = xp + plane * size;
        if (kKind == PoolKind::kMax) {
          C best = std::numeric_limits<C>::lowest();
          for (int64_t i = 0; i < size; ++i) best = ir::max_keep_nan<C>(best, load(in[i]));
          yp[plane] = store<T>(best);
        } else {
          double sum = 0.0;
          for (int64_t i = 0; i < size; ++i) {
            double v = static_cast<double>(load(in[i]));
            sum += kKind == PoolKind::kLp ? std::pow(std::fabs(v), pw) : v;
          }
          double r =
              kKind == PoolKind::kLp ? std::pow(sum, 1.0 / pw) : sum / static_cast<double>(size);
          yp[plane] = store<T>(static_cast<C>(r));
        }
      }
    }
  });
}

}  // namespace

void register_pool_kernels(CpuKernelRegistry& r) {
  r.add("MaxPool", run_pool<PoolKind::kMax>);
  r.add("AveragePool", run_pool<PoolKind::kAverage>);
  r.add("LpPool", run_pool<PoolKind::kLp>);
  r.add("GlobalMaxPool", run_global_pool<PoolKind::kMax>);
  r.add("GlobalAveragePool", run_global_pool<PoolKind::kAverage>);
  r.add("GlobalLpPool", run_global_pool<PoolKind::kLp>);
}

}  // namespace kiln::cpu
