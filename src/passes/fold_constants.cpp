// Constant folding: a node whose inputs are all constant is evaluated once, at build time, with the
// CPU reference kernels, and its outputs become constants. Shape and Size of tensors whose shape is
// static fold too, which collapses the Shape->Gather->Unsqueeze->Concat->Reshape chains PyTorch
// exports once shapes are known.
#include <algorithm>
#include <unordered_set>

#include "backends/cpu/kernel.hpp"
#include "backends/cpu/run_node.hpp"
#include "core/checked_size.hpp"
#include "core/logging.hpp"
#include "ir/op_registry.hpp"
#include "passes/passes.hpp"

namespace kiln::passes {
namespace {

// Folding must not turn a small graph into a huge plan (e.g. ConstantOfShape of a large shape).
constexpr size_t kMaxFoldedBytes = size_t{16} << 20;

// Subgraphs count: an If or Loop whose body draws random numbers must not be folded either.
bool is_deterministic(const ir::Node& n) {
  if (n.op.rfind("Random", 0) == 0 || n.op == "Multinomial" || n.op == "Bernoulli") return false;
  for (const ir::Graph* g : ir::subgraphs_of(n)) {
    for (const auto& inner : g->nodes()) {
      if (!is_deterministic(*inner)) return false;
    }
  }
  return true;
}

std::optional<Tensor> fold_shape_query(const ir::Node& n) {
  const ir::Value* in = n.input(0);
  if (!in || !in->shape) return std::nullopt;
  auto shape = ir::to_concrete(*in->shape);
  if (n.op == "Size") {
    if (!shape) return std::nullopt;
    return Tensor::from_vector(DataType::kInt64, {}, std::vector<int64_t>{shape_numel(*shape)});
  }
  auto rank = static_cast<int64_t>(in->shape->size());
  auto clamp = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
  int64_t start = clamp(n.attrs.get_int("start", 0));
  int64_t end = clamp(n.attrs.get_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) {
    const ir::Dim& d = (*in->shape)[static_cast<size_t>(i)];
    if (!d.known()) return std::nullopt;
    dims.push_back(d.value);
  }
  return Tensor::from_vector(DataType::kInt64, {static_cast<int64_t>(dims.size())}, dims);
}

// Turns the node's outputs into constants holding `values`; the sweep removes the node with the
// others it folded, in one pass over the graph (one removal each made long chains quadratic).
void replace_with_constants(std::unordered_set<const ir::Node*>& folded, ir::Node* n,
                            std::vector<Tensor> values) {
  for (size_t i = 0; i < n->outputs.size(); ++i) {
    ir::Value* v = n->outputs[i];
    if (!v) continue;
    v->dtype = values[i].dtype();
    v->shape = ir::to_sym_shape(values[i].shape());
    v->constant = std::move(values[i]);
    v->producer = nullptr;
  }
  folded.insert(n);
}

// True where the output's inferred shape is known to be over the folding limit, or past what a
// tensor may be at all (the node is then left for inference to report, naming it).
bool too_big_to_fold(const ir::Value* o) {
  if (!o || !o->shape) return false;
  auto s = ir::to_concrete(*o->shape);
  if (!s) return false;
  size_t esize = element_size(o->dtype);
  try {
    int64_t numel = checked_numel(*s, esize, ErrorCode::kInvalidModel, o->name);
    return checked_nbytes(numel, esize, ErrorCode::kInvalidModel, o->name) > kMaxFoldedBytes;
  } catch (const Error&) {
    return true;
  }
}

// One pass over the nodes in order. A folded node's outputs are constants at once, so its
// consumers fold in the same sweep; a shape that only inference can settle waits for the next.
constexpr int kMaxSweeps = 256;

bool fold_sweep(ir::Graph& graph) {
  std::unordered_set<const ir::Node*> folded;
  const auto& kernels = cpu::CpuKernelRegistry::instance();
  for (ir::Node* n : graph.node_list()) {
    if (n->op == "Shape" || n->op == "Size") {
      if (auto t = fold_shape_query(*n)) {
        replace_with_constants(folded, n, {std::move(*t)});
        continue;
      }
    }
    bool all_constant = !n->inputs.empty();
    std::vector<const Tensor*> inputs;
    for (const ir::Value* v : n->inputs) {
      if (v && !v->is_constant()) all_constant = false;
      // Only a value that holds a constant may be dereferenced (the node is skipped otherwise).
      inputs.push_back(v && v->is_constant() ? &*v->constant : nullptr);
    }
    if (!all_constant || !is_deterministic(*n) || !kernels.has(n->op)) continue;
    if (std::any_of(n->outputs.begin(), n->outputs.end(), too_big_to_fold)) continue;
    try {
      auto kernel = kernels.create(*n);
      std::vector<Tensor> outs = cpu::run_node(*kernel, *n, inputs);
      size_t bytes = 0;
      for (const Tensor& t : outs) bytes += t.defined() ? t.nbytes() : 0;
      if (bytes > kMaxFoldedBytes) continue;
      replace_with_constants(folded, n, std::move(outs));
    } catch (const Error& e) {
      // Leave the node: the same error will be reported, with its inputs, when it runs.
      log(Severity::kVerbose, cat("not folding ", n->describe(), ": ", e.what()));
    }
  }
  graph.remove_nodes(folded);
  return !folded.empty();
}

}  // namespace

bool fold_constants(ir::Graph& graph) {
  // Shape arithmetic can chain through many layers (Swin pads each block by sizes computed from
  // the previous block's shapes): each sweep, re-inferring shapes after it, settles one more
  // level, so sweep until nothing folds instead of leaving it to the pass manager's few rounds.
  bool changed = false;
  for (int sweep = 0; sweep < kMaxSweeps && fold_sweep(graph); ++sweep) {
    changed = true;
    graph.remove_unused();
    ir::infer_graph(graph);  // later shapes may now be known, enabling more folding
  }
  return changed;
}

}  // namespace kiln::passes
