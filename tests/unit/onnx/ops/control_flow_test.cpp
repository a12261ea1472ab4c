// ONNX import of If, Loop and Scan: subgraphs that read outer-scope tensors become closed
// functions (captured values appended to the node's inputs, outer constants copied in), through
// nested subgraphs too; untyped body inputs, unsorted outer producers, and the unsupported-node
// report naming nodes inside subgraphs. Each model is imported, built and run.
#include <gtest/gtest.h>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "onnx/importer.hpp"

namespace kiln {
namespace {

namespace pb = ::onnx;

void typed(pb::ValueInfoProto* v, const std::string& name, int elem, std::vector<int64_t> dims) {
  v->set_name(name);
  v->mutable_type()->mutable_tensor_type()->set_elem_type(elem);
  auto* s = v->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (int64_t d : dims) s->add_dim()->set_dim_value(d);
}

pb::NodeProto* node(pb::GraphProto* g, const std::string& op, std::vector<std::string> ins,
                    std::vector<std::string> outs, const std::string& name = "") {
  pb::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : ins) n->add_input(i);
  for (const auto& o : outs) n->add_output(o);
  return n;
}

pb::GraphProto* graph_attr(pb::NodeProto* n, const std::string& name) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::GRAPH);
  a->mutable_g()->set_name(name);
  return a->mutable_g();
}

void initializer(pb::GraphProto* g, const std::string& name, std::vector<float> v) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(pb::TensorProto::FLOAT);
  t->add_dims(static_cast<int64_t>(v.size()));
  for (float f : v) t->add_float_data(f);
}

pb::ModelProto model(int opset = 17) {
  pb::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  m.mutable_graph()->set_name("main");
  return m;
}

Tensor floats(std::vector<float> v) {
  return Tensor::from_vector(DataType::kFloat32, {static_cast<int64_t>(v.size())}, v);
}
Tensor flag(bool b) {
  return Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{uint8_t(b)});
}

std::vector<float> as_floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

std::vector<Tensor> run(const pb::ModelProto& m, const std::map<std::string, Tensor>& feeds) {
  Network net = parse_onnx_bytes(m.SerializeAsString(), "test model");
  return build_engine(net, BuilderConfig{})->create_execution_context()->execute(feeds);
}

// main(cond, x[3]) with initializer w[3]: out = If(cond) { x + w } else { x - w }.
pb::ModelProto if_reading_outer_tensors() {
  pb::ModelProto m = model();
  auto* g = m.mutable_graph();
  typed(g->add_input(), "cond", pb::TensorProto::BOOL, {});
  typed(g->add_input(), "x", pb::TensorProto::FLOAT, {3});
  initializer(g, "w", {10, 20, 30});
  auto* n = node(g, "If", {"cond"}, {"out"}, "if1");
  auto* then_g = graph_attr(n, "then_branch");
  node(then_g, "Add", {"x", "w"}, {"sum"});
  typed(then_g->add_output(), "sum", pb::TensorProto::FLOAT, {3});
  auto* else_g = graph_attr(n, "else_branch");
  node(else_g, "Sub", {"x", "w"}, {"diff"});
  typed(else_g->add_output(), "diff", pb::TensorProto::FLOAT, {3});
  g->add_output()->set_name("out");
  return m;
}

TEST(ControlFlowImport, OuterTensorsBecomeCapturesOrConstants) {
  pb::ModelProto m = if_reading_outer_tensors();
  auto g = onnx::import_model_bytes(m.SerializeAsString(), ".", "test model");
  const ir::Node& n = *g->nodes()[0];
  ASSERT_EQ(n.inputs.size(), 2u);  // cond, then x captured; w (a constant) is copied in
  EXPECT_EQ(n.inputs[1]->name, "x");
  EXPECT_EQ(n.attrs.get_int("num_captures"), 1);
  const ir::Graph& then_g = *n.attrs.get_graph("then_branch");
  ASSERT_EQ(then_g.inputs().size(), 1u);
  EXPECT_EQ(then_g.inputs()[0]->name, "x");
  EXPECT_EQ(ir::sym_shape_to_string(then_g.inputs()[0]->shape), "[3]");
  ir::Value* w = then_g.find_value("w");
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->is_constant());

  auto yes = run(m, {{"cond", flag(true)}, {"x", floats({1, 2, 3})}});
  EXPECT_EQ(as_floats(yes[0]), (std::vector<float>{11, 22, 33}));
  auto no = run(m, {{"cond", flag(false)}, {"x", floats({1, 2, 3})}});
  EXPECT_EQ(as_floats(no[0]), (std::vector<float>{-9, -18, -27}));
}

