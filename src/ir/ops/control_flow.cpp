// Schemas and inference for the ops with subgraphs: If, Loop and Scan. Each subgraph is a closed
// function whose inputs are the op's formal inputs followed by the captured outer values, which
// the node passes as its last `num_captures` inputs (see onnx/importer.cpp). Output types come
// from the subgraphs' output values, which bind_subgraphs keeps typed from the node's inputs.
#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

// Loop-carried and scan-state shapes are merged with the body's results at most this many times;
// each round only forgets dims, so two or three rounds reach the fixed point in practice.
constexpr int kMaxBindRounds = 4;

// What is true of both shapes: equal dims are kept, others become unknown; ranks that differ (or
// an unknown rank) give an unknown rank.
std::optional<SymShape> merge_shapes(const std::optional<SymShape>& a,
                                     const std::optional<SymShape>& b) {
  if (!a || !b || a->size() != b->size()) return std::nullopt;
  SymShape out;
  for (size_t i = 0; i < a->size(); ++i) out.push_back((*a)[i] == (*b)[i] ? (*a)[i] : Dim());
  return out;
}

size_t num_captures(const Node& node) {
  int64_t c = node.attrs.get_int("num_captures", 0);
  return c < 0 ? 0 : static_cast<size_t>(c);
}

// The input types a subgraph is re-inferred with; nullopt keeps the subgraph's declared type.
using InputTypes = std::vector<std::optional<TensorType>>;

std::optional<TensorType> type_of(const Value* v) {
  if (!v) return std::nullopt;
  return TensorType{v->dtype, v->shape, nullptr};
}

// A copy of `owner`'s subgraph `attr` with its inputs retyped and everything downstream
// re-inferred. Errors name the node that owns the subgraph as well as the inner node.
std::unique_ptr<Graph> retyped(const Node& owner, const char* attr, const InputTypes& types) {
  std::unique_ptr<Graph> copy = owner.attrs.get_graph(attr)->clone();
  for (size_t i = 0; i < types.size() && i < copy->inputs().size(); ++i) {
    if (!types[i]) continue;
    copy->inputs()[i]->dtype = types[i]->dtype;
    copy->inputs()[i]->shape = types[i]->shape;
  }
  try {
    infer_graph(*copy);
  } catch (const Error& e) {
    fail(e.code(), "in subgraph '", attr, "' of ", owner.describe(), ": ", e.what());
  }
  return copy;
}

// Retypes a body whose inputs [first_state, first_state + initials.size()) carry state from one
// iteration to the next (Loop's carried values, Scan's states), and whose outputs
// [first_state_out, ...) are the next state. A state's shape may change between iterations, so its
// input shape is widened until it covers both the initial value and what the body produces.
GraphAttr bind_stateful_body(const Node& node, InputTypes types, size_t first_state,
                             const std::vector<const Value*>& initials, size_t first_state_out) {
  for (size_t i = 0; i < initials.size(); ++i) types[first_state + i] = type_of(initials[i]);
  std::unique_ptr<Graph> copy = retyped(node, "body", types);
  for (int round = 0; round < kMaxBindRounds; ++round) {
    bool widened = false;
    for (size_t i = 0; i < initials.size(); ++i) {
      std::optional<TensorType>& t = types[first_state + i];
      const Value* out = copy->outputs().size() > first_state_out + i
                             ? copy->outputs()[first_state_out + i]
                             : nullptr;
      if (!t || !out) continue;
      std::optional<SymShape> merged = merge_shapes(t->shape, out->shape);
      if (merged != t->shape) {
        t->shape = std::move(merged);
        widened = true;
      }
    }
    if (!widened) break;
    copy = retyped(node, "body", types);
  }
  return copy;
}

