// CPU kernels for If and Loop, which run their subgraphs as nested execution contexts (built
// once per context); Scan lives in control_flow_scan.cpp. Outputs come from the subgraphs, so
// these kernels assign every output themselves rather than filling pre-allocated ones.
#include <algorithm>

#include "backends/cpu/families.hpp"
#include "backends/cpu/subgraph_runner.hpp"

namespace kiln::cpu {
namespace {

size_t num_captures(const KernelContext& ctx) {
  return static_cast<size_t>(std::max<int64_t>(ctx.node.attrs.get_int("num_captures", 0), 0));
}

// Inputs: the condition, then the captured values both branches take.
class IfKernel final : public CpuKernel {
 public:
  explicit IfKernel(const ir::Node& node)
      : then_(node, "then_branch"), else_(node, "else_branch") {}

  void run(KernelContext& ctx) override {
    bool cond = read_condition(ctx, ctx.input(0), "the condition (input 0)");
    SubgraphRunner& branch = cond ? then_ : else_;
    std::vector<Tensor> captured;
    for (size_t i = 1; i < ctx.inputs.size(); ++i) captured.push_back(ctx.input(i));
    std::vector<Tensor> outs = branch.run(captured, "");
    if (outs.size() != ctx.node.outputs.size()) {
      ctx.fail(ErrorCode::kInvalidArgument, cond ? "then_branch" : "else_branch", " returned ",
               outs.size(), " outputs; the node has ", ctx.node.outputs.size());
    }
    for (size_t i = 0; i < outs.size(); ++i) ctx.outputs[i] = std::move(outs[i]);
  }

 private:
  SubgraphRunner then_;
  SubgraphRunner else_;
};

// A one-element tensor of the shape the body declares for its input `i` (scalar or [1]).
Tensor body_scalar(const ir::Graph& body, size_t i, DataType dtype, int64_t value) {
  Shape shape;
  const ir::Value* v = body.inputs()[i];
  if (v->shape) {
    auto s = ir::to_concrete(*v->shape);
    if (s && shape_numel(*s) == 1) shape = *s;
  }
  Tensor t(dtype, shape);
  if (dtype == DataType::kBool) {
    *t.data<uint8_t>() = value ? 1 : 0;
  } else {
    *t.data<int64_t>() = value;
  }
  return t;
}

// Inputs: trip count M and condition (each optional), N loop-carried initial values, captures.
// The body maps (iteration, cond, N carried, captures) to (cond, N carried, K scan slices).
class LoopKernel final : public CpuKernel {
 public:
  explicit LoopKernel(const ir::Node& node) : body_(node, "body") {}

  void run(KernelContext& ctx) override {
    size_t captures = num_captures(ctx);
    if (ctx.inputs.size() < 2 + captures) {
      ctx.fail(ErrorCode::kInvalidArgument, "has ", ctx.inputs.size(), " inputs and ", captures,
               " captured values; it needs M and cond first");
    }
    size_t n_carried = ctx.inputs.size() - 2 - captures;
    size_t n_outputs = ctx.node.outputs.size();
    if (n_outputs < n_carried) {
      ctx.fail(ErrorCode::kInvalidArgument, "has ", n_carried, " loop-carried values but only ",
               n_outputs, " outputs");
    }
    size_t n_scan = n_outputs - n_carried;
    const ir::Graph& body = body_.graph();

    std::optional<int64_t> trips;
    if (ctx.has_input(0)) {
      const Tensor& m = ctx.input(0);
      if (m.dtype() != DataType::kInt64 || m.numel() != 1) {
        ctx.fail(ErrorCode::kInvalidArgument, "the trip count M must be an int64 tensor of one ",
                 "element, not ", to_string(m.dtype()), shape_to_string(m.shape()));
      }
      trips = std::max<int64_t>(*m.data<int64_t>(), 0);  // a negative count runs no iteration
    }
    bool has_cond = ctx.has_input(1);
    bool cond = has_cond ? read_condition(ctx, ctx.input(1), "the condition (input 1)") : true;
    if (!trips && !has_cond) {
      ctx.fail(ErrorCode::kInvalidArgument,
               "has neither a trip count nor a condition, so it would never end");
    }
    if (trips && !has_cond && *trips > kMaxLoopIterations) {
      ctx.fail(ErrorCode::kInvalidArgument, "asks for ", *trips, " iterations; kiln runs at most ",
               kMaxLoopIterations);
    }

    // The body's inputs, refreshed each iteration except for the captures at the end.
    std::vector<Tensor> in(2 + n_carried + captures);
    for (size_t i = 0; i < n_carried + captures; ++i) in[2 + i] = ctx.input(2 + i);
    std::vector<std::vector<Tensor>> scans(n_scan);
    int64_t iteration = 0;
    for (; cond && (!trips || iteration < *trips); ++iteration) {
      if (iteration == kMaxLoopIterations) {
        ctx.fail(ErrorCode::kInvalidArgument, "ran ", iteration,
                 " iterations without its condition turning false; kiln stops loops there");
      }
      in[0] = body_scalar(body, 0, DataType::kInt64, iteration);
      in[1] = body_scalar(body, 1, DataType::kBool, cond);
      std::vector<Tensor> out = body_.run(in, cat("iteration ", iteration));
      if (out.size() != 1 + n_carried + n_scan) {
        ctx.fail(ErrorCode::kInvalidArgument, "the body returned ", out.size(),
                 " outputs; it must return ", 1 + n_carried + n_scan);
      }
      // Without a condition input the body's condition output is ignored (ONNX Loop spec).
      if (has_cond) {
        cond = read_condition(ctx, out[0],
                              cat("the condition the body returned in iteration ", iteration));
      }
      for (size_t i = 0; i < n_carried; ++i) {
        if (out[1 + i].dtype() != in[2 + i].dtype()) {
          ctx.fail(ErrorCode::kInvalidArgument, "loop-carried value ", i, " changed from ",
                   to_string(in[2 + i].dtype()), " to ", to_string(out[1 + i].dtype()),
                   " in iteration ", iteration);
        }
        in[2 + i] = std::move(out[1 + i]);
      }
      for (size_t k = 0; k < n_scan; ++k) {
        Tensor& slice = out[1 + n_carried + k];
        check_slice(ctx, scans[k], slice, n_carried + k);
        scans[k].push_back(std::move(slice));
      }
    }
    for (size_t i = 0; i < n_carried; ++i) ctx.outputs[i] = std::move(in[2 + i]);
    for (size_t k = 0; k < n_scan; ++k) {
      const ir::Value& declared = *body.outputs()[1 + n_carried + k];
      ctx.outputs[n_carried + k] =
          stack_slices(scans[k], 0, declared.dtype, declared_slice_shape(declared));
    }
  }

 private:
  SubgraphRunner body_;
};

}  // namespace

void register_control_flow_kernels(CpuKernelRegistry& r) {
  r.add_factory("If", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<IfKernel>(n);
  });
  r.add_factory("Loop", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<LoopKernel>(n);
  });
}

}  // namespace kiln::cpu
