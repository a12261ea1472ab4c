// Whole-graph runner and comparison helpers for pass and fused-kernel tests.
#include "unit/graph_run_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/float_types.hpp"
#include "ir/op_registry.hpp"
#include "ir/verifier.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::test {

std::vector<Tensor> run_graph(const ir::Graph& graph, const std::map<std::string, Tensor>& feeds,
                              int optimization_level) {
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = graph.clone();
  Network net(std::move(impl));
  BuilderConfig config;
  config.optimization_level = optimization_level;
  auto engine = build_engine(net, config);
  return engine->create_execution_context()->execute(feeds);
}

Tensor random_tensor(Shape shape, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector(DataType::kFloat32, std::move(shape), v);
}

namespace {

std::vector<double> as_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype()) {
      case DataType::kFloat32:
        out[i] = t.data<float>()[i];
        break;
      case DataType::kFloat64:
        out[i] = t.data<double>()[i];
        break;
      case DataType::kFloat16:
        out[i] = static_cast<float>(t.data<Half>()[i]);
        break;
      case DataType::kBFloat16:
        out[i] = static_cast<float>(t.data<BFloat16>()[i]);
        break;
      default:
        ADD_FAILURE() << "unexpected dtype " << to_string(t.dtype());
        return out;
    }
  }
  return out;
}

}  // namespace

double max_relative_error(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  EXPECT_EQ(a.dtype(), b.dtype());
  if (a.shape() != b.shape()) return INFINITY;
  std::vector<double> x = as_doubles(a), y = as_doubles(b);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double e = std::abs(x[i] - y[i]) / std::max(1.0, std::abs(y[i]));
    if (std::isnan(e)) e = std::isnan(x[i]) && std::isnan(y[i]) ? 0 : INFINITY;
    worst = std::max(worst, e);
  }
  return worst;
}

ir::Value* add_op(ir::Graph& g, const std::string& op, std::vector<ir::Value*> inputs,
                  const ir::Attributes& attrs) {
  ir::Value* out = g.add_value(g.unique_value_name(op + "_out"));
  ir::Node* n = g.add_node(op, g.unique_node_name(op), std::move(inputs), {out});
  for (const auto& [k, v] : attrs.all()) n->attrs.set(k, v);
  return out;
}

ir::Value* add_input(ir::Graph& g, const std::string& name, ir::SymShape shape) {
  ir::Value* v = g.add_value(name, DataType::kFloat32, std::move(shape));
  g.inputs().push_back(v);
  return v;
}

std::vector<std::string> op_types(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes()) out.push_back(n->op);
  return out;
}

bool run_pass_and_compare(ir::Graph& g, bool (*pass)(ir::Graph&),
                          const std::map<std::string, Tensor>& feeds, double& error) {
  ir::infer_graph(g);
  std::vector<Tensor> expected = run_graph(g, feeds);
  bool changed = pass(g);
  ir::verify_graph(g);
  ir::infer_graph(g);
  std::vector<Tensor> got = run_graph(g, feeds);
  error = 0;
  EXPECT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size() && i < expected.size(); ++i)
    error = std::max(error, max_relative_error(got[i], expected[i]));
  return changed;
}

}  // namespace kiln::test
