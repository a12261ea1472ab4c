// A plan of a large graph (thousands of layers and weights, like ResNet-152) reads back: the
// reader's decoding budget, which stops hostile files from expanding, must not refuse it.
#include <gtest/gtest.h>

#include "plan/plan_file.hpp"

namespace kiln::plan {
namespace {

TEST(PlanLargeGraph, ThousandsOfLayersAndWeightsRoundTrip) {
  ir::Graph g;
  g.name = "deep";
  ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{1, 8});
  g.inputs().push_back(x);
  constexpr int kLayers = 4000;
  for (int i = 0; i < kLayers; ++i) {
    ir::Value* w = g.add_constant(
        "w" + std::to_string(i),
        Tensor::from_vector(DataType::kFloat32, {8}, std::vector<float>(8, static_cast<float>(i))));
    ir::Value* y = g.add_value("y" + std::to_string(i), DataType::kFloat32, ir::SymShape{1, 8});
    ir::Node* n = g.add_node("Add", "add" + std::to_string(i), {x, w}, {y});
    n->origins = {"onnx_add_" + std::to_string(i)};
    x = y;
  }
  g.outputs().push_back(x);
  std::vector<uint8_t> bytes = write_plan(g, Backend::kCpu);
  LoadedPlan loaded = read_plan_bytes(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), "deep.plan");
  ASSERT_EQ(loaded.graph->nodes().size(), static_cast<size_t>(kLayers));
  EXPECT_EQ(loaded.graph->find_value("w3999")->constant->data<float>()[7], 3999.0f);
}

}  // namespace
}  // namespace kiln::plan
