// The formulas of the fused-layer activations (ir/activation.hpp), written once for the CPU
// kernels and the CUDA kernels alike: nvcc compiles them for host and device, so the two backends
// cannot drift apart. The math is in C, the caller's compute type.
#pragma once

#include <cmath>

#include "ir/activation.hpp"
#include "ir/host_device.hpp"

namespace kiln::ir {

// Sigmoid without overflow for large |v|.
template <typename C>
KILN_HOST_DEVICE inline C sigmoid_value(C v) {
#if !defined(__CUDA_ARCH__)
  using std::exp;
#endif
  if (v >= C(0)) return C(1) / (C(1) + exp(-v));
  C e = exp(v);
  return e / (C(1) + e);
}

template <typename C>
KILN_HOST_DEVICE inline C clamp01_value(C v) {
  return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
}

// The activation `kind` with parameters alpha and beta on one value, as the standalone ops compute
// it.
template <typename C>
KILN_HOST_DEVICE inline C activation_value(ActivationKind kind, C alpha, C beta, C x) {
#if !defined(__CUDA_ARCH__)
  using std::erf;
  using std::expm1;
  using std::tanh;
#endif
  using K = ActivationKind;
  switch (kind) {
    case K::kNone:
      return x;
    case K::kRelu:
      return x < C(0) ? C(0) : x;
    case K::kLeakyRelu:
      return x < C(0) ? alpha * x : x;
    case K::kClip:
      x = x < alpha ? alpha : x;
      return beta < x ? beta : x;
    case K::kSigmoid:
      return sigmoid_value(x);
    case K::kSilu:
      return x * sigmoid_value(x);
    case K::kGelu:
      // x / sqrt(2) as a product: a division costs a GPU an order of magnitude more.
      return C(0.5) * x * (C(1) + erf(x * C(0.70710678118654752)));  // 1 / sqrt(2)
    case K::kGeluTanh: {
      const C k = C(0.7978845608028654);  // sqrt(2 / pi)
      return C(0.5) * x * (C(1) + tanh(k * (x + C(0.044715) * x * x * x)));
    }
    case K::kHardSwish:
      return x * clamp01_value(x / C(6) + C(0.5));
    case K::kHardSigmoid:
      return clamp01_value(alpha * x + beta);
    case K::kTanh:
      return tanh(x);
    case K::kElu:
      return x < C(0) ? alpha * expm1(x) : x;
  }
  return x;
}

}  // namespace kiln::ir
