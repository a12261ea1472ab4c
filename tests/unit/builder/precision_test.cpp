// The builder's precision stage on hand-built graphs: which layers are reduced, which keep FP32,
// where reformat (Cast) layers go, how constraints override, and that results stay close.
#include "builder/precision.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "builder/precision_reformat.hpp"
#include "core/float_types.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "ir/op_registry.hpp"
#include "ir/verifier.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::test {
namespace {

std::vector<float> ramp(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(static_cast<float>(i) * 0.7f + 0.3f);
  return v;
}

// Largest |a - b| relative to max(1, |b|), over two float32 tensors of one shape.
double max_relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dtype(), DataType::kFloat32);
  EXPECT_EQ(b.dtype(), DataType::kFloat32);
  EXPECT_EQ(a.shape(), b.shape());
  if (a.dtype() != DataType::kFloat32 || b.dtype() != DataType::kFloat32 ||
      a.numel() != b.numel()) {
    return INFINITY;
  }
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.data<float>()[i], y = b.data<float>()[i];
    worst = std::max(worst, std::fabs(x - y) / std::max(1.0, std::fabs(y)));
  }
  return worst;
}

BuilderConfig fp16_config() {
  BuilderConfig c;
  c.fp16 = true;
  return c;
}

const ir::Node* node_named(const ir::Graph& g, const std::string& name) {
  for (const auto& n : g.nodes()) {
    if (n->name == name) return n.get();
  }
  ADD_FAILURE() << "no node '" << name << "'";
  return nullptr;
}

// The layer producing `v`'s name's node, found by the name PassGraphBuilder gave it.
std::string precision_of(const ir::Graph& g, const std::string& node) {
  const ir::Node* n = node_named(g, node);
  return n ? ir::layer_precision(*n) : "";
}

int count_op(const ir::Graph& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->op == op;
  return n;
}

// Builds `g` (no rewriting passes) under `config` and runs it on `feeds`.
std::vector<Tensor> build_and_run(const ir::Graph& g, BuilderConfig config,
                                  const std::map<std::string, Tensor>& feeds) {
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = g.clone();
  config.optimization_level = 0;
  return build_engine(Network(std::move(impl)), config)->create_execution_context()->execute(feeds);
}

class CollectingLog {
 public:
  CollectingLog() {
    set_log_sink(
        [](Severity s, std::string_view m, void* self) {
          static_cast<CollectingLog*>(self)->messages.emplace_back(s, std::string(m));
        },
        this);
    set_log_level(Severity::kVerbose);
  }
  ~CollectingLog() {
    set_log_sink(nullptr, nullptr);
    set_log_level(Severity::kWarning);
  }
  bool has(Severity s, const std::string& part) const {
    for (const auto& [sev, m] : messages) {
      if (sev == s && m.find(part) != std::string::npos) return true;
    }
    return false;
  }
  std::vector<std::pair<Severity, std::string>> messages;
};

// x[4,8] -> MatMul(w1) -> Add(b) -> Relu -> MatMul(w2) -> y: matrix work and the cheap layers
// between it all run in FP16; only the graph input and output are cast, once each.
TEST(Precision, ChainOfReducedLayersIsCastOnlyAtTheBoundary) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  h = b.op("Add", {h, b.constant({8}, ramp(8, 0.1f))});
  h = b.op("Relu", {h});
  ir::Value* y = b.op("MatMul", {h, b.constant({8, 3}, ramp(24, 0.5f))});
  b.output(y);
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> original = g.clone();

  builder::PrecisionSummary s = builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(s.layers["fp16"], 4);
  EXPECT_EQ(s.reformat_layers, 2);
  EXPECT_EQ(s.converted_weights, 3);  // both weights and the bias
  EXPECT_EQ(count_op(g, "Cast"), 2);
  for (const char* n : {"MatMul2", "Add4", "Relu5", "MatMul7"}) {
    EXPECT_EQ(precision_of(g, n), "fp16") << n;
  }
  // The graph keeps its interface: same names, same declared types.
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.outputs()[0]->name, "MatMul7_out");
  EXPECT_EQ(g.outputs()[0]->dtype, DataType::kFloat32);
  EXPECT_EQ(g.outputs()[0]->producer->op, "Cast");
  EXPECT_EQ(g.inputs()[0]->dtype, DataType::kFloat32);
  // Every weight is stored in FP16 and no FP32 copy is left behind.
  for (const auto& v : g.values()) {
    if (v->constant) {
      EXPECT_EQ(v->constant->dtype(), DataType::kFloat16) << v->name;
    }
  }
  ir::verify_graph(g);

  auto feeds = random_feeds(*original);
  Tensor want = run_graph(*original, feeds)[0];
  Tensor got = run_graph(g, feeds)[0];
  ASSERT_EQ(got.dtype(), DataType::kFloat32);
  EXPECT_LT(max_relative_error(got, want), 2e-2);
  EXPECT_GT(max_relative_error(got, want), 0.0);  // it really ran in FP16
}

