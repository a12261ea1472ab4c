// CPU kernel of Rearrange (ir/ops/rearrange.hpp): the reference the CUDA kernel is tested against.
#include "ir/ops/rearrange.hpp"

#include "backends/cpu/elementwise_kernels.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/shape_kernels.hpp"

namespace kiln::cpu {
namespace {

void rearrange(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ir::RearrangeSpec s = ir::read_rearrange_spec(
      ctx.node, x.numel(), x.dtype(),
      [&](const std::string& m) { ctx.fail(ErrorCode::kInvalidArgument, m); });
  Tensor& y = ctx.output(0);
  const int64_t width = s.shape.back(), row = width - s.pad;
  const int64_t rows = width ? y.numel() / width : 0;
  const size_t dims = s.sizes.size();
  visit_dtype(x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    visit_dtype(y.dtype(), [&](auto to_tag) {
      using To = decltype(to_tag);
      if constexpr (is_float_v<From> && is_float_v<To>) {
        const From* src = x.data<From>();
        To* dst = y.data<To>();
#pragma omp parallel for if (rows * width >= kParallelMinElements)
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < width; ++c) {
            if (c >= row) {
              dst[r * width + c] = To(0.0f);
              continue;
            }
            int64_t v = r * row + c, offset = 0;  // the valid element's index, then its source
            for (size_t d = dims; d-- > 0;) {
              offset += v % s.sizes[d] * s.strides[d];
              v /= s.sizes[d];
            }
            dst[r * width + c] = To(static_cast<float>(src[offset]));
          }
        }
      }
    });
  });
}

}  // namespace

void register_shape_rearrange_kernels(CpuKernelRegistry& r) {
  r.add("Rearrange", rearrange);
}

}  // namespace kiln::cpu
