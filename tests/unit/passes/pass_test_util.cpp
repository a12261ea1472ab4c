// Pass test helpers: graph builder, reference interpreter, before/after comparison.
#include "unit/passes/pass_test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "builder/precision_reformat.hpp"
#include "ir/op_registry.hpp"
#include "ir/verifier.hpp"

namespace kiln::test {

std::vector<float> pattern_values(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 37) % 23) - 0.2f;
  return v;
}

ir::Value* PassGraphBuilder::input(const std::string& name, ir::SymShape shape, DataType dtype) {
  ir::Value* v = g_.add_value(name, dtype, std::move(shape));
  g_.inputs().push_back(v);
  return v;
}

ir::Value* PassGraphBuilder::scalar(float v, DataType dtype) {
  Tensor t(dtype, {});
  cpu::visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    t.data<T>()[0] = static_cast<T>(v);
  });
  return g_.add_constant("c" + std::to_string(++count_), t);
}

ir::Value* PassGraphBuilder::constant(Shape shape, const std::vector<float>& values) {
  return g_.add_constant("c" + std::to_string(++count_),
                         Tensor::from_vector(DataType::kFloat32, std::move(shape), values));
}

ir::Value* PassGraphBuilder::weight(const Shape& shape, float scale, DataType dtype) {
  ir::Value* v = constant(shape, pattern_values(static_cast<size_t>(shape_numel(shape)), scale));
  if (dtype == DataType::kFloat32) return v;
  return g_.add_constant(v->name + "_" + std::string(to_string(dtype)),
                         builder::convert_weights(*v->constant, dtype, v->name));
}

ir::Value* PassGraphBuilder::ints(const std::vector<int64_t>& values) {
  return g_.add_constant(
      "c" + std::to_string(++count_),
      Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(values.size())}, values));
}

ir::Value* PassGraphBuilder::op(const std::string& op, std::vector<ir::Value*> inputs,
                                ir::Attributes a) {
  std::string name = op + std::to_string(++count_);
  ir::Value* out = g_.add_value(name + "_out");
  ir::Node* n = g_.add_node(op, name, std::move(inputs), {out});
  n->origins = {name};
  for (const auto& [k, v] : a.all()) n->attrs.set(k, v);
  return out;
}

ir::Attributes attrs(std::initializer_list<std::pair<const char*, ir::AttrValue>> list) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

std::vector<Tensor> run_graph(const ir::Graph& g, const std::map<std::string, Tensor>& feeds) {
  std::map<const ir::Value*, Tensor> values;
  for (const ir::Value* in : g.inputs()) values[in] = feeds.at(in->name);
  for (const auto& v : g.values()) {
    if (v->is_constant()) values[v.get()] = *v->constant;
  }
  const auto& kernels = cpu::CpuKernelRegistry::instance();
  for (const auto& n : g.nodes()) {
    std::vector<const Tensor*> ins;
    for (const ir::Value* v : n->inputs) ins.push_back(v ? &values.at(v) : nullptr);
    auto kernel = kernels.create(*n);
    std::vector<Tensor> outs = cpu::run_node(*kernel, *n, ins);
    for (size_t i = 0; i < n->outputs.size(); ++i) {
      if (n->outputs[i]) values[n->outputs[i]] = outs[i];
    }
  }
  std::vector<Tensor> out;
  for (const ir::Value* v : g.outputs()) out.push_back(values.at(v));
  return out;
}

std::map<std::string, Tensor> random_feeds(const ir::Graph& g,
                                           const std::map<std::string, int64_t>& dims, float lo,
                                           float hi) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::map<std::string, Tensor> feeds;
  for (const ir::Value* in : g.inputs()) {
    Shape shape;
    for (const ir::Dim& d : *in->shape) shape.push_back(d.known() ? d.value : dims.at(d.symbol));
    Tensor t(in->dtype, shape);
    cpu::visit_dtype(in->dtype, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = static_cast<T>(dist(rng));
    });
    feeds[in->name] = t;
  }
  return feeds;
}

std::vector<std::string> ops(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes()) out.push_back(n->op);
  return out;
}

std::unique_ptr<ir::Graph> apply_and_compare(ir::Graph& g, bool (*pass)(ir::Graph&), double rel,
                                             const std::map<std::string, int64_t>& dims) {
  ir::infer_graph(g);
  ir::verify_graph(g);
  auto after = g.clone();
  EXPECT_TRUE(pass(*after));
  ir::verify_graph(*after);
  ir::infer_graph(*after);
  auto feeds = random_feeds(g, dims);
  std::vector<Tensor> want = run_graph(g, feeds);
  std::vector<Tensor> got = run_graph(*after, feeds);
  EXPECT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size() && k < got.size(); ++k) {
    EXPECT_EQ(want[k].shape(), got[k].shape()) << "output " << k;
    EXPECT_EQ(want[k].dtype(), got[k].dtype()) << "output " << k;
    if (want[k].shape() != got[k].shape() || want[k].dtype() != got[k].dtype()) continue;
    if (rel == 0) {
      EXPECT_EQ(std::memcmp(want[k].data<uint8_t>(), got[k].data<uint8_t>(), want[k].nbytes()), 0)
          << "output " << k << " differs in its bits";
      continue;
    }
    cpu::visit_dtype(want[k].dtype(), [&](auto tag) {
      using T = decltype(tag);
      double scale = 0;
      for (int64_t i = 0; i < want[k].numel(); ++i)
        scale = std::max(scale, std::abs(static_cast<double>(cpu::load(want[k].data<T>()[i]))));
      for (int64_t i = 0; i < want[k].numel(); ++i) {
        double a = static_cast<double>(cpu::load(want[k].data<T>()[i]));
        double b = static_cast<double>(cpu::load(got[k].data<T>()[i]));
        ASSERT_NEAR(a, b, rel * std::max(scale, 1.0)) << "output " << k << " element " << i;
      }
    });
  }
  return after;
}

}  // namespace kiln::test