// Exp keeps FP32 between two FP16 MatMuls: casts around it, none elsewhere.
TEST(Precision, SensitiveLayerKeepsFp32BetweenReducedLayers) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  h = b.op("Exp", {h});
  b.output(b.op("MatMul", {h, b.constant({8, 8}, ramp(64, 0.5f))}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  CollectingLog log;
  builder::PrecisionSummary s = builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(precision_of(g, "MatMul2"), "fp16");
  EXPECT_EQ(precision_of(g, "Exp3"), "fp32");
  EXPECT_EQ(precision_of(g, "MatMul5"), "fp16");
  EXPECT_EQ(s.reformat_layers, 4);  // x in, exp in and out, y out
  const ir::Node* exp = node_named(g, "Exp3");
  EXPECT_EQ(exp->inputs[0]->dtype, DataType::kFloat32);
  EXPECT_EQ(exp->outputs[0]->dtype, DataType::kFloat32);
  EXPECT_TRUE(log.has(Severity::kVerbose, "keeps FP32: exponentials")) << "reason is logged";
}

// Softmax and LayerNormalization compute in FP32 inside their kernels: between FP16 layers they
// read and write FP16, with no casts around them, and the result stays close to the FP32 graph.
TEST(Precision, SoftmaxAndLayerNormRunReducedBetweenReducedLayers) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  h = b.op("Softmax", {h}, attrs({{"axis", int64_t{-1}}}));
  h = b.op("MatMul", {h, b.constant({8, 8}, ramp(64, 0.5f))});
  h = b.op("LayerNormalization", {h, b.constant({8}, ramp(8, 1)), b.constant({8}, ramp(8, 0.2f))},
           attrs({{"axis", int64_t{-1}}}));
  b.output(b.op("MatMul", {h, b.constant({8, 8}, ramp(64, 0.25f))}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> original = g.clone();
  builder::PrecisionSummary s = builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(precision_of(g, "Softmax3"), "fp16");
  EXPECT_EQ(precision_of(g, "LayerNormalization8"), "fp16");
  EXPECT_EQ(s.reformat_layers, 2);  // x in, y out
  EXPECT_EQ(node_named(g, "Softmax3")->outputs[0]->dtype, DataType::kFloat16);
  EXPECT_EQ(node_named(g, "LayerNormalization8")->outputs[0]->dtype, DataType::kFloat16);
  auto feeds = random_feeds(*original);
  EXPECT_LT(max_relative_error(run_graph(g, feeds)[0], run_graph(*original, feeds)[0]), 2e-2);
}

// Cheap layers between FP32 neighbours stay FP32: reducing them would only add casts.
TEST(Precision, CheapLayersBetweenFp32NeighboursStayFp32) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("Relu", {x});
  h = b.op("Sigmoid", {h});
  b.output(b.op("Softmax", {h}, attrs({{"axis", int64_t{-1}}})));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  builder::PrecisionSummary s = builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(s.reformat_layers, 0);
  EXPECT_EQ(precision_of(g, "Relu1"), "fp32");
  EXPECT_EQ(precision_of(g, "Sigmoid2"), "fp32");
}

// A graph input read by several FP16 layers is cast once; a cheap layer before FP16 matrix
// work follows it.
TEST(Precision, GraphInputIsCastOnceForAllReaders) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* r = b.op("Relu", {x});
  ir::Value* a = b.op("MatMul", {r, b.constant({8, 8}, ramp(64, 0.5f))});
  ir::Value* c = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.25f))});
  b.output(b.op("Add", {a, c}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  builder::PrecisionSummary s = builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(precision_of(g, "Relu1"), "fp16");
  EXPECT_EQ(s.reformat_layers, 2);  // x once, the output once
  int casts_of_x = 0;
  for (const auto& n : g.nodes()) casts_of_x += n->op == "Cast" && n->inputs[0]->name == "x";
  EXPECT_EQ(casts_of_x, 1);
}

// A graph output that FP16 layers also read: they read the FP16 value, the output gets one Cast.
TEST(Precision, GraphOutputAlsoReadInsideKeepsOneCast) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  b.output(h);
  ir::Value* z = b.op("Softmax", {h}, attrs({{"axis", int64_t{-1}}}));
  b.output(z);
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> original = g.clone();
  builder::PrecisionSummary s = builder::assign_precisions(g, fp16_config());
  // x to FP16, and the MatMul's FP16 result to FP32 once: shared by the output and the Softmax.
  EXPECT_EQ(s.reformat_layers, 2);
  EXPECT_EQ(g.outputs()[0]->name, "MatMul2_out");
  EXPECT_EQ(g.outputs()[0]->dtype, DataType::kFloat32);
  EXPECT_EQ(node_named(g, "Softmax3")->inputs[0], g.outputs()[0]);
  auto feeds = random_feeds(*original);
  auto want = run_graph(*original, feeds);
  auto got = run_graph(g, feeds);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_LT(max_relative_error(got[i], want[i]), 2e-2);
}

