// CPU kernel for Scan (opset 9+): runs the body once per position along the scan axes, carrying
// state from one step to the next and stacking the per-step outputs along the output axes.
#include <algorithm>

#include "backends/cpu/families.hpp"
#include "backends/cpu/subgraph_runner.hpp"

namespace kiln::cpu {
namespace {

int64_t normalized(const KernelContext& ctx, int64_t axis, int64_t rank, const char* what) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    ctx.fail(ErrorCode::kInvalidArgument, what, " ", axis, " is out of range for rank ", rank);
  }
  return a;
}

// Inputs: N initial states, M scanned inputs, captures. The body maps (N states, M slices,
// captures) to (N states, K slices); outputs are the N final states and K stacked outputs.
class ScanKernel final : public CpuKernel {
 public:
  explicit ScanKernel(const ir::Node& node) : body_(node, "body") {}

  void run(KernelContext& ctx) override {
    const ir::Attributes& attrs = ctx.node.attrs;
    auto n_scan_in = static_cast<size_t>(std::max<int64_t>(attrs.get_int("num_scan_inputs"), 0));
    auto captures = static_cast<size_t>(std::max<int64_t>(attrs.get_int("num_captures", 0), 0));
    if (n_scan_in == 0 || n_scan_in + captures > ctx.inputs.size()) {
      ctx.fail(ErrorCode::kInvalidArgument, "num_scan_inputs ", n_scan_in, " and ", captures,
               " captured values do not fit its ", ctx.inputs.size(), " inputs");
    }
    size_t n_state = ctx.inputs.size() - n_scan_in - captures;
    size_t n_outputs = ctx.node.outputs.size();
    if (n_outputs < n_state) {
      ctx.fail(ErrorCode::kInvalidArgument, "has ", n_state, " states but only ", n_outputs,
               " outputs");
    }
    size_t n_scan_out = n_outputs - n_state;
    auto in_axes = attrs.get_ints("scan_input_axes", std::vector<int64_t>(n_scan_in, 0));
    auto in_dirs = attrs.get_ints("scan_input_directions", std::vector<int64_t>(n_scan_in, 0));
    auto out_axes = attrs.get_ints("scan_output_axes", std::vector<int64_t>(n_scan_out, 0));
    auto out_dirs = attrs.get_ints("scan_output_directions", std::vector<int64_t>(n_scan_out, 0));
    if (in_axes.size() != n_scan_in || in_dirs.size() != n_scan_in ||
        out_axes.size() != n_scan_out || out_dirs.size() != n_scan_out) {
      ctx.fail(ErrorCode::kInvalidArgument,
               "scan axes and directions attributes do not match its inputs and outputs");
    }

    int64_t length = -1;
    for (size_t j = 0; j < n_scan_in; ++j) {
      const Tensor& x = ctx.input(n_state + j);
      if (x.rank() == 0) ctx.fail(ErrorCode::kInvalidArgument, "scan input ", j, " is a scalar");
      in_axes[j] = normalized(ctx, in_axes[j], x.rank(), "scan_input_axes entry");
      int64_t len = x.dim(in_axes[j]);
      if (length >= 0 && len != length) {
        ctx.fail(ErrorCode::kInvalidArgument, "scan inputs have different lengths (", length,
                 " and ", len, ")");
      }
      length = len;
    }

    std::vector<Tensor> in(ctx.inputs.size());
    for (size_t i = 0; i < n_state; ++i) in[i] = ctx.input(i);
    for (size_t i = n_state + n_scan_in; i < in.size(); ++i) in[i] = ctx.input(i);
    std::vector<std::vector<Tensor>> slices(n_scan_out);
    for (int64_t t = 0; t < length; ++t) {
      for (size_t j = 0; j < n_scan_in; ++j) {
        int64_t index = in_dirs[j] == 1 ? length - 1 - t : t;
        in[n_state + j] = take_slice(ctx.input(n_state + j), in_axes[j], index);
      }
      std::vector<Tensor> out = body_.run(in, cat("step ", t));
      if (out.size() != n_outputs) {
        ctx.fail(ErrorCode::kInvalidArgument, "the body returned ", out.size(),
                 " outputs; it must return ", n_outputs);
      }
      for (size_t i = 0; i < n_state; ++i) {
        if (out[i].dtype() != in[i].dtype()) {
          ctx.fail(ErrorCode::kInvalidArgument, "state ", i, " changed from ",
                   to_string(in[i].dtype()), " to ", to_string(out[i].dtype()), " in step ", t);
        }
        in[i] = std::move(out[i]);
      }
      for (size_t k = 0; k < n_scan_out; ++k) {
        check_slice(ctx, slices[k], out[n_state + k], n_state + k);
        slices[k].push_back(std::move(out[n_state + k]));
      }
    }
    for (size_t i = 0; i < n_state; ++i) ctx.outputs[i] = std::move(in[i]);
    for (size_t k = 0; k < n_scan_out; ++k) {
      const ir::Value& declared = *body_.graph().outputs()[n_state + k];
      Shape slice_shape = slices[k].empty() ? declared_slice_shape(declared) : slices[k][0].shape();
      int64_t axis = normalized(ctx, out_axes[k], static_cast<int64_t>(slice_shape.size()) + 1,
                                "scan_output_axes entry");
      if (out_dirs[k] == 1) std::reverse(slices[k].begin(), slices[k].end());
      ctx.outputs[n_state + k] = stack_slices(slices[k], axis, declared.dtype, slice_shape);
    }
  }

 private:
  SubgraphRunner body_;
};

}  // namespace

void register_control_flow_scan_kernels(CpuKernelRegistry& r) {
  r.add_factory("Scan", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<ScanKernel>(n);
  });
}

}  // namespace kiln::cpu
