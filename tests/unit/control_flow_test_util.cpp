// Builders for the control-flow test graphs.
#include "unit/control_flow_test_util.hpp"

#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::test {

GraphBuilder::GraphBuilder(std::string name) : graph_(std::make_unique<ir::Graph>()) {
  graph_->name = std::move(name);
}

ir::Value* GraphBuilder::input(const std::string& name, DataType dtype,
                               std::optional<ir::SymShape> shape) {
  ir::Value* v = graph_->add_value(name, dtype, std::move(shape));
  graph_->inputs().push_back(v);
  return v;
}

ir::Value* GraphBuilder::constant(const std::string& name, Tensor t) {
  return graph_->add_constant(name, std::move(t));
}

ir::Value* GraphBuilder::op(const std::string& op, std::vector<ir::Value*> ins,
                            const std::string& out, ir::Attributes attrs) {
  return op_n(op, std::move(ins), {out}, std::move(attrs))[0];
}

std::vector<ir::Value*> GraphBuilder::op_n(const std::string& op, std::vector<ir::Value*> ins,
                                           const std::vector<std::string>& outs,
                                           ir::Attributes attrs) {
  std::vector<ir::Value*> vs;
  for (const auto& o : outs) vs.push_back(graph_->add_value(o));
  ir::Node* n = graph_->add_node(op, op + "_" + std::to_string(nodes_++), std::move(ins), vs);
  for (const auto& [k, v] : attrs.all()) n->attrs.set(k, v);
  return vs;
}

std::unique_ptr<ir::Graph> GraphBuilder::finish() {
  ir::infer_graph(*graph_);
  return std::move(graph_);
}

ir::Attributes attrs(std::initializer_list<std::pair<const std::string, ir::AttrValue>> kv) {
  ir::Attributes a;
  for (const auto& [k, v] : kv) a.set(k, v);
  return a;
}

Tensor scalar_bool(bool v) {
  return Tensor::from_vector(DataType::kBool, {}, std::vector<uint8_t>{uint8_t(v ? 1 : 0)});
}
Tensor scalar_i64(int64_t v) {
  return Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{v});
}
Tensor floats(Shape shape, std::vector<float> v) {
  return Tensor::from_vector(DataType::kFloat32, std::move(shape), v);
}

std::unique_ptr<Engine> build_cpu_engine(std::unique_ptr<ir::Graph> g) {
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  return build_engine(Network(std::move(impl)), BuilderConfig{});
}

std::vector<Tensor> run_graph(std::unique_ptr<ir::Graph> g,
                              const std::map<std::string, Tensor>& feeds) {
  return build_cpu_engine(std::move(g))->create_execution_context()->execute(feeds);
}

std::unique_ptr<ir::Graph> if_with_captures() {
  GraphBuilder then_b("then");
  {
    ir::Value* x = then_b.input("x", DataType::kFloat32, std::nullopt);
    ir::Value* y = then_b.input("y", DataType::kFloat32, std::nullopt);
    then_b.output(then_b.op("Add", {x, y}, "sum"));
  }
  GraphBuilder else_b("else");
  {
    ir::Value* x = else_b.input("x", DataType::kFloat32, std::nullopt);
    ir::Value* y = else_b.input("y", DataType::kFloat32, std::nullopt);
    else_b.output(else_b.op("Mul", {x, y}, "product"));
  }
  GraphBuilder main("if_with_captures");
  ir::Value* cond = main.input("cond", DataType::kBool, ir::SymShape{});
  ir::Value* x = main.input("x", DataType::kFloat32, ir::SymShape{3});
  ir::Value* y = main.input("y", DataType::kFloat32, ir::SymShape{3});
  main.output(main.op("If", {cond, x, y}, "out",
                      attrs({{"then_branch", then_b.subgraph()},
                             {"else_branch", else_b.subgraph()},
                             {"num_captures", int64_t{2}}})));
  return main.finish();
}

