// CUDA TopK of the reduction family: per-row selection along one axis, one block per row
// (row_select.cuh). TopK picks its k elements in k rounds, each a block-wide search for the
// element that comes next in the order (value, then lower index on ties; NaN ranks above every
// number, as on the CPU), so it needs no workspace and matches the CPU's tie-breaking exactly.
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/row_launch.hpp"
#include "backends/cuda/row_select.cuh"
#include "ir/nan_minmax.hpp"

namespace kiln::cuda {
namespace {

// Row r = (o, c) holds n values `inner` apart; outputs hold k per row at the same stride.
template <typename T>
__global__ void topk_kernel(const T* __restrict__ x, T* __restrict__ values,
                            int64_t* __restrict__ indices, int64_t rows, int64_t n, int64_t inner,
                            int64_t k, bool largest) {
  using A = compute_t<T>;
  __shared__ A sv[kMaxRowBlock];
  __shared__ int64_t si[kMaxRowBlock];
  auto first = [largest](A va, int64_t ia, A vb, int64_t ib) {
    return comes_before(va, ia, vb, ib, largest);
  };
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int64_t o = r / inner, c = r % inner;
    const T* row = x + o * n * inner + c;
    A prev_v{};
    int64_t prev_i = -1;  // the element picked last round: this round picks the next one
    for (int64_t j = 0; j < k; ++j) {
      A best_v{};
      int64_t best_i = -1;
      for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
        A v = load(row[e * inner]);
        if (prev_i >= 0 && !comes_before(prev_v, prev_i, v, e, largest)) continue;
        if (comes_before(v, e, best_v, best_i, largest)) {
          best_v = v;
          best_i = e;
        }
      }
      block_select(sv, si, best_v, best_i, first);
      prev_v = sv[0];
      prev_i = si[0];
      if (threadIdx.x == 0 && prev_i >= 0) {
        int64_t dst = (o * k + j) * inner + c;
        values[dst] = row[prev_i * inner];
        indices[dst] = prev_i;
      }
    }
  }
}

class TopKKernel final : public CudaKernel {
 public:
  explicit TopKKernel(const ir::Node&) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    const Shape& s = ctx.inputs[0].shape;
    auto rank = static_cast<int64_t>(s.size());
    if (rank == 0) ctx.fail(ErrorCode::kInvalidArgument, "TopK needs an input of rank >= 1");
    auto axis = static_cast<size_t>(norm_axis(ctx, ctx.node.attrs.get_int("axis", -1), rank));
    largest_ = ctx.node.attrs.get_int("largest", 1) != 0;
    n_ = s[axis];
    k_ = ctx.outputs[0].shape.at(axis);  // static shapes: inference read k from its input
    if (const Tensor* kt = ctx.constant_input(1);
        kt && kt->numel() == 1 && kt->dtype() == DataType::kInt64 && kt->data<int64_t>()[0] != k_) {
      ctx.fail(ErrorCode::kInternal, "k is ", kt->data<int64_t>()[0], " but the output holds ", k_);
    }
    if (k_ < 0 || k_ > n_) {
      ctx.fail(ErrorCode::kInvalidArgument, "k = ", k_, " is out of range for an axis of size ",
               n_);
    }
    if (ctx.outputs[1].dtype != DataType::kInt64) {
      ctx.fail(ErrorCode::kInternal, "TopK indices must be int64");
    }
    inner_ = 1;
    for (size_t d = axis + 1; d < s.size(); ++d) inner_ *= s[d];
    rows_ = shape_numel(s) / (n_ == 0 ? 1 : n_);
    if (n_ == 0) rows_ = 0;
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    if (rows_ == 0 || k_ == 0) return;
    visit_device_dtype(ctx.inputs[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      topk_kernel<<<row_grid(rows_), row_block_size(n_), 0, ctx.stream>>>(
          ctx.inputs[0].as<const T>(), ctx.outputs[0].as<T>(), ctx.outputs[1].as<int64_t>(), rows_,
          n_, inner_, k_, largest_);
      KILN_CUDA_CHECK(cudaGetLastError());
    });
  }

 private:
  int64_t rows_ = 0, n_ = 0, inner_ = 1, k_ = 0;
  bool largest_ = true;
};

}  // namespace

void register_reduction_topk_kernels(CudaKernelRegistry& r) {
  r.add("TopK", make_kernel<TopKKernel>);
}

}  // namespace kiln::cuda
