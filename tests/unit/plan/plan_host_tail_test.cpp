// The host part of a split plan (build/host_tail.hpp) as the reader sees it: a round trip keeps
// the tail graph, its reason and the engine's input and output names; a tail in a CPU plan and
// empty names are refused as invalid plans (names that belong to neither part are refused when
// the engine is made: host_tail_test.cpp).
#include <gtest/gtest.h>

#include "ir/printer.hpp"
#include "plan/plan_file.hpp"

namespace kiln::plan {
namespace {

LoadedPlan read(const std::vector<uint8_t>& bytes) {
  return read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "mem");
}

// x -> Relu -> r (the GPU part's output).
std::unique_ptr<ir::Graph> gpu_part() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::SymShape{2, 3});
  ir::Value* r = g->add_value("r", DataType::kFloat32, ir::SymShape{2, 3});
  g->add_node("Relu", "relu", {x}, {r});
  g->inputs() = {x};
  g->outputs() = {r};
  return g;
}

// r -> NonZero -> idx.
std::unique_ptr<ir::Graph> host_part() {
  auto g = std::make_unique<ir::Graph>();
  ir::Value* r = g->add_value("r", DataType::kFloat32, ir::SymShape{2, 3});
  ir::Value* idx = g->add_value("idx", DataType::kInt64, ir::SymShape{2, ir::Dim()});
  g->add_node("NonZero", "nonzero", {r}, {idx});
  g->inputs() = {r};
  g->outputs() = {idx};
  return g;
}

TEST(PlanHostTail, RoundTripKeepsTheHostPartAndTheEngineNames) {
  auto gpu = gpu_part();
  auto host = host_part();
  HostTailSection tail{host.get(), "the shape of 'idx'", {"x"}, {"idx", "r"}};
  LoadedPlan p = read(write_plan(*gpu, Backend::kCuda, nullptr, &tail));
  ASSERT_TRUE(p.host_tail);
  EXPECT_EQ(ir::print_graph(*p.host_tail), ir::print_graph(*host));
  EXPECT_EQ(ir::print_graph(*p.graph), ir::print_graph(*gpu));
  EXPECT_EQ(p.host_tail_reason, "the shape of 'idx'");
  EXPECT_EQ(p.engine_inputs, (std::vector<std::string>{"x"}));
  EXPECT_EQ(p.engine_outputs, (std::vector<std::string>{"idx", "r"}));
  // Without a tail nothing of it is read back.
  EXPECT_FALSE(read(write_plan(*gpu, Backend::kCuda)).host_tail);
}

void expect_refused(const std::vector<uint8_t>& bytes, const std::string& why) {
  try {
    read(bytes);
    FAIL() << "accepted a plan with " << why;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

TEST(PlanHostTail, MalformedHostPartsAreRefused) {
  auto gpu = gpu_part();
  auto host = host_part();
  HostTailSection tail{host.get(), "why", {"x"}, {"idx"}};
  expect_refused(write_plan(*gpu, Backend::kCpu, nullptr, &tail),
                 "only GPU plans have a host part");
  HostTailSection unnamed{host.get(), "why", {"x"}, {""}};
  expect_refused(write_plan(*gpu, Backend::kCuda, nullptr, &unnamed), "empty name");
}

}  // namespace
}  // namespace kiln::plan
