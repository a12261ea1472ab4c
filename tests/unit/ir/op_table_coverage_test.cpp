// Walks every op of the op table and holds it to what the rest of kiln relies on: shape inference,
// a CPU kernel (the reference every backend is tested against), traits that agree with each other,
// a CPU kernel that really may write over its input where the table says so, and the op family of
// every CPU kernel and ONNX importer (the one of its op). The CUDA side (a kernel or a reasoned
// host fallback, its family, and a GPU test case) is checked where the CUDA backend is built:
// tests/unit/backends/cuda/op_table_cuda_coverage_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string_view>

#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "ir/op_registry.hpp"
#include "ir/pointwise_program.hpp"
#include "onnx/import_context.hpp"
#include "unit/ir/op_family_check.hpp"

namespace kiln::ir {
namespace {

std::vector<const OpSchema*> every_op() {
  std::vector<const OpSchema*> ops;
  for (const std::string& name : OpRegistry::instance().names()) {
    ops.push_back(OpRegistry::instance().find(name));
  }
  return ops;
}

TEST(OpTableCoverage, EveryOpHasInferenceAndACpuKernel) {
  ASSERT_GT(every_op().size(), 100u);
  for (const OpSchema* op : every_op()) {
    EXPECT_NE(op->infer, nullptr) << op->name << " has no shape inference";
    EXPECT_TRUE(cpu::CpuKernelRegistry::instance().has(op->name))
        << op->name << " has no CPU kernel";
  }
}

// The families are one list (ir/op_family.hpp); each has ops, and each op's family is the one
// whose registration function added it to the table (op_registry.cpp's table).
TEST(OpTableCoverage, EveryFamilyHasOpsAndANameOfItsOwn) {
  std::set<std::string_view> names;
  for (OpFamily family : kOpFamilies) {
    std::string_view name = op_family_name(family);
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name << " names two families";
    int ops = 0;
    for (const OpSchema* op : every_op()) ops += op->family == family ? 1 : 0;
    EXPECT_GT(ops, 0) << "the " << name << " family has no ops";
  }
  EXPECT_EQ(OpRegistry::instance().find("Pointwise")->family, OpFamily::kElementwise);
  EXPECT_EQ(OpRegistry::instance().find("FusedConv")->family, OpFamily::kConv);
  EXPECT_EQ(OpRegistry::instance().find("ScaledDotProductAttention")->family, OpFamily::kAttention);
}

// Each CPU kernel comes from a registration function of its op's family (kernel.cpp's table):
// the kernels of a family live in src/backends/cpu/<family>*.cpp.
TEST(OpTableCoverage, EveryCpuKernelIsRegisteredByItsOpsFamily) {
  EXPECT_EQ(family_mismatches(cpu::CpuKernelRegistry::instance().families(), "the CPU kernel"), "");
}

// Each ONNX import function comes from a registration function of its op's family
// (import_context.cpp's table): src/onnx/ops/<family>*.cpp.
TEST(OpTableCoverage, EveryImporterIsRegisteredByItsOpsFamily) {
  const auto& registrations = onnx::ImporterTable::instance().families();
  EXPECT_GT(registrations.size(), 50u);
  EXPECT_EQ(family_mismatches(registrations, "the ONNX importer"), "");
}

TEST(OpTableCoverage, TraitsAgreeWithEachOther) {
  for (const OpSchema* op : every_op()) {
    const OpTraits& t = op->traits;
    const std::string& name = op->name;
    const bool elementwise = t.elementwise != ElementwiseClass::kNone;
    // Reading out[i]'s operands at i only is what makes both of these hold.
    if (t.safe_in_place) EXPECT_TRUE(elementwise) << name << " is in place but not elementwise";
    if (t.layout_agnostic)
      EXPECT_TRUE(elementwise) << name << " is layout-agnostic, not elementwise";
    if (t.view) {
      EXPECT_FALSE(t.safe_in_place) << name << ": a view writes nothing";
      EXPECT_EQ(t.flops.kind, FlopFormula::Kind::kDataMovement) << name;
      EXPECT_EQ(op->max_outputs, 1) << name;
    }
    const PrecisionTraits& p = t.precision;
    const bool needs_reason =
        p.cls == PrecisionClass::kKeepFp32 || p.cls == PrecisionClass::kKeepsTypes;
    EXPECT_EQ(std::string(p.reason).empty(), !needs_reason)
        << name << ": a reason goes with, and only with, a layer that keeps its precision";
    if (p.fp32_reason) EXPECT_EQ(p.cls, PrecisionClass::kFollowsNeighbours) << name;
    switch (t.flops.kind) {
      case FlopFormula::Kind::kPerOutputElement:
      case FlopFormula::Kind::kPerLargerElement:
        EXPECT_GT(t.flops.per_element, 0) << name;
        break;
      case FlopFormula::Kind::kFormula:
        EXPECT_NE(t.flops.formula, nullptr) << name;
        break;
      default:
        break;
    }
    if (t.host_fallback) EXPECT_STRNE(t.host_fallback, "") << name << ": say why";
  }
}

// The number of operands each Pointwise instruction reads is fixed by its opcode; the op's inputs
// and attribute operands must fill them exactly, or fuse_pointwise would emit a malformed program.
TEST(OpTableCoverage, PointwiseLoweringsFitTheirOpcodes) {
  int lowered = 0;
  for (const OpSchema* op : every_op()) {
    if (!op->traits.pointwise) continue;
    ++lowered;
    const PointwiseLowering& l = *op->traits.pointwise;
    EXPECT_NE(op->traits.elementwise, ElementwiseClass::kNone) << op->name;
    int attributes = 0;
    for (const AttributeOperand& a : l.attribute_operands) attributes += a.name ? 1 : 0;
    std::vector<PointwiseOpcode> opcodes = {l.opcode};
    if (l.variant_attribute) {
      EXPECT_NE(l.variant_value, nullptr) << op->name;
      opcodes.push_back(l.variant_opcode);
    }
    for (PointwiseOpcode code : opcodes) {
      const int operands = pointwise_operand_count(code);
      EXPECT_EQ(pointwise_arity(static_cast<int64_t>(code)), operands) << op->name;
      if (op->traits.elementwise == ElementwiseClass::kVariadic) {
        EXPECT_EQ(operands, 2) << op->name << " folds its inputs with a binary opcode";
      } else {
        EXPECT_EQ(op->max_inputs + attributes, operands) << op->name;
      }
      const OpSchema* owner = op_lowering_to(code);
      ASSERT_NE(owner, nullptr) << op->name;
      if (op->traits.elementwise != ElementwiseClass::kVariadic) {
        EXPECT_EQ(owner, op) << "two ops lower to opcode " << static_cast<int>(code);
      }
    }
  }
  EXPECT_GE(lowered, 30);
}

TEST(OpTableCoverage, OpcodeNamesAndArityComeFromTheTable) {
  EXPECT_EQ(pointwise_opcode_name(PointwiseOpcode::kConst), "Const");
  EXPECT_EQ(pointwise_opcode_name(PointwiseOpcode::kExp), "Exp");
  EXPECT_EQ(pointwise_opcode_name(PointwiseOpcode::kAdd), "Add");  // not Sum, which folds with it
  EXPECT_EQ(pointwise_opcode_name(PointwiseOpcode::kGeluTanh), "Gelu(approximate=tanh)");
  EXPECT_EQ(pointwise_arity(0), 0);
  EXPECT_EQ(pointwise_arity(static_cast<int64_t>(PointwiseOpcode::kSelu)), 3);
  for (int64_t unused : {-1, 30, 63, 95, 96, 1000}) {
    EXPECT_EQ(pointwise_arity(unused), std::nullopt) << unused;
  }
}

// Inputs for one run of an elementwise op: every input of x's shape and `dtype`, random values
// in [0.25, 2) (in the domain of Log, Sqrt, Acosh is another matter: NaN is compared bitwise).
std::vector<Tensor> random_inputs(const OpSchema& op, DataType dtype, std::mt19937& rng) {
  std::vector<Tensor> inputs;
  const int count = op.traits.elementwise == ElementwiseClass::kUnary ? 1 : 2;
  for (int i = 0; i < count; ++i) {
    Tensor t(dtype, {3, 37});
    std::uniform_real_distribution<double> value(0.25, 2.0);
    for (int64_t k = 0; k < t.numel(); ++k) {
      double v = value(rng);
      switch (dtype) {
        case DataType::kFloat32:
          t.data<float>()[k] = static_cast<float>(v);
          break;
        case DataType::kInt32:
          t.data<int32_t>()[k] = static_cast<int32_t>(v * 3);
          break;
        default:
          t.data<uint8_t>()[k] = v > 1 ? 1 : 0;  // bool
          break;
      }
    }
    inputs.push_back(std::move(t));
  }
  return inputs;
}

// The output of one run of `node`'s CPU kernel; with `in_place`, written over input 0's bytes.
std::optional<Tensor> run_cpu(const Node& node, std::vector<Tensor> inputs, bool in_place) {
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(&t);
  std::unique_ptr<cpu::CpuKernel> kernel = cpu::CpuKernelRegistry::instance().create(node);
  std::vector<cpu::OutputMemory> memory;
  if (in_place) memory.push_back({inputs[0].raw(), inputs[0].nbytes(), false});
  std::vector<Tensor> out = cpu::run_node(*kernel, node, ptrs, memory);
  if (in_place && out[0].raw() != inputs[0].raw()) return std::nullopt;  // not written over
  return out[0];
}

// The memory planner writes a layer marked safe in place over a dying input of its type and size:
// each such CPU kernel must then give what it gives with an output of its own.
TEST(OpTableCoverage, OpsMarkedSafeInPlaceGiveTheSameResultOverTheirInput) {
  std::mt19937 rng(7);
  int checked = 0;
  for (const OpSchema* op : every_op()) {
    if (!op->traits.safe_in_place) continue;
    bool ran = false;
    for (DataType dtype : {DataType::kFloat32, DataType::kInt32, DataType::kBool}) {
      Graph g;
      std::vector<Tensor> inputs = random_inputs(*op, dtype, rng);
      std::vector<Value*> ins;
      for (size_t i = 0; i < inputs.size(); ++i) ins.push_back(g.add_value(cat("x", i), dtype));
      Node* n = g.add_node(op->name, "n", ins, {g.add_value("y")});
      if (op->name == "BitShift") n->attrs.set("direction", std::string("LEFT"));
      if (op->name == "Mod" && dtype == DataType::kFloat32) n->attrs.set("fmod", int64_t{1});
      std::optional<Tensor> apart;
      try {
        apart = run_cpu(*n, inputs, false);
      } catch (const Error&) {
        continue;  // the op does not take this type
      }
      ran = true;
      if (apart->dtype() != dtype) break;  // a comparison: never over its input
      std::optional<Tensor> over = run_cpu(*n, inputs, true);
      ASSERT_TRUE(over) << op->name << " did not write over its input";
      EXPECT_EQ(std::memcmp(over->raw(), apart->raw(), apart->nbytes()), 0)
          << op->name << " (" << to_string(dtype) << ") differs when written over its input";
      ++checked;
      break;
    }
    EXPECT_TRUE(ran) << op->name << " ran with none of the types tried";
  }
  EXPECT_GE(checked, 50);
}

}  // namespace
}  // namespace kiln::ir
