// The build pipeline: its stages in order for each backend and level, passes left out by name,
// refusals of unknown and required pass names, and stage names in the pass records.
#include "builder/pipeline.hpp"

#include <gtest/gtest.h>

#include "ir/op_registry.hpp"

namespace kiln::builder {
namespace {

std::vector<std::string> stage_names(const std::vector<PipelineStage>& stages) {
  std::vector<std::string> out;
  for (const PipelineStage& s : stages) out.push_back(s.name);
  return out;
}

bool has_pass(const std::vector<PipelineStage>& stages, const std::string& name) {
  for (const PipelineStage& s : stages) {
    for (const passes::Pass& p : s.passes) {
      if (p.name == name) return true;
    }
  }
  return false;
}

// x -> Relu -> Sigmoid -> y: fuse_pointwise makes one Pointwise layer of the two.
std::unique_ptr<ir::Graph> relu_sigmoid() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::SymShape{2, 3});
  g->inputs().push_back(x);
  ir::Value* a = g->add_value("a");
  ir::Value* y = g->add_value("y");
  g->add_node("Relu", "relu", {x}, {a});
  g->add_node("Sigmoid", "sigmoid", {a}, {y});
  g->outputs().push_back(y);
  ir::infer_graph(*g);
  return g;
}

const backends::Backend& cpu() {
  return backends::get_backend(Backend::kCpu);
}

TEST(Pipeline, CpuStagesInOrder) {
  BuilderConfig config;
  // The CPU backend adds no passes of its own, so its two stages are left out.
  EXPECT_EQ(stage_names(build_pipeline(config, cpu(), nullptr)),
            (std::vector<std::string>{"graph optimizations", "layout", "precision", "attention"}));
}

TEST(Pipeline, LevelZeroRunsOnlyCleanupAndPrecision) {
  BuilderConfig config;
  config.optimization_level = 0;
  std::vector<PipelineStage> stages = build_pipeline(config, cpu(), nullptr);
  EXPECT_EQ(stage_names(stages), (std::vector<std::string>{"graph optimizations", "precision"}));
  EXPECT_TRUE(has_pass(stages, "eliminate_dead_code"));
  EXPECT_FALSE(has_pass(stages, "fuse_pointwise"));
  config.layout = Layout::kNhwc;  // an asked-for layout is chosen at any level
  EXPECT_TRUE(has_pass(build_pipeline(config, cpu(), nullptr), "choose_layout"));
}

TEST(Pipeline, DisabledPassIsLeftOut) {
  BuilderConfig config;
  auto fused = relu_sigmoid();
  run_pipeline(*fused, build_pipeline(config, cpu(), nullptr));
  ASSERT_EQ(fused->nodes().size(), 1u);
  EXPECT_EQ(fused->nodes()[0]->op, "Pointwise");

  config.disabled_passes = {"fuse_pointwise"};
  std::vector<PipelineStage> stages = build_pipeline(config, cpu(), nullptr);
  EXPECT_FALSE(has_pass(stages, "fuse_pointwise"));
  EXPECT_TRUE(has_pass(stages, "fold_constants"));
  auto kept = relu_sigmoid();
  run_pipeline(*kept, stages);
  EXPECT_EQ(kept->nodes().size(), 2u);
}

TEST(Pipeline, UnknownPassNameIsRefusedWithTheKnownOnes) {
  BuilderConfig config;
  config.disabled_passes = {"fuse_everything"};
  try {
    build_pipeline(config, cpu(), nullptr);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string m = e.what();
    EXPECT_NE(m.find("'fuse_everything'"), std::string::npos) << m;
    EXPECT_NE(m.find("fuse_pointwise"), std::string::npos) << m;
    EXPECT_EQ(m.find("assign_precisions"), std::string::npos) << m;  // not a choice
  }
}

TEST(Pipeline, PassOfAHigherLevelCanBeNamedAtLevelZero) {
  BuilderConfig config;
  config.optimization_level = 0;
  config.disabled_passes = {"fuse_pointwise"};
  EXPECT_NO_THROW(build_pipeline(config, cpu(), nullptr));
}

TEST(Pipeline, RequiredPassesCannotBeDisabled) {
  for (const char* name : {"assign_precisions", "choose_layout"}) {
    BuilderConfig config;
    config.disabled_passes = {name};
    try {
      build_pipeline(config, cpu(), nullptr);
      FAIL() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("the build needs it"), std::string::npos) << e.what();
    }
  }
}

TEST(Pipeline, RecordsNameTheirStageAndPrecisionIsReported) {
  BuilderConfig config;
  config.fp16 = true;
  PrecisionSummary precision;
  auto g = relu_sigmoid();
  std::vector<passes::PassRecord> records =
      run_pipeline(*g, build_pipeline(config, cpu(), &precision));
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().stage, "graph optimizations");
  EXPECT_EQ(records.back().stage, "attention");
  int64_t layers = 0;  // the summary counts the one (fused) layer, whatever its precision
  for (const auto& [name, n] : precision.layers) layers += n;
  EXPECT_EQ(layers, 1);
  const std::string text = passes::format_pass_records(records);
  EXPECT_NE(text.find("stage graph optimizations:"), std::string::npos) << text;
  EXPECT_NE(text.find("stage precision:"), std::string::npos) << text;
  EXPECT_NE(text.find("assign_precisions"), std::string::npos) << text;
}

TEST(Pipeline, CudaBackendAddsItsPassesAroundLayoutAndPrecision) {
  const backends::Backend* cuda = backends::find_backend(Backend::kCuda);
  if (!cuda) GTEST_SKIP() << "this build has no CUDA backend";
  BuilderConfig config;
  config.backend = Backend::kCuda;
  std::vector<PipelineStage> stages = build_pipeline(config, *cuda, nullptr);
  EXPECT_EQ(stage_names(stages), (std::vector<std::string>{
                                     "graph optimizations", "cuda rewrites before layout", "layout",
                                     "precision", "attention", "cuda rewrites after precision"}));
  config.disabled_passes = {"space_to_depth_stems"};
  stages = build_pipeline(config, *cuda, nullptr);
  EXPECT_FALSE(has_pass(stages, "space_to_depth_stems"));
  EXPECT_TRUE(has_pass(stages, "pad_narrow_conv_channels"));
}

}  // namespace
}  // namespace kiln::builder
