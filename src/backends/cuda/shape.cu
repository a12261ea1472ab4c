// CUDA kernels of the ops that rearrange elements without computing: Transpose, Expand, Slice,
// Concat, Split, DepthToSpace and SpaceToDepth. Each plans StridedCopy descriptors at prepare time
// from the static shapes; enqueue launches one strided copy per input (Concat) or output (Split).
#include <vector>

#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/strided_copy.cuh"
#include "ir/ops/slice_range.hpp"

namespace kiln::cuda {
namespace {

StridedCopy plan_copy(const Shape& shape, const std::vector<int64_t>& src_strides,
                      const std::vector<int64_t>& dst_strides, int64_t src_base = 0,
                      int64_t dst_base = 0) {
  StridedCopy c;
  c.layout = make_strided_layout<2>(shape, {src_strides, dst_strides});
  c.count = shape_numel(shape);
  c.src_base = src_base;
  c.dst_base = dst_base;
  return c;
}

int64_t normalize_axis(const CudaKernelContext& ctx, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    ctx.fail(ErrorCode::kInvalidArgument, "axis ", axis, " is out of range for rank ", rank);
  }
  return a;
}

std::vector<int64_t> constant_ints(const CudaKernelContext& ctx, size_t i, const char* what) {
  const Tensor* t = ctx.constant_input(i);
  if (!t) ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel needs ", what, " to be a constant");
  std::vector<int64_t> v(static_cast<size_t>(t->numel()));
  for (size_t k = 0; k < v.size(); ++k) {
    v[k] = t->dtype() == DataType::kInt32 ? t->data<int32_t>()[k] : t->data<int64_t>()[k];
  }
  return v;
}

// Copies planned per (input, output) pair; shared by every op in this file.
class PlannedCopyKernel : public CudaKernel {
 public:
  void enqueue(const CudaKernelContext& ctx) override {
    for (const Step& s : steps_) {
      launch_strided_copy(ctx.inputs[s.input].data, ctx.outputs[s.output].data,
                          element_size(ctx.outputs[s.output].dtype), s.copy, ctx.stream);
    }
  }

 protected:
  struct Step {
    size_t input = 0, output = 0;
    StridedCopy copy;
  };
  std::vector<Step> steps_;
};

class TransposeKernel final : public PlannedCopyKernel {
 public:
  explicit TransposeKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& in = ctx.inputs[0].shape;
    size_t rank = in.size();
    std::vector<int64_t> perm = ctx.node.attrs.get_ints("perm", {});
    if (perm.empty()) {
      for (size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    }
    std::vector<int64_t> in_strides = contiguous_strides(in), src(rank);
    for (size_t d = 0; d < rank; ++d) src[d] = in_strides[static_cast<size_t>(perm[d])];
    const Shape& out = ctx.outputs[0].shape;
    steps_ = {{0, 0, plan_copy(out, src, contiguous_strides(out))}};
    return 0;
  }
};

class ExpandKernel final : public PlannedCopyKernel {
 public:
  explicit ExpandKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& out = ctx.outputs[0].shape;
    steps_ = {
        {0, 0,
         plan_copy(out, broadcast_strides(ctx.inputs[0].shape, out), contiguous_strides(out))}};
    return 0;
  }
};

class SliceKernel final : public PlannedCopyKernel {
 public:
  explicit SliceKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& in = ctx.inputs[0].shape;
    auto rank = static_cast<int64_t>(in.size());
    std::vector<int64_t> starts = constant_ints(ctx, 1, "starts");
    std::vector<int64_t> ends = constant_ints(ctx, 2, "ends");
    std::vector<int64_t> axes, steps;
    if (ctx.node.input(3)) {
      axes = constant_ints(ctx, 3, "axes");
    } else {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    if (ctx.node.input(4)) {
      steps = constant_ints(ctx, 4, "steps");
    } else {
      steps.assign(starts.size(), 1);
    }
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size()) {
      ctx.fail(ErrorCode::kInvalidArgument, "starts, ends, axes and steps differ in length");
    }
    std::vector<int64_t> in_strides = contiguous_strides(in), src = in_strides;
    int64_t base = 0;
    for (size_t k = 0; k < starts.size(); ++k) {
      auto a = static_cast<size_t>(normalize_axis(ctx, axes[k], rank));
      if (steps[k] == 0) ctx.fail(ErrorCode::kInvalidArgument, "Slice step cannot be 0");
      ir::SliceRange r = ir::slice_range(in[a], starts[k], ends[k], steps[k]);
      base += r.start * in_strides[a];
      src[a] = in_strides[a] * r.step;
    }
    const Shape& out = ctx.outputs[0].shape;
    steps_ = {{0, 0, plan_copy(out, src, contiguous_strides(out), base)}};
    return 0;
  }
};

