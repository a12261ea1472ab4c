// CUDA kernel of Rearrange (ir/ops/rearrange.hpp): one thread per output element splits its index
// into the row, the column and the source's virtual dims with multiply-shift divisions, reads one
// element and converts it; the padding columns are written as zeros.
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/int_divider.cuh"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "ir/ops/rearrange.hpp"

namespace kiln::cuda {
namespace {

constexpr int kMaxDims = 8;

struct RearrangeParams {
  IntDivider size[kMaxDims];
  int64_t stride[kMaxDims] = {};
  int dims = 0;
  IntDivider width;  // output row length, padding included
  uint32_t row = 0;  // valid elements per row
  uint32_t total = 0;
};

template <typename From, typename To>
__global__ void rearrange_kernel(const From* __restrict__ src, To* __restrict__ dst,
                                 RearrangeParams p) {
  for (uint32_t o = blockIdx.x * blockDim.x + threadIdx.x; o < p.total;
       o += gridDim.x * blockDim.x) {
    const uint32_t r = p.width.div(o);
    const uint32_t c = o - r * p.width.divisor;
    if (c >= p.row) {
      dst[o] = To(0.0f);
      continue;
    }
    uint32_t v = r * p.row + c;
    int64_t offset = 0;
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d >= p.dims) continue;
      const uint32_t q = p.size[d].div(v);
      offset += static_cast<int64_t>(v - q * p.size[d].divisor) * p.stride[d];
      v = q;
    }
    dst[o] = To(static_cast<float>(src[offset]));
  }
}

template <typename F>
void visit_rearranged_type(const CudaKernelContext& ctx, size_t io, DataType t, F&& f) {
  switch (t) {
    case DataType::kFloat32:
      return f(float{});
    case DataType::kFloat16:
      return f(half_t{});
    case DataType::kBFloat16:
      return f(bf16_t{});
    default:
      fail_dtype(ctx, io, t);
  }
}

class RearrangeKernel final : public CudaKernel {
 public:
  explicit RearrangeKernel(const ir::Node&) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    ir::RearrangeSpec s = ir::read_rearrange_spec(
        ctx.node, shape_numel(x.shape), x.dtype,
        [&](const std::string& m) { ctx.fail(ErrorCode::kInvalidArgument, m); });
    const int64_t total = shape_numel(ctx.outputs[0].shape);
    if (total >= (int64_t{1} << 31)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel takes fewer than 2^31 output elements");
    }
    p_ = RearrangeParams{};
    p_.dims = static_cast<int>(s.sizes.size());
    for (size_t d = 0; d < s.sizes.size(); ++d) {
      p_.size[d] = IntDivider(s.sizes[d]);
      p_.stride[d] = s.strides[d];
    }
    p_.width = IntDivider(std::max<int64_t>(s.shape.back(), 1));
    p_.row = static_cast<uint32_t>(s.shape.back() - s.pad);
    p_.total = static_cast<uint32_t>(total);
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (p_.total == 0) return;
    visit_rearranged_type(ctx, 0, ctx.inputs[0].dtype, [&](auto from_tag) {
      using From = decltype(from_tag);
      visit_rearranged_type(ctx, 0, ctx.outputs[0].dtype, [&](auto to_tag) {
        using To = decltype(to_tag);
        rearrange_kernel<From, To><<<grid_for(p_.total), kBlockSize, 0, ctx.stream>>>(
            static_cast<const From*>(ctx.inputs[0].data), static_cast<To*>(ctx.outputs[0].data),
            p_);
      });
    });
  }

 private:
  RearrangeParams p_;
};

}  // namespace

void register_shape_rearrange_kernels(CudaKernelRegistry& r) {
  r.add("Rearrange", make_kernel<RearrangeKernel>);
}

}  // namespace kiln::cuda
