// Plan files with subgraphs: a Loop whose body holds an If round-trips exactly and runs the same
// after loading; subgraphs nested deeper than the reader allows are refused.
#include <gtest/gtest.h>

#include "ir/printer.hpp"
#include "kiln/kiln.hpp"
#include "plan/plan_file.hpp"
#include "unit/control_flow_test_util.hpp"

namespace kiln::plan {
namespace {

LoadedPlan read(const std::vector<uint8_t>& bytes) {
  return read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "mem");
}

TEST(PlanSubgraphs, RoundTripNestedSubgraphs) {
  auto g = test::loop_with_nested_if();
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCpu);
  LoadedPlan p = read(bytes);
  verify_plan_graph(*p.graph, "mem");
  // The text form covers names, types, shapes, structure and attributes, nested graphs included;
  // writing the loaded graph again gives the same bytes, constants inside subgraphs included.
  EXPECT_EQ(ir::print_graph(*p.graph), ir::print_graph(*g));
  EXPECT_EQ(write_plan(*p.graph, Backend::kCpu), bytes);
  const ir::Graph& body = *p.graph->nodes()[0]->attrs.get_graph("body");
  ir::Value* two = body.find_value("two");
  ASSERT_NE(two, nullptr);
  ASSERT_TRUE(two->is_constant());
  EXPECT_EQ(*two->constant->data<int64_t>(), 2);
}

TEST(PlanSubgraphs, LoadedEngineRunsTheSame) {
  auto engine = test::build_cpu_engine(test::loop_with_nested_if());
  auto loaded = Engine::deserialize([&] {
    auto b = engine->serialize();
    return std::string(b.begin(), b.end());
  }());
  std::map<std::string, Tensor> feeds{{"M", test::scalar_i64(5)},
                                      {"x", test::floats({3}, {1, 2, 3})},
                                      {"acc0", test::floats({3}, {0, 1, 2})}};
  auto a = engine->create_execution_context()->execute(feeds);
  auto b = loaded->create_execution_context()->execute(feeds);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].shape(), b[i].shape());
    EXPECT_EQ(std::vector<float>(a[i].data<float>(), a[i].data<float>() + a[i].numel()),
              std::vector<float>(b[i].data<float>(), b[i].data<float>() + b[i].numel()));
  }
}

ir::GraphAttr leaf_graph() {
  test::GraphBuilder leaf("leaf");
  leaf.output(leaf.constant("k", test::floats({}, {1})));
  return leaf.subgraph();
}

// A main graph whose If nests `depth` graphs deep through its then_branch (each else_branch is a
// leaf, so the file grows linearly). The innermost graph sits at nesting level `depth`.
std::unique_ptr<ir::Graph> nested_ifs(int depth) {
  ir::GraphAttr inner = leaf_graph();
  for (int level = 0; level < depth; ++level) {
    test::GraphBuilder b("level" + std::to_string(level));
    ir::Value* c = b.constant("c", test::scalar_bool(true));
    b.output(
        b.op("If", {c}, "o", test::attrs({{"then_branch", inner}, {"else_branch", leaf_graph()}})));
    inner = b.subgraph();
  }
  return inner->clone();  // the outermost level becomes the main graph (level 0)
}

TEST(PlanSubgraphs, RefusesSubgraphsNestedTooDeep) {
  auto ok = nested_ifs(16);
  EXPECT_NO_THROW(read(write_plan(*ok, Backend::kCpu)));
  auto deep = nested_ifs(40);
  try {
    read(write_plan(*deep, Backend::kCpu));
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
    // Either the FlatBuffers verifier's depth bound or kiln's own nesting bound refuses it.
    std::string msg = e.what();
    EXPECT_TRUE(msg.find("nest more than") != std::string::npos ||
                msg.find("not a valid plan graph") != std::string::npos)
        << msg;
  }
  auto just_over = nested_ifs(17);  // the leaf sits one level too deep
  try {
    read(write_plan(*just_over, Backend::kCpu));
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nest more than 16 levels"), std::string::npos)
        << e.what();
  }
}

TEST(PlanSubgraphs, RefusesABrokenSubgraphOnLoad) {
  // A subgraph whose node reads a value nothing produces is caught by the recursive verifier.
  auto g = test::if_with_captures();
  auto broken = std::make_shared<ir::Graph>();
  ir::Value* a = broken->add_value("a");
  ir::Value* b = broken->add_value("b");
  broken->add_node("Relu", "r", {a}, {b});
  broken->outputs().push_back(b);
  g->nodes()[0]->attrs.set("else_branch", ir::GraphAttr(broken));
  LoadedPlan p = read(write_plan(*g, Backend::kCpu));
  try {
    verify_plan_graph(*p.graph, "mem");
    ADD_FAILURE() << "verified";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan);
    EXPECT_NE(std::string(e.what()).find("in subgraph 'else_branch'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::plan