TEST(ControlFlowImport, NestedSubgraphsCaptureThroughEveryLevel) {
  // acc = acc0; for i in range(M): acc = flag ? acc + x : acc * x. The If in the body reads acc
  // (the body's input) and x (main's), so the Loop captures flag and x from main.
  pb::ModelProto m = model();
  auto* g = m.mutable_graph();
  typed(g->add_input(), "M", pb::TensorProto::INT64, {});
  typed(g->add_input(), "flag", pb::TensorProto::BOOL, {});
  typed(g->add_input(), "x", pb::TensorProto::FLOAT, {2});
  typed(g->add_input(), "acc0", pb::TensorProto::FLOAT, {2});
  auto* loop = node(g, "Loop", {"M", "", "acc0"}, {"acc_final", "acc_scan"}, "loop1");
  auto* body = graph_attr(loop, "body");
  typed(body->add_input(), "i", pb::TensorProto::INT64, {});
  typed(body->add_input(), "go", pb::TensorProto::BOOL, {});
  typed(body->add_input(), "acc", pb::TensorProto::FLOAT, {2});
  node(body, "Identity", {"go"}, {"go_out"});
  auto* inner = node(body, "If", {"flag"}, {"next"}, "if_in_body");
  auto* then_g = graph_attr(inner, "then_branch");
  node(then_g, "Add", {"acc", "x"}, {"t"});
  then_g->add_output()->set_name("t");
  auto* else_g = graph_attr(inner, "else_branch");
  node(else_g, "Mul", {"acc", "x"}, {"e"});
  else_g->add_output()->set_name("e");
  node(body, "Identity", {"next"}, {"scan_out"});
  body->add_output()->set_name("go_out");
  body->add_output()->set_name("next");
  body->add_output()->set_name("scan_out");
  g->add_output()->set_name("acc_final");
  g->add_output()->set_name("acc_scan");

  auto graph = onnx::import_model_bytes(m.SerializeAsString(), ".", "test model");
  const ir::Node& l = *graph->nodes()[0];
  // M, cond, acc0, then the captures flag and x.
  ASSERT_EQ(l.inputs.size(), 5u);
  EXPECT_EQ(l.inputs[3]->name, "flag");
  EXPECT_EQ(l.inputs[4]->name, "x");
  EXPECT_EQ(l.attrs.get_int("num_captures"), 2);

  auto add = run(m, {{"M", Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{3})},
                     {"flag", flag(true)},
                     {"x", floats({1, 2})},
                     {"acc0", floats({0, 0})}});
  EXPECT_EQ(as_floats(add[0]), (std::vector<float>{3, 6}));
  EXPECT_EQ(add[1].shape(), (Shape{3, 2}));
  auto mul = run(m, {{"M", Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{2})},
                     {"flag", flag(false)},
                     {"x", floats({2, 3})},
                     {"acc0", floats({1, 1})}});
  EXPECT_EQ(as_floats(mul[0]), (std::vector<float>{4, 9}));
}

TEST(ControlFlowImport, SubgraphOutputMayBeAnOuterTensor) {
  pb::ModelProto m = model();
  auto* g = m.mutable_graph();
  typed(g->add_input(), "cond", pb::TensorProto::BOOL, {});
  typed(g->add_input(), "x", pb::TensorProto::FLOAT, {2});
  auto* n = node(g, "If", {"cond"}, {"out"}, "if1");
  graph_attr(n, "then_branch")->add_output()->set_name("x");  // returns the outer x as is
  auto* else_g = graph_attr(n, "else_branch");
  node(else_g, "Neg", {"x"}, {"neg"});
  else_g->add_output()->set_name("neg");
  g->add_output()->set_name("out");
  EXPECT_EQ(as_floats(run(m, {{"cond", flag(true)}, {"x", floats({1, -2})}})[0]),
            (std::vector<float>{1, -2}));
  EXPECT_EQ(as_floats(run(m, {{"cond", flag(false)}, {"x", floats({1, -2})}})[0]),
            (std::vector<float>{-1, 2}));
}

