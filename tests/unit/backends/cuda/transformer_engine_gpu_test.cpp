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

// x [2, 3, 32, 32] -> 8x8 patches of 64 channels -> 16 tokens -> attention with 2 heads of 32
// -> LayerNorm -> MLP (GELU) -> [2, 16, 64].
Network vit_block() {
  auto g = std::make_unique<ir::Graph>();
  uint32_t seed = 5;
  auto weight = [&](const std::string& name, const Shape& s, float range = 0.15f) {
    return g->add_constant(name, random_tensor(DataType::kFloat32, s, seed++, -range, range));
  };
  auto ints = [&](const V& v) {
    return g->add_constant(
        "shape" + std::to_string(seed++),
        Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v));
  };
  auto node = [&](const std::string& op, std::vector<ir::Value*> ins,
                  const ir::Attributes& a = {}) {
    ir::Value* out = g->add_value(op + std::to_string(seed++));
    ir::Node* n = g->add_node(op, out->name, std::move(ins), {out});
    for (const auto& [k, v] : a.all()) n->attrs.set(k, v);
    return out;
  };
  auto perm = [](const V& p) {
    ir::Attributes a;
    a.set("perm", p);
    return a;
  };
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::to_sym_shape({2, 3, 32, 32}));
  g->inputs() = {x};
  ir::Attributes patch;
  patch.set("strides", V{8, 8});
  patch.set("kernel_shape", V{8, 8});
  ir::Value* c = node("Conv", {x, weight("wp", {64, 3, 8, 8}), weight("bp", {64})}, patch);
  ir::Value* tok = node("Transpose", {node("Reshape", {c, ints({2, 64, 16})})}, perm({0, 2, 1}));
  auto heads = [&](const char* w, const V& p) {
    ir::Value* proj = node("MatMul", {tok, weight(w, {64, 64})});
    return node("Transpose", {node("Reshape", {proj, ints({2, 16, 2, 32})})}, perm(p));
  };
  ir::Value* q = heads("wq", {0, 2, 1, 3});
  ir::Value* kt = heads("wk", {0, 2, 3, 1});
  ir::Value* v = heads("wv", {0, 2, 1, 3});
  ir::Value* scale = g->add_constant(
      "scale", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.17677669f}));
  ir::Attributes last;
  last.set("axis", int64_t{-1});
  ir::Value* p = node("Softmax", {node("Mul", {node("MatMul", {q, kt}), scale})}, last);
  ir::Value* o = node("Transpose", {node("MatMul", {p, v})}, perm({0, 2, 1, 3}));
  ir::Value* merged = node("Add", {node("Reshape", {o, ints({2, 16, 64})}), tok});
  ir::Value* n1 =
      node("LayerNormalization", {merged, weight("g1", {64}), weight("b1", {64})}, last);
  ir::Attributes exact;
  exact.set("approximate", std::string("none"));
  ir::Value* h = node(
      "Gelu", {node("Add", {node("MatMul", {n1, weight("w1", {64, 128})}), weight("c1", {128})})},
      exact);
  g->outputs() = {node("Add", {node("MatMul", {h, weight("w2", {128, 64})}), merged})};
  ir::infer_graph(*g);
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  return Network(std::move(impl));
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
    // The Transposes left belong to the embedding: the patch gather, back to NCHW, and the
    // token transpose; none is left around the attention.
    EXPECT_EQ(ops["Transpose"], 3);
    GTEST_SKIP() << "no CUDA device (the build and its layers were checked)";
  }
  std::map<std::string, Tensor> feeds{{"x", random_tensor(DataType::kFloat32, {2, 3, 32, 32}, 9)}};
  BuilderConfig cpu;
  std::vector<double> want =
      as_doubles(build_engine(net, cpu)->create_execution_context()->execute(feeds).at(0));
  auto engine = build_engine(net, config);
  std::vector<double> got = as_doubles(engine->create_execution_context()->execute(feeds).at(0));
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  EXPECT_LT(worst, 2e-2 * std::max(scale, 1.0)) << "largest output " << scale;
}

