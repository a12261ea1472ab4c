// The library-backed CUDA kernels (MatMul/Gemm through cuBLASLt, Conv through cuDNN) against the
// CPU reference, over shapes that exercise each planning path, in float32, float16 and bfloat16;
// and the tuner with its timing cache. Without a GPU only the tables' CPU reference runs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/float_types.hpp"
#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

// Strict FP32 (no TF32) with FP32 accumulation for the half types: one rounding of the output
// apart from the CPU, plus summation order.
const Precision kPrecisions[] = {{DataType::kFloat32, "fp32", 1e-5, 1e-5},
                                 {DataType::kFloat16, "fp16", 2e-3, 2e-3},
                                 {DataType::kBFloat16, "bf16", 1e-2, 1e-2}};

struct Operand {
  Shape shape;
  bool constant = false;
};

// Adds a case of `op` in every precision.
void add_cases(std::vector<GpuCase>& cases, const std::string& op, const std::string& label,
               const ir::Attributes& attrs, const std::vector<Operand>& operands) {
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
      c.inputs.push_back(in);
    }
    c.rtol = p.rtol;
    c.atol = p.atol;
    cases.push_back(std::move(c));
  }
}

const GpuCaseTable kMatMulCases("LibraryGpu.MatMul", [] {
  struct Case {
    const char* label;
    Shape a, b;
    bool b_constant = false;
  };
  const Case cases[] = {
      {"1x1", {1, 1}, {1, 1}},
      {"7x13x5", {7, 13}, {13, 5}},
      {"64x128x96 weight", {64, 128}, {128, 96}, true},
      {"batched", {3, 7, 13}, {3, 13, 5}},
      {"batch only in A (one tall product)", {3, 7, 13}, {13, 5}, true},
      {"batch only in B", {7, 13}, {3, 13, 5}},
      {"crossed broadcast batch", {2, 1, 4, 3}, {1, 5, 3, 2}},
      {"partial broadcast batch", {2, 3, 4, 6}, {1, 3, 6, 5}},
      {"vector x matrix", {13}, {13, 5}},
      {"matrix x vector", {7, 13}, {13}},
      {"vector x vector", {13}, {13}},
      {"vector x batched", {4}, {2, 3, 4, 5}},
      {"empty M", {0, 4}, {4, 3}},
      {"empty K", {5, 0}, {0, 3}},
  };
  std::vector<GpuCase> table;
  for (const Case& c : cases) add_cases(table, "MatMul", c.label, {}, {{c.a}, {c.b, c.b_constant}});
  return table;
});

TEST(LibraryGpu, MatMul) {
  run_table(kMatMulCases);
}

const GpuCaseTable kGemmCases("LibraryGpu.Gemm", [] {
  std::vector<GpuCase> table;
  const int64_t m = 7, k = 13, n = 5;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      Shape a = ta ? Shape{k, m} : Shape{m, k};
      Shape b = tb ? Shape{n, k} : Shape{k, n};
      const struct {
        const char* label;
        std::optional<Shape> c;
        float alpha, beta;
      } variants[] = {
          {"no C", std::nullopt, 1.0f, 1.0f},
          {"full C", Shape{m, n}, 0.5f, 2.0f},
          {"bias row (epilogue)", Shape{n}, 1.0f, 1.0f},
          {"bias row, beta 0.5", Shape{1, n}, 1.0f, 0.5f},
          {"column C", Shape{m, 1}, 1.5f, 1.0f},
          {"scalar C", Shape{}, 1.0f, -1.0f},
          {"C with beta 0", Shape{m, n}, 1.0f, 0.0f},
      };
      for (const auto& v : variants) {
        ir::Attributes attrs;
        attrs.set("transA", int64_t{ta});
        attrs.set("transB", int64_t{tb});
        attrs.set("alpha", v.alpha);
        attrs.set("beta", v.beta);
        std::vector<Operand> ops{{a}, {b, true}};
        if (v.c) ops.push_back({*v.c, true});
        add_cases(table, "Gemm", cat("tA", ta, " tB", tb, " ", v.label), attrs, ops);
      }
    }
  }
  // A runtime (non-constant) C and a larger product.
  add_cases(table, "Gemm", "runtime C 96x200x64", {}, {{{96, 200}}, {{200, 64}, true}, {{96, 64}}});
  return table;
});

