// The CPU kernel of Pointwise: interprets the layer's program (ir/pointwise_program.hpp) in one
// pass over the output. The output is cut into blocks of kBlock elements; for each block every
// instruction runs as a plain loop over the block (which the compiler vectorizes), with registers
// held in a per-thread scratch buffer, and blocks are split across OpenMP threads.
#include <array>
#include <utility>

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"
#include "ir/pointwise_program.hpp"

namespace kiln::cpu {
namespace {

using ir::PointwiseOpcode;

constexpr int64_t kBlock = 256;

// One instruction over a block of n elements: o[j] = op(a[j], b[j], c[j]), reading only the
// registers the opcode takes. With the opcode a constant, pointwise_value keeps only its formula
// (ir/activation_math.hpp, the one the unfused ops' kernels use), so each loop vectorizes.
template <typename C, int kCode>
void run_instruction(C* o, const C* a, const C* b, const C* c, int64_t n) {
  constexpr auto op = static_cast<PointwiseOpcode>(kCode);
  constexpr int operands = ir::pointwise_operand_count(op);
  if constexpr (operands == 1) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = ir::pointwise_value(op, a[j], C(0), C(0));
  } else if constexpr (operands == 2) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = ir::pointwise_value(op, a[j], b[j], C(0));
  } else if constexpr (operands == 3) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) o[j] = ir::pointwise_value(op, a[j], b[j], c[j]);
  }
}

template <typename C>
using InstructionFn = void (*)(C*, const C*, const C*, const C*, int64_t);

// run_instruction for every opcode number, indexed by it.
template <typename C, int... kCodes>
constexpr std::array<InstructionFn<C>, sizeof...(kCodes)> instruction_table(
    std::integer_sequence<int, kCodes...>) {
  return {&run_instruction<C, kCodes>...};
}

template <typename C>
constexpr auto kInstructions =
    instruction_table<C>(std::make_integer_sequence<int, ir::kPointwiseOpcodeLimit>());

// Evaluates `program` for `n` elements whose registers live at regs + reg * kBlock.
template <typename T>
void run_block(const ir::PointwiseProgram& program, compute_t<T>* regs, int64_t n) {
  using C = compute_t<T>;
  for (size_t i = 0; i < program.code.size(); ++i) {
    const ir::PointwiseInstruction& ins = program.code[i];
    C* o = regs + (program.num_inputs + static_cast<int64_t>(i)) * kBlock;
    if (ins.op == PointwiseOpcode::kConst) {
      const C v = static_cast<C>(program.constants[static_cast<size_t>(ins.a)]);
      for (int64_t j = 0; j < n; ++j) o[j] = v;
      continue;  // constants are exact; they are not rounded to T
    }
    // Registers an opcode does not read are -1: no block.
    auto block = [&](int64_t reg) { return reg < 0 ? nullptr : regs + reg * kBlock; };
    kInstructions<C>[static_cast<size_t>(ins.op)](o, block(ins.a), block(ins.b), block(ins.c), n);
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

void register_elementwise_pointwise_kernels(CpuKernelRegistry& r) {
  r.add_factory("Pointwise", [](const ir::Node& node) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<PointwiseKernel>(node);
  });
}

}  // namespace kiln::cpu