// PyTorch's nn.MultiheadAttention as its TorchScript export writes it (sequence first, one input
// projection sliced by Gather, Gemm output projection), between two LayerNorm-free residual adds:
// x [2, 16, 64] with 2 heads of 32 (a head size the flash kernel takes).
Network mha_block() {
  auto g = std::make_unique<ir::Graph>();
  uint32_t seed = 21;
  const int64_t b = 2, s = 16, e = 64, h = 2, d = 32;
  auto weight = [&](const std::string& name, const Shape& shape) {
    return g->add_constant(name, random_tensor(DataType::kFloat32, shape, seed++, -0.15f, 0.15f));
  };
  auto ints = [&](const V& v) {
    return g->add_constant(
        "shape" + std::to_string(seed++),
        Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(v.size())}, v));
  };
  auto node = [&](const std::string& op, std::vector<ir::Value*> ins,
                  const ir::Attributes& a = {}) {
    ir::Value* out = g->add_value(op + std::to_string(seed++));
    ir::Node* n = g->add_node(op, out->name, std::move(ins), {out});
    for (const auto& [k, v] : a.all()) n->attrs.set(k, v);
    return out;
  };
  auto perm = [](const V& p) {
    ir::Attributes a;
    a.set("perm", p);
    return a;
  };
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::to_sym_shape({b, s, e}));
  g->inputs() = {x};
  ir::Value* seq_first = node("Transpose", {x}, perm({1, 0, 2}));
  ir::Value* proj = node(
      "Add", {node("MatMul", {seq_first, weight("w_in", {e, 3 * e})}), weight("b_in", {3 * e})});
  ir::Value* split = node("Reshape", {proj, ints({s, b, 3, e})});
  ir::Value* qkv = node(
      "Squeeze", {node("Transpose", {node("Unsqueeze", {split, ints({0})})}, perm({3, 1, 2, 0, 4})),
                  ints({3})});
  auto part = [&](int64_t i) {
    ir::Attributes axis0;
    axis0.set("axis", int64_t{0});
    ir::Value* idx = g->add_constant("part" + std::to_string(i),
                                     Tensor::from_vector(DataType::kInt64, {}, V{i}));
    ir::Value* v = node("Gather", {qkv, idx}, axis0);
    ir::Value* t = node("Transpose", {node("Reshape", {v, ints({s, b * h, d})})}, perm({1, 0, 2}));
    return node("Reshape", {t, ints({b, h, s, d})});
  };
  ir::Value* q = part(0);
  ir::Value* k = part(1);
  ir::Value* v = part(2);
  ir::Value* scale = g->add_constant(
      "scale", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.17677669f}));
  ir::Attributes last;
  last.set("axis", int64_t{-1});
  ir::Value* kt = node("Transpose", {k}, perm({0, 1, 3, 2}));
  ir::Value* p = node("Softmax", {node("MatMul", {node("Mul", {q, scale}), kt})}, last);
  ir::Value* y = node("Transpose", {node("MatMul", {p, v})}, perm({2, 0, 1, 3}));
  ir::Attributes trans_b;
  trans_b.set("transB", int64_t{1});
  ir::Value* out =
      node("Gemm",
           {node("Reshape", {y, ints({s * b, e})}), weight("w_out", {e, e}), weight("b_out", {e})},
           trans_b);
  ir::Value* back = node("Transpose", {node("Reshape", {out, ints({s, b, e})})}, perm({1, 0, 2}));
  g->outputs() = {node("Add", {back, x})};
  ir::infer_graph(*g);
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  return Network(std::move(impl));
}

TEST(TransformerEngineGpu, TorchScriptMultiheadAttentionLosesItsCopiesAndMatchesCpu) {
  Network net = mha_block();
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.fp16 = true;
  auto engine = build_engine(net, config);
  std::map<std::string, int> ops;
  for (const LayerInfo& l : engine->layers()) ++ops[l.op];
  EXPECT_EQ(ops["ScaledDotProductAttention"], 1);
  EXPECT_EQ(ops["Transpose"], 0);  // the sequence-first ones and the head split/merge
  EXPECT_EQ(ops["Gather"] + ops["Squeeze"] + ops["Unsqueeze"], 0);
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device (the build and its layers were checked)";
  std::map<std::string, Tensor> feeds{{"x", random_tensor(DataType::kFloat32, {2, 16, 64}, 4)}};
  BuilderConfig cpu;
  std::vector<double> want =
      as_doubles(build_engine(net, cpu)->create_execution_context()->execute(feeds).at(0));
  std::vector<double> got = as_doubles(engine->create_execution_context()->execute(feeds).at(0));
  ASSERT_EQ(got.size(), want.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::fabs(got[i] - want[i]));
    scale = std::max(scale, std::fabs(want[i]));
  }
  EXPECT_LT(worst, 2e-2 * std::max(scale, 1.0)) << "largest output " << scale;
}

}  // namespace
}  // namespace kiln::test