// A scalar-like input of the body (Loop's iteration number and condition): the declared shape if
// it holds one element (some exporters declare [1]), a scalar otherwise.
std::optional<TensorType> scalar_type(const Graph& body, size_t i, DataType dtype) {
  std::optional<SymShape> shape = SymShape{};
  if (i < body.inputs().size() && body.inputs()[i]->shape) {
    auto concrete = to_concrete(*body.inputs()[i]->shape);
    if (concrete && shape_numel(*concrete) == 1) shape = body.inputs()[i]->shape;
  }
  return TensorType{dtype, shape, nullptr};
}

void check_single_element(const InferenceContext& ctx, size_t i, DataType dtype, const char* what) {
  if (!ctx.has_input(i)) return;
  const TensorType& t = ctx.input(i);
  if (t.dtype != dtype) {
    ctx.fail(what, " (input ", i, ") must be ", to_string(dtype), ", not ", to_string(t.dtype));
  }
  if (t.shape) {
    auto s = to_concrete(*t.shape);
    if (s && shape_numel(*s) != 1) {
      ctx.fail(what, " (input ", i, ") must hold one element, but has shape ", shape_to_string(*s));
    }
  }
}

// Checks the subgraph's arity against the node and returns it.
const Graph& subgraph(const InferenceContext& ctx, const char* attr, size_t n_inputs,
                      size_t n_outputs) {
  const Graph& g = *ctx.attrs().get_graph(attr);
  if (g.inputs().size() != n_inputs) {
    ctx.fail("subgraph '", attr, "' takes ", g.inputs().size(), " inputs, but the node gives it ",
             n_inputs);
  }
  if (g.outputs().size() != n_outputs) {
    ctx.fail("subgraph '", attr, "' returns ", g.outputs().size(), " outputs, but the node needs ",
             n_outputs);
  }
  return g;
}

size_t checked_captures(const InferenceContext& ctx, size_t formal_inputs) {
  int64_t c = ctx.attrs().get_int("num_captures", 0);
  if (c < 0 || static_cast<size_t>(c) + formal_inputs > ctx.num_inputs()) {
    ctx.fail("num_captures ", c, " does not fit its ", ctx.num_inputs(), " inputs");
  }
  return static_cast<size_t>(c);
}

// ---- If ----------------------------------------------------------------------------------------

// A branch whose inference fails for the node's input types would fail if taken, but the other
// branch may be the one that runs (ONNX's expanded AffineGrid infers a 2-D branch on 3-D sizes).
// While the condition is unknown such a branch is kept with only its inputs retyped, and named in
// the `uninferred_branch` attribute so that the If's outputs are typed from the other branch. If
// it is taken at run time, its own nodes report the error.
void bind_if(Node& node) {
  InputTypes types;
  for (size_t i = 1; i < node.inputs.size(); ++i) types.push_back(type_of(node.inputs[i]));
  std::optional<bool> cond;
  const Value* c = node.input(0);
  if (c && c->constant && c->constant->numel() == 1 && c->dtype == DataType::kBool) {
    cond = *c->constant->data<uint8_t>() != 0;
  }
  node.attrs.erase("uninferred_branch");
  std::optional<Error> first_error;
  for (const char* attr : {"then_branch", "else_branch"}) {
    if (!node.attrs.has(attr)) continue;
    bool taken = !cond || *cond == (attr == std::string("then_branch"));
    if (!taken) continue;  // never runs: its types do not matter
    try {
      node.attrs.set(attr, GraphAttr(retyped(node, attr, types)));
    } catch (const Error& e) {
      if (cond || first_error) throw;
      first_error = e;
      std::unique_ptr<Graph> inputs_only = node.attrs.get_graph(attr)->clone();
      for (size_t i = 0; i < types.size() && i < inputs_only->inputs().size(); ++i) {
        inputs_only->inputs()[i]->dtype = types[i]->dtype;
        inputs_only->inputs()[i]->shape = types[i]->shape;
      }
      node.attrs.set(attr, GraphAttr(std::move(inputs_only)));
      node.attrs.set("uninferred_branch", std::string(attr));
    }
  }
}

