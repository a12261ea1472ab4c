// The CPU execution context with and without the activation arena: identical outputs on random
// graphs, arena reuse across runs that leaves earlier results alone, Concat layers assembled by
// their inputs, and the fallback to per-tensor allocation for input shapes the plan was not made
// for.
#include "runtime/cpu_execution_context.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "builder/memory_planner.hpp"
#include "builder/static_shapes.hpp"
#include "unit/builder/random_graph_util.hpp"

namespace kiln {
namespace {

Tensor random_tensor(std::mt19937& rng, Shape shape) {
  Tensor t(DataType::kFloat32, std::move(shape));
  std::normal_distribution<float> d;
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Two engines of one graph: one with its memory plan, one without.
std::pair<Engine, Engine> engines(const ir::Graph& g,
                                  GraphOutputMemory outputs = GraphOutputMemory::kArena) {
  std::string why_not;
  auto shapes = builder::evaluate_static_shapes(g, builder::bind_input_shapes(g, {}), why_not);
  EXPECT_TRUE(shapes) << why_not;
  MemoryPlan plan = builder::plan_memory(g, *shapes, outputs);
  return {Engine(make_engine_impl(g.clone(), Backend::kCpu, nullptr, plan)),
          Engine(make_engine_impl(g.clone(), Backend::kCpu, nullptr, std::nullopt))};
}

TEST(CpuExecutionContext, ArenaRunsMatchPerTensorAllocationOnRandomGraphs) {
  std::mt19937 rng(99);
  size_t assembled = 0;
  for (int trial = 0; trial < 60; ++trial) {
    auto g = test::random_graph(rng, 10 + trial);
    // A plan file may keep the graph outputs out of the arena (a CUDA plan does): the CPU then
    // allocates them as it would without a plan.
    auto [planned, unplanned] =
        engines(*g, trial % 3 ? GraphOutputMemory::kArena : GraphOutputMemory::kCaller);
    assembled += assembled_concats(*planned.impl().memory).size();
    auto arena_ctx = planned.create_execution_context();
    auto plain_ctx = unplanned.create_execution_context();
    Tensor x1 = random_tensor(rng, {16});
    Tensor x2 = random_tensor(rng, {16});
    Tensor x1_copy = x1.clone();
    std::vector<Tensor> first = arena_ctx->execute({{"x", x1}});
    std::vector<Tensor> first_copy;
    for (const Tensor& t : first) first_copy.push_back(t.clone());
    std::vector<Tensor> second = arena_ctx->execute({{"x", x2}});  // reuses the arena
    std::vector<Tensor> want1 = plain_ctx->execute({{"x", x1}});
    std::vector<Tensor> want2 = plain_ctx->execute({{"x", x2}});
    ASSERT_EQ(first.size(), want1.size());
    for (size_t o = 0; o < first.size(); ++o) {
      EXPECT_TRUE(same_bytes(first[o], want1[o])) << "trial " << trial << " output " << o;
      EXPECT_TRUE(same_bytes(second[o], want2[o])) << "trial " << trial << " output " << o;
      EXPECT_TRUE(same_bytes(first[o], first_copy[o])) << "a later run changed an output";
    }
    EXPECT_TRUE(same_bytes(x1, x1_copy)) << "the arena run wrote into its input";
  }
  EXPECT_GT(assembled, 10u);  // Concats whose inputs were written into their slices
}

// A small CNN through the Network API, with a batch fixed only at run time.
Network small_cnn() {
  std::mt19937 rng(5);
  Network net;
  net.add_input("image", DataType::kFloat32, {-1, 3, 8, 8});
  net.add_constant("w1", random_tensor(rng, {8, 3, 3, 3}));
  net.add_constant("b1", random_tensor(rng, {8}));
  net.add_constant("w2", random_tensor(rng, {8, 8, 3, 3}));
  net.add_constant("fc", random_tensor(rng, {10, 128}));
  LayerAttributes same = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  std::string c1 = net.add_layer("Conv", {"image", "w1", "b1"}, same, "conv1")[0];
  std::string r1 = net.add_layer("Relu", {c1}, {}, "relu1")[0];
  std::string c2 = net.add_layer("Conv", {r1, "w2"}, same, "conv2")[0];
  std::string sum = net.add_layer("Add", {c2, r1}, {}, "residual")[0];
  std::string r2 = net.add_layer("Relu", {sum}, {}, "relu2")[0];
  LayerAttributes pool = {{"kernel_shape", std::vector<int64_t>{2, 2}},
                          {"strides", std::vector<int64_t>{2, 2}}};
  std::string p = net.add_layer("MaxPool", {r2}, pool, "pool")[0];
  std::string f = net.add_layer("Flatten", {p}, {}, "flatten")[0];
  std::string logits = net.add_layer("Gemm", {f, "fc"}, {{"transB", int64_t{1}}}, "fc_layer")[0];
  net.mark_output(net.add_layer("Softmax", {logits}, {}, "softmax")[0]);
  return net;
}

// An Inception-v3-style block: three branches (conv; conv -> relu -> two convs concatenated;
// max pool) concatenated along channels, then a conv; the first branch is also read after the
// Concat.
Network inception_block() {
  std::mt19937 rng(7);
  Network net;
  net.add_input("image", DataType::kFloat32, {-1, 4, 8, 8});
  net.add_constant("w1", random_tensor(rng, {4, 4, 1, 1}));
  net.add_constant("w2", random_tensor(rng, {8, 4, 3, 3}));
  net.add_constant("w3", random_tensor(rng, {4, 16, 1, 1}));
  net.add_constant("w4", random_tensor(rng, {4, 8, 1, 1}));
  net.add_constant("w5", random_tensor(rng, {4, 8, 1, 1}));
  LayerAttributes same = {{"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  std::string b1 = net.add_layer("Conv", {"image", "w1"}, {}, "branch1")[0];
  std::string c2 = net.add_layer("Conv", {"image", "w2"}, same, "branch2_conv")[0];
  std::string r2 = net.add_layer("Relu", {c2}, {}, "branch2_relu")[0];
  std::string b2a = net.add_layer("Conv", {r2, "w4"}, {}, "branch2a")[0];
  std::string b2b = net.add_layer("Conv", {r2, "w5"}, {}, "branch2b")[0];
  std::string b2 = net.add_layer("Concat", {b2a, b2b}, {{"axis", int64_t{1}}}, "branch2")[0];
  LayerAttributes pool = {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  std::string b3 = net.add_layer("MaxPool", {"image"}, pool, "branch3")[0];
  std::string cat = net.add_layer("Concat", {b1, b2, b3}, {{"axis", int64_t{1}}}, "mixed")[0];
  std::string mix = net.add_layer("Conv", {cat, "w3"}, {}, "mix")[0];
  net.mark_output(net.add_layer("Add", {mix, b1}, {}, "residual")[0]);
  return net;
}

// Records where each layer's first output lives, to see which Concats copied nothing.
void record_output_address(const ir::Node& node, const std::vector<Tensor>& outputs, void* user) {
  auto& where = *static_cast<std::map<std::string, const void*>*>(user);
  where[node.name] = outputs.empty() ? nullptr : outputs[0].raw();
}

TEST(CpuExecutionContext, ConcatsAssembledByTheirInputsMatchTheConcatKernel) {
  BuilderConfig config;
  config.input_shapes = {{"image", {1, 4, 8, 8}}};
  auto engine = build_engine(inception_block(), config);
  ASSERT_TRUE(engine->impl().memory);
  const MemoryPlan& plan = *engine->impl().memory;
  ASSERT_EQ(assembled_concats(plan).size(), 2u);  // the block's and the nested one
  const ir::Graph& g = *engine->impl().graph;
  const ir::Node* concat = nullptr;
  for (const auto& n : g.nodes()) {
    if (n->op == "Concat") concat = n.get();  // the last: the block's
  }
  ASSERT_TRUE(concat);
  auto reference = Engine(make_engine_impl(g.clone(), Backend::kCpu, nullptr, std::nullopt));
  auto ctx = engine->create_execution_context();
  auto ref_ctx = reference.create_execution_context();
  std::map<std::string, const void*> where;
  auto* cpu_ctx = dynamic_cast<CpuExecutionContext*>(ctx.get());
  ASSERT_TRUE(cpu_ctx);
  cpu_ctx->set_layer_observer(record_output_address, &where);
  std::string first_producer;
  for (const auto& n : g.nodes()) {
    if (n->output(0) == concat->input(0)) first_producer = n->name;
  }
  std::mt19937 rng(3);
  for (int64_t batch : {1, 2, 1}) {  // planned, another shape (per-tensor), planned again
    Tensor x = random_tensor(rng, {batch, 4, 8, 8});
    where.clear();
    std::vector<Tensor> got = ctx->execute({{"image", x}});
    std::vector<Tensor> want = ref_ctx->execute({{"image", x}});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(same_bytes(got[0], want[0])) << "batch " << batch;
    // In the arena the Concat's output is where its first input was written: no copy was made.
    const void* first_input = where.at(first_producer);
    EXPECT_EQ(where.at(concat->name) == first_input, batch == 1) << "batch " << batch;
    // The nested Concat's output is the block's second slice, after branch1's 4x8x8 floats.
    const void* second_slice = static_cast<const char*>(first_input) + 4 * 8 * 8 * 4;
    EXPECT_EQ(where.at("branch2") == second_slice, batch == 1) << "batch " << batch;
  }
}

TEST(CpuExecutionContext, PlannedShapesUseTheArenaOtherShapesFallBack) {
  Network net = small_cnn();
  BuilderConfig config;
  config.input_shapes = {{"image", {2, 3, 8, 8}}};
  auto engine = build_engine(net, config);
  ASSERT_TRUE(engine->impl().memory);
  EXPECT_EQ(engine->impl().memory->input_shapes.at("image"), (Shape{2, 3, 8, 8}));
  auto reference =
      Engine(make_engine_impl(engine->impl().graph->clone(), Backend::kCpu, nullptr, std::nullopt));
  auto ctx = engine->create_execution_context();
  auto ref_ctx = reference.create_execution_context();
  std::mt19937 rng(1);
  for (int64_t batch : {2, 3, 2}) {  // planned, another shape, planned again
    Tensor x = random_tensor(rng, {batch, 3, 8, 8});
    std::vector<Tensor> got = ctx->execute({{"image", x}});
    std::vector<Tensor> want = ref_ctx->execute({{"image", x}});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].shape(), (Shape{batch, 10}));
    EXPECT_TRUE(same_bytes(got[0], want[0])) << "batch " << batch;
  }
}

}  // namespace
}  // namespace kiln
