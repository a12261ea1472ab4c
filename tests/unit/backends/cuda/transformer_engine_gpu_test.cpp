// A whole vision-transformer block built for CUDA with FP16 allowed, against the CPU in FP32: a
// patch-embedding convolution (which the builder turns into a transpose and a Gemm), Q/K/V
// projections split into heads by Reshape + Transpose (K transposed for Q K^T, as exports write
// it), the attention pattern (recognised as one layer), the head merge, a LayerNorm and an MLP.
// The builder must leave no Transpose around the attention (they become q/k/v/y_perm, read by the
// flash kernel through strides) and no convolution; the outputs must match within FP16 rounding.
// The layer checks also run without a GPU (a CUDA build needs none).
#include <gtest/gtest.h>

#include <cmath>

#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_test_util.hpp"
#include "unit/channels_last_test_util.hpp"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

// Builds a float32 network node by node: random weights, int64 shape constants, one-output nodes.
struct NetworkMaker {
  std::unique_ptr<ir::Graph> g = std::make_unique<ir::Graph>();
  uint32_t seed;

  explicit NetworkMaker(uint32_t first_seed) : seed(first_seed) {}
  ir::Value* weight(const std::string& name, const Shape& s, float range = 0.15f) {
    return g->add_constant(name, random_tensor(DataType::kFloat32, s, seed++, -range, range));
  }
  ir::Value* ints(const V& v) {
    return g->add_constant(
        "shape" + std::to_string(seed++),
        Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v));
  }
  ir::Value* node(const std::string& op, std::vector<ir::Value*> ins,
                  const ir::Attributes& a = {}) {
    ir::Value* out = g->add_value(op + std::to_string(seed++));
    ir::Node* n = g->add_node(op, out->name, std::move(ins), {out});
    for (const auto& [k, v] : a.all()) n->attrs.set(k, v);
    return out;
  }
  static ir::Attributes perm(const V& p) {
    ir::Attributes a;
    a.set("perm", p);
    return a;
  }
  Network finish(std::vector<ir::Value*> outputs) {
    g->outputs() = std::move(outputs);
    ir::infer_graph(*g);
    auto impl = std::make_unique<Network::Impl>();
    impl->graph = std::move(g);
    return Network(std::move(impl));
  }
};

// The engine's first output against the CPU backend's in FP32, within FP16 rounding of the
// largest output.
void expect_matches_cpu(const Network& net, const Engine& engine,
                        const std::map<std::string, Tensor>& feeds) {
  BuilderConfig cpu;
  std::vector<double> want =
      as_doubles(build_engine(net, cpu)->create_execution_context()->execute(feeds).at(0));
  std::vector<double> got = as_doubles(engine.create_execution_context()->execute(feeds).at(0));
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  EXPECT_LT(worst, 2e-2 * std::max(scale, 1.0)) << "largest output " << scale;
}

// x [2, 3, 32, 32] -> 8x8 patches of 64 channels -> 16 tokens -> attention with 2 heads of 32
// -> LayerNorm -> MLP (GELU) -> [2, 16, 64].
Network vit_block() {
  NetworkMaker m(5);
  auto& g = m.g;
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::to_sym_shape({2, 3, 32, 32}));
  g->inputs() = {x};
  ir::Attributes patch;
  patch.set("strides", V{8, 8});
  patch.set("kernel_shape", V{8, 8});
  ir::Value* c = m.node("Conv", {x, m.weight("wp", {64, 3, 8, 8}), m.weight("bp", {64})}, patch);
  ir::Value* tok = m.node("Transpose", {m.node("Reshape", {c, m.ints({2, 64, 16})})},
                          NetworkMaker::perm({0, 2, 1}));
  auto heads = [&](const char* w, const V& p) {
    ir::Value* proj = m.node("MatMul", {tok, m.weight(w, {64, 64})});
    return m.node("Transpose", {m.node("Reshape", {proj, m.ints({2, 16, 2, 32})})},
                  NetworkMaker::perm(p));
  };
  ir::Value* q = heads("wq", {0, 2, 1, 3});
  ir::Value* kt = heads("wk", {0, 2, 3, 1});
  ir::Value* v = heads("wv", {0, 2, 1, 3});
  ir::Value* scale = g->add_constant(
      "scale", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.17677669f}));
  ir::Attributes last;
  last.set("axis", int64_t{-1});
  ir::Value* p = m.node("Softmax", {m.node("Mul", {m.node("MatMul", {q, kt}), scale})}, last);
  ir::Value* o = m.node("Transpose", {m.node("MatMul", {p, v})}, NetworkMaker::perm({0, 2, 1, 3}));
  ir::Value* merged = m.node("Add", {m.node("Reshape", {o, m.ints({2, 16, 64})}), tok});
  ir::Value* n1 =
      m.node("LayerNormalization", {merged, m.weight("g1", {64}), m.weight("b1", {64})}, last);
  ir::Attributes exact;
  exact.set("approximate", std::string("none"));
  ir::Value* h = m.node(
      "Gelu",
      {m.node("Add", {m.node("MatMul", {n1, m.weight("w1", {64, 128})}), m.weight("c1", {128})})},
      exact);
  return m.finish({m.node("Add", {m.node("MatMul", {h, m.weight("w2", {128, 64})}), merged})});
}