class ConcatKernel final : public PlannedCopyKernel {
 public:
  explicit ConcatKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& out = ctx.outputs[0].shape;
    auto axis = static_cast<size_t>(
        normalize_axis(ctx, ctx.node.attrs.get_int("axis"), static_cast<int64_t>(out.size())));
    std::vector<int64_t> out_strides = contiguous_strides(out);
    int64_t at = 0;
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      const Shape& in = ctx.inputs[i].shape;
      if (shape_numel(in) > 0) {
        steps_.push_back(
            {i, 0, plan_copy(in, contiguous_strides(in), out_strides, 0, at * out_strides[axis])});
      }
      at += in.size() > axis ? in[axis] : 0;
    }
    return 0;
  }
};

class SplitKernel final : public PlannedCopyKernel {
 public:
  explicit SplitKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& in = ctx.inputs[0].shape;
    auto axis = static_cast<size_t>(
        normalize_axis(ctx, ctx.node.attrs.get_int("axis", 0), static_cast<int64_t>(in.size())));
    std::vector<int64_t> in_strides = contiguous_strides(in);
    int64_t at = 0;
    for (size_t o = 0; o < ctx.outputs.size(); ++o) {
      if (!ctx.node.output(o)) continue;
      const Shape& out = ctx.outputs[o].shape;
      steps_.push_back(
          {0, o, plan_copy(out, in_strides, contiguous_strides(out), at * in_strides[axis])});
      at += out[axis];
    }
    return 0;
  }
};

// DepthToSpace / SpaceToDepth as a 6-D copy over [N, C, H, b, W, b] (the space tensor's order).
template <bool kToSpace>
class BlockRearrangeKernel final : public PlannedCopyKernel {
 public:
  explicit BlockRearrangeKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    int64_t b = ctx.node.attrs.get_int("blocksize");
    bool dcr = ctx.node.attrs.get_string("mode", "DCR") == "DCR";
    const Shape& space = kToSpace ? ctx.outputs[0].shape : ctx.inputs[0].shape;
    if (space.size() != 4 || b <= 0) {
      ctx.fail(ErrorCode::kInvalidArgument, "needs a 4-D tensor and a positive blocksize");
    }
    int64_t n = space[0], c = space[1], h = space[2] / b, w = space[3] / b;
    Shape iter{n, c, h, b, w, b};
    std::vector<int64_t> depth{
        c * b * b * h * w,      dcr ? h * w : b * b * h * w, w, dcr ? b * c * h * w : b * h * w, 1,
        dcr ? c * h * w : h * w};
    std::vector<int64_t> space_strides = contiguous_strides(iter);
    steps_ = {
        {0, 0,
         kToSpace ? plan_copy(iter, depth, space_strides) : plan_copy(iter, space_strides, depth)}};
    return 0;
  }
};

}  // namespace

void register_shape_kernels(CudaKernelRegistry& r) {
  r.add("Transpose", make_kernel<TransposeKernel>);
  r.add("Expand", make_kernel<ExpandKernel>);
  r.add("Slice", make_kernel<SliceKernel>);
  r.add("Concat", make_kernel<ConcatKernel>);
  r.add("Split", make_kernel<SplitKernel>);
  r.add("DepthToSpace", make_kernel<BlockRearrangeKernel<true>>);
  r.add("SpaceToDepth", make_kernel<BlockRearrangeKernel<false>>);
}

}  // namespace kiln::cuda