TEST(ControlFlowImport, UntypedBodyInputsTakeTheirTypesFromTheLoop) {
  // Like ONNX's expanded Range: the body declares its inputs with no type at all.
  pb::ModelProto m = model();
  auto* g = m.mutable_graph();
  typed(g->add_input(), "start", pb::TensorProto::FLOAT, {});
  typed(g->add_input(), "delta", pb::TensorProto::FLOAT, {});
  typed(g->add_input(), "n", pb::TensorProto::INT64, {});
  auto* loop = node(g, "Loop", {"n", "", "start"}, {"last", "range"}, "loop1");
  auto* body = graph_attr(loop, "body");
  body->add_input()->set_name("i");
  body->add_input()->set_name("go");
  body->add_input()->set_name("prev");
  node(body, "Identity", {"go"}, {"go_out"});
  node(body, "Add", {"prev", "delta"}, {"current"});
  node(body, "Identity", {"prev"}, {"emitted"});
  for (const char* o : {"go_out", "current", "emitted"}) body->add_output()->set_name(o);
  g->add_output()->set_name("range");
  auto out =
      run(m, {{"start", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{1})},
              {"delta", Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{.5f})},
              {"n", Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{4})}});
  EXPECT_EQ(as_floats(out[0]), (std::vector<float>{1, 1.5f, 2, 2.5f}));
}

TEST(ControlFlowImport, CapturedTensorMayBeProducedLaterInTheFile) {
  pb::ModelProto m = if_reading_outer_tensors();
  auto* g = m.mutable_graph();
  // Make the branches read "y", produced by a node listed after the If.
  auto* then_g = g->mutable_node(0)->mutable_attribute(0)->mutable_g();
  then_g->mutable_node(0)->set_input(0, "y");
  node(g, "Relu", {"x"}, {"y"}, "relu_after");
  auto out = run(m, {{"cond", flag(true)}, {"x", floats({-1, 2, -3})}});
  EXPECT_EQ(as_floats(out[0]), (std::vector<float>{10, 22, 30}));
}

TEST(ControlFlowImport, ReportsUnsupportedNodesInsideSubgraphsWithTheirPath) {
  pb::ModelProto m = if_reading_outer_tensors();
  auto* then_g = m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g();
  then_g->mutable_node(0)->set_op_type("NoSuchOpHere");
  then_g->mutable_node(0)->set_name("odd");
  try {
    onnx::import_model_bytes(m.SerializeAsString(), ".", "test model");
    ADD_FAILURE() << "imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("node 'if1/then_branch/odd'"), std::string::npos)
        << e.what();
  }
}

TEST(ControlFlowImport, RefusesOldScanAndSequenceInputs) {
  pb::ModelProto m = model(8);
  auto* g = m.mutable_graph();
  typed(g->add_input(), "x", pb::TensorProto::FLOAT, {1, 3, 2});
  auto* n = node(g, "Scan", {"", "x"}, {"y"}, "scan8");
  auto* a = n->add_attribute();
  a->set_name("num_scan_inputs");
  a->set_type(pb::AttributeProto::INT);
  a->set_i(1);
  auto* body = graph_attr(n, "body");
  typed(body->add_input(), "s", pb::TensorProto::FLOAT, {2});
  node(body, "Identity", {"s"}, {"o"});
  body->add_output()->set_name("o");
  g->add_output()->set_name("y");
  try {
    onnx::import_model_bytes(m.SerializeAsString(), ".", "test model");
    ADD_FAILURE() << "imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("opset 9"), std::string::npos) << e.what();
  }

  pb::ModelProto seq = if_reading_outer_tensors();
  auto* then_g = seq.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_g();
  auto* in = then_g->add_input();
  in->set_name("s");
  in->mutable_type()->mutable_sequence_type();
  try {
    onnx::import_model_bytes(seq.SerializeAsString(), ".", "test model");
    ADD_FAILURE() << "imported";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("not a tensor"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