TEST(Precision, Fp32BuildsMarkMatrixWorkTf32UnlessTurnedOff) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  ir::Value* shape = b.op("Shape", {h});
  b.output(b.op("Relu", {h}));
  b.output(shape);
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> no_tf32 = g.clone();

  builder::PrecisionSummary s = builder::assign_precisions(g, BuilderConfig{});
  EXPECT_EQ(s.reformat_layers, 0);
  EXPECT_EQ(s.converted_weights, 0);
  EXPECT_EQ(precision_of(g, "MatMul2"), "tf32");
  EXPECT_TRUE(ir::allows_tf32(*node_named(g, "MatMul2")));
  EXPECT_EQ(precision_of(g, "Relu4"), "fp32");
  EXPECT_EQ(precision_of(g, "Shape3"), "int64");  // no float work of its own

  BuilderConfig strict_fp32;
  strict_fp32.tf32 = false;
  builder::assign_precisions(*no_tf32, strict_fp32);
  EXPECT_EQ(precision_of(*no_tf32, "MatMul2"), "fp32");
  EXPECT_FALSE(ir::allows_tf32(*node_named(*no_tf32, "MatMul2")));
}

TEST(Precision, Bf16StoresWeightsAndValuesInBf16) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {2, 3, 6, 6});
  ir::Value* h =
      b.op("Conv", {x, b.constant({4, 3, 3, 3}, ramp(108, 0.3f)), b.constant({4}, ramp(4, 0.1f))},
           attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  b.output(b.op("MaxPool", {h}, attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}})));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> original = g.clone();
  BuilderConfig c;
  c.bf16 = true;
  builder::PrecisionSummary s = builder::assign_precisions(g, c);
  EXPECT_EQ(s.layers["bf16"], 2);
  EXPECT_EQ(s.converted_weights, 2);
  const ir::Node* conv = node_named(g, "Conv3");
  EXPECT_EQ(conv->inputs[1]->constant->dtype(), DataType::kBFloat16);
  EXPECT_EQ(conv->inputs[2]->constant->dtype(), DataType::kBFloat16);  // the bias too
  EXPECT_EQ(conv->outputs[0]->dtype, DataType::kBFloat16);
  auto feeds = random_feeds(*original);
  EXPECT_LT(max_relative_error(run_graph(g, feeds)[0], run_graph(*original, feeds)[0]), 6e-2);
}

