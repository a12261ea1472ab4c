// Pointwise program -> CUDA C++ text. The prelude declares the argument struct, the element
// loads/stores and the formulas (ir/activation_math.hpp's text); the kernel body is the program,
// one statement per instruction.
#include "backends/cuda/pointwise_codegen.hpp"

#include <cstdio>
#include <cstring>

#include "backends/cuda/pointwise_args.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

using ir::PointwiseOpcode;

// The text of the headers the source needs, read from the source tree at build time (NVRTC has
// no include path of kiln's): KILN_HOST_DEVICE, NaN-keeping max and min, then the formulas.
constexpr const char* kHeaderSources[] = {
#include "host_device_source.inc"
    ,
#include "nan_minmax_source.inc"
    ,
#include "activation_math_source.inc"
};

struct TypeText {
  const char* storage;  // how elements are stored
  const char* compute;  // the register type
  bool reduced;         // float16/bfloat16: round every result
};

TypeText type_text(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return {"float", "float", false};
    case DataType::kFloat64:
      return {"double", "double", false};
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return {"unsigned short", "float", true};
    default:
      fail(ErrorCode::kUnsupported, "Pointwise kernels take float32, float16, bfloat16 or ",
           "float64, not ", to_string(dtype));
  }
}

// Element conversions; float16 through the PTX conversion instructions, bfloat16 by bits with
// round-to-nearest-even (core/float_types.cpp does the same on the host).
std::string conversions(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat16:
      return R"(__device__ __forceinline__ float ld(unsigned short h) {
  float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h)); return f;
}
__device__ __forceinline__ unsigned short st(float f) {
  unsigned short h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f)); return h;
}
__device__ __forceinline__ float rnd(float f) { return ld(st(f)); }
)";
    case DataType::kBFloat16:
      return R"(__device__ __forceinline__ float ld(unsigned short b) {
  return __uint_as_float(((unsigned int)b) << 16);
}
__device__ __forceinline__ unsigned short st(float f) {
  unsigned int x = __float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return (unsigned short)(x >> 16);
}
__device__ __forceinline__ float rnd(float f) { return ld(st(f)); }
)";
    default:
      return "__device__ __forceinline__ C ld(E v) { return v; }\n"
             "__device__ __forceinline__ E st(C v) { return v; }\n"
             "__device__ __forceinline__ C rnd(C v) { return v; }\n";
  }
}

// A float constant exactly: its bits, widened to C.
std::string constant_text(float v) {
  uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[48];
  std::snprintf(buf, sizeof buf, "C(__int_as_float(0x%08xu))", bits);
  return buf;
}

// An instruction's value: its formula is ir/activation_math.hpp's, whose text the source holds;
// with the opcode a constant, the compiler keeps only that formula.
std::string expression(const ir::PointwiseInstruction& ins, const ir::PointwiseProgram& p) {
  if (ins.op == PointwiseOpcode::kConst)
    return constant_text(p.constants.at(static_cast<size_t>(ins.a)));
  auto reg = [](int64_t r) { return r >= 0 ? cat("r", r) : std::string("C(0)"); };
  return cat("kiln::ir::pointwise_value((kiln::ir::PointwiseOpcode)", static_cast<int>(ins.op),
             ", ", reg(ins.a), ", ", reg(ins.b), ", ", reg(ins.c), ")");
}

}  // namespace

std::string pointwise_cuda_source(const ir::PointwiseProgram& p, DataType dtype) {
  const TypeText t = type_text(dtype);
  std::string s = cat("// kiln Pointwise layer, ", to_string(dtype), "\n", "typedef ", t.storage,
                      " E;\ntypedef ", t.compute, " C;\n");
  s += cat("struct PointwiseArgs {\n  const void* in[", kPointwiseMaxInputs, "];\n  void* out[",
           kPointwiseMaxOutputs, "];\n  long long dims[", kPointwiseMaxRank,
           "];\n  long long strides[", kPointwiseMaxInputs, "][", kPointwiseMaxRank,
           "];\n  long long total;\n  int rank;\n};\n");
  s += conversions(dtype);
  for (const char* header : kHeaderSources) s += header;
  const int64_t n_in = p.num_inputs;
  s +=
      cat("\nextern \"C\" __global__ void ", kPointwiseKernelName, "(const PointwiseArgs args) {\n",
          "  const long long step = (long long)gridDim.x * blockDim.x;\n",
          "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < args.total; ",
          "i += step) {\n");
  for (int64_t k = 0; k < n_in; ++k) s += cat("    long long o", k, " = 0;\n");
  s += "    long long rem = i;\n    for (int d = args.rank - 1; d >= 0; --d) {\n"
       "      const long long idx = rem % args.dims[d];\n      rem /= args.dims[d];\n";
  for (int64_t k = 0; k < n_in; ++k)
    s += cat("      o", k, " += idx * args.strides[", k, "][d];\n");
  s += "    }\n";
  for (int64_t k = 0; k < n_in; ++k)
    s += cat("    const C r", k, " = ld(((const E*)args.in[", k, "])[o", k, "]);\n");
  for (size_t i = 0; i < p.code.size(); ++i) {
    const ir::PointwiseInstruction& ins = p.code[i];
    const int64_t reg = n_in + static_cast<int64_t>(i);
    std::string e = expression(ins, p);
    // Constants are exact and not rounded, as in the CPU interpreter.
    if (t.reduced && ins.op != PointwiseOpcode::kConst) e = cat("rnd(", e, ")");
    s += cat("    const C r", reg, " = ", e, ";  // ", ir::pointwise_opcode_name(ins.op), "\n");
  }
  for (size_t k = 0; k < p.outputs.size(); ++k)
    s += cat("    ((E*)args.out[", k, "])[i] = st(r", p.outputs[k], ");\n");
  s += "  }\n}\n";
  return s;
}

}  // namespace kiln::cuda
