// The CUDA kernels of the fused layers against the CPU reference: FusedMatMul and FusedConv over
// every activation x residual mode (and the bias layouts that take different cuBLASLt paths),
// Pointwise layers made by the real fuse_pointwise pass (generated and interpreted kernels), and
// ScaledDotProductAttention with and without masks; float32, float16 and bfloat16. The GPU tests
// skip where no device is present; the NVRTC code-generation test needs only the toolkit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <optional>

#include "backends/cuda/pointwise_codegen.hpp"
#include "backends/cuda/pointwise_compiler.hpp"
#include "ir/activation.hpp"
#include "ir/op_registry.hpp"
#include "ir/pointwise_program.hpp"
#include "passes/passes.hpp"
#include "unit/backends/cuda/gpu_case_table.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::test {
namespace {

using ir::ActivationKind;

// The half types may round twice where the epilogue runs after the library's output is stored.
const Precision kPrecisions[] = {{DataType::kFloat32, "fp32", 1e-4, 1e-4},
                                 {DataType::kFloat16, "fp16", 4e-3, 5e-3},
                                 {DataType::kBFloat16, "bf16", 2e-2, 3e-2}};

struct Operand {
  Shape shape;
  bool constant = false;
  bool omitted = false;
};

// Adds a case of `op` in every precision.
void add_cases(std::vector<GpuCase>& cases, const std::string& op, const std::string& label,
               const ir::Attributes& attrs, const std::vector<Operand>& operands,
               double tol_scale = 1.0) {
  for (const Precision& p : kPrecisions) {
    GpuCase c;
    c.name = cat(op, " ", p.name, " ", label);
    c.op = op;
    c.attrs = attrs;
    for (const Operand& o : operands) {
      GpuInput in;
      in.dtype = p.dtype;
      in.shape = o.shape;
      in.constant = o.constant;
      in.omitted = o.omitted;
      c.inputs.push_back(in);
    }
    c.rtol = p.rtol * tol_scale;
    c.atol = p.atol * tol_scale;
    cases.push_back(std::move(c));
  }
}

// Every activation a fused layer takes, with parameters where it has them.
std::vector<ir::Activation> all_activations() {
  return {{ActivationKind::kNone},
          {ActivationKind::kRelu},
          {ActivationKind::kLeakyRelu, 0.1f},
          {ActivationKind::kClip, 0.0f, 6.0f},
          {ActivationKind::kClip, -0.5f, 0.25f},
          {ActivationKind::kSigmoid},
          {ActivationKind::kSilu},
          {ActivationKind::kGelu},
          {ActivationKind::kGeluTanh},
          {ActivationKind::kHardSwish},
          {ActivationKind::kHardSigmoid, 0.2f, 0.5f},
          {ActivationKind::kTanh},
          {ActivationKind::kElu, 1.0f}};
}

enum class Residual { kNone, kBefore, kAfter };
const Residual kResiduals[] = {Residual::kNone, Residual::kBefore, Residual::kAfter};

const char* residual_name(Residual r) {
  return r == Residual::kNone     ? "no residual"
         : r == Residual::kBefore ? "residual before"
                                  : "residual after";
}

ir::Attributes epilogue_attrs(const ir::Activation& act, Residual r) {
  ir::Attributes a;
  ir::write_activation(a, act);
  if (r != Residual::kNone) a.set("residual_before_activation", int64_t{r == Residual::kBefore});
  return a;
}

const GpuCaseTable kFusedMatMulEpilogueCases("FusedGpu.FusedMatMulActivationsAndResiduals", [] {
  std::vector<GpuCase> table;
  const Shape a{2, 5, 24}, b{24, 16}, y{2, 5, 16};
  for (const ir::Activation& act : all_activations()) {
    for (Residual r : kResiduals) {
      std::vector<Operand> ops{{a}, {b, true}, {{16}, true}};
      if (r != Residual::kNone) ops.push_back({y});
      add_cases(table, "FusedMatMul", cat(ir::to_string(act), ", ", residual_name(r)),
                epilogue_attrs(act, r), ops);
    }
  }
  return table;
});

TEST(FusedGpu, FusedMatMulActivationsAndResiduals) {
  run_table(kFusedMatMulEpilogueCases);
}

const GpuCaseTable kFusedMatMulLayoutCases("FusedGpu.FusedMatMulBiasLayoutsTransposesAndAlpha", [] {
  std::vector<GpuCase> table;
  const ir::Activation relu{ActivationKind::kRelu}, gelu{ActivationKind::kGeluTanh};
  struct Case {
    const char* label;
    Shape a, b;
    std::optional<Shape> bias;
    Residual residual;
    ir::Activation act;
    int trans_a = 0, trans_b = 0;
    float alpha = 1.0f;
  };
  const Case cases[] = {
      {"no bias", {7, 13}, {13, 5}, std::nullopt, Residual::kNone, relu},
      {"no bias, residual", {7, 13}, {13, 5}, std::nullopt, Residual::kBefore, gelu},
      {"full bias (as C)", {7, 13}, {13, 5}, Shape{7, 5}, Residual::kNone, relu},
      {"full bias and residual", {7, 13}, {13, 5}, Shape{7, 5}, Residual::kBefore, relu},
      {"column bias (epilogue kernel)", {7, 13}, {13, 5}, Shape{7, 1}, Residual::kNone, gelu},
      {"batched bias", {3, 7, 13}, {3, 13, 5}, Shape{3, 1, 5}, Residual::kAfter, relu},
      {"scalar bias", {7, 13}, {13, 5}, Shape{1}, Residual::kNone, relu},
      {"transA", {13, 7}, {13, 5}, Shape{5}, Residual::kBefore, relu, 1, 0},
      {"transB", {7, 13}, {5, 13}, Shape{5}, Residual::kNone, gelu, 0, 1},
      {"transA batched A", {3, 13, 7}, {13, 5}, Shape{5}, Residual::kNone, relu, 1, 0},
      {"transA transB, alpha", {13, 7}, {5, 13}, Shape{5}, Residual::kAfter, relu, 1, 1, 0.5f},
      {"broadcast batch", {2, 1, 4, 6}, {1, 3, 6, 5}, Shape{5}, Residual::kBefore, relu},
      {"empty K", {5, 0}, {0, 3}, Shape{3}, Residual::kBefore, relu},
      {"larger", {96, 200}, {200, 64}, Shape{64}, Residual::kBefore, relu},
  };
  for (const Case& c : cases) {
    ir::Attributes attrs = epilogue_attrs(c.act, c.residual);
    attrs.set("transA", int64_t{c.trans_a});
    attrs.set("transB", int64_t{c.trans_b});
    attrs.set("alpha", c.alpha);
    std::vector<Operand> ops{{c.a}, {c.b, true}};
    ops.push_back(c.bias ? Operand{*c.bias, true} : Operand{{}, false, true});
    if (c.residual != Residual::kNone) {
      Shape sa = c.a, sb = c.b;
      if (c.trans_a) std::swap(sa[sa.size() - 1], sa[sa.size() - 2]);
      if (c.trans_b) std::swap(sb[sb.size() - 1], sb[sb.size() - 2]);
      Shape y;
      size_t rank = std::max(sa.size(), sb.size());
      sa.insert(sa.begin(), rank - sa.size(), 1);
      sb.insert(sb.begin(), rank - sb.size(), 1);
      for (size_t i = 0; i + 2 < rank; ++i) y.push_back(std::max(sa[i], sb[i]));
      y.push_back(sa[rank - 2]);
      y.push_back(sb[rank - 1]);
      ops.push_back({y});
    }
    add_cases(table, "FusedMatMul", c.label, attrs, ops, c.a == Shape{96, 200} ? 4.0 : 1.0);
  }
  return table;
});

TEST(FusedGpu, FusedMatMulBiasLayoutsTransposesAndAlpha) {
  run_table(kFusedMatMulLayoutCases);
}

ir::Attributes conv_attrs(const ir::Activation& act, Residual r) {
  ir::Attributes a = epilogue_attrs(act, r);
  a.set("pads", std::vector<int64_t>{1, 1, 1, 1});
  a.set("transposed", int64_t{0});
  return a;
}

const GpuCaseTable kFusedConvEpilogueCases("FusedGpu.FusedConvActivationsAndResiduals", [] {
  std::vector<GpuCase> table;
  const Shape x{2, 8, 9, 9}, w{16, 8, 3, 3}, y{2, 16, 9, 9};
  for (const ir::Activation& act : all_activations()) {
    for (Residual r : kResiduals) {
      std::vector<Operand> ops{{x}, {w, true}, {{16}, true}};
      if (r != Residual::kNone) ops.push_back({y});
      add_cases(table, "FusedConv", cat(ir::to_string(act), ", ", residual_name(r)),
                conv_attrs(act, r), ops);
    }
  }
  return table;
});

TEST(FusedGpu, FusedConvActivationsAndResiduals) {
  run_table(kFusedConvEpilogueCases);
}

const GpuCaseTable kFusedConvShapeCases("FusedGpu.FusedConvShapes", [] {
  std::vector<GpuCase> table;
  const ir::Activation relu{ActivationKind::kRelu}, hswish{ActivationKind::kHardSwish};
  // No bias, residual before Relu (ResNet's block end).
  add_cases(table, "FusedConv", "no bias, residual, Relu", conv_attrs(relu, Residual::kBefore),
            {{{2, 8, 9, 9}}, {{16, 8, 3, 3}, true}, {{}, false, true}, {{2, 16, 9, 9}}});
  // Depthwise with HardSwish (MobileNet-v3's pattern).
  ir::Attributes dw = conv_attrs(hswish, Residual::kNone);
  dw.set("group", int64_t{8});
  add_cases(table, "FusedConv", "depthwise, HardSwish", dw,
            {{{1, 8, 7, 7}}, {{8, 1, 3, 3}, true}, {{8}, true}});
  // 1-D, strided, Relu.
  ir::Attributes one_d = epilogue_attrs(relu, Residual::kNone);
  one_d.set("strides", std::vector<int64_t>{2});
  one_d.set("transposed", int64_t{0});
  add_cases(table, "FusedConv", "1-D strided, Relu", one_d,
            {{{2, 4, 15}}, {{6, 4, 3}, true}, {{6}, true}});
  // A runtime residual after a Sigmoid on a 1x1 convolution.
  add_cases(table, "FusedConv", "1x1, Sigmoid, residual after",
            epilogue_attrs({ActivationKind::kSigmoid}, Residual::kAfter),
            {{{2, 16, 5, 5}}, {{8, 16, 1, 1}, true}, {{8}, true}, {{2, 8, 5, 5}}});
  return table;
});

TEST(FusedGpu, FusedConvShapes) {
  run_table(kFusedConvShapeCases);
}

// A Pointwise layer as the fuse_pointwise pass builds it from `g`.
struct PointwiseLayer {
  ir::Attributes attrs;
  std::vector<Shape> inputs;
  size_t outputs = 0;
};

PointwiseLayer fused_layer(ir::Graph& g) {
  ir::infer_graph(g);
  EXPECT_TRUE(passes::fuse_pointwise(g));
  PointwiseLayer l;
  for (const auto& n : g.nodes()) {
    if (n->op != "Pointwise") continue;
    l.attrs = n->attrs;
    for (const ir::Value* v : n->inputs) l.inputs.push_back(*ir::to_concrete(*v->shape));
    l.outputs = n->outputs.size();
    return l;
  }
  ADD_FAILURE() << "fuse_pointwise made no Pointwise layer";
  return l;
}

// Small graphs covering every opcode, broadcasting, constants and several outputs.
std::vector<std::pair<std::string, PointwiseLayer>> pointwise_layers() {
  std::vector<std::pair<std::string, PointwiseLayer>> out;
  {
    PassGraphBuilder b;
    auto* x = b.input("x", {2, 3, 40});
    auto* bias = b.constant({40}, std::vector<float>(40, 0.25f));
    b.output(
        b.op("Sigmoid", {b.op("Relu", {b.op("Add", {b.op("Mul", {x, b.scalar(0.5f)}), bias})})}));
    out.emplace_back("mul-add-relu-sigmoid, broadcast bias", fused_layer(b.graph()));
  }
  {
    PassGraphBuilder b;
    auto* x = b.input("x", {4, 1, 33});
    auto* y = b.input("y", {1, 5, 33});
    auto* s = b.op("Sub", {x, y});
    auto* t = b.op("Tanh", {s});
    auto* e = b.op("Exp", {b.op("Neg", {b.op("Abs", {s})})});
    b.output(b.op("Div", {t, b.op("Add", {e, b.scalar(1.0f)})}));
    b.output(t);
    out.emplace_back("crossed broadcast, two outputs", fused_layer(b.graph()));
  }
  {
    PassGraphBuilder b;
    auto* x = b.input("x", {3, 50});
    auto* v = b.op("Erf", {b.op("Sin", {x})});
    v = b.op("Add", {v, b.op("Cos", {x})});
    v = b.op("Softplus", {v});
    v = b.op("Softsign", {v});
    v = b.op("Mish", {v});
    v = b.op("HardSwish", {v});
    v = b.op("Gelu", {v});
    v = b.op("Gelu", {v}, attrs({{"approximate", std::string("tanh")}}));
    v = b.op("Floor", {b.op("Mul", {v, b.scalar(7.0f)})});
    v = b.op("Ceil", {b.op("Div", {v, b.scalar(3.0f)})});
    v = b.op("Round", {b.op("Mul", {v, b.scalar(0.5f)})});
    b.output(b.op("Max", {v, b.op("Min", {x, b.scalar(0.25f)})}));
    out.emplace_back("unary chain", fused_layer(b.graph()));
  }
  {
    PassGraphBuilder b;
    auto* x = b.input("x", {2, 7, 9});
    auto* y = b.input("y", {9});
    auto* v = b.op("LeakyRelu", {x}, attrs({{"alpha", 0.1f}}));
    v = b.op("Elu", {v}, attrs({{"alpha", 0.7f}}));
    v = b.op("Celu", {v}, attrs({{"alpha", 1.3f}}));
    v = b.op("ThresholdedRelu", {v}, attrs({{"alpha", 0.05f}}));
    v = b.op("Add", {v, b.op("Sqrt", {b.op("Abs", {y})})});
    v = b.op("PRelu",
             {b.op("Sub", {v, b.scalar(0.5f)}), b.constant({9}, std::vector<float>(9, 0.3f))});
    v = b.op("Clip", {v, b.scalar(-0.4f), b.scalar(0.6f)});
    v = b.op("HardSigmoid", {v}, attrs({{"alpha", 0.3f}, {"beta", 0.4f}}));
    v = b.op("Selu", {b.op("Sub", {v, b.scalar(0.5f)})});
    v = b.op("Pow", {b.op("Add", {v, b.scalar(2.0f)}), b.scalar(1.5f)});
    v = b.op("Log", {v});
    b.output(b.op("Reciprocal", {b.op("Add", {b.op("Exp", {v}), b.scalar(1.0f)})}));
    out.emplace_back("parametric activations", fused_layer(b.graph()));
  }
  return out;
}

// The cases of every layer of pointwise_layers(), in every precision, run by `tactic`.
std::vector<GpuCase> pointwise_cases(const std::string& tactic) {
  std::vector<GpuCase> cases;
  for (const auto& [label, l] : pointwise_layers()) {
    for (const Precision& p : kPrecisions) {
      GpuCase c;
      c.name = cat("Pointwise ", p.name, " ", label, " (", tactic, ")");
      c.op = "Pointwise";
      c.attrs = l.attrs;
      for (const Shape& s : l.inputs) c.inputs.push_back({p.dtype, s});
      c.num_outputs = l.outputs;
      c.tactic = tactic;
      c.rtol = p.rtol;
      c.atol = p.atol;
      cases.push_back(std::move(c));
    }
  }
  return cases;
}

const GpuCaseTable kPointwiseGeneratedCases("FusedGpu.PointwiseGenerated",
                                            [] { return pointwise_cases("compiled"); });
const GpuCaseTable kPointwiseInterpretedCases("FusedGpu.PointwiseInterpreted",
                                              [] { return pointwise_cases("interpret"); });

TEST(FusedGpu, PointwiseGenerated) {
  run_table(kPointwiseGeneratedCases);
}

TEST(FusedGpu, PointwiseInterpreted) {
  run_table(kPointwiseInterpretedCases);
}

// Needs NVRTC only, so it runs on machines without a GPU too: every generated kernel compiles.
TEST(PointwiseCodegen, GeneratedSourcesCompileForHopper) {
  for (const auto& [label, layer] : pointwise_layers()) {
    ir::PointwiseProgram p =
        ir::PointwiseProgram::load(layer.attrs, static_cast<int64_t>(layer.inputs.size()),
                                   static_cast<int64_t>(layer.outputs), label);
    for (DataType t :
         {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16, DataType::kFloat64}) {
      std::string source = cuda::pointwise_cuda_source(p, t);
      EXPECT_NE(source.find(cuda::kPointwiseKernelName), std::string::npos);
      try {
        std::vector<char> cubin = cuda::nvrtc_compile(source, 90, label);
        EXPECT_GT(cubin.size(), 0u) << label;
      } catch (const Error& e) {
        ADD_FAILURE() << label << " " << to_string(t) << ": " << e.what();
      }
    }
  }
}

const GpuCaseTable kAttentionCases("FusedGpu.ScaledDotProductAttention", [] {
  std::vector<GpuCase> table;
  struct Case {
    const char* label;
    Shape q, k, v;
    std::optional<Shape> mask;
    bool k_transposed = false;
  };
  const Case cases[] = {
      {"one tile", {1, 2, 5, 8}, {1, 2, 7, 8}, {1, 2, 7, 8}, std::nullopt},
      {"several query and key tiles", {2, 3, 37, 40}, {2, 3, 70, 40}, {2, 3, 70, 24}, std::nullopt},
      {"broadcast mask", {2, 3, 17, 16}, {2, 3, 33, 16}, {2, 3, 33, 16}, Shape{17, 33}},
      {"per-batch mask", {2, 3, 17, 16}, {2, 3, 33, 16}, {2, 3, 33, 16}, Shape{2, 1, 1, 33}},
      {"K transposed", {2, 4, 19, 32}, {2, 4, 32, 45}, {2, 4, 45, 32}, Shape{2, 4, 19, 45}, true},
      {"broadcast K/V batch", {2, 3, 9, 16}, {1, 3, 12, 16}, {2, 1, 12, 16}, std::nullopt},
      {"BERT-base head", {2, 12, 128, 64}, {2, 12, 128, 64}, {2, 12, 128, 64}, Shape{2, 1, 1, 128}},
      {"large head", {1, 1, 20, 256}, {1, 1, 40, 256}, {1, 1, 40, 256}, std::nullopt},
      {"3-D", {3, 10, 8}, {3, 10, 8}, {3, 10, 8}, std::nullopt},
  };
  for (const Case& c : cases) {
    ir::Attributes attrs;
    int64_t d = c.q.back();
    attrs.set("scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(d))));
    attrs.set("k_transposed", int64_t{c.k_transposed});
    std::vector<Operand> ops{{c.q}, {c.k}, {c.v}};
    if (c.mask) ops.push_back({*c.mask});
    add_cases(table, "ScaledDotProductAttention", c.label, attrs, ops, 2.0);
  }
  return table;
});

TEST(FusedGpu, ScaledDotProductAttention) {
  run_table(kAttentionCases);
}

}  // namespace
}  // namespace kiln::test