std::unique_ptr<ir::Graph> loop_with_nested_if() {
  // The If inside the body: captures acc and x from the body.
  GraphBuilder then_b("even");
  {
    ir::Value* acc = then_b.input("acc", DataType::kFloat32, std::nullopt);
    ir::Value* x = then_b.input("x", DataType::kFloat32, std::nullopt);
    then_b.output(then_b.op("Add", {acc, x}, "plus_x"));
  }
  GraphBuilder else_b("odd");
  {
    ir::Value* acc = else_b.input("acc", DataType::kFloat32, std::nullopt);
    else_b.input("x", DataType::kFloat32, std::nullopt);  // captured for the other branch
    ir::Value* one = else_b.constant("one", floats({}, {1.0f}));
    else_b.output(else_b.op("Sub", {acc, one}, "minus_one"));
  }
  GraphBuilder body("body");
  {
    ir::Value* i = body.input("i", DataType::kInt64, ir::SymShape{});
    ir::Value* go = body.input("go", DataType::kBool, ir::SymShape{});
    ir::Value* acc = body.input("acc", DataType::kFloat32, std::nullopt);
    ir::Value* x = body.input("x", DataType::kFloat32, std::nullopt);
    ir::Value* two = body.constant("two", scalar_i64(2));
    ir::Value* zero = body.constant("zero", scalar_i64(0));
    ir::Value* rem = body.op("Mod", {i, two}, "rem");
    ir::Value* even = body.op("Equal", {rem, zero}, "even");
    ir::Value* next = body.op("If", {even, acc, x}, "next",
                              attrs({{"then_branch", then_b.subgraph()},
                                     {"else_branch", else_b.subgraph()},
                                     {"num_captures", int64_t{2}}}));
    body.output(body.op("Identity", {go}, "go_out"));
    body.output(next);
    body.output(body.op("Identity", {next}, "scanned"));
  }
  GraphBuilder main("loop_with_nested_if");
  ir::Value* m = main.input("M", DataType::kInt64, ir::SymShape{});
  ir::Value* x = main.input("x", DataType::kFloat32, ir::SymShape{3});
  ir::Value* acc0 = main.input("acc0", DataType::kFloat32, ir::SymShape{3});
  auto outs = main.op_n("Loop", {m, nullptr, acc0, x}, {"acc", "scan"},
                        attrs({{"body", body.subgraph()}, {"num_captures", int64_t{1}}}));
  main.output(outs[0]);
  main.output(outs[1]);
  return main.finish();
}

std::unique_ptr<ir::Graph> loop_doubling_until() {
  GraphBuilder body("body");
  {
    body.input("i", DataType::kInt64, ir::SymShape{});
    body.input("go", DataType::kBool, ir::SymShape{});
    ir::Value* acc = body.input("acc", DataType::kFloat32, ir::SymShape{});
    ir::Value* limit = body.input("limit", DataType::kFloat32, ir::SymShape{});
    ir::Value* doubled = body.op("Add", {acc, acc}, "doubled");
    body.output(body.op("Less", {doubled, limit}, "again"));
    body.output(doubled);
    body.output(body.op("Identity", {doubled}, "scanned"));
  }
  GraphBuilder main("loop_doubling_until");
  ir::Value* m = main.input("M", DataType::kInt64, ir::SymShape{});
  ir::Value* go = main.input("go", DataType::kBool, ir::SymShape{});
  ir::Value* acc0 = main.input("acc0", DataType::kFloat32, ir::SymShape{});
  ir::Value* limit = main.input("limit", DataType::kFloat32, ir::SymShape{});
  auto outs = main.op_n("Loop", {m, go, acc0, limit}, {"acc", "scan"},
                        attrs({{"body", body.subgraph()}, {"num_captures", int64_t{1}}}));
  main.output(outs[0]);
  main.output(outs[1]);
  return main.finish();
}

}  // namespace kiln::test
