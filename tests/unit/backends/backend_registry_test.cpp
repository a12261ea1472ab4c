// The backend registry: every built backend is found under its kind, a missing one is a clear
// error, and the public backend_built/backend_available agree with it. The CPU backend's support
// check names each layer it has no kernel for, subgraphs included.
#include <gtest/gtest.h>

#include "backends/backend.hpp"
#include "ir/graph.hpp"

namespace kiln::backends {
namespace {

TEST(BackendRegistry, CpuIsAlwaysBuiltAndAvailable) {
  const Backend* cpu = find_backend(kiln::Backend::kCpu);
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->kind(), kiln::Backend::kCpu);
  EXPECT_EQ(cpu->name(), "cpu");
  EXPECT_TRUE(cpu->available());
  EXPECT_TRUE(backend_built(kiln::Backend::kCpu));
  EXPECT_TRUE(backend_available(kiln::Backend::kCpu));
  EXPECT_TRUE(cpu->runs_data_dependent_shapes());
}

TEST(BackendRegistry, CudaIsFoundExactlyWhenBuilt) {
  const Backend* cuda = find_backend(kiln::Backend::kCuda);
  EXPECT_EQ(cuda != nullptr, backend_built(kiln::Backend::kCuda));
  if (cuda) {
    EXPECT_EQ(cuda->kind(), kiln::Backend::kCuda);
    EXPECT_EQ(cuda->available(), backend_available(kiln::Backend::kCuda));
    EXPECT_FALSE(cuda->runs_data_dependent_shapes());
    return;
  }
  EXPECT_FALSE(backend_available(kiln::Backend::kCuda));
  try {
    get_backend(kiln::Backend::kCuda);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("no cuda backend"), std::string::npos) << e.what();
  }
}

TEST(CpuBackend, SupportCheckNamesEveryLayerWithoutAKernel) {
  auto body = std::make_shared<ir::Graph>();
  ir::Value* bx = body->add_value("bx", DataType::kFloat32);
  ir::Value* by = body->add_value("by", DataType::kFloat32);
  body->add_node("NoSuchOpInABranch", "inner", {bx}, {by});

  ir::Graph g;
  ir::Value* x = g.add_value("x", DataType::kFloat32);
  ir::Value* a = g.add_value("a", DataType::kFloat32);
  ir::Value* y = g.add_value("y", DataType::kFloat32);
  g.add_node("Relu", "fine", {x}, {a});
  ir::Node* odd = g.add_node("NoSuchOp", "odd", {a}, {y});
  odd->attrs.set("then_branch", ir::GraphAttr(body));
  try {
    get_backend(kiln::Backend::kCpu).check_support(g);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(m.find("2 layer(s) have no cpu kernel"), std::string::npos) << m;
    EXPECT_NE(m.find("odd"), std::string::npos) << m;
    EXPECT_NE(m.find("in 'then_branch'"), std::string::npos) << m;
    EXPECT_EQ(m.find("fine"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace kiln::backends