TEST(TransformerEngineGpu, Fp16BlockLosesItsTransposesAndMatchesCpu) {
  Network net = vit_block();
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.fp16 = true;
  if (!gpu_available()) {
    // Without a GPU the build still runs (no tuning): check the layers it chose.
    auto engine = build_engine(net, config);
    std::map<std::string, int> ops;
    for (const LayerInfo& l : engine->layers()) ++ops[l.op];
    EXPECT_EQ(ops["ScaledDotProductAttention"], 1);
    EXPECT_EQ(ops["Conv"] + ops["FusedConv"], 0);
    // The one Transpose left gathers the patches of the embedding (fused with the input's FP16
    // Cast into one Rearrange); its way back to NCHW and the token transpose collapse into a
    // Reshape, and none is left around the attention.
    EXPECT_EQ(ops["Transpose"] + ops["Rearrange"], 1);
    GTEST_SKIP() << "no CUDA device (the build and its layers were checked)";
  }
  std::map<std::string, Tensor> feeds{{"x", random_tensor(DataType::kFloat32, {2, 3, 32, 32}, 9)}};
  expect_matches_cpu(net, *build_engine(net, config), feeds);
}

// PyTorch's nn.MultiheadAttention as its TorchScript export writes it (sequence first, one input
// projection sliced by Gather, Gemm output projection), between two LayerNorm-free residual adds:
// x [2, 16, 64] with 2 heads of 32 (a head size the flash kernel takes).
Network mha_block() {
  NetworkMaker m(21);
  auto& g = m.g;
  const int64_t b = 2, s = 16, e = 64, h = 2, d = 32;
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::to_sym_shape({b, s, e}));
  g->inputs() = {x};
  ir::Value* seq_first = m.node("Transpose", {x}, NetworkMaker::perm({1, 0, 2}));
  ir::Value* proj = m.node("Add", {m.node("MatMul", {seq_first, m.weight("w_in", {e, 3 * e})}),
                                   m.weight("b_in", {3 * e})});
  ir::Value* split = m.node("Reshape", {proj, m.ints({s, b, 3, e})});
  ir::Value* qkv =
      m.node("Squeeze", {m.node("Transpose", {m.node("Unsqueeze", {split, m.ints({0})})},
                                NetworkMaker::perm({3, 1, 2, 0, 4})),
                         m.ints({3})});
  auto part = [&](int64_t i) {
    ir::Attributes axis0;
    axis0.set("axis", int64_t{0});
    ir::Value* idx = g->add_constant("part" + std::to_string(i),
                                     Tensor::from_vector(DataType::kInt64, {}, V{i}));
    ir::Value* v = m.node("Gather", {qkv, idx}, axis0);
    ir::Value* t = m.node("Transpose", {m.node("Reshape", {v, m.ints({s, b * h, d})})},
                          NetworkMaker::perm({1, 0, 2}));
    return m.node("Reshape", {t, m.ints({b, h, s, d})});
  };
  ir::Value* q = part(0);
  ir::Value* k = part(1);
  ir::Value* v = part(2);
  ir::Value* scale = g->add_constant(
      "scale", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.17677669f}));
  ir::Attributes last;
  last.set("axis", int64_t{-1});
  ir::Value* kt = m.node("Transpose", {k}, NetworkMaker::perm({0, 1, 3, 2}));
  ir::Value* p = m.node("Softmax", {m.node("MatMul", {m.node("Mul", {q, scale}), kt})}, last);
  ir::Value* y = m.node("Transpose", {m.node("MatMul", {p, v})}, NetworkMaker::perm({2, 0, 1, 3}));
  ir::Attributes trans_b;
  trans_b.set("transB", int64_t{1});
  ir::Value* out = m.node("Gemm",
                          {m.node("Reshape", {y, m.ints({s * b, e})}), m.weight("w_out", {e, e}),
                           m.weight("b_out", {e})},
                          trans_b);
  ir::Value* back = m.node("Transpose", {m.node("Reshape", {out, m.ints({s, b, e})})},
                           NetworkMaker::perm({1, 0, 2}));
  return m.finish({m.node("Add", {back, x})});
}

// FP16, and FP32 with TF32 products (the FP32 flash kernel reads the same views).
class TorchScriptMha : public ::testing::TestWithParam<bool> {};

TEST_P(TorchScriptMha, LosesItsCopiesAndMatchesCpu) {
  Network net = mha_block();
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.fp16 = GetParam();
  config.tf32 = true;
  auto engine = build_engine(net, config);
  std::map<std::string, int> ops;
  for (const LayerInfo& l : engine->layers()) ++ops[l.op];
  EXPECT_EQ(ops["ScaledDotProductAttention"], 1);
  EXPECT_EQ(ops["Transpose"], 0);  // the sequence-first ones and the head split/merge
  EXPECT_EQ(ops["Gather"] + ops["Squeeze"] + ops["Unsqueeze"], 0);
  EXPECT_EQ(ops["Add"], 0);  // the residual joins the output projection
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device (the build and its layers were checked)";
  std::map<std::string, Tensor> feeds{{"x", random_tensor(DataType::kFloat32, {2, 16, 64}, 4)}};
  expect_matches_cpu(net, *engine, feeds);
}

INSTANTIATE_TEST_SUITE_P(TransformerEngineGpu, TorchScriptMha, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Fp16" : "Tf32"; });

}  // namespace
}  // namespace kiln::test
