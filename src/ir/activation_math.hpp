// The formulas of kiln's activations and of every Pointwise instruction, with their constants,
// written once: the CPU kernels, the CUDA kernels and the kernels NVRTC compiles for Pointwise
// layers (backends/cuda/pointwise_codegen.cpp embeds this file's text) all call these, so no two
// can drift apart. The math is in C, the caller's compute type (float for float16/bfloat16).
#pragma once

// NVRTC compiles this text with no headers at all (host_device.hpp's and nan_minmax.hpp's text is
// put before it there), so everything up to the fused-layer activations below needs no other.
#if !defined(__CUDACC_RTC__)
#include <cmath>

#include "ir/host_device.hpp"
#include "ir/nan_minmax.hpp"
#endif

// Asks every compiler to inline a function, for callers that rely on a constant argument folding
// a switch away (pointwise_value).
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define KILN_FORCE_INLINE __forceinline__
#else
#define KILN_FORCE_INLINE inline __attribute__((always_inline))
#endif

namespace kiln::ir {

// The constants of the formulas.
inline constexpr double kInvSqrt2 = 0.70710678118654752440;     // 1 / sqrt(2): GELU, erf form
inline constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi): GELU, tanh form
inline constexpr double kGeluCubic = 0.044715;  // GELU, tanh form: tanh(k (x + 0.044715 x^3))

// The values ONNX gives the activations' attributes when a model leaves them out.
inline constexpr float kLeakyReluAlpha = 0.01f;
inline constexpr float kHardSigmoidAlpha = 0.2f;
inline constexpr float kHardSigmoidBeta = 0.5f;
inline constexpr float kEluAlpha = 1.0f;
inline constexpr float kCeluAlpha = 1.0f;
inline constexpr float kThresholdedReluAlpha = 1.0f;
inline constexpr float kSeluAlpha = 1.67326319217681884765625f;
inline constexpr float kSeluGamma = 1.05070102214813232421875f;

// The instructions of a Pointwise program (ir/pointwise_program.hpp). The number says how many
// registers an instruction reads: 0 for kConst, 1..31 one, 32..63 two, 64..95 three. Which numbers
// are in use, and their names, come from the op table: each op that fuses into Pointwise layers
// names its opcode there (OpTraits::pointwise). The formula of each is pointwise_value's.
enum class PointwiseOpcode : int {
  kConst = 0,  // constants[a]
  // Unary: op(a).
  kNeg = 1,
  kAbs = 2,
  kExp = 3,
  kLog = 4,
  kSqrt = 5,
  kReciprocal = 6,
  kErf = 7,
  kTanh = 8,
  kSigmoid = 9,
  kRelu = 10,
  kFloor = 11,
  kCeil = 12,
  kRound = 13,
  kSin = 14,
  kCos = 15,
  kGelu = 16,      // Gelu, approximate="none"
  kGeluTanh = 17,  // Gelu, approximate="tanh"
  kSoftplus = 18,
  kSoftsign = 19,
  kMish = 20,
  kHardSwish = 21,
  // Binary: op(a, b).
  kAdd = 32,
  kSub = 33,
  kMul = 34,
  kDiv = 35,
  kPow = 36,
  kMax = 37,  // NaN-propagating, like ONNX Max
  kMin = 38,
  kLeakyRelu = 39,        // (x, alpha)
  kElu = 40,              // (x, alpha)
  kCelu = 41,             // (x, alpha)
  kThresholdedRelu = 42,  // (x, alpha)
  kPRelu = 43,            // (x, slope)
  // Ternary: op(a, b, c).
  kClip = 64,         // (x, min, max)
  kHardSigmoid = 65,  // (x, alpha, beta)
  kSelu = 66,         // (x, alpha, gamma)
};

// Opcodes are below this number.
inline constexpr int kPointwiseOpcodeLimit = 96;

// How many registers an instruction with this opcode reads (see PointwiseOpcode).
KILN_HOST_DEVICE constexpr int pointwise_operand_count(PointwiseOpcode op) {
  return op == PointwiseOpcode::kConst ? 0 : 1 + static_cast<int>(op) / 32;
}

