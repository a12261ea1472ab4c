// Plan files with subgraphs: a Loop whose body holds an If round-trips exactly and runs the same
// after loading; subgraphs nested deeper than the reader allows are refused when the plan is
// written, so kiln never writes a plan it would refuse to read.
#include <gtest/gtest.h>

#include "ir/printer.hpp"
#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "plan/plan_file.hpp"
#include "unit/control_flow_test_util.hpp"
#include "unit/hostile_input_util.hpp"

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

TEST(PlanSubgraphs, WriterRefusesWhatTheReaderWouldRefuse) {
  // 16 levels round-trip; the writer refuses 17 (the leaf one level too deep for the reader, whose
  // refusal of a hand-built file is tested in plan_file_test) with the nesting in the message.
  auto ok = nested_ifs(16);
  EXPECT_NO_THROW(read(write_plan(*ok, Backend::kCpu)));
  for (int depth : {17, 40}) {
    auto deep = nested_ifs(depth);
    test::expect_error([&] { write_plan(*deep, Backend::kCpu); }, ErrorCode::kUnsupported,
                       {"cannot write plan", "nested 17 levels deep", "at most 16",
                        "node 'If_0' (If) attribute '"});
  }
}

// An ONNX model whose If on a run-time condition nests `depth` graphs deep through its
// then_branch; each level's else_branch and the innermost graph pass `x` through.
std::string nested_if_model(int depth) {
  namespace pb = ::onnx;
  auto identity = [](const std::string& name, const std::string& out) {
    pb::GraphProto g;
    g.set_name(name);
    auto* n = g.add_node();
    n->set_op_type("Identity");
    n->add_input("x");
    n->add_output(out);
    g.add_output()->set_name(out);
    return g;
  };
  pb::GraphProto inner = identity("leaf", "leaf_out");
  for (int level = depth - 1; level >= 0; --level) {
    std::string out = "out" + std::to_string(level);
    pb::GraphProto g;
    g.set_name("level" + std::to_string(level));
    auto* n = g.add_node();
    n->set_op_type("If");
    n->set_name("if" + std::to_string(level));
    n->add_input("cond");
    n->add_output(out);
    auto* then_branch = n->add_attribute();
    then_branch->set_name("then_branch");
    then_branch->set_type(pb::AttributeProto::GRAPH);
    *then_branch->mutable_g() = inner;
    auto* else_branch = n->add_attribute();
    else_branch->set_name("else_branch");
    else_branch->set_type(pb::AttributeProto::GRAPH);
    *else_branch->mutable_g() = identity("else" + std::to_string(level), "else_out");
    g.add_output()->set_name(out);
    inner = std::move(g);
  }
  pb::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  *m.mutable_graph() = inner;  // level 0 becomes the main graph
  auto add_input = [&](const char* name, int type) {
    auto* in = m.mutable_graph()->add_input();
    in->set_name(name);
    in->mutable_type()->mutable_tensor_type()->set_elem_type(type);
    in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1);
  };
  add_input("cond", pb::TensorProto::BOOL);
  add_input("x", pb::TensorProto::FLOAT);
  m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
      pb::TensorProto::FLOAT);
  return m.SerializeAsString();
}

TEST(PlanSubgraphs, BuildingAPlanNestedTooDeepFailsClearly) {
  // What `kiln build` does: build, then serialize. 16 levels load back; 17 are refused at build
  // time, where they used to be written and then refused by `kiln run`.
  Builder builder;
  Network ok = parse_onnx_bytes(nested_if_model(16), "ok.onnx");
  std::vector<uint8_t> plan = builder.build_serialized(ok, BuilderConfig{});
  EXPECT_NO_THROW(Engine::deserialize({reinterpret_cast<const char*>(plan.data()), plan.size()}));
  Network deep = parse_onnx_bytes(nested_if_model(17), "deep.onnx");
  test::expect_error([&] { builder.build_serialized(deep, BuilderConfig{}); },
                     ErrorCode::kUnsupported, {"nested 17 levels deep", "at most 16", "'if16'"});
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