// With both flags FP16 is preferred: it has three more mantissa bits.
TEST(Precision, Fp16IsPreferredWhenBothAreAllowed) {
  PassGraphBuilder b;
  b.output(b.op("MatMul", {b.input("x", {4, 8}), b.constant({8, 8}, ramp(64, 0.5f))}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  BuilderConfig c;
  c.fp16 = c.bf16 = true;
  builder::assign_precisions(g, c);
  EXPECT_EQ(precision_of(g, "MatMul2"), "fp16");
}

TEST(Precision, LongSumsKeepFp32ShortOnesFollow) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 2048}, ramp(8 * 2048, 0.1f))});
  b.output(b.op("ReduceSum", {h, b.ints({1})}));
  ir::Value* short_sum = b.op("ReduceSum", {h, b.ints({0})});
  b.output(b.op("MatMul", {short_sum, b.constant({2048, 4}, ramp(2048 * 4, 0.1f))}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(precision_of(g, "ReduceSum4"), "fp32");  // 2048 elements per sum
  EXPECT_EQ(precision_of(g, "ReduceSum6"), "fp16");  // 4
}

TEST(Precision, ConstraintsOverrideFlagsAndRules) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  h = b.op("Softmax", {h}, attrs({{"axis", int64_t{-1}}}));
  b.output(b.op("MatMul", {h, b.constant({8, 8}, ramp(64, 0.5f))}));
  ir::Graph& g = b.graph();
  // The second MatMul came from two ONNX nodes; a constraint on either reaches it.
  g.nodes()[2]->origins = {"onnx_matmul", "onnx_bias"};
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> copy = g.clone();

  BuilderConfig c = fp16_config();
  c.layer_precisions = {{"Softmax3", Precision::kFloat16}, {"onnx_bias", Precision::kFloat32}};
  builder::PrecisionSummary s = builder::assign_precisions(g, c);
  EXPECT_EQ(precision_of(g, "MatMul2"), "fp16");
  EXPECT_EQ(precision_of(g, "Softmax3"), "fp16");
  EXPECT_EQ(precision_of(g, "MatMul5"), "fp32");  // pinned: not even TF32
  EXPECT_EQ(s.reformat_layers, 2);                // x in, softmax out to FP32

  // Without any reduced flag, a constraint alone reduces its layer.
  std::unique_ptr<ir::Graph> g2 = copy->clone();
  BuilderConfig only_pins;
  only_pins.layer_precisions = {{"MatMul2", Precision::kBFloat16}};
  builder::assign_precisions(*g2, only_pins);
  EXPECT_EQ(precision_of(*g2, "MatMul2"), "bf16");
  EXPECT_EQ(precision_of(*g2, "MatMul5"), "tf32");
}

TEST(Precision, UnsatisfiableConstraintsWarnOrFailUnderStrictTypes) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* s = b.op("Shape", {x});
  b.output(s);
  b.output(b.op("Relu", {x}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);

  BuilderConfig c = fp16_config();
  c.layer_precisions = {{"Shape1", Precision::kFloat16}, {"no_such_layer", Precision::kFloat32}};
  {
    std::unique_ptr<ir::Graph> copy = g.clone();
    CollectingLog log;
    builder::assign_precisions(*copy, c);
    EXPECT_TRUE(log.has(Severity::kWarning, "node 'Shape1' (Shape) cannot hold"));
    EXPECT_TRUE(log.has(Severity::kWarning, "'no_such_layer'"));
  }
  c.strict_types = true;
  std::unique_ptr<ir::Graph> copy = g.clone();
  try {
    builder::assign_precisions(*copy, c);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("Shape1"), std::string::npos) << e.what();
  }
  c.layer_precisions = {{"no_such_layer", Precision::kFloat32}};
  copy = g.clone();
  EXPECT_THROW(builder::assign_precisions(*copy, c), Error);
}

