// The public inspector: layers with their tensors, precision, layout, tactic, attributes, FLOPs
// and how they run; graph statistics; the memory plan; networks before a build; the --verbose
// text; shape text and plan detection.
#include <gtest/gtest.h>

#include "kiln/inspector.hpp"

namespace kiln {
namespace {

// MatMul, an in-place Relu, a Reshape view and an in-place Neg, planned for x[2,8].
Network planned_network() {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 8});
  net.add_constant("w", Tensor(DataType::kFloat32, {8, 8}));
  net.add_constant("flat", Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{16}));
  net.add_layer("MatMul", {"x", "w"}, {}, "h");
  net.add_layer("Relu", {"h"}, {}, "r");
  net.add_layer("Reshape", {"r", "flat"}, {}, "v");
  net.mark_output(net.add_layer("Neg", {"v"}, {}, "y")[0]);
  return net;
}

std::unique_ptr<Engine> build_unoptimized(const Network& net) {
  BuilderConfig config;
  config.optimization_level = 0;  // keep every layer
  return build_engine(net, config);
}

TEST(EngineInspector, DescribesEachLayerOfAnEngine) {
  auto engine = build_unoptimized(planned_network());
  EngineInformation info = inspect_engine(*engine);
  ASSERT_EQ(info.layers.size(), 4u);
  const LayerInformation& mm = info.layers[0];
  EXPECT_EQ(mm.name, "h");
  EXPECT_EQ(mm.op, "MatMul");
  ASSERT_EQ(mm.inputs.size(), 2u);
  EXPECT_EQ(mm.inputs[1].name, "w");
  EXPECT_EQ(mm.inputs[1].dims, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(mm.outputs[0].dims, (std::vector<int64_t>{2, 8}));
  EXPECT_EQ(mm.precision, "tf32");  // FP32 matrix work may use TF32 unless BuilderConfig says no
  EXPECT_EQ(info.layers[1].precision, "fp32");
  EXPECT_EQ(mm.origins, (std::vector<std::string>{"h"}));
  ASSERT_TRUE(mm.flops);
  EXPECT_EQ(*mm.flops, 2.0 * 2 * 8 * 8);
  EXPECT_EQ(mm.layout, "");
  EXPECT_FALSE(mm.on_host);
  EXPECT_EQ(info.layers[2].op, "Reshape");
  EXPECT_EQ(info.layers[2].execution, LayerExecution::kView);
  EXPECT_EQ(info.layers[1].execution, LayerExecution::kKernel);
  EXPECT_EQ(info.inputs[0].name, "x");
  EXPECT_EQ(info.outputs[0].name, "y");
  EXPECT_EQ(info.device_part_inputs[0].name, "x");
  EXPECT_TRUE(info.host_part_reason.empty());
}

TEST(EngineInspector, ReportsTheMemoryPlan) {
  auto engine = build_unoptimized(planned_network());
  EngineInformation info = inspect_engine(*engine);
  ASSERT_TRUE(info.memory);
  const MemoryPlanInformation& m = *info.memory;
  EXPECT_EQ(m.arena_bytes, 64u);
  EXPECT_EQ(m.lower_bound_bytes, 64u);
  EXPECT_EQ(m.total_bytes, 256u);
  EXPECT_EQ(m.input_shapes.at("x"), (Shape{2, 8}));
  ASSERT_EQ(m.tensors.size(), 4u);
  EXPECT_EQ(m.tensors[0].name, "h");
  EXPECT_EQ(m.tensors[0].offset, std::optional<uint64_t>(0));
  EXPECT_EQ(m.tensors[1].in_place_of, "h");
  EXPECT_EQ(m.tensors[2].view_of, "r");
  EXPECT_FALSE(m.tensors[2].offset);  // a view has no bytes of its own
  EXPECT_TRUE(m.eliminated_concats.empty());
}

TEST(EngineInspector, ConcatsAssembledByTheirInputsRunNothing) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 4, 4});
  net.add_layer("Relu", {"x"}, {}, "a");
  net.add_layer("Neg", {"x"}, {}, "b");
  net.add_layer("Concat", {"a", "b"}, {{"axis", int64_t{1}}}, "cat");
  net.mark_output(net.add_layer("Exp", {"cat"}, {}, "y")[0]);
  EngineInformation info = inspect_engine(*build_unoptimized(net));
  ASSERT_TRUE(info.memory);
  EXPECT_EQ(info.memory->eliminated_concats, (std::vector<std::string>{"cat"}));
  EXPECT_EQ(info.memory->tensors[0].concat_into, "cat");
  EXPECT_EQ(info.layers[2].execution, LayerExecution::kAssembledConcat);
  EXPECT_EQ(info.layers[2].attributes.at("axis"), "1");
}