void infer_if(InferenceContext& ctx) {
  check_single_element(ctx, 0, DataType::kBool, "the condition");
  size_t captures = ctx.num_inputs() - 1;
  if (ctx.attrs().has("num_captures")) checked_captures(ctx, 1);
  const Graph& then_g = subgraph(ctx, "then_branch", captures, ctx.num_outputs());
  const Graph& else_g = subgraph(ctx, "else_branch", captures, ctx.num_outputs());
  std::string uninferred = ctx.attrs().get_string("uninferred_branch", "");
  std::optional<bool> cond;
  if (auto v = ctx.input_doubles(0); v && v->size() == 1) cond = (*v)[0] != 0;
  const Graph* only = nullptr;  // the one branch whose types count, if not both
  if (cond) only = *cond ? &then_g : &else_g;
  if (!cond && uninferred == "then_branch") only = &else_g;
  if (!cond && uninferred == "else_branch") only = &then_g;
  if (only && uninferred == (only == &then_g ? "then_branch" : "else_branch")) {
    return;  // the branch that runs has no types: the kernel shapes the outputs (or fails)
  }
  for (size_t i = 0; i < ctx.num_outputs(); ++i) {
    const Value* a = then_g.outputs()[i];
    const Value* b = else_g.outputs()[i];
    if (only) {
      ctx.set_output(i, only->outputs()[i]->dtype, only->outputs()[i]->shape);
      continue;
    }
    if (a->dtype != b->dtype) {
      ctx.fail("output ", i, " is ", to_string(a->dtype), " in then_branch but ",
               to_string(b->dtype), " in else_branch");
    }
    ctx.set_output(i, a->dtype, merge_shapes(a->shape, b->shape));
  }
}

// ---- Loop --------------------------------------------------------------------------------------
// Inputs: M (trip count), cond, N loop-carried initial values, captures. Body: (iteration, cond,
// N carried, captures) -> (cond, N carried, K scan slices). Outputs: N final values, K stacked.

void bind_loop(Node& node) {
  if (!node.attrs.has("body")) return;
  const Graph& body = *node.attrs.get_graph("body");
  size_t captures = num_captures(node);
  if (node.inputs.size() < 2 + captures || body.inputs().size() != node.inputs.size()) return;
  size_t n_carried = node.inputs.size() - 2 - captures;
  InputTypes types(body.inputs().size());
  types[0] = scalar_type(body, 0, DataType::kInt64);
  types[1] = scalar_type(body, 1, DataType::kBool);
  for (size_t i = 2 + n_carried; i < node.inputs.size(); ++i) types[i] = type_of(node.inputs[i]);
  std::vector<const Value*> initials(node.inputs.begin() + 2,
                                     node.inputs.begin() + 2 + static_cast<long>(n_carried));
  node.attrs.set("body", bind_stateful_body(node, std::move(types), 2, initials, 1));
}

