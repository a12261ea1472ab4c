// Random graph generator for memory planning tests.
#include "unit/builder/random_graph_util.hpp"

#include "ir/op_registry.hpp"

namespace kiln::test {

std::unique_ptr<ir::Graph> random_graph(std::mt19937& rng, int layers) {
  auto g = std::make_unique<ir::Graph>();
  g->name = "random";
  ir::Value* x = g->add_value("x", DataType::kFloat32, ir::SymShape{16});
  g->inputs().push_back(x);
  std::vector<std::pair<ir::Value*, int64_t>> pool = {{x, 16}};  // tensor, length
  auto pick = [&](size_t recent) {
    // Mostly recent tensors (short lifetimes), sometimes old ones (skip connections).
    size_t n = pool.size();
    size_t lo = n > recent && rng() % 4 != 0 ? n - recent : 0;
    return pool[lo + rng() % (n - lo)];
  };
  for (int i = 0; i < layers; ++i) {
    std::string name = "t" + std::to_string(i);
    ir::Value* out = g->add_value(name);
    int kind = static_cast<int>(rng() % 8);
    auto [a, len] = pick(3);
    if (kind <= 1) {
      g->add_node(kind == 0 ? "Relu" : "Neg", "n" + name, {a}, {out});
    } else if (kind == 2) {
      g->add_node("Add", "n" + name, {a, a}, {out});
    } else if (kind == 3) {
      // Same-length partner, if there is one; otherwise a scalar-broadcast Mul.
      ir::Value* b = nullptr;
      for (auto it = pool.rbegin(); it != pool.rend() && !b; ++it) {
        if (it->second == len && it->first != a && rng() % 2) b = it->first;
      }
      if (!b)
        b = g->add_constant("c" + name,
                            Tensor::from_vector(DataType::kFloat32, {1}, std::vector<float>{0.5f}));
      g->add_node(rng() % 2 ? "Sub" : "Mul", "n" + name, {a, b}, {out});
    } else if (kind == 4) {
      Tensor shape = Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{len});
      g->add_node("Reshape", "n" + name, {a, g->add_constant("s" + name, shape)}, {out});
    } else if (kind == 5) {
      g->add_node("Identity", "n" + name, {a}, {out});
    } else if (kind == 6 && len <= 64) {
      auto [b, len_b] = pick(6);
      g->add_node("Concat", "n" + name, {a, b}, {out});
      g->nodes().back()->attrs.set("axis", int64_t{0});
      len += len_b;
    } else {
      // Unsqueeze then Squeeze: a view of a view.
      ir::Value* mid = g->add_value("u" + name);
      Tensor axes = Tensor::from_vector(DataType::kInt64, {1}, std::vector<int64_t>{0});
      g->add_node("Unsqueeze", "u" + name, {a, g->add_constant("ua" + name, axes)}, {mid});
      g->add_node("Squeeze", "n" + name, {mid, g->add_constant("sa" + name, axes)}, {out});
    }
    pool.emplace_back(out, len);
    if (rng() % 7 == 0) g->outputs().push_back(out);
  }
  if (!g->is_graph_output(pool.back().first)) g->outputs().push_back(pool.back().first);
  ir::infer_graph(*g);
  return g;
}

}  // namespace kiln::test
