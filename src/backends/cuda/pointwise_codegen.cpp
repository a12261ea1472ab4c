// Pointwise program -> CUDA C++ text. The prelude declares the argument struct, the element
// loads/stores and one device function per opcode for the compute type; the kernel body is the
// program, one statement per instruction.
#include "backends/cuda/pointwise_codegen.hpp"

#include <cstdio>
#include <cstring>

#include "backends/cuda/pointwise_args.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

using ir::PointwiseOpcode;

struct TypeText {
  const char* storage;  // how elements are stored
  const char* compute;  // the register type
  const char* suffix;   // math function suffix: expf vs exp
  bool reduced;         // float16/bfloat16: round every result
};

TypeText type_text(DataType dtype) {
  switch (dtype) {
    case DataType::kFloat32:
      return {"float", "float", "f", false};
    case DataType::kFloat64:
      return {"double", "double", "", false};
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return {"unsigned short", "float", "f", true};
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

// One device function per opcode family, with the CPU interpreter's formulas.
std::string op_functions(const TypeText& t) {
  std::string s = R"(
__device__ __forceinline__ C op_sigmoid(C x) {
  if (x >= C(0)) return C(1) / (C(1) + EXP(-x));
  C e = EXP(x);
  return e / (C(1) + e);
}
__device__ __forceinline__ C op_softplus(C x) {
  return (x > C(0) ? x : C(0)) + LOG1P(EXP(-FABS(x)));
}
__device__ __forceinline__ C op_clamp01(C v) { return v < C(0) ? C(0) : (v > C(1) ? C(1) : v); }
__device__ __forceinline__ C op_gelu(C x) {
  return C(0.5) * x * (C(1) + ERF(x / C(1.41421356237309504880)));
}
__device__ __forceinline__ C op_gelu_tanh(C x) {
  const C k = SQRT(C(2) / C(3.14159265358979323846));
  return C(0.5) * x * (C(1) + TANH(k * (x + C(0.044715) * x * x * x)));
}
__device__ __forceinline__ C op_max(C x, C y) { return (x > y || x != x) ? x : y; }
__device__ __forceinline__ C op_min(C x, C y) { return (x < y || x != x) ? x : y; }
__device__ __forceinline__ C op_clip(C x, C lo, C hi) {
  x = x < lo ? lo : x;
  return hi < x ? hi : x;
}
)";
  // Function names for the compute type (expf for float, exp for double).
  std::string out;
  size_t pos = 0;
  static const std::pair<const char*, const char*> kNames[] = {{"EXP", "exp"},   {"LOG1P", "log1p"},
                                                               {"FABS", "fabs"}, {"ERF", "erf"},
                                                               {"SQRT", "sqrt"}, {"TANH", "tanh"}};
  while (pos < s.size()) {
    bool replaced = false;
    for (const auto& [name, lower] : kNames) {
      size_t len = std::strlen(name);
      if (s.compare(pos, len, name) == 0 && pos + len < s.size() && s[pos + len] == '(') {
        out += cat(lower, t.suffix);
        pos += len;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += s[pos++];
  }
  return out;
}

// A float constant exactly: its bits, widened to C.
std::string constant_text(float v) {
  uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[48];
  std::snprintf(buf, sizeof buf, "C(__int_as_float(0x%08xu))", bits);
  return buf;
}

std::string expression(const ir::PointwiseInstruction& ins, const ir::PointwiseProgram& p,
                       const TypeText& t) {
  auto r = [](int64_t reg) { return cat("r", reg); };
  const std::string x = r(ins.a), y = ins.b >= 0 ? r(ins.b) : "", z = ins.c >= 0 ? r(ins.c) : "";
  auto fn = [&](const char* name, const std::string& arg) {
    return cat(name, t.suffix, "(", arg, ")");
  };
  switch (ins.op) {
    case PointwiseOpcode::kConst:
      return constant_text(p.constants.at(static_cast<size_t>(ins.a)));
    case PointwiseOpcode::kNeg:
      return cat("-", x);
    case PointwiseOpcode::kAbs:
      return fn("fabs", x);
    case PointwiseOpcode::kExp:
      return fn("exp", x);
    case PointwiseOpcode::kLog:
      return fn("log", x);
    case PointwiseOpcode::kSqrt:
      return fn("sqrt", x);
    case PointwiseOpcode::kReciprocal:
      return cat("C(1) / ", x);
    case PointwiseOpcode::kErf:
      return fn("erf", x);
    case PointwiseOpcode::kTanh:
      return fn("tanh", x);
    case PointwiseOpcode::kSigmoid:
      return cat("op_sigmoid(", x, ")");
    case PointwiseOpcode::kRelu:
      return cat("(", x, " < C(0) ? C(0) : ", x, ")");
    case PointwiseOpcode::kFloor:
      return fn("floor", x);
    case PointwiseOpcode::kCeil:
      return fn("ceil", x);
    case PointwiseOpcode::kRound:
      return fn("rint", x);  // ties to even, as std::nearbyint in the default rounding mode
    case PointwiseOpcode::kSin:
      return fn("sin", x);
    case PointwiseOpcode::kCos:
      return fn("cos", x);
    case PointwiseOpcode::kGelu:
      return cat("op_gelu(", x, ")");
    case PointwiseOpcode::kGeluTanh:
      return cat("op_gelu_tanh(", x, ")");
    case PointwiseOpcode::kSoftplus:
      return cat("op_softplus(", x, ")");
    case PointwiseOpcode::kSoftsign:
      return cat(x, " / (C(1) + ", fn("fabs", x), ")");
    case PointwiseOpcode::kMish:
      return cat(x, " * ", fn("tanh", cat("op_softplus(", x, ")")));
    case PointwiseOpcode::kHardSwish:
      return cat(x, " * op_clamp01(", x, " / C(6) + C(0.5))");
    case PointwiseOpcode::kAdd:
      return cat(x, " + ", y);
    case PointwiseOpcode::kSub:
      return cat(x, " - ", y);
    case PointwiseOpcode::kMul:
      return cat(x, " * ", y);
    case PointwiseOpcode::kDiv:
      return cat(x, " / ", y);
    case PointwiseOpcode::kPow:
      return cat("pow", t.suffix, "(", x, ", ", y, ")");
    case PointwiseOpcode::kMax:
      return cat("op_max(", x, ", ", y, ")");
    case PointwiseOpcode::kMin:
      return cat("op_min(", x, ", ", y, ")");
    case PointwiseOpcode::kLeakyRelu:
    case PointwiseOpcode::kPRelu:
      return cat("(", x, " < C(0) ? ", y, " * ", x, " : ", x, ")");
    case PointwiseOpcode::kElu:
      return cat("(", x, " < C(0) ? ", y, " * ", fn("expm1", x), " : ", x, ")");
    case PointwiseOpcode::kCelu:
      return cat("(", x, " > C(0) ? ", x, " : ", y, " * ", fn("expm1", cat(x, " / ", y)), ")");
    case PointwiseOpcode::kThresholdedRelu:
      return cat("(", x, " > ", y, " ? ", x, " : C(0))");
    case PointwiseOpcode::kClip:
      return cat("op_clip(", x, ", ", y, ", ", z, ")");
    case PointwiseOpcode::kHardSigmoid:
      return cat("op_clamp01(", y, " * ", x, " + ", z, ")");
    case PointwiseOpcode::kSelu:
      return cat("(", x, " > C(0) ? ", z, " * ", x, " : ", z, " * (", y, " * ", fn("exp", x), " - ",
                 y, "))");
  }
  fail(ErrorCode::kInternal, "pointwise codegen: opcode ", static_cast<int64_t>(ins.op),
       " has no CUDA formula");
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
  s += op_functions(t);
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
    std::string e = expression(ins, p, t);
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