template <typename C>
KILN_HOST_DEVICE inline C relu_value(C x) {
  return x < C(0) ? C(0) : x;  // NaN stays NaN
}

template <typename C>
KILN_HOST_DEVICE inline C leaky_relu_value(C x, C alpha) {
  return x < C(0) ? alpha * x : x;
}

// Sigmoid without overflow for large |x|: exp of a non-positive argument only.
template <typename C>
KILN_HOST_DEVICE inline C sigmoid_value(C x) {
#if !defined(__CUDA_ARCH__)
  using std::exp;
#endif
  if (x >= C(0)) return C(1) / (C(1) + exp(-x));
  C e = exp(x);
  return e / (C(1) + e);
}

template <typename C>
KILN_HOST_DEVICE inline C clamp01_value(C v) {
  return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
}

// min(max(x, lo), hi): max is applied last, so when lo > hi every element becomes hi, as ONNX
// specifies; NaN passes through.
template <typename C>
KILN_HOST_DEVICE inline C clip_value(C x, C lo, C hi) {
  x = x < lo ? lo : x;
  return hi < x ? hi : x;
}

template <typename C>
KILN_HOST_DEVICE inline C hard_sigmoid_value(C x, C alpha, C beta) {
  return clamp01_value(alpha * x + beta);
}

template <typename C>
KILN_HOST_DEVICE inline C hard_swish_value(C x) {
  return x * clamp01_value(x / C(6) + C(0.5));
}

// 0.5 x (1 + erf(x / sqrt 2)), x / sqrt(2) as a product: a division costs a GPU an order of
// magnitude more.
template <typename C>
KILN_HOST_DEVICE inline C gelu_value(C x) {
#if !defined(__CUDA_ARCH__)
  using std::erf;
#endif
  return C(0.5) * x * (C(1) + erf(x * C(kInvSqrt2)));
}

// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
template <typename C>
KILN_HOST_DEVICE inline C gelu_tanh_value(C x) {
#if !defined(__CUDA_ARCH__)
  using std::tanh;
#endif
  return C(0.5) * x * (C(1) + tanh(C(kSqrt2OverPi) * (x + C(kGeluCubic) * x * x * x)));
}

template <typename C>
KILN_HOST_DEVICE inline C elu_value(C x, C alpha) {
#if !defined(__CUDA_ARCH__)
  using std::expm1;
#endif
  return x < C(0) ? alpha * expm1(x) : x;
}

template <typename C>
KILN_HOST_DEVICE inline C selu_value(C x, C alpha, C gamma) {
#if !defined(__CUDA_ARCH__)
  using std::exp;
#endif
  return x > C(0) ? gamma * x : gamma * (alpha * exp(x) - alpha);
}

// max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
template <typename C>
KILN_HOST_DEVICE inline C celu_value(C x, C alpha) {
#if !defined(__CUDA_ARCH__)
  using std::expm1;
#endif
  return x > C(0) ? x : alpha * expm1(x / alpha);
}

// log(1 + exp(x)) without overflow for large x or loss for very negative x.
template <typename C>
KILN_HOST_DEVICE inline C softplus_value(C x) {
#if !defined(__CUDA_ARCH__)
  using std::exp;
  using std::fabs;
  using std::log1p;
#endif
  return (x > C(0) ? x : C(0)) + log1p(exp(-fabs(x)));
}

template <typename C>
KILN_HOST_DEVICE inline C softsign_value(C x) {
#if !defined(__CUDA_ARCH__)
  using std::fabs;
#endif
  return x / (C(1) + fabs(x));
}

template <typename C>
KILN_HOST_DEVICE inline C mish_value(C x) {
#if !defined(__CUDA_ARCH__)
  using std::tanh;
#endif
  return x * tanh(softplus_value(x));
}

template <typename C>
KILN_HOST_DEVICE inline C thresholded_relu_value(C x, C alpha) {
  return x > alpha ? x : C(0);
}

// Ties to even, as the default rounding mode rounds.
template <typename C>
KILN_HOST_DEVICE inline C round_value(C x) {
#if defined(__CUDA_ARCH__)
  return rint(x);
#else
  return std::nearbyint(x);
#endif
}

