// Graph totals: op histogram, parameters, and FLOPs from each op's formula in the op table
// (OpTraits::flops). Formulas follow the usual conventions of model zoos (one multiply-add = 2
// FLOPs), so numbers compare with what papers and other tools report.
#include "ir/graph_stats.hpp"

#include <algorithm>
#include <set>

#include "ir/flop_shapes.hpp"
#include "ir/op_traits.hpp"

namespace kiln::ir {

std::optional<double> node_flops(const Node& n, std::set<std::string>* symbols_as_one) {
  const FlopShapes sh(symbols_as_one);
  const FlopFormula& f = op_traits(n).flops;
  switch (f.kind) {
    case FlopFormula::Kind::kUnknown:
      return std::nullopt;
    case FlopFormula::Kind::kDataMovement:
      return 0.0;
    case FlopFormula::Kind::kPerOutputElement: {
      auto out = sh.numel(n.output(0));
      if (!out) return std::nullopt;
      return f.per_element * *out;
    }
    case FlopFormula::Kind::kPerLargerElement: {
      auto in = sh.numel(n.input(0));
      auto out = sh.numel(n.output(0));
      if (!in && !out) return std::nullopt;
      return f.per_element * std::max(in.value_or(0), out.value_or(0));
    }
    case FlopFormula::Kind::kFormula:
      return f.formula(n, sh);
  }
  return std::nullopt;
}

GraphStats graph_stats(const Graph& graph) {
  GraphStats s;
  std::set<std::pair<const void*, size_t>> counted;  // one buffer shared by constants counts once
  for (const auto& n : graph.nodes()) {
    ++s.op_histogram[n->op];
    for (const Value* v : n->inputs) {
      if (!v || !v->constant) continue;
      DataType t = v->constant->dtype();
      bool weight = is_floating(t) || t == DataType::kInt8 || t == DataType::kUInt8;
      if (weight && counted.insert({v->constant->raw(), v->constant->nbytes()}).second)
        s.parameters += v->constant->numel();
    }
    if (auto f = node_flops(*n, &s.symbols_as_one)) {
      s.flops += *f;
    } else {
      s.uncounted.push_back(n.get());
    }
  }
  return s;
}

}  // namespace kiln::ir
