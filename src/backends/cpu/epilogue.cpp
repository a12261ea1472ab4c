// Fused-layer epilogues: oneDNN post-ops and the reference loop.
#include "backends/cpu/epilogue.hpp"

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
      int64_t n = y.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t i = 0; i < n; ++i) {
        C v = load(yp[i]);
        if (zp && e.residual_before_activation) v += load(zp[i]);
        v = apply_activation(e.act, v);
        if (zp && !e.residual_before_activation) v += load(zp[i]);
        yp[i] = store<T>(v);
      }
    } else {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
    }
  });
}

}  // namespace kiln::cpu
