// Layers without a CUDA kernel, or whose CUDA kernel refuses them, run by the host fallback against
// the CPU reference (they run the same CPU kernel, so results match up to the input/output
// copies), one case for every op the op table sends to the host, and an engine with such a layer
// between CUDA layers replayed through a CUDA graph. Without a GPU only the CPU reference runs.
#include <gtest/gtest.h>

#include <random>

#include "kiln/kiln.hpp"
#include "unit/backends/cuda/gpu_case_table.hpp"

namespace kiln::test {
namespace {

using DT = DataType;

const GpuCaseTable kLayersWithoutACudaKernelMatchTheCpuCases(
    "HostFallbackGpu.LayersWithoutACudaKernelMatchTheCpu", [] {
      std::vector<GpuCase> cases;
      for (DT t : {DT::kFloat32, DT::kFloat16}) {
        cases.push_back(make_case("LRN", {input(t, {2, 6, 5, 7})}, attrs({{"size", int64_t{3}}})));
        cases.push_back(make_case("ConvTranspose", {input(t, {1, 4, 6, 6}), input(t, {4, 3, 3, 3})},
                                  attrs({{"strides", ir::AttrValue(std::vector<int64_t>{2, 2})}})));
      }
      return cases;
    });

TEST(HostFallbackGpu, LayersWithoutACudaKernelMatchTheCpu) {
  run_table(kLayersWithoutACudaKernelMatchTheCpuCases);
}

// A runtime input with fixed contents.
GpuInput fixed(DT t, Shape s, std::vector<double> values) {
  GpuInput in = input(t, std::move(s));
  in.values = std::move(values);
  return in;
}

// One case for every op the op table sends to the host (OpTraits::host_fallback) that the table
// above leaves out, with inputs each accepts. Those whose output size depends on the data run as
// the engine's host tail.
const GpuCaseTable kEveryHostFallbackOpCases(
    "HostFallbackGpu.EveryHostFallbackOpMatchesTheCpu", [] {
      using I = std::vector<int64_t>;
      const DT f = DT::kFloat32;
      std::vector<GpuCase> cases;
      auto add = [&](const char* op, std::vector<GpuInput> ins, ir::Attributes a = {},
                     size_t outputs = 1) {
        cases.push_back(make_case(op, std::move(ins), std::move(a), outputs));
      };
      add("Einsum", {input(f, {3, 4}), input(f, {4, 5})},
          attrs({{"equation", std::string("ij,jk->ik")}}));
      add("LpPool", {input(f, {1, 2, 6, 6})}, attrs({{"kernel_shape", I{2, 2}}}));
      add("GlobalLpPool", {input(f, {1, 3, 4, 4})});
      add("LpNormalization", {input(f, {3, 5})});
      add("MeanVarianceNormalization", {input(f, {2, 3, 4, 4})});
      add("Swish", {input(f, {3, 7}, -4, 4)});
      add("SwiGLU", {input(f, {3, 8}), input(f, {3, 8})});
      add("Shrink", {input(f, {3, 7}, -2, 2)});
      add("RotaryEmbedding", {input(f, {1, 2, 3, 8}), input(f, {1, 3, 4}), input(f, {1, 3, 4})});
      add("Attention", {input(f, {1, 2, 3, 4}), input(f, {1, 2, 5, 4}), input(f, {1, 2, 5, 4})});
      add("QuantizeLinear", {input(f, {2, 6}, -5, 5), constant(f, {}, {0.05})});
      add("DequantizeLinear", {input(DT::kUInt8, {2, 6}, 0, 255), constant(f, {}, {0.1}),
                               constant(DT::kUInt8, {}, {128})});
      add("DynamicQuantizeLinear", {input(f, {2, 6}, -3, 3)}, {}, 3);
      add("EyeLike", {input(f, {3, 4})});
      add("OneHot",
          {input(DT::kInt64, {4}, 0, 5), constant(DT::kInt64, {}, {5}), constant(f, {2}, {0, 1})});
      add("RoiAlign",
          {input(f, {1, 2, 8, 8}), constant(f, {3, 4}, {0, 0, 4, 4, 1, 2, 7, 6, 2, 1, 5, 7}),
           constant(DT::kInt64, {3}, {0, 0, 0})},
          attrs({{"output_height", int64_t{2}},
                 {"output_width", int64_t{2}},
                 {"sampling_ratio", int64_t{2}}}));
      add("GridSample", {input(f, {1, 2, 4, 5}), input(f, {1, 3, 3, 2}, -1, 1)});
      add("AffineGrid", {input(f, {2, 2, 3}), constant(DT::kInt64, {4}, {2, 1, 4, 5})});
      add("Col2Im", {input(f, {1, 8, 9}), constant(DT::kInt64, {2}, {4, 4}),
                     constant(DT::kInt64, {2}, {2, 2})});
      add("MaxUnpool", {input(f, {1, 1, 2, 2}), constant(DT::kInt64, {1, 1, 2, 2}, {0, 3, 8, 15})},
          attrs({{"kernel_shape", I{2, 2}}, {"strides", I{2, 2}}}));
      add("CenterCropPad", {input(f, {5, 7}), constant(DT::kInt64, {2}, {4, 9})});
      add("CumProd", {input(f, {3, 5}, 0.5, 1.5), constant(DT::kInt64, {}, {1})});
      add("ReverseSequence", {input(f, {4, 3}), constant(DT::kInt64, {3}, {4, 2, 1})});
      add("Compress", {input(f, {4, 3}), constant(DT::kBool, {4}, {1, 0, 1, 1})},
          attrs({{"axis", int64_t{0}}}));
      add("Unique", {fixed(f, {8}, {3, 1, 3, 2, 1, 5, 5, 0})});
      add("NonZero", {fixed(f, {3, 4}, {0, 1, 0, 2, 3, 0, 0, 0, 4, 5, 0, 6})});
      add("NonMaxSuppression",
          {constant(f, {1, 4, 4}, {0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 2, 1, 3, 0, 2.1, 1, 3.1}),
           fixed(f, {1, 1, 4}, {0.9, 0.8, 0.7, 0.6}), constant(DT::kInt64, {1}, {3}),
           constant(f, {1}, {0.5})});
      return cases;
    });

TEST(HostFallbackGpu, EveryHostFallbackOpMatchesTheCpu) {
  run_table(kEveryHostFallbackOpCases);
}

// Layers whose CUDA kernel refuses them (a type it lacks) run their CPU kernel on the host.
const GpuCaseTable kLayersTheCudaKernelRefusesRunOnTheHostCases(
    "HostFallbackGpu.LayersTheCudaKernelRefusesRunOnTheHost", [] {
      std::vector<GpuCase> cases;
      GpuInput exponent = input(DT::kUInt32, {2, 3}, 0, 3);
      exponent.values = {0, 1, 2, 3, 1, 2};
      cases.push_back(make_case("Pow", {input(DT::kFloat32, {2, 3}, 0.5, 2), exponent}));
      GpuInput flags = input(DT::kBool, {3, 4});
      flags.values = {1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0};
      cases.push_back(make_case("ReduceMax", {flags}, attrs({{"keepdims", int64_t{0}}})));
      return cases;
    });

TEST(HostFallbackGpu, LayersTheCudaKernelRefusesRunOnTheHost) {
  run_table(kLayersTheCudaKernelRefusesRunOnTheHostCases);
}

TEST(HostFallbackGpu, AHostLayerBetweenCudaLayersReplaysInACudaGraph) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4, 8, 8});
  auto r = net.add_layer("Relu", {"x"})[0];
  auto l = net.add_layer("LRN", {r}, {{"size", int64_t{3}}})[0];
  auto y = net.add_layer("Sigmoid", {l}, {}, "y")[0];
  net.mark_output(y);
  BuilderConfig cpu_config;
  auto cpu = build_engine(net, cpu_config);
  BuilderConfig gpu_config;
  gpu_config.backend = Backend::kCuda;
  auto gpu = build_engine(net, gpu_config);
  auto ctx = gpu->create_execution_context();
  ctx->set_cuda_graph(true);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (int run = 0; run < 3; ++run) {  // the second and third replay the captured graph
    std::vector<float> xs(4 * 8 * 8);
    for (float& v : xs) v = dist(rng);
    Tensor x = Tensor::from_vector(DataType::kFloat32, {1, 4, 8, 8}, xs);
    Tensor want = cpu->create_execution_context()->execute({{"x", x}})[0];
    Tensor got = ctx->execute({{"x", x}})[0];
    for (int64_t i = 0; i < want.numel(); ++i) {
      ASSERT_NEAR(got.data<float>()[i], want.data<float>()[i], 1e-5) << "run " << run << " " << i;
    }
  }
}

// A host layer's CPU kernel fails after enqueue() returned (here: training-mode dropout, known
// only from a runtime input). execute() reports that failure, with the CPU kernel's error code,
// instead of returning the output the layer never wrote; the next run starts clean.
TEST(HostFallbackGpu, AHostLayerThatFailsMakesExecuteThrow) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 3});
  net.add_input("training", DataType::kBool, {});
  net.add_constant("ratio", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{0.5f}));
  auto y = net.add_layer("Dropout", {"x", "ratio", "training"}, {}, "y")[0];
  net.mark_output(y);
  BuilderConfig config;
  config.backend = Backend::kCuda;
  auto ctx = build_engine(net, config)->create_execution_context();
  Tensor x = Tensor::from_vector(DataType::kFloat32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  try {
    ctx->execute({{"x", x},
                  {"training", Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{1})}});
    FAIL() << "training-mode dropout ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("training-mode dropout"), std::string::npos) << e.what();
  }
  Tensor y_eval = ctx->execute(
      {{"x", x},
       {"training", Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{0})}})[0];
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y_eval.data<float>()[i], x.data<float>()[i]);
}

}  // namespace
}  // namespace kiln::test