// Ops whose output type an attribute fixes cannot be reduced, whatever their neighbours.
TEST(Precision, LayersWithFixedTypesAreNotReduced) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h = b.op("MatMul", {x, b.constant({8, 8}, ramp(64, 0.5f))});
  ir::Value* ones =
      b.op("ConstantOfShape", {b.op("Shape", {h})},
           attrs({{"value", Tensor::from_vector(DataType::kFloat32, {1}, std::vector<float>{1})}}));
  b.output(b.op("Add", {h, ones}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  std::unique_ptr<ir::Graph> original = g.clone();
  builder::assign_precisions(g, fp16_config());
  EXPECT_EQ(precision_of(g, "ConstantOfShape4"), "fp32");
  ir::verify_graph(g);
  auto feeds = random_feeds(*original);
  EXPECT_LT(max_relative_error(run_graph(g, feeds)[0], run_graph(*original, feeds)[0]), 2e-2);
}

TEST(Precision, Fp16WeightsBeyondItsRangeAreClampedWithAWarning) {
  CollectingLog log;
  Tensor w =
      Tensor::from_vector(DataType::kFloat32, {4}, std::vector<float>{1e6f, -7e4f, 1e-9f, 0.5f});
  Tensor h = builder::convert_weights(w, DataType::kFloat16, "w");
  EXPECT_EQ(static_cast<float>(h.data<Half>()[0]), 65504.0f);
  EXPECT_EQ(static_cast<float>(h.data<Half>()[1]), -65504.0f);
  EXPECT_EQ(static_cast<float>(h.data<Half>()[2]), 0.0f);
  EXPECT_EQ(static_cast<float>(h.data<Half>()[3]), 0.5f);
  EXPECT_TRUE(log.has(Severity::kWarning, "2 of 4 value(s) beyond the FP16 range"));
  EXPECT_TRUE(log.has(Severity::kInfo, "1 of 4 nonzero value(s)"));
  Tensor bf = builder::convert_weights(w, DataType::kBFloat16, "w");
  EXPECT_NEAR(static_cast<float>(bf.data<BFloat16>()[0]), 1e6f, 1e6f / 128);  // in range
}

// Through the public builder: the engine keeps the FP32 interface, runs reduced on the CPU, and
// the plan keeps the precision of every layer.
TEST(Precision, BuiltEngineRunsReducedAndPlanKeepsPrecisions) {
  PassGraphBuilder b;
  ir::Value* x = b.input("x", {4, 8});
  ir::Value* h =
      b.op("Gemm", {x, b.constant({8, 8}, ramp(64, 0.5f)), b.constant({8}, ramp(8, 0.1f))});
  h = b.op("LayerNormalization", {h, b.constant({8}, ramp(8, 1)), b.constant({8}, ramp(8, 0.2f))},
           attrs({{"axis", int64_t{-1}}}));
  b.output(b.op("Relu", {h}));
  ir::Graph& g = b.graph();
  ir::infer_graph(g);
  auto feeds = random_feeds(g);
  Tensor want = build_and_run(g, BuilderConfig{}, feeds)[0];

  CollectingLog log;
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = g.clone();
  std::vector<uint8_t> plan = build_engine(Network(std::move(impl)), fp16_config())->serialize();
  EXPECT_TRUE(log.has(Severity::kInfo, "the CPU backend honours the precision flags"));
  auto engine = Engine::deserialize({reinterpret_cast<const char*>(plan.data()), plan.size()});
  EXPECT_EQ(engine->outputs()[0].dtype, DataType::kFloat32);
  std::map<std::string, std::string> precision;
  for (const LayerInfo& l : engine->layers()) precision[l.name] = l.precision;
  EXPECT_EQ(precision["Gemm3"], "fp16");
  EXPECT_EQ(precision["LayerNormalization6"], "fp16");  // FP16 I/O, FP32 statistics
  Tensor got = engine->create_execution_context()->execute(feeds)[0];
  ASSERT_EQ(got.dtype(), DataType::kFloat32);
  EXPECT_LT(max_relative_error(got, want), 2e-2);
  EXPECT_GT(max_relative_error(got, want), 0.0);
}

}  // namespace
}  // namespace kiln::test
