// Softmax, LogSoftmax and Hardmax on the CPU, along one axis or (coerce_2d, opset < 13 models)
// along all axes from `axis` on.
#include <cmath>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "ir/nan_minmax.hpp"

namespace kiln::cpu {
namespace {

enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };

// The input as (outer, n, inner): the op runs over n for each (outer, inner) pair.
struct SoftmaxLayout {
  int64_t outer = 1, n = 1, inner = 1;
};

SoftmaxLayout softmax_layout(const KernelContext& ctx, const Tensor& x) {
  int64_t rank = x.rank();
  int64_t axis = ctx.node.attrs.get_int("axis", -1);
  bool coerce = ctx.node.attrs.get_int("coerce_2d", 0) != 0;
  if (axis < 0) axis += rank;
  SoftmaxLayout l;
  for (int64_t i = 0; i < axis; ++i) l.outer *= x.dim(i);
  if (coerce) {
    for (int64_t i = axis; i < rank; ++i) l.n *= x.dim(i);
  } else if (rank > 0) {
    l.n = x.dim(axis);
    for (int64_t i = axis + 1; i < rank; ++i) l.inner *= x.dim(i);
  }
  return l;
}

template <SoftmaxKind kKind>
void run_softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  if (x.numel() == 0) return;
  SoftmaxLayout l = softmax_layout(ctx, x);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                  std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      using C = compute_t<T>;
      const T* xp = x.data<T>();
      T* yp = y.data<T>();
#pragma omp parallel for collapse(2) if (x.numel() > 32768)
      for (int64_t o = 0; o < l.outer; ++o) {
        for (int64_t in = 0; in < l.inner; ++in) {
          int64_t base = o * l.n * l.inner + in;
          auto at = [&](int64_t i) { return base + i * l.inner; };
          // The first NaN is the maximum (Hardmax's hot position, numpy's argmax); Softmax and
          // LogSoftmax of a row holding one are NaN either way.
          C max = load(xp[at(0)]);
          int64_t argmax = 0;
          for (int64_t i = 1; i < l.n; ++i) {
            C v = load(xp[at(i)]);
            if (ir::greater_nan_first(v, max)) {
              max = v;
              argmax = i;
            }
          }
          if constexpr (kKind == SoftmaxKind::kHardmax) {
            for (int64_t i = 0; i < l.n; ++i) yp[at(i)] = store<T>(C(i == argmax ? 1 : 0));
          } else {
            C sum = 0;
            for (int64_t i = 0; i < l.n; ++i) sum += std::exp(load(xp[at(i)]) - max);
            if constexpr (kKind == SoftmaxKind::kSoftmax) {
              C inv = C(1) / sum;
              for (int64_t i = 0; i < l.n; ++i)
                yp[at(i)] = store<T>(std::exp(load(xp[at(i)]) - max) * inv);
            } else {
              C log_sum = std::log(sum);
              for (int64_t i = 0; i < l.n; ++i)
                yp[at(i)] = store<T>(load(xp[at(i)]) - max - log_sum);
            }
          }
        }
      }
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(x.dtype()), " is not supported");
    }
  });
}

}  // namespace

void register_softmax_kernels(CpuKernelRegistry& r) {
  r.add("Softmax", run_softmax<SoftmaxKind::kSoftmax>);
  r.add("LogSoftmax", run_softmax<SoftmaxKind::kLogSoftmax>);
  r.add("Hardmax", run_softmax<SoftmaxKind::kHardmax>);
}

}  // namespace kiln::cpu