void infer_loop(InferenceContext& ctx) {
  // M and cond may both be omitted, but their slots are always there.
  if (ctx.num_inputs() < 2) ctx.fail("needs inputs M and cond (each may be empty)");
  size_t captures = checked_captures(ctx, 2);
  size_t n_carried = ctx.num_inputs() - 2 - captures;
  if (ctx.num_outputs() < n_carried) {
    ctx.fail("has ", n_carried, " loop-carried values but only ", ctx.num_outputs(), " outputs");
  }
  size_t n_scan = ctx.num_outputs() - n_carried;
  const Graph& body = subgraph(ctx, "body", ctx.num_inputs(), 1 + ctx.num_outputs());
  check_single_element(ctx, 0, DataType::kInt64, "the trip count M");
  check_single_element(ctx, 1, DataType::kBool, "the condition");
  if (body.outputs()[0]->dtype != DataType::kBool) {
    ctx.fail("the body's first output (the condition) must be bool, not ",
             to_string(body.outputs()[0]->dtype));
  }
  for (size_t i = 0; i < n_carried; ++i) {
    const TensorType& initial = ctx.input(2 + i);
    const Value* out = body.outputs()[1 + i];
    if (out->dtype != initial.dtype) {
      ctx.fail("loop-carried value ", i, " starts as ", to_string(initial.dtype),
               " but the body makes it ", to_string(out->dtype));
    }
    // Zero iterations leave the initial value, so only what both agree on is known.
    ctx.set_output(i, initial.dtype, merge_shapes(initial.shape, out->shape));
  }
  // The number of iterations is known only for a plain counted loop (no condition input).
  Dim trips;
  if (!ctx.has_input(1)) {
    if (auto m = ctx.input_ints(0); m && m->size() == 1) trips = Dim(std::max<int64_t>((*m)[0], 0));
  }
  for (size_t k = 0; k < n_scan; ++k) {
    const Value* out = body.outputs()[1 + n_carried + k];
    std::optional<SymShape> shape;
    if (out->shape) {
      shape = SymShape{trips};
      shape->insert(shape->end(), out->shape->begin(), out->shape->end());
    }
    ctx.set_output(n_carried + k, out->dtype, shape);
  }
}

// ---- Scan --------------------------------------------------------------------------------------
// Inputs: N initial states, M scan inputs, captures. Body: (N states, M slices, captures) ->
// (N states, K slices). Outputs: N final states, K scan outputs.

struct ScanLayout {
  size_t n_state = 0, n_scan_in = 0, captures = 0;
  std::vector<int64_t> in_axes, in_directions, out_axes, out_directions;
};

// Reads the layout from the node; returns nullopt (so inference can report it) if inconsistent.
std::optional<ScanLayout> scan_layout(const Node& node, size_t n_outputs) {
  ScanLayout l;
  int64_t m = node.attrs.get_int("num_scan_inputs");
  l.captures = num_captures(node);
  if (m < 1 || static_cast<size_t>(m) + l.captures > node.inputs.size()) return std::nullopt;
  l.n_scan_in = static_cast<size_t>(m);
  l.n_state = node.inputs.size() - l.n_scan_in - l.captures;
  if (n_outputs < l.n_state) return std::nullopt;
  size_t n_scan_out = n_outputs - l.n_state;
  l.in_axes = node.attrs.get_ints("scan_input_axes", std::vector<int64_t>(l.n_scan_in, 0));
  l.in_directions =
      node.attrs.get_ints("scan_input_directions", std::vector<int64_t>(l.n_scan_in, 0));
  l.out_axes = node.attrs.get_ints("scan_output_axes", std::vector<int64_t>(n_scan_out, 0));
  l.out_directions =
      node.attrs.get_ints("scan_output_directions", std::vector<int64_t>(n_scan_out, 0));
  if (l.in_axes.size() != l.n_scan_in || l.in_directions.size() != l.n_scan_in ||
      l.out_axes.size() != n_scan_out || l.out_directions.size() != n_scan_out) {
    return std::nullopt;
  }
  return l;
}

void bind_scan(Node& node) {
  if (!node.attrs.has("body")) return;
  const Graph& body = *node.attrs.get_graph("body");
  auto l = scan_layout(node, node.outputs.size());
  if (!l || body.inputs().size() != node.inputs.size()) return;
  InputTypes types(body.inputs().size());
  for (size_t j = 0; j < l->n_scan_in; ++j) {
    const Value* in = node.inputs[l->n_state + j];
    if (!in) continue;
    TensorType t{in->dtype, std::nullopt, nullptr};
    int64_t rank = in->shape ? static_cast<int64_t>(in->shape->size()) : -1;
    int64_t axis = l->in_axes[j] < 0 ? l->in_axes[j] + rank : l->in_axes[j];
    if (rank >= 0 && axis >= 0 && axis < rank) {
      t.shape = in->shape;
      t.shape->erase(t.shape->begin() + axis);
    }
    types[l->n_state + j] = t;
  }
  for (size_t i = l->n_state + l->n_scan_in; i < node.inputs.size(); ++i) {
    types[i] = type_of(node.inputs[i]);
  }
  std::vector<const Value*> initials(node.inputs.begin(),
                                     node.inputs.begin() + static_cast<long>(l->n_state));
  node.attrs.set("body", bind_stateful_body(node, std::move(types), 0, initials, 0));
}

