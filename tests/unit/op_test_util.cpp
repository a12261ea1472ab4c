// One-op graph runner for op tests.
#include "unit/op_test_util.hpp"

#include <map>

#include "ir/op_registry.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::test {

std::vector<Tensor> run_op(const std::string& op, const ir::Attributes& attrs,
                           const std::vector<OpInput>& inputs, size_t num_outputs) {
  auto g = std::make_unique<ir::Graph>();
  std::vector<ir::Value*> ins;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const OpInput& in = inputs[i];
    std::string name = "in" + std::to_string(i);
    if (in.omitted) {
      ins.push_back(nullptr);
    } else if (in.constant) {
      ins.push_back(g->add_constant(name, in.value));
    } else {
      ir::Value* v = g->add_value(name, in.value.dtype(), ir::to_sym_shape(in.value.shape()));
      g->inputs().push_back(v);
      feeds[name] = in.value;
      ins.push_back(v);
    }
  }
  std::vector<ir::Value*> outs;
  for (size_t i = 0; i < num_outputs; ++i) {
    outs.push_back(g->add_value("out" + std::to_string(i)));
    g->outputs().push_back(outs.back());
  }
  ir::Node* n = g->add_node(op, "test_" + op, ins, outs);
  for (const auto& [k, v] : attrs.all()) n->attrs.set(k, v);
  ir::infer_graph(*g);
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  Network net(std::move(impl));
  auto engine = build_engine(net, BuilderConfig{});
  return engine->create_execution_context()->execute(feeds);
}

}  // namespace kiln::test
