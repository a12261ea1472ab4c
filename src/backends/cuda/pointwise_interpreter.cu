// The Pointwise interpreter kernel: per element, gather the inputs through their strides, run the
// program instruction by instruction with the formulas of ir/activation_math.hpp (the CPU
// interpreter's), store the outputs.
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/pointwise_interpreter.hpp"
#include "core/error.hpp"
#include "ir/pointwise_program.hpp"

namespace kiln::cuda {
namespace {

using ir::PointwiseOpcode;

template <typename C>
__device__ C evaluate(const DeviceInstruction& ins, const C* r, const float* constants) {
  // kConst's operand indexes the constants, not the registers.
  if (ins.op == static_cast<int32_t>(PointwiseOpcode::kConst))
    return static_cast<C>(constants[ins.a]);
  const C x = ins.a >= 0 ? r[ins.a] : C(0);
  const C y = ins.b >= 0 ? r[ins.b] : C(0);
  const C z = ins.c >= 0 ? r[ins.c] : C(0);
  return ir::pointwise_value(static_cast<PointwiseOpcode>(ins.op), x, y, z);
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
