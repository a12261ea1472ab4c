// The CPU kernel of Pointwise: interprets the layer's program (ir/pointwise_program.hpp) in one
// pass over the output. The output is cut into blocks of kBlock elements; for each block every
// instruction runs as a plain loop over the block (which the compiler vectorizes), with registers
// held in a per-thread scratch buffer, and blocks are split across OpenMP threads.
#include <cmath>
#include <numbers>

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/fused_kernels.hpp"
#include "ir/pointwise_program.hpp"

namespace kiln::cpu {
namespace {

using ir::PointwiseOpcode;

constexpr int64_t kBlock = 256;

// The formulas are those of the unfused ops' kernels (activation.cpp, unary.cpp, binary.cpp,
// variadic.cpp), so a fused layer gives the same bits as the layers it replaces.
template <typename C>
C softplus(C x) {
  return (x > C(0) ? x : C(0)) + std::log1p(std::exp(-std::abs(x)));
}

// Evaluates `program` for `n` elements whose registers live at regs + reg * kBlock.
template <typename T>
void run_block(const ir::PointwiseProgram& program, compute_t<T>* regs, int64_t n) {
  using C = compute_t<T>;
  for (size_t i = 0; i < program.code.size(); ++i) {
    const ir::PointwiseInstruction& ins = program.code[i];
    C* o = regs + (program.num_inputs + static_cast<int64_t>(i)) * kBlock;
    const C* a = regs + ins.a * kBlock;
    const C* b = regs + ins.b * kBlock;
    const C* c = regs + ins.c * kBlock;
    auto unary = [&](auto f) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) o[j] = f(a[j]);
    };
    auto binary = [&](auto f) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) o[j] = f(a[j], b[j]);
    };
    auto ternary = [&](auto f) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) o[j] = f(a[j], b[j], c[j]);
    };
    switch (ins.op) {
      case PointwiseOpcode::kConst: {
        const C v = static_cast<C>(program.constants[static_cast<size_t>(ins.a)]);
        for (int64_t j = 0; j < n; ++j) o[j] = v;
        continue;  // constants are exact; they are not rounded to T
      }
      case PointwiseOpcode::kNeg:
        unary([](C x) { return -x; });
        break;
      case PointwiseOpcode::kAbs:
        unary([](C x) { return std::abs(x); });
        break;
      case PointwiseOpcode::kExp:
        unary([](C x) { return std::exp(x); });
        break;
      case PointwiseOpcode::kLog:
        unary([](C x) { return std::log(x); });
        break;
      case PointwiseOpcode::kSqrt:
        unary([](C x) { return std::sqrt(x); });
        break;
      case PointwiseOpcode::kReciprocal:
        unary([](C x) { return C{1} / x; });
        break;
      case PointwiseOpcode::kErf:
        unary([](C x) { return std::erf(x); });
        break;
      case PointwiseOpcode::kTanh:
        unary([](C x) { return std::tanh(x); });
        break;
      case PointwiseOpcode::kSigmoid:
        unary([](C x) {
          if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
          C e = std::exp(x);
          return e / (C(1) + e);
        });
        break;
      case PointwiseOpcode::kRelu:
        unary([](C x) { return x < C(0) ? C(0) : x; });
        break;
      case PointwiseOpcode::kFloor:
        unary([](C x) { return std::floor(x); });
        break;
      case PointwiseOpcode::kCeil:
        unary([](C x) { return std::ceil(x); });
        break;
      case PointwiseOpcode::kRound:
        unary([](C x) { return std::nearbyint(x); });
        break;
      case PointwiseOpcode::kSin:
        unary([](C x) { return std::sin(x); });
        break;
      case PointwiseOpcode::kCos:
        unary([](C x) { return std::cos(x); });
        break;
      case PointwiseOpcode::kGelu:
        unary([](C x) { return C(0.5) * x * (C(1) + std::erf(x / std::numbers::sqrt2_v<C>)); });
        break;
      case PointwiseOpcode::kGeluTanh:
        unary([](C x) {
          const C k = std::sqrt(C(2) / std::numbers::pi_v<C>);
          return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
        });
        break;
      case PointwiseOpcode::kSoftplus:
        unary([](C x) { return softplus(x); });
        break;
      case PointwiseOpcode::kSoftsign:
        unary([](C x) { return x / (C(1) + std::abs(x)); });
        break;
      case PointwiseOpcode::kMish:
        unary([](C x) { return x * std::tanh(softplus(x)); });
        break;
      case PointwiseOpcode::kHardSwish:
        unary([](C x) {
          C v = x / C(6) + C(0.5);
          return x * (v < C(0) ? C(0) : (v > C(1) ? C(1) : v));
        });
        break;
      case PointwiseOpcode::kAdd:
        binary([](C x, C y) { return x + y; });
        break;
      case PointwiseOpcode::kSub:
        binary([](C x, C y) { return x - y; });
        break;
      case PointwiseOpcode::kMul:
        binary([](C x, C y) { return x * y; });
        break;
      case PointwiseOpcode::kDiv:
        binary([](C x, C y) { return x / y; });
        break;
      case PointwiseOpcode::kPow:
        binary([](C x, C y) { return std::pow(x, y); });
        break;
      case PointwiseOpcode::kMax:
        binary([](C x, C y) { return (x > y || x != x) ? x : y; });
        break;
      case PointwiseOpcode::kMin:
        binary([](C x, C y) { return (x < y || x != x) ? x : y; });
        break;
      case PointwiseOpcode::kLeakyRelu:
        binary([](C x, C alpha) { return x < C(0) ? alpha * x : x; });
        break;
      case PointwiseOpcode::kElu:
        binary([](C x, C alpha) { return x < C(0) ? alpha * std::expm1(x) : x; });
        break;
      case PointwiseOpcode::kCelu:
        binary([](C x, C alpha) { return x > C(0) ? x : alpha * std::expm1(x / alpha); });
        break;
      case PointwiseOpcode::kThresholdedRelu:
        binary([](C x, C alpha) { return x > alpha ? x : C(0); });
        break;
      case PointwiseOpcode::kPRelu:
        binary([](C x, C slope) { return x < C(0) ? slope * x : x; });
        break;
      case PointwiseOpcode::kClip:
        ternary([](C x, C lo, C hi) {
          x = x < lo ? lo : x;
          return hi < x ? hi : x;
        });
        break;
      case PointwiseOpcode::kHardSigmoid:
        ternary([](C x, C alpha, C beta) {
          C v = alpha * x + beta;
          return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
        });
        break;
      case PointwiseOpcode::kSelu:
        ternary([](C x, C alpha, C gamma) {
          return x > C(0) ? gamma * x : gamma * (alpha * std::exp(x) - alpha);
        });
        break;
    }
    if constexpr (is_reduced_float_v<T>) {
      // The unfused op would store its result as T; round the same way.
      for (int64_t j = 0; j < n; ++j) o[j] = load(store<T>(o[j]));
    }
  }
}

