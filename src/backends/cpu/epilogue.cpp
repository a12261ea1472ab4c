// Fused-layer epilogues: oneDNN post-ops and the reference loop.
#include "backends/cpu/epilogue.hpp"

#include <type_traits>

#include "backends/cpu/dispatch.hpp"

namespace kiln::cpu {

Epilogue Epilogue::from_node(const ir::Node& node, size_t residual_input) {
  Epilogue e;
  e.act = ir::read_activation(node.attrs);
  e.has_residual = node.input(residual_input) != nullptr;
  e.residual_before_activation = node.attrs.get_int("residual_before_activation", 1) != 0;
  return e;
}

namespace {

void append_activation(const ir::Activation& a, dnnl::post_ops& ops) {
  using K = ir::ActivationKind;
  using dnnl::algorithm;
  auto add = [&ops](algorithm alg, float alpha = 0.0f, float beta = 0.0f) {
    ops.append_eltwise(1.0f, alg, alpha, beta);
  };
  switch (a.kind) {
    case K::kNone:
      return;
    case K::kRelu:
      return add(algorithm::eltwise_relu);
    case K::kLeakyRelu:
      return add(algorithm::eltwise_relu, a.alpha);
    case K::kClip:
      return add(algorithm::eltwise_clip, a.alpha, a.beta);
    case K::kSigmoid:
      return add(algorithm::eltwise_logistic);
    case K::kSilu:
      return add(algorithm::eltwise_swish, 1.0f);
    case K::kGelu:
      return add(algorithm::eltwise_gelu_erf);
    case K::kGeluTanh:
      return add(algorithm::eltwise_gelu_tanh);
    case K::kHardSwish:
      return add(algorithm::eltwise_hardswish);
    case K::kHardSigmoid:
      // oneDNN 2.6 has no hardsigmoid: alpha * x + beta, then clamp to [0, 1].
      add(algorithm::eltwise_linear, a.alpha, a.beta);
      return add(algorithm::eltwise_clip, 0.0f, 1.0f);
    case K::kTanh:
      return add(algorithm::eltwise_tanh);
    case K::kElu:
      return add(algorithm::eltwise_elu, a.alpha);
  }
}

}  // namespace

EpilogueSplit split_for_onednn(const Epilogue& e) {
  using K = ir::ActivationKind;
  const K k = e.act.kind;
  const bool clamps = k == K::kRelu || (k == K::kLeakyRelu && e.act.alpha == 0.0f) ||
                      k == K::kClip || k == K::kHardSigmoid;
  if (!clamps) return {e, Epilogue{}};
  EpilogueSplit s;
  s.after.act = e.act;
  if (e.residual_before_activation) {
    s.onednn.has_residual = e.has_residual;
  } else {
    s.after.has_residual = e.has_residual;
    s.after.residual_before_activation = false;
  }
  return s;
}

int append_epilogue_post_ops(const Epilogue& e, dnnl::post_ops& ops,
                             const dnnl::memory::desc& residual_md) {
  int residual_index = -1;
  auto add_residual = [&] {
    residual_index = ops.len();
    if (residual_md.is_zero()) {
      ops.append_sum(1.0f);
    } else {
      ops.append_binary(dnnl::algorithm::binary_add, residual_md);
    }
  };
  if (e.has_residual && e.residual_before_activation) add_residual();
  append_activation(e.act, ops);
  if (e.has_residual && !e.residual_before_activation) add_residual();
  return residual_index;
}

namespace {

// Calls f with `k` as a compile-time constant (one of kKinds), so that a loop over elements
// specializes, and vectorizes, for it instead of switching on every element. False when `k` is
// not among kKinds.
template <ir::ActivationKind... kKinds, typename F>
bool with_kind(ir::ActivationKind k, F&& f) {
  return ((k == kKinds && (f(std::integral_constant<ir::ActivationKind, kKinds>{}), true)) || ...);
}

template <typename F>
bool with_activation_kind(ir::ActivationKind k, F&& f) {
  using K = ir::ActivationKind;
  return with_kind<K::kNone, K::kRelu, K::kLeakyRelu, K::kClip, K::kSigmoid, K::kSilu, K::kGelu,
                   K::kGeluTanh, K::kHardSwish, K::kHardSigmoid, K::kTanh, K::kElu>(k, f);
}

}  // namespace

void apply_epilogue(const KernelContext& ctx, const Epilogue& e, Tensor& y, const Tensor* z) {
  if (e.empty()) return;
  if (e.has_residual && (!z || z->numel() != y.numel()))
    ctx.fail(ErrorCode::kInvalidArgument, "residual has ", z ? z->numel() : 0,
             " elements; the output has ", y.numel());
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                  std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
      using C = compute_t<T>;
      T* yp = y.data<T>();
      const T* zp = e.has_residual ? z->data<T>() : nullptr;
      const int64_t n = y.numel();
      const C alpha(e.act.alpha), beta(e.act.beta);
      const bool before = zp && e.residual_before_activation, after = zp && !before;
      bool known = with_activation_kind(e.act.kind, [&](auto kind) {
#pragma omp parallel for if (n > 65536)
        for (int64_t i = 0; i < n; ++i) {
          C v = load(yp[i]);
          if (before) v += load(zp[i]);
          v = ir::activation_value(kind.value, alpha, beta, v);
          if (after) v += load(zp[i]);
          yp[i] = store<T>(v);
        }
      });
      if (!known) ctx.fail(ErrorCode::kInternal, "unknown activation ", to_string(e.act));
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
    }
  });
}

}  // namespace kiln::cpu
