// Broadcast copy into a library kernel's output: one thread per output element, grid-stride,
// 64-bit indices; elements moved as raw words of their size.
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/output_prefill.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

template <typename Word>
__global__ void prefill_kernel(Word* out, const Word* src, int64_t d1, int64_t d2, int64_t s0,
                               int64_t s1, int64_t s2, int64_t total) {
  int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    int64_t i2 = i % d2;
    int64_t rest = i / d2;
    int64_t i1 = rest % d1;
    int64_t i0 = rest / d1;
    out[i] = src[i0 * s0 + i1 * s1 + i2 * s2];
  }
}

template <typename Word>
void launch(void* out, const void* src, const std::array<int64_t, 3>& d,
            const std::array<int64_t, 3>& s, cudaStream_t stream) {
  int64_t total = d[0] * d[1] * d[2];
  if (total <= 0) return;
  constexpr int kThreads = 256;
  int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, int64_t{1} << 16);
  prefill_kernel<Word><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      static_cast<Word*>(out), static_cast<const Word*>(src), d[1], d[2], s[0], s[1], s[2], total);
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void prefill_output(void* out, const void* src, size_t element_size,
                    const std::array<int64_t, 3>& dims, const std::array<int64_t, 3>& src_strides,
                    cudaStream_t stream) {
  switch (element_size) {
    case 1:
      return launch<uint8_t>(out, src, dims, src_strides, stream);
    case 2:
      return launch<uint16_t>(out, src, dims, src_strides, stream);
    case 4:
      return launch<uint32_t>(out, src, dims, src_strides, stream);
    case 8:
      return launch<uint64_t>(out, src, dims, src_strides, stream);
    default:
      fail(ErrorCode::kInternal, "prefill_output: unsupported element size ", element_size);
  }
}

}  // namespace kiln::cuda
