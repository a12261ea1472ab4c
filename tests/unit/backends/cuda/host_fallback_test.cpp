// Which layers the CUDA backend runs on the host (no CUDA kernel, a CPU one) and how the build's
// support check treats them: accepted with the rest, while an op with no kernel anywhere is still
// refused naming the node. Host-only: runs without a GPU.
#include "backends/cuda/host_fallback.hpp"

#include <gtest/gtest.h>

#include "backends/cuda/cuda_execution_context.hpp"
#include "ir/op_registry.hpp"

namespace kiln::cuda {
namespace {

TEST(HostFallback, OpsWithoutACudaKernelButWithACpuOneRunOnTheHost) {
  EXPECT_TRUE(runs_on_host("ConvTranspose"));
  EXPECT_TRUE(runs_on_host("LRN"));
  EXPECT_FALSE(runs_on_host("Relu"));      // a CUDA kernel
  EXPECT_FALSE(runs_on_host("MatMul"));    // a CUDA kernel
  EXPECT_FALSE(runs_on_host("NoSuchOp"));  // no kernel at all
}

TEST(HostFallback, SupportCheckAcceptsHostLayersAndStillRefusesOpsWithNoKernel) {
  ir::Graph g;
  ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{1, 4, 5, 5});
  g.inputs() = {x};
  ir::Value* l = g.add_value("l");
  ir::Node* lrn = g.add_node("LRN", "lrn", {x}, {l});
  lrn->attrs.set("size", int64_t{3});
  ir::Value* y = g.add_value("y");
  g.add_node("Relu", "relu", {l}, {y});
  g.outputs() = {y};
  ir::infer_graph(g);
  EXPECT_NO_THROW(check_cuda_support(g, /*report_host_layers=*/false));

  ir::Value* z = g.add_value("z", DataType::kFloat32, ir::SymShape{1, 4, 5, 5});
  ir::Node* custom = g.add_node("FancyOp", "fancy", {y}, {z});
  custom->domain = "com.example";
  g.outputs() = {z};
  try {
    check_cuda_support(g, false);
    FAIL() << "an op with no kernel anywhere was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 'fancy'"), std::string::npos) << e.what();
  }
}

TEST(CudaSupportCheck, NamesTheLayerWhoseOutputSizeDependsOnTheData) {
  ir::Graph g;
  ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{4});
  g.inputs() = {x};
  ir::Value* idx = g.add_value("idx");
  g.add_node("NonZero", "nz", {x}, {idx});
  g.outputs() = {idx};
  ir::infer_graph(g);
  try {
    check_cuda_support(g, false);
    FAIL() << "a data-dependent shape was accepted";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(m.find("node 'nz' (NonZero)"), std::string::npos) << m;
    EXPECT_NE(m.find("depends on the data"), std::string::npos) << m;
  }
}

TEST(CudaSupportCheck, AnInputWithoutItsShapeAsksForIt) {
  ir::Graph g;
  ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{ir::Dim::symbolic("N"), 4});
  g.inputs() = {x};
  ir::Value* y = g.add_value("y");
  g.add_node("Relu", "relu", {x}, {y});
  g.outputs() = {y};
  ir::infer_graph(g);
  try {
    check_cuda_support(g, false);
    FAIL() << "a symbolic input shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--shape x="), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::cuda