TEST(LibraryGpu, Gemm) {
  run_table(kGemmCases);
}

const GpuCaseTable kConvCases("LibraryGpu.Conv", [] {
  struct Case {
    const char* label;
    Shape x, w;
    ir::Attributes attrs;
    bool bias = false;
  };
  auto attrs = [](std::initializer_list<std::pair<const char*, ir::AttrValue>> kv) {
    ir::Attributes a;
    for (const auto& [k, v] : kv) a.set(k, v);
    return a;
  };
  const Case cases[] = {
      {"1x1", {1, 8, 5, 5}, {4, 8, 1, 1}, {}},
      {"1x1 bias", {2, 8, 5, 5}, {4, 8, 1, 1}, {}, true},
      {"3x3 pad 1", {2, 3, 9, 9}, {6, 3, 3, 3}, attrs({{"pads", V{1, 1, 1, 1}}})},
      {"3x3 pad 1 bias", {2, 16, 9, 9}, {8, 16, 3, 3}, attrs({{"pads", V{1, 1, 1, 1}}}), true},
      {"strided", {1, 4, 11, 11}, {5, 4, 3, 3}, attrs({{"strides", V{2, 2}}})},
      {"dilated", {1, 4, 11, 11}, {5, 4, 3, 3}, attrs({{"dilations", V{2, 2}}})},
      {"asymmetric pads", {1, 4, 8, 8}, {4, 4, 3, 3}, attrs({{"pads", V{0, 1, 1, 2}}})},
      {"SAME_UPPER strided",
       {1, 4, 7, 7},
       {4, 4, 4, 4},
       attrs({{"auto_pad", std::string("SAME_UPPER")}, {"strides", V{2, 2}}})},
      {"grouped",
       {1, 8, 7, 7},
       {6, 4, 3, 3},
       attrs({{"group", int64_t{2}}, {"pads", V{1, 1, 1, 1}}})},
      {"depthwise bias",
       {2, 8, 7, 7},
       {8, 1, 3, 3},
       attrs({{"group", int64_t{8}}, {"pads", V{1, 1, 1, 1}}}),
       true},
      {"1-D bias", {2, 4, 11}, {6, 4, 3}, attrs({{"pads", V{1, 1}}}), true},
      {"1-D strided dilated",
       {2, 4, 17},
       {6, 4, 3},
       attrs({{"strides", V{2}}, {"dilations", V{2}}})},
      {"3-D", {1, 2, 5, 6, 7}, {3, 2, 3, 3, 3}, attrs({{"pads", V{1, 1, 1, 1, 1, 1}}}), true},
      {"7x7 stride 2 (stem)",
       {1, 3, 32, 32},
       {16, 3, 7, 7},
       attrs({{"strides", V{2, 2}}, {"pads", V{3, 3, 3, 3}}}),
       true},
  };
  std::vector<GpuCase> table;
  for (const Case& c : cases) {
    std::vector<Operand> ops{{c.x}, {c.w, true}};
    if (c.bias) ops.push_back({{c.w[0]}, true});
    add_cases(table, "Conv", c.label, c.attrs, ops);
  }
  return table;
});

TEST(LibraryGpu, Conv) {
  run_table(kConvCases);
}

// A one-node network of runtime inputs, so the optimizer has nothing to fold.
Network matmul_network(const Shape& a, const Shape& b) {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* va = g->add_value("a", DataType::kFloat16, ir::to_sym_shape(a));
  ir::Value* vb = g->add_value("b", DataType::kFloat16, ir::to_sym_shape(b));
  ir::Value* y = g->add_value("y");
  g->inputs() = {va, vb};
  g->outputs() = {y};
  g->add_node("MatMul", "mm", {va, vb}, {y});
  ir::infer_graph(*g);
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  return Network(std::move(impl));
}