template <typename T>
void run_pointwise(KernelContext& ctx, const ir::PointwiseProgram& program) {
  using C = compute_t<T>;
  const size_t n_in = ctx.inputs.size();
  const size_t n_out = ctx.outputs.size();
  const Shape out_shape = ctx.output(0).shape();
  std::vector<Shape> shapes;
  std::vector<const T*> in_data;
  for (size_t i = 0; i < n_in; ++i) {
    shapes.push_back(ctx.input(i).shape());
    in_data.push_back(ctx.input(i).data<T>());
  }
  shapes.push_back(out_shape);  // gives each row's output offset
  std::vector<T*> out_data;
  for (size_t k = 0; k < n_out; ++k) out_data.push_back(ctx.output(k).data<T>());

  const BroadcastPlan plan(out_shape, shapes);
  if (plan.rows == 0) return;
  const int64_t blocks_per_row = (plan.inner + kBlock - 1) / kBlock;
  const int64_t blocks = plan.rows * blocks_per_row;
  const auto dims = static_cast<int64_t>(plan.outer_shape.size());
  const int64_t registers = program.num_registers();
  const bool parallel = blocks > 1 && plan.rows * plan.inner >= kParallelMinElements;
#pragma omp parallel if (parallel)
  {
    std::vector<C> regs(static_cast<size_t>(registers * kBlock));
    std::vector<int64_t> offsets(n_in + 1);
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t row = block / blocks_per_row;
      const int64_t start = (block % blocks_per_row) * kBlock;
      const int64_t n = std::min(kBlock, plan.inner - start);
      std::fill(offsets.begin(), offsets.end(), 0);
      int64_t rem = row;
      for (int64_t d = dims - 1; d >= 0; --d) {
        auto du = static_cast<size_t>(d);
        const int64_t idx = rem % plan.outer_shape[du];
        rem /= plan.outer_shape[du];
        for (size_t k = 0; k <= n_in; ++k) offsets[k] += idx * plan.outer_strides[k][du];
      }
      for (size_t k = 0; k < n_in; ++k) {
        C* r = regs.data() + static_cast<int64_t>(k) * kBlock;
        const T* p = in_data[k] + offsets[k];
        if (plan.inner_stride[k] == 0) {
          const C v = load(p[0]);
          for (int64_t j = 0; j < n; ++j) r[j] = v;
        } else {
          p += start;
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) r[j] = load(p[j]);
        }
      }
      run_block<T>(program, regs.data(), n);
      for (size_t k = 0; k < n_out; ++k) {
        const C* r = regs.data() + program.outputs[k] * kBlock;
        T* o = out_data[k] + offsets[n_in] + start;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = store<T>(r[j]);
      }
    }
  }
}

class PointwiseKernel final : public CpuKernel {
 public:
  explicit PointwiseKernel(const ir::Node& node)
      : program_(ir::PointwiseProgram::load(node.attrs, static_cast<int64_t>(node.inputs.size()),
                                            static_cast<int64_t>(node.outputs.size()),
                                            node.describe())) {}

  void run(KernelContext& ctx) override {
    const DataType dtype = ctx.input(0).dtype();
    visit_dtype(dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float_v<T>) {
        run_pointwise<T>(ctx, program_);
      } else {
        fail_dtype(ctx, 0, dtype);
      }
    });
  }

 private:
  ir::PointwiseProgram program_;
};

}  // namespace

void register_pointwise_kernels(CpuKernelRegistry& r) {
  r.add_factory("Pointwise", [](const ir::Node& node) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<PointwiseKernel>(node);
  });
}

}  // namespace kiln::cpu