void infer_scan(InferenceContext& ctx) {
  int64_t m = ctx.attrs().get_int("num_scan_inputs");
  if (m < 1) ctx.fail("num_scan_inputs must be at least 1, not ", m);
  size_t captures = checked_captures(ctx, static_cast<size_t>(m));
  auto l = scan_layout(ctx.node(), ctx.num_outputs());
  if (!l) {
    ctx.fail("has ", ctx.num_inputs() - captures, " inputs (", m, " scanned) and ",
             ctx.num_outputs(),
             " outputs, which do not match its scan axes and directions attributes");
  }
  const Graph& body = subgraph(ctx, "body", ctx.num_inputs(), ctx.num_outputs());
  for (int64_t d : l->in_directions) {
    if (d != 0 && d != 1) ctx.fail("scan_input_directions must be 0 or 1, not ", d);
  }
  for (int64_t d : l->out_directions) {
    if (d != 0 && d != 1) ctx.fail("scan_output_directions must be 0 or 1, not ", d);
  }
  Dim length;
  for (size_t j = 0; j < l->n_scan_in; ++j) {
    const TensorType& in = ctx.input(l->n_state + j);
    if (in.rank() < 0) continue;
    if (in.rank() == 0) ctx.fail("scan input ", j, " is a scalar; it needs an axis to scan");
    int64_t axis = normalize_axis(ctx, l->in_axes[j], in.rank());
    const Dim& d = (*in.shape)[static_cast<size_t>(axis)];
    if (!d.known()) continue;
    if (length.known() && length.value != d.value) {
      ctx.fail("scan inputs have different lengths (", length.value, " and ", d.value, ")");
    }
    length = d;
  }
  for (size_t i = 0; i < l->n_state; ++i) {
    const TensorType& initial = ctx.input(i);
    const Value* out = body.outputs()[i];
    if (out->dtype != initial.dtype) {
      ctx.fail("state ", i, " starts as ", to_string(initial.dtype), " but the body makes it ",
               to_string(out->dtype));
    }
    ctx.set_output(i, initial.dtype, merge_shapes(initial.shape, out->shape));
  }
  for (size_t k = 0; k < l->out_axes.size(); ++k) {
    const Value* out = body.outputs()[l->n_state + k];
    std::optional<SymShape> shape;
    if (out->shape) {
      auto rank = static_cast<int64_t>(out->shape->size());
      int64_t axis = normalize_axis(ctx, l->out_axes[k], rank, /*allow_end=*/true);
      shape = out->shape;
      shape->insert(shape->begin() + axis, length);
    }
    ctx.set_output(l->n_state + k, out->dtype, shape);
  }
}

}  // namespace

void register_control_flow_ops(OpRegistry& r) {
  // Subgraphs run on the CPU backend: a GPU engine runs them on the host.
  constexpr OpTraits kSubgraphs{
      .precision = {.cls = PrecisionClass::kKeepsTypes, .reason = kSubgraphsKeepTypes},
      .host_fallback = "its subgraphs run on the CPU backend: CUDA engines have no control flow"};
  r.add({"If", 1, OpSchema::kVariadic, 1, OpSchema::kVariadic, infer_if, kSubgraphs, bind_if});
  r.add(
      {"Loop", 0, OpSchema::kVariadic, 1, OpSchema::kVariadic, infer_loop, kSubgraphs, bind_loop});
  r.add(
      {"Scan", 1, OpSchema::kVariadic, 1, OpSchema::kVariadic, infer_scan, kSubgraphs, bind_scan});
}

}  // namespace kiln::ir
