// The Pointwise interpreter kernel: per element, gather the inputs through their strides, run the
// program instruction by instruction with the CPU interpreter's formulas, store the outputs.
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/pointwise_interpreter.hpp"
#include "core/error.hpp"
#include "ir/pointwise_program.hpp"

namespace kiln::cuda {
namespace {

using ir::PointwiseOpcode;

template <typename C>
__device__ C softplus(C x) {
  return (x > C(0) ? x : C(0)) + log1p(exp(-fabs(x)));
}

template <typename C>
__device__ C evaluate(const DeviceInstruction& ins, const C* r, const float* constants) {
  // kConst's operand indexes the constants, not the registers.
  if (ins.op == static_cast<int32_t>(PointwiseOpcode::kConst))
    return static_cast<C>(constants[ins.a]);
  const C x = ins.a >= 0 ? r[ins.a] : C(0);
  const C y = ins.b >= 0 ? r[ins.b] : C(0);
  const C z = ins.c >= 0 ? r[ins.c] : C(0);
  switch (static_cast<PointwiseOpcode>(ins.op)) {
    case PointwiseOpcode::kConst:
      return C(0);  // handled above
    case PointwiseOpcode::kNeg:
      return -x;
    case PointwiseOpcode::kAbs:
      return fabs(x);
    case PointwiseOpcode::kExp:
      return exp(x);
    case PointwiseOpcode::kLog:
      return log(x);
    case PointwiseOpcode::kSqrt:
      return sqrt(x);
    case PointwiseOpcode::kReciprocal:
      return C(1) / x;
    case PointwiseOpcode::kErf:
      return erf(x);
    case PointwiseOpcode::kTanh:
      return tanh(x);
    case PointwiseOpcode::kSigmoid:
      return device::sigmoid(x);
    case PointwiseOpcode::kRelu:
      return x < C(0) ? C(0) : x;
    case PointwiseOpcode::kFloor:
      return floor(x);
    case PointwiseOpcode::kCeil:
      return ceil(x);
    case PointwiseOpcode::kRound:
      return rint(x);
    case PointwiseOpcode::kSin:
      return sin(x);
    case PointwiseOpcode::kCos:
      return cos(x);
    case PointwiseOpcode::kGelu:
      return C(0.5) * x * (C(1) + erf(x / C(1.41421356237309504880)));
    case PointwiseOpcode::kGeluTanh: {
      const C k = sqrt(C(2) / C(3.14159265358979323846));
      return C(0.5) * x * (C(1) + tanh(k * (x + C(0.044715) * x * x * x)));
    }
    case PointwiseOpcode::kSoftplus:
      return softplus(x);
    case PointwiseOpcode::kSoftsign:
      return x / (C(1) + fabs(x));
    case PointwiseOpcode::kMish:
      return x * tanh(softplus(x));
    case PointwiseOpcode::kHardSwish:
      return x * device::clamp01(x / C(6) + C(0.5));
    case PointwiseOpcode::kAdd:
      return x + y;
    case PointwiseOpcode::kSub:
      return x - y;
    case PointwiseOpcode::kMul:
      return x * y;
    case PointwiseOpcode::kDiv:
      return x / y;
    case PointwiseOpcode::kPow:
      return pow(x, y);
    case PointwiseOpcode::kMax:
      return (x > y || x != x) ? x : y;
    case PointwiseOpcode::kMin:
      return (x < y || x != x) ? x : y;
    case PointwiseOpcode::kLeakyRelu:
    case PointwiseOpcode::kPRelu:
      return x < C(0) ? y * x : x;
    case PointwiseOpcode::kElu:
      return x < C(0) ? y * expm1(x) : x;
    case PointwiseOpcode::kCelu:
      return x > C(0) ? x : y * expm1(x / y);
    case PointwiseOpcode::kThresholdedRelu:
      return x > y ? x : C(0);
    case PointwiseOpcode::kClip: {
      C v = x < y ? y : x;
      return z < v ? z : v;
    }
    case PointwiseOpcode::kHardSigmoid:
      return device::clamp01(y * x + z);
    case PointwiseOpcode::kSelu:
      return x > C(0) ? z * x : z * (y * exp(x) - y);
  }
  return C(0);
}

template <typename T>
__global__ void interpreter_kernel(PointwiseArgs args, const DeviceInstruction* code, int n_code,
                                   const float* constants, int n_in, const int32_t* outputs,
                                   int n_out) {
  using C = device::compute_t<T>;
  constexpr bool kReduced = !std::is_same_v<T, float> && !std::is_same_v<T, double>;
  C r[kInterpreterMaxRegisters];
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.total;
       i += step) {
    for (int k = 0; k < n_in; ++k) {
      int64_t rem = i, offset = 0;
      for (int d = args.rank - 1; d >= 0; --d) {
        offset += (rem % args.dims[d]) * args.strides[k][d];
        rem /= args.dims[d];
      }
      r[k] = device::load(static_cast<const T*>(args.in[k])[offset]);
    }
    for (int j = 0; j < n_code; ++j) {
      C v = evaluate(code[j], r, constants);
      if (kReduced && code[j].op != static_cast<int32_t>(PointwiseOpcode::kConst))
        v = device::round_to<T>(v);
      r[n_in + j] = v;
    }
    for (int k = 0; k < n_out; ++k)
      static_cast<T*>(args.out[k])[i] = device::store<T>(r[outputs[k]]);
  }
}

template <typename T>
void launch(const PointwiseArgs& args, const DeviceInstruction* code, int n_code,
            const float* constants, int n_in, const int32_t* outputs, int n_out,
            cudaStream_t stream) {
  constexpr int kThreads = 128;
  int64_t blocks = std::min<int64_t>((args.total + kThreads - 1) / kThreads, int64_t{1} << 20);
  interpreter_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      args, code, n_code, constants, n_in, outputs, n_out);
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_pointwise_interpreter(const PointwiseArgs& args, DataType dtype,
                                  const DeviceInstruction* code, int num_instructions,
                                  const float* constants, int num_inputs, const int32_t* outputs,
                                  int num_outputs, cudaStream_t stream) {
  if (args.total <= 0) return;
  switch (dtype) {
    case DataType::kFloat32:
      return launch<float>(args, code, num_instructions, constants, num_inputs, outputs,
                           num_outputs, stream);
    case DataType::kFloat16:
      return launch<__half>(args, code, num_instructions, constants, num_inputs, outputs,
                            num_outputs, stream);
    case DataType::kBFloat16:
      return launch<__nv_bfloat16>(args, code, num_instructions, constants, num_inputs, outputs,
                                   num_outputs, stream);
    case DataType::kFloat64:
      return launch<double>(args, code, num_instructions, constants, num_inputs, outputs,
                            num_outputs, stream);
    default:
      fail(ErrorCode::kUnsupported, "Pointwise kernels take float types, not ", to_string(dtype));
  }
}

}  // namespace kiln::cuda
