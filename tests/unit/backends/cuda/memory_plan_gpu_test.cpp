// The CUDA context runs the engine's memory plan: Reshapes as views, elementwise chains in place,
// nested channel Concats assembled by their inputs, graph outputs in the caller's buffers (some
// produced by layers that would otherwise be a view or an assembled Concat, one read through a
// view). The plan and the layers it leaves out are checked wherever the CUDA backend is built;
// the runs, compared value for value with the CPU (the ops are exact), skip without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "backends/cuda/cuda_execution_context.hpp"
#include "kiln/kiln.hpp"
#include "runtime/activation_layout.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_test_util.hpp"

namespace kiln {
namespace {

const std::vector<std::string> kOutputs = {"y_square", "y_neg", "y_flat", "y_cat"};

// Exact ops only (Relu, Neg, Abs, Add, Sub, Mul: one rounding each), so both backends agree.
std::unique_ptr<Engine> shortcuts_engine(Backend backend) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 64});
  auto layer = [&](const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& name, const LayerAttributes& attrs = {}) {
    return net.add_layer(op, inputs, attrs, name)[0];
  };
  auto shape = [&](const std::string& name, std::vector<int64_t> dims) {
    auto rank = static_cast<int64_t>(dims.size());
    return net.add_constant(name, Tensor::from_vector(DataType::kInt64, {rank}, dims));
  };
  const LayerAttributes channels = {{"axis", int64_t{1}}};
  // Mul writes its own bytes (x is the caller's); Relu and Neg write over them in turn.
  std::string square = layer("Mul", {"x", "x"}, "square");
  std::string neg = layer("Neg", {layer("Relu", {square}, "relu")}, "neg");
  std::string a = layer("Add", {neg, "x"}, "add");
  std::string b = layer("Sub", {layer("Abs", {"x"}, "abs"), "x"}, "sub");
  std::string inner = layer("Concat", {a, b}, "inner", channels);
  std::string outer = layer("Concat", {inner, layer("Neg", {"x"}, "neg_x")}, "outer", channels);
  std::string v = layer("Reshape", {outer, shape("dims3", {1, 3, 64})}, "view");
  net.mark_output(layer("Mul", {v, v}, "y_square"));
  std::string z = layer("Reshape", {"y_square", shape("flat", {192})}, "view_of_output");
  net.mark_output(layer("Neg", {z}, "y_neg"));
  std::string sub_x = layer("Sub", {"x", layer("Relu", {"x"}, "relu_x")}, "sub_x");
  net.mark_output(layer("Reshape", {sub_x, shape("dims1", {64})}, "y_flat"));
  net.mark_output(layer("Concat",
                        {layer("Abs", {"neg_x"}, "abs_x"), layer("Mul", {"x", "neg_x"}, "mul_x")},
                        "y_cat", channels));
  BuilderConfig config;
  config.backend = backend;
  config.disabled_passes = {"fuse_pointwise"};  // keeps the elementwise layers apart
  return build_engine(net, config);
}

const TensorPlacement* placement(const MemoryPlan& plan, const std::string& name) {
  for (const TensorPlacement& t : plan.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(MemoryPlanCuda, TheCudaPlanTakesEveryShortcutAndLeavesGraphOutputsToTheCaller) {
  auto engine = shortcuts_engine(Backend::kCuda);  // builds without a GPU (tactics wait)
  ASSERT_TRUE(engine->impl().memory);
  const MemoryPlan& plan = *engine->impl().memory;
  EXPECT_EQ(plan.graph_outputs, GraphOutputMemory::kCaller);
  for (const std::string& name : kOutputs) EXPECT_FALSE(placement(plan, name)) << name;
  for (const char* name :
       {"relu", "neg", "add", "sub", "inner", "neg_x", "view", "view_of_output"}) {
    ASSERT_TRUE(placement(plan, name)) << name;
  }
  EXPECT_EQ(placement(plan, "relu")->in_place_of, "square");
  EXPECT_EQ(placement(plan, "neg")->in_place_of, "relu");
  EXPECT_EQ(placement(plan, "add")->concat_into, "inner");
  EXPECT_EQ(placement(plan, "sub")->concat_into, "inner");
  EXPECT_EQ(placement(plan, "inner")->concat_into, "outer");
  EXPECT_EQ(placement(plan, "neg_x")->concat_into, "outer");
  EXPECT_EQ(placement(plan, "view")->alias_of, "outer");
  EXPECT_EQ(placement(plan, "view_of_output")->alias_of, "y_square");
  EXPECT_EQ(assembled_concats(plan), (std::set<std::string>{"inner", "outer"}));

  const ir::Graph& g = *engine->impl().graph;
  ActivationLayout layout = follow_memory_plan(g, plan);
  std::set<std::string> skipped;
  for (const ir::Node* n : layout.skipped) skipped.insert(n->name);
  EXPECT_EQ(skipped, (std::set<std::string>{"inner", "outer", "view", "view_of_output"}));
}

void record_layer(const ir::Node* layer, cudaStream_t, void* user) {
  if (layer) static_cast<std::set<std::string>*>(user)->insert(layer->name);
}

Tensor random_input(int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> x(64);
  for (float& v : x) v = d(rng);
  return Tensor::from_vector(DataType::kFloat32, {1, 64}, x);
}

// Value for value: -0 equals +0, NaN equals NaN.
std::string difference(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape()) return "shapes differ";
  for (int64_t i = 0; i < got.numel(); ++i) {
    float a = got.data<float>()[i], b = want.data<float>()[i];
    if (a != b && !(std::isnan(a) && std::isnan(b))) {
      return "element " + std::to_string(i) + ": " + std::to_string(a) + " vs " + std::to_string(b);
    }
  }
  return "";
}

TEST(MemoryPlanGpu, RunsThePlanValueForValueLikeTheCpu) {
  if (!test::gpu_available()) GTEST_SKIP() << "no CUDA device";
  auto gpu = shortcuts_engine(Backend::kCuda);
  auto cpu = shortcuts_engine(Backend::kCpu);
  auto cpu_ctx = cpu->create_execution_context();
  auto ctx = gpu->create_execution_context();
  auto* cuda_ctx = dynamic_cast<cuda::CudaExecutionContext*>(ctx.get());
  ASSERT_TRUE(cuda_ctx);
  std::set<std::string> launched;
  cuda_ctx->set_layer_hook(&record_layer, &launched);
  for (int run = 0; run < 4; ++run) {
    ctx->set_cuda_graph(run >= 2);  // the arena reused, then replayed from a graph
    Tensor x = random_input(run);
    std::vector<Tensor> want = cpu_ctx->execute({{"x", x}});
    std::vector<Tensor> got = ctx->execute({{"x", x}});
    ASSERT_EQ(got.size(), kOutputs.size());
    for (size_t o = 0; o < got.size(); ++o) {
      EXPECT_EQ(difference(got[o], want[o]), "") << "run " << run << ", " << kOutputs[o];
    }
  }
  for (const char* name : {"inner", "outer", "view", "view_of_output"}) {
    EXPECT_FALSE(launched.count(name)) << name << " should launch nothing";
  }
  for (const std::string& name : kOutputs) EXPECT_TRUE(launched.count(name)) << name;
}

}  // namespace
}  // namespace kiln
