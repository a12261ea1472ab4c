// Static shape evaluation for memory planning.
#include "builder/static_shapes.hpp"

#include <algorithm>

#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "core/logging.hpp"
#include "ir/op_registry.hpp"

namespace kiln::builder {
namespace {

// Shape arithmetic is small; a bigger all-known integer tensor is left unevaluated.
constexpr int64_t kMaxEvaluatedElements = 1 << 16;

bool is_integer(DataType t) {
  return t == DataType::kInt64 || t == DataType::kInt32;
}

}  // namespace

std::map<std::string, Shape> bind_input_shapes(const ir::Graph& graph,
                                               const std::map<std::string, Shape>& profile) {
  for (const auto& [name, shape] : profile) {
    const ir::Value* v = graph.find_value(name);
    if (!v || !graph.is_graph_input(v)) {
      fail(ErrorCode::kInvalidArgument, "optimization profile names '", name,
           "', which is not an input of the network");
    }
  }
  std::map<std::string, Shape> bound;
  for (const ir::Value* v : graph.inputs()) {
    auto it = profile.find(v->name);
    if (it != profile.end()) {
      const Shape& s = it->second;
      bool ok = !v->shape || v->shape->size() == s.size();
      for (size_t d = 0; ok && d < s.size(); ++d) {
        ok = s[d] >= 0 && (!v->shape || !(*v->shape)[d].known() || (*v->shape)[d].value == s[d]);
      }
      if (!ok) {
        fail(ErrorCode::kInvalidArgument, "optimization profile shape ", shape_to_string(s),
             " for input '", v->name, "' does not fit its shape ",
             ir::sym_shape_to_string(v->shape));
      }
      bound[v->name] = s;
      continue;
    }
    if (!v->shape) {
      log(Severity::kInfo, cat("memory plan: input '", v->name,
                               "' has an unknown rank and no optimization profile shape"));
      continue;  // evaluate_static_shapes then says why there is no plan
    }
    Shape s;
    std::string defaulted;
    for (const ir::Dim& d : *v->shape) {
      s.push_back(d.known() ? d.value : 1);
      if (!d.known())
        defaulted += (defaulted.empty() ? "" : ", ") + (d.symbol.empty() ? "?" : d.symbol);
    }
    if (!defaulted.empty()) {
      log(Severity::kInfo, cat("memory plan: input '", v->name, "' dims ", defaulted,
                               " taken as 1 (no optimization profile shape given)"));
    }
    bound[v->name] = std::move(s);
  }
  return bound;
}

StaticPrefix evaluate_static_prefix(const ir::Graph& graph,
                                    const std::map<std::string, Shape>& inputs,
                                    bool trust_subgraph_inference) {
  StaticPrefix prefix;
  StaticShapes& out = prefix.shapes;
  out.inputs = inputs;
  // Marks `n` data-dependent; its outputs get no shape, so its consumers follow.
  auto dynamic = [&](const ir::Node& n, std::string why) {
    prefix.data_dependent.insert(&n);
    if (prefix.why.empty()) prefix.why = std::move(why);
  };
  std::unordered_map<const ir::Value*, Tensor> known;  // contents of evaluated shape tensors
  for (const ir::Value* v : graph.inputs()) {
    auto it = inputs.find(v->name);
    if (it == inputs.end()) {
      if (prefix.why.empty()) prefix.why = cat("input '", v->name, "' has no shape");
      continue;
    }
    out.values[v] = it->second;
  }
  for (const auto& v : graph.values()) {
    if (v->constant) {
      out.values[v.get()] = v->constant->shape();
      known[v.get()] = *v->constant;
    }
  }
  const auto& kernels = cpu::CpuKernelRegistry::instance();
  for (const auto& n : graph.nodes()) {
    std::vector<std::optional<ir::TensorType>> types;
    std::vector<const Tensor*> values;
    bool all_known = !n->inputs.empty();
    const ir::Value* unshaped = nullptr;
    for (const ir::Value* v : n->inputs) {
      if (!v) {
        types.emplace_back();
        values.push_back(nullptr);
        continue;
      }
      auto s = out.values.find(v);
      if (s == out.values.end()) {
        unshaped = v;
        break;
      }
      auto k = known.find(v);
      const Tensor* value = k == known.end() ? nullptr : &k->second;
      all_known &= value != nullptr;
      values.push_back(value);
      types.push_back(ir::TensorType{v->dtype, ir::to_sym_shape(s->second), value});
    }
    if (unshaped) {
      dynamic(*n, cat("the shape of '", unshaped->name, "' (input of ", n->describe(),
                      ") is not known before it runs"));
      continue;
    }
    if ((n->op == "Shape" || n->op == "Size") && n->output(0) && n->input(0)) {
      const Shape& s = out.values.at(n->input(0));
      Tensor t;
      if (n->op == "Size") {
        t = Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{shape_numel(s)});
      } else {
        auto rank = static_cast<int64_t>(s.size());
        auto clamp = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
        int64_t start = clamp(n->attrs.get_int("start", 0));
        int64_t end = clamp(n->attrs.get_int("end", rank));
        Shape dims(s.begin() + start, s.begin() + std::max(start, end));
        t = Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(dims.size())}, dims);
      }
      out.values[n->output(0)] = t.shape();
      known[n->output(0)] = std::move(t);
      continue;
    }
    if (!ir::subgraphs_of(*n).empty() && !trust_subgraph_inference) {
      // If/Loop/Scan outputs can depend on which branch runs or how many iterations do.
      dynamic(*n, cat(n->describe(),
                      " runs a subgraph; its output shapes are known only when it runs"));
      continue;
    }
    auto outs = ir::infer_node(*n, types);
    std::vector<std::optional<Shape>> shapes(n->outputs.size());
    bool evaluate = all_known && kernels.has(n->op);
    const ir::Value* unknown = nullptr;
    for (size_t o = 0; o < n->outputs.size(); ++o) {
      const ir::Value* v = n->outputs[o];
      if (!v) continue;
      if (outs[o] && outs[o]->shape) shapes[o] = ir::to_concrete(*outs[o]->shape);
      if (!shapes[o] && !unknown) unknown = v;
      evaluate &= shapes[o] && is_integer(outs[o]->dtype) &&
                  shape_numel(*shapes[o]) <= kMaxEvaluatedElements;
    }
    if (evaluate) {
      auto kernel = kernels.create(*n);
      std::vector<Tensor> results = cpu::run_node(*kernel, *n, values);
      for (size_t o = 0; o < n->outputs.size(); ++o) {
        if (!n->outputs[o]) continue;
        out.values[n->outputs[o]] = results[o].shape();
        known[n->outputs[o]] = std::move(results[o]);
      }
      continue;
    }
    if (unknown) {
      dynamic(*n, cat("the shape of '", unknown->name, "' (output of ", n->describe(),
                      ") is not known before it runs"));
      continue;
    }
    for (size_t o = 0; o < n->outputs.size(); ++o) {
      if (n->outputs[o]) out.values[n->outputs[o]] = std::move(*shapes[o]);
    }
  }
  return prefix;
}

std::optional<StaticShapes> evaluate_static_shapes(const ir::Graph& graph,
                                                   const std::map<std::string, Shape>& inputs,
                                                   std::string& why_not) {
  StaticPrefix prefix = evaluate_static_prefix(graph, inputs);
  if (!prefix.why.empty()) {
    why_not = std::move(prefix.why);
    return std::nullopt;
  }
  return std::move(prefix.shapes);
}

}  // namespace kiln::builder