TEST(EngineInspector, NetworksHaveNoPrecisionOrMemoryAndCountSymbolsAsOne) {
  Network net;
  net.add_input("x", DataType::kFloat32, {-1, 3, 8, 8});
  net.add_constant("w", Tensor(DataType::kFloat32, {4, 3, 3, 3}));
  net.add_layer("Conv", {"x", "w"}, {{"kernel_shape", std::vector<int64_t>{3, 3}}}, "conv");
  net.mark_output(net.add_layer("Relu", {"conv"}, {}, "y")[0]);
  EngineInformation info = inspect_network(net);
  ASSERT_EQ(info.layers.size(), 2u);
  EXPECT_EQ(info.layers[0].precision, "");
  EXPECT_EQ(info.layers[0].layout, "NCHW");
  EXPECT_EQ(info.layers[0].attributes.at("kernel_shape"), "[3,3]");
  EXPECT_FALSE(info.memory);
  EXPECT_EQ(info.statistics.parameters, 4 * 3 * 3 * 3);
  EXPECT_EQ(info.statistics.op_histogram.at("Conv"), 1);
  EXPECT_EQ(info.statistics.symbols_taken_as_one, (std::vector<std::string>{"?"}));
  // Conv at batch 1: 4x6x6 outputs, 27 multiply-adds each.
  ASSERT_TRUE(info.layers[0].flops);
  EXPECT_EQ(*info.layers[0].flops, 2.0 * 4 * 6 * 6 * 27);
  EXPECT_TRUE(info.statistics.uncounted_layers.empty());
  EXPECT_EQ(info.inputs[0].dims, (std::vector<int64_t>{-1, 3, 8, 8}));
  EXPECT_EQ(info.device_part_inputs[0].name, "x");
}

TEST(EngineInspector, LayersWithoutAFlopCountAreListedByIndex) {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 3});
  net.add_layer("Relu", {"x"}, {}, "r");
  // No FLOP formula covers an Einsum with an ellipsis.
  LayerAttributes dot = {{"equation", std::string("...j,...j->...")}};
  net.mark_output(net.add_layer("Einsum", {"r", "r"}, dot, "dot")[0]);
  EngineInformation info = inspect_network(net);
  ASSERT_EQ(info.statistics.uncounted_layers.size(), 1u);
  EXPECT_EQ(info.layers[info.statistics.uncounted_layers[0]].name, "dot");
  EXPECT_FALSE(info.layers[1].flops);
  ASSERT_TRUE(info.layers[0].flops);
  EXPECT_EQ(*info.layers[0].flops, 6);
  EXPECT_EQ(info.statistics.flops, 6);
}

TEST(EngineInspector, FormatsLayersAsBuildVerbosePrintsThem) {
  auto engine = build_unoptimized(planned_network());
  std::string text = format_layers(*engine);
  EXPECT_NE(text.find("%h: float32[2,8] = MatMul(%x, $w)"), std::string::npos) << text;
  EXPECT_NE(text.find("return %y"), std::string::npos) << text;
}

TEST(EngineInspector, ShapeText) {
  TensorDesc t{"x", DataType::kFloat32, {-1, 3, -1}, {"batch", "", ""}};
  EXPECT_EQ(shape_to_string(t), "[batch,3,?]");
  t.dims.clear();
  t.dim_names.clear();
  EXPECT_EQ(shape_to_string(t), "[]");
  t.rank_known = false;
  EXPECT_EQ(shape_to_string(t), "[?]");
}

TEST(EngineInspector, TellsPlansByTheirFirstBytes) {
  std::vector<uint8_t> plan = build_unoptimized(planned_network())->serialize();
  EXPECT_TRUE(looks_like_plan({reinterpret_cast<const char*>(plan.data()), 8}));
  EXPECT_FALSE(looks_like_plan("\x08\x07\x12\x04onnx"));
  EXPECT_FALSE(looks_like_plan(""));
}

}  // namespace
}  // namespace kiln
