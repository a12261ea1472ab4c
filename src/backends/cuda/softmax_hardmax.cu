// CUDA Hardmax of the softmax family: one block per row (row_select.cuh) marks the first maximum
// (the first NaN, if any) with 1 and the rest of the row with 0.
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/row_launch.hpp"
#include "backends/cuda/row_select.cuh"

namespace kiln::cuda {
namespace {

// Hardmax: 1 at the first maximum of the row, the first NaN if the row holds one (numpy's argmax,
// as on the CPU), 0 elsewhere.
template <typename T>
__global__ void hardmax_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t n,
                               int64_t inner) {
  using A = compute_t<T>;
  __shared__ A sv[kMaxRowBlock];
  __shared__ int64_t si[kMaxRowBlock];
  auto first = [](A va, int64_t ia, A vb, int64_t ib) {
    return comes_before(va, ia, vb, ib, /*largest=*/true);
  };
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t o = r / inner, c = r % inner;
    const T* row = x + o * n * inner + c;
    T* out = y + o * n * inner + c;
    A best_v{};
    int64_t best_i = -1;
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
      A v = load(row[e * inner]);
      if (first(v, e, best_v, best_i)) {
        best_v = v;
        best_i = e;
      }
    }
    block_select(sv, si, best_v, best_i, first);
    int64_t arg = si[0];
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
      out[e * inner] = store<T>(A(e == arg ? 1 : 0));
    }
  }
}

class HardmaxKernel final : public CudaKernel {
 public:
  explicit HardmaxKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& s = ctx.inputs[0].shape;
    DataType t = ctx.inputs[0].dtype;
    if (t != DataType::kFloat32 && t != DataType::kFloat64 && t != DataType::kFloat16 &&
        t != DataType::kBFloat16) {
      fail_dtype(ctx, 0, t);
    }
    auto rank = static_cast<int64_t>(s.size());
    n_ = 1;
    inner_ = 1;
    if (rank > 0) {
      auto axis = static_cast<size_t>(norm_axis(ctx, ctx.node.attrs.get_int("axis", -1), rank));
      bool coerce = ctx.node.attrs.get_int("coerce_2d", 0) != 0;
      n_ = s[axis];
      for (size_t d = axis + 1; d < s.size(); ++d) (coerce ? n_ : inner_) *= s[d];
    }
    int64_t total = shape_numel(s);
    rows_ = n_ == 0 ? 0 : total / n_;
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    if (rows_ == 0) return;
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (is_float_v<T>) {
        hardmax_kernel<<<row_grid(rows_), row_block_size(n_), 0, ctx.stream>>>(
            ctx.inputs[0].as<const T>(), ctx.outputs[0].as<T>(), rows_, n_, inner_);
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  int64_t rows_ = 0, n_ = 1, inner_ = 1;
};

}  // namespace

void register_softmax_hardmax_kernels(CudaKernelRegistry& r) {
  r.add("Hardmax", make_kernel<HardmaxKernel>);
}

}  // namespace kiln::cuda