// The result of one Pointwise instruction on its operands (those past its operand count are
// ignored). kConst's value is the caller's to load; it gives `a` back. Forced inline so that a
// caller with a constant opcode (a generated kernel, the CPU interpreter's per-opcode loops) keeps
// only that opcode's formula.
template <typename C>
KILN_HOST_DEVICE KILN_FORCE_INLINE C pointwise_value(PointwiseOpcode op, C a, C b, C c) {
#if !defined(__CUDA_ARCH__)
  using std::ceil;
  using std::cos;
  using std::erf;
  using std::exp;
  using std::fabs;
  using std::floor;
  using std::log;
  using std::pow;
  using std::sin;
  using std::sqrt;
  using std::tanh;
#endif
  using Op = PointwiseOpcode;
  switch (op) {
    case Op::kConst:
      return a;
    case Op::kNeg:
      return -a;
    case Op::kAbs:
      return fabs(a);
    case Op::kExp:
      return exp(a);
    case Op::kLog:
      return log(a);
    case Op::kSqrt:
      return sqrt(a);
    case Op::kReciprocal:
      return C(1) / a;
    case Op::kErf:
      return erf(a);
    case Op::kTanh:
      return tanh(a);
    case Op::kSigmoid:
      return sigmoid_value(a);
    case Op::kRelu:
      return relu_value(a);
    case Op::kFloor:
      return floor(a);
    case Op::kCeil:
      return ceil(a);
    case Op::kRound:
      return round_value(a);
    case Op::kSin:
      return sin(a);
    case Op::kCos:
      return cos(a);
    case Op::kGelu:
      return gelu_value(a);
    case Op::kGeluTanh:
      return gelu_tanh_value(a);
    case Op::kSoftplus:
      return softplus_value(a);
    case Op::kSoftsign:
      return softsign_value(a);
    case Op::kMish:
      return mish_value(a);
    case Op::kHardSwish:
      return hard_swish_value(a);
    case Op::kAdd:
      return a + b;
    case Op::kSub:
      return a - b;
    case Op::kMul:
      return a * b;
    case Op::kDiv:
      return a / b;
    case Op::kPow:
      return pow(a, b);
    case Op::kMax:
      return max_keep_nan(a, b);
    case Op::kMin:
      return min_keep_nan(a, b);
    case Op::kLeakyRelu:
    case Op::kPRelu:
      return leaky_relu_value(a, b);
    case Op::kElu:
      return elu_value(a, b);
    case Op::kCelu:
      return celu_value(a, b);
    case Op::kThresholdedRelu:
      return thresholded_relu_value(a, b);
    case Op::kClip:
      return clip_value(a, b, c);
    case Op::kHardSigmoid:
      return hard_sigmoid_value(a, b, c);
    case Op::kSelu:
      return selu_value(a, b, c);
  }
  return C(0);  // no opcode: PointwiseProgram::load refuses such programs
}

}  // namespace kiln::ir

#if !defined(__CUDACC_RTC__)
#include "ir/activation.hpp"

namespace kiln::ir {

// The activation `kind` of a fused layer (FusedConv, FusedMatMul) with parameters alpha and beta
// on one value, as the standalone ops compute it.
template <typename C>
KILN_HOST_DEVICE inline C activation_value(ActivationKind kind, C alpha, C beta, C x) {
#if !defined(__CUDA_ARCH__)
  using std::tanh;
#endif
  using K = ActivationKind;
  switch (kind) {
    case K::kNone:
      return x;
    case K::kRelu:
      return relu_value(x);
    case K::kLeakyRelu:
      return leaky_relu_value(x, alpha);
    case K::kClip:
      return clip_value(x, alpha, beta);
    case K::kSigmoid:
      return sigmoid_value(x);
    case K::kSilu:
      return x * sigmoid_value(x);
    case K::kGelu:
      return gelu_value(x);
    case K::kGeluTanh:
      return gelu_tanh_value(x);
    case K::kHardSwish:
      return hard_swish_value(x);
    case K::kHardSigmoid:
      return hard_sigmoid_value(x, alpha, beta);
    case K::kTanh:
      return tanh(x);
    case K::kElu:
      return elu_value(x, alpha);
  }
  return x;
}

}  // namespace kiln::ir
#endif