TEST(LibraryGpu, TuningFillsTheTimingCacheAndReusesIt) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  auto path = std::filesystem::temp_directory_path() / "kiln_library_gpu_timing_cache.txt";
  std::filesystem::remove(path);
  Network net = matmul_network({256, 512}, {512, 384});
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.optimization_level = 3;  // tunes
  config.timing_cache_path = path.string();
  Tensor a(DataType::kFloat16, {256, 512}), b(DataType::kFloat16, {512, 384});
  std::map<std::string, Tensor> feeds{{"a", a}, {"b", b}};
  build_engine(net, config)->create_execution_context()->execute(feeds);
  ASSERT_TRUE(std::filesystem::exists(path));
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.rfind("kiln-timing-cache 1\n", 0), 0u) << text;
  EXPECT_NE(text.find("MatMul gemm float16 m256 n384 k512"), std::string::npos) << text;
  // A second build reads the cache (and rewrites nothing new).
  auto before = std::filesystem::last_write_time(path);
  build_engine(net, config)->create_execution_context()->execute(feeds);
  EXPECT_EQ(std::filesystem::last_write_time(path), before);
  std::filesystem::remove(path);
}

// Conv with bias, tuned (several cuDNN candidates timed), then replayed through a CUDA graph: the
// graph's results must equal a plain run's, and the plain run must match the CPU.
TEST(LibraryGpu, TunedConvReplaysInACudaGraph) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  auto make = [] {
    auto g = std::make_unique<ir::Graph>();
    ir::Value* x = g->add_value("x", DataType::kFloat16, ir::to_sym_shape({4, 32, 28, 28}));
    Tensor w(DataType::kFloat16, {64, 32, 3, 3}), b(DataType::kFloat16, {64});
    for (int64_t i = 0; i < w.numel(); ++i)
      w.data<Half>()[i] = Half(static_cast<float>(i % 7) * 0.01f - 0.03f);
    for (int64_t i = 0; i < b.numel(); ++i)
      b.data<Half>()[i] = Half(static_cast<float>(i % 5) * 0.1f);
    ir::Value* y = g->add_value("y");
    g->inputs() = {x};
    g->outputs() = {y};
    ir::Node* n =
        g->add_node("Conv", "conv", {x, g->add_constant("w", w), g->add_constant("b", b)}, {y});
    n->attrs.set("pads", V{1, 1, 1, 1});
    ir::infer_graph(*g);
    auto impl = std::make_unique<Network::Impl>();
    impl->graph = std::move(g);
    return Network(std::move(impl));
  };
  Network net = make();
  Tensor x(DataType::kFloat16, {4, 32, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i)
    x.data<Half>()[i] = Half(static_cast<float>(i % 11) * 0.1f - 0.5f);
  std::map<std::string, Tensor> feeds{{"x", x}};
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.optimization_level = 3;
  auto engine = build_engine(net, config);
  auto ctx = engine->create_execution_context();
  Tensor plain = ctx->execute(feeds).at(0);
  ctx->set_cuda_graph(true);
  Tensor graph1 = ctx->execute(feeds).at(0);
  Tensor graph2 = ctx->execute(feeds).at(0);
  BuilderConfig cpu;
  cpu.optimization_level = 0;
  Tensor want = build_engine(net, cpu)->create_execution_context()->execute(feeds).at(0);
  ASSERT_EQ(plain.numel(), want.numel());
  for (int64_t i = 0; i < want.numel(); ++i) {
    float p = static_cast<float>(plain.data<Half>()[i]),
          w = static_cast<float>(want.data<Half>()[i]);
    ASSERT_NEAR(p, w, 2e-3 + 2e-3 * std::fabs(w)) << "element " << i;
    ASSERT_EQ(p, static_cast<float>(graph1.data<Half>()[i])) << "element " << i;
    ASSERT_EQ(p, static_cast<float>(graph2.data<Half>()[i])) << "element " << i;
  }
}

}  // namespace
}  // namespace kiln::test
