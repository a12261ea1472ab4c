// A chain of layers that only rearrange their input (Reshape, Transpose, Squeeze, Unsqueeze) whose
// end lays the elements out exactly as its source does is one Reshape: e.g. NHWC -> Transpose to
// NCHW -> Reshape [N, C, HW] -> Transpose to [N, HW, C], which is the NHWC tensor read as
// [N, HW, C]. The Transpose ending such a chain becomes that Reshape (a view, no copy); the
// layers before it go when nothing else reads them. Chains are followed with the strided-view
// layout algebra (strided_view.hpp) and need static shapes.
#include "ir/layer_precision.hpp"
#include "ir/op_registry.hpp"
#include "passes/passes.hpp"
#include "passes/rewrite.hpp"
#include "passes/strided_view.hpp"

namespace kiln::passes {
namespace {

// Strides of size-1 dims do not matter; compare the rest only.
bool lays_out_like_source(const StridedView& v) {
  if (v.offset != 0) return false;
  const StridedView p = StridedView::packed(v.shape);
  for (size_t d = 0; d < v.shape.size(); ++d) {
    if (v.shape[d] != 1 && v.strides[d] != p.strides[d]) return false;
  }
  return true;
}

}  // namespace

bool collapse_view_chains(ir::Graph& graph) {
  bool changed = false;
  ViewChains chains;  // in node order, so each chain continues where the one before it ended
  for (ir::Node* n : graph.node_list()) {
    if (n->op != "Transpose" || !n->domain.empty() || n->outputs.size() != 1) continue;
    std::optional<ViewChains::Found> chain = chains.find(n->outputs[0]);
    if (!chain || chain->length < 2) continue;  // a lone Transpose is cancel_transposes' job
    if (!lays_out_like_source(chain->view)) continue;
    std::vector<int64_t> dims(chain->view.shape.begin(), chain->view.shape.end());
    ir::Value* shape = add_int64_constant(graph, n->name + "_as_reshape", dims);
    for (const ir::Node* c : chains.layers(n->outputs[0])) {
      if (c != n) n->origins.insert(n->origins.end(), c->origins.begin(), c->origins.end());
    }
    const std::string precision = n->attrs.get_string(ir::kLayerPrecisionAttr, "");
    n->op = "Reshape";
    n->inputs = {chain->source, shape};
    n->attrs = ir::Attributes{};
    n->attrs.set_owner(n->describe());
    if (!precision.empty()) n->attrs.set(ir::kLayerPrecisionAttr, precision);
    chains.forget(n->outputs[0]);  // its layer is a Reshape of the source now
    changed = true;
  }
  if (changed) tidy_after_rewrite(graph);
  return changed;
}

}  // namespace kiln::passes
