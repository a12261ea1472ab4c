// CPU kernels for the Reduce* ops (the reduction family's index and running reductions:
// reduction_index.cpp).
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "ir/nan_minmax.hpp"
#include "ir/reduce_kind.hpp"

namespace kiln::cpu {
namespace {

using ir::reduce_kind;
using ir::ReduceKind;

// Offsets of every output element's first input element (`bases`) and of every element of one
// reduced block relative to it (`block`): out[o] = reduce(in[bases[o] + block[j]] for all j).
struct ReduceLayout {
  std::vector<int64_t> bases;
  std::vector<int64_t> block;
};

ReduceLayout reduce_layout(const Shape& in, const std::vector<bool>& reduced) {
  std::vector<int64_t> strides = contiguous_strides(in);
  Shape kept_shape, red_shape;
  std::vector<int64_t> kept_strides, red_strides;
  for (size_t i = 0; i < in.size(); ++i) {
    (reduced[i] ? red_shape : kept_shape).push_back(in[i]);
    (reduced[i] ? red_strides : kept_strides).push_back(strides[i]);
  }
  ReduceLayout l;
  for (StridedWalk w(kept_shape, {kept_strides}); !w.done(); w.next())
    l.bases.push_back(w.offset(0));
  // With no output there is nothing to reduce. The check matters for an empty input such as
  // [0, 2^40] reduced over its last axis: the block would list 2^40 offsets of elements that do
  // not exist. Otherwise the block is no larger than the input.
  if (l.bases.empty()) return l;
  for (StridedWalk w(red_shape, {red_strides}); !w.done(); w.next()) l.block.push_back(w.offset(0));
  return l;
}

// Converts a double result to T; integer results truncate, and out-of-range values (log(0) in
// an integer ReduceLogSum) saturate instead of being undefined behaviour.
template <typename T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != 0;
  } else if constexpr (is_reduced_float_v<T>) {
    return T(static_cast<float>(v));
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T{0};
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max()))
      return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <typename T>
void reduce_typed(ReduceKind kind, const Tensor& x, Tensor& y, const ReduceLayout& l) {
  using C = compute_t<T>;
  constexpr bool kFloat = std::is_floating_point_v<C>;
  // Floats accumulate in double; integers in 64 bits and wrap like ONNX Runtime's.
  using A = std::conditional_t<
      kFloat, double,
      std::conditional_t<std::is_signed_v<C> && !std::is_same_v<C, bool>, int64_t, uint64_t>>;
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const auto n = static_cast<int64_t>(l.block.size());
  for (size_t o = 0; o < l.bases.size(); ++o) {
    const T* p = in + l.bases[o];
    auto at = [&](int64_t j) { return static_cast<A>(load(p[l.block[static_cast<size_t>(j)]])); };
    A acc{};
    double r = 0;  // result of the kinds that finish in double
    switch (kind) {
      case ReduceKind::kSum:
      case ReduceKind::kMean:
      case ReduceKind::kLogSum:
        for (int64_t j = 0; j < n; ++j) acc += at(j);
        if (kind == ReduceKind::kSum) break;
        if (kind == ReduceKind::kLogSum) {
          r = std::log(static_cast<double>(acc));
        } else if constexpr (kFloat) {
          r = acc / static_cast<double>(n);  // NaN for an empty set, as numpy's mean
        } else {
          acc = n == 0 ? A{0} : static_cast<A>(acc / static_cast<A>(n));
        }
        break;
      case ReduceKind::kSumSquare:
      case ReduceKind::kL2:
        for (int64_t j = 0; j < n; ++j) acc += at(j) * at(j);
        if (kind == ReduceKind::kL2) r = std::sqrt(static_cast<double>(acc));
        break;
      case ReduceKind::kL1:
        for (int64_t j = 0; j < n; ++j) {
          A v = at(j);
          if constexpr (std::is_signed_v<A>) v = v < 0 ? -v : v;
          acc += v;
        }
        break;
      case ReduceKind::kProd:
        acc = A{1};
        for (int64_t j = 0; j < n; ++j) acc *= at(j);
        break;
      case ReduceKind::kMax:
      case ReduceKind::kMin: {
        bool is_max = kind == ReduceKind::kMax;
        if constexpr (kFloat) {
          acc = is_max ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
        } else if constexpr (std::is_same_v<C, bool>) {
          acc = is_max ? 0 : 1;
        } else {
          acc = static_cast<A>(is_max ? std::numeric_limits<C>::lowest()
                                      : std::numeric_limits<C>::max());
        }
        for (int64_t j = 0; j < n; ++j) {
          A v = at(j);
          if (is_max ? v > acc : v < acc) acc = v;
          if constexpr (kFloat) {
            if (std::isnan(v)) acc = v;  // NaN propagates, as numpy's maximum/minimum
          }
        }
        break;
      }
      case ReduceKind::kLogSumExp: {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < n; ++j) m = ir::max_keep_nan(m, static_cast<double>(at(j)));
        if (!std::isfinite(m)) {
          r = m;  // empty set or all -inf: -inf; any NaN: NaN; else any +inf: +inf
          break;
        }
        double s = 0;
        for (int64_t j = 0; j < n; ++j) s += std::exp(static_cast<double>(at(j)) - m);
        r = m + std::log(s);
        break;
      }
    }
    bool in_double = kind == ReduceKind::kL2 || kind == ReduceKind::kLogSum ||
                     kind == ReduceKind::kLogSumExp || (kFloat && kind == ReduceKind::kMean);
    if (in_double) {
      out[o] = from_double<T>(r);
    } else if constexpr (std::is_same_v<T, bool>) {
      out[o] = acc != 0;
    } else if constexpr (kFloat) {
      out[o] = from_double<T>(static_cast<double>(acc));
    } else {
      out[o] = static_cast<T>(acc);
    }
  }
}

void reduce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const ir::Attributes& attrs = ctx.node.attrs;
  std::vector<int64_t> axes;
  if (ctx.has_input(1)) {
    const Tensor& a = ctx.input(1);
    axes.assign(a.data<int64_t>(), a.data<int64_t>() + a.numel());
  } else if (attrs.has("axes")) {
    axes = attrs.get_ints("axes");
  }
  if (axes.empty() && attrs.get_int("noop_with_empty_axes", 0) != 0) {
    std::memcpy(y.raw(), x.raw(), x.nbytes());
    return;
  }
  std::vector<bool> reduced(x.shape().size(), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a < 0 ? a + x.rank() : a)] = true;
  ReduceLayout l = reduce_layout(x.shape(), reduced);
  ReduceKind kind = reduce_kind(ctx.node.op);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      if (kind != ReduceKind::kMax && kind != ReduceKind::kMin)
        ctx.fail(ErrorCode::kUnsupported, ctx.node.op, " does not accept bool input");
    }
    reduce_typed<T>(kind, x, y, l);
  });
}

}  // namespace

void register_reduction_kernels(CpuKernelRegistry& r) {
  for (const char* op :
       {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"}) {
    r.add(op, reduce_kernel);
  }
}

}  // namespace kiln::cpu
