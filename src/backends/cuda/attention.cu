// The fused attention kernel. A block is kWarps warps; each warp owns kRowsPerWarp query rows.
// Per tile of kKeys keys: the block stages K (rows padded by one element against bank conflicts)
// and V in shared memory; lane j scores key j against each of its warp's rows, the warp reduces
// the tile's max and sum with shuffles, rescales its accumulators (online softmax) and adds p_j V_j
// with lane t owning output columns t, t + 32, ... Scores are rounded to the element type after
// the product, the scaling and the mask add, as the unfused layers store them.
#include <string>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/attention_offsets.cuh"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_math.cuh"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 4;
constexpr int kRows = kWarps * kRowsPerWarp;
constexpr int kKeys = 32;
constexpr int kColsPerLane = static_cast<int>(kAttentionMaxValueDim / 32);

template <typename C>
__device__ C warp_max(C v) {
  for (int o = 16; o > 0; o /= 2) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <typename C>
__device__ C warp_sum(C v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename T>
__global__ void __launch_bounds__(kWarps * 32) attention_kernel(AttentionArgs a) {
  using C = device::compute_t<T>;
  extern __shared__ unsigned char shared_raw[];
  C* qs = reinterpret_cast<C*>(shared_raw);  // [kRows][d]
  C* ks = qs + kRows * a.d;                  // [kKeys][d + 1]
  C* vs = ks + kKeys * (a.d + 1);            // [kKeys][dv]

  const int64_t tiles = (a.sq + kRows - 1) / kRows;
  const int64_t b = blockIdx.x / tiles;
  const int64_t row0 = (blockIdx.x % tiles) * kRows;
  const AttentionOffsets off = attention_offsets(a, b);
  const int64_t qo = off.q, ko = off.k, vo = off.v, mo = off.mask, yo = off.y;
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const T* v = static_cast<const T*>(a.v);
  const T* mask = static_cast<const T*>(a.mask);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

  for (int64_t e = tid; e < kRows * a.d; e += blockDim.x) {
    const int64_t r = e / a.d, t = e % a.d, row = row0 + r;
    qs[e] = row < a.sq ? device::load(q[qo + row * a.q_row + t * a.q_col]) : C(0);
  }

  const C kNegInf = -C(INFINITY);
  C m[kRowsPerWarp], l[kRowsPerWarp], acc[kRowsPerWarp][kColsPerLane];
  for (int i = 0; i < kRowsPerWarp; ++i) {
    m[i] = kNegInf;
    l[i] = C(0);
    for (int c = 0; c < kColsPerLane; ++c) acc[i][c] = C(0);
  }
  const C scale = C(a.scale);

  for (int64_t j0 = 0; j0 < a.sk; j0 += kKeys) {
    const int keys = a.sk - j0 < kKeys ? static_cast<int>(a.sk - j0) : kKeys;
    __syncthreads();  // the previous tile is consumed (and, the first time, Q is staged)
    for (int64_t e = tid; e < kKeys * a.d; e += blockDim.x) {
      const int64_t j = e / a.d, t = e % a.d;
      ks[j * (a.d + 1) + t] =
          j < keys ? device::load(k[ko + (j0 + j) * a.k_row + t * a.k_col]) : C(0);
    }
    for (int64_t e = tid; e < kKeys * a.dv; e += blockDim.x) {
      const int64_t j = e / a.dv, t = e % a.dv;
      vs[e] = j < keys ? device::load(v[vo + (j0 + j) * a.v_row + t * a.v_col]) : C(0);
    }
    __syncthreads();

    for (int i = 0; i < kRowsPerWarp; ++i) {
      const int r = warp * kRowsPerWarp + i;
      const int64_t row = row0 + r;
      C s = kNegInf;
      if (lane < keys && row < a.sq) {
        C dot = 0;
        const C* qr = qs + r * a.d;
        const C* kr = ks + lane * (a.d + 1);
        for (int64_t t = 0; t < a.d; ++t) dot += qr[t] * kr[t];
        s = device::round_to<T>(device::round_to<T>(dot) * scale);
        if (mask) {
          s = device::round_to<T>(s +
                                  device::load(mask[mo + row * a.m_row + (j0 + lane) * a.m_col]));
        }
      }
      const C m_new = max(m[i], warp_max(s));
      // exp(-inf - -inf) is NaN: a row with no finite score yet contributes nothing.
      const C correction = m_new == kNegInf ? C(0) : exp(m[i] - m_new);
      const C p = m_new == kNegInf ? C(0) : exp(s - m_new);
      l[i] = l[i] * correction + warp_sum(p);
      for (int c = 0; c < kColsPerLane; ++c) acc[i][c] *= correction;
      for (int j = 0; j < keys; ++j) {
        const C pj = __shfl_sync(0xffffffffu, p, j);
        for (int c = 0; c < kColsPerLane; ++c) {
          const int64_t t = lane + 32 * c;
          if (t < a.dv) acc[i][c] += pj * vs[j * a.dv + t];
        }
      }
      m[i] = m_new;
    }
  }

  T* y = static_cast<T*>(a.y);
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t row = row0 + warp * kRowsPerWarp + i;
    if (row >= a.sq) continue;
    // No finite score (every key masked with -inf): 0 / 0 = NaN, as the unfused softmax gives,
    // unless the NaN guard of PyTorch's exports (zero_nan_rows) maps those probabilities to 0.
    const bool zero = a.zero_nan_rows && !(l[i] > C(0));
    const C inv = C(1) / l[i];
    for (int c = 0; c < kColsPerLane; ++c) {
      const int64_t t = lane + 32 * c;
      if (t < a.dv)
        y[yo + row * a.y_row + t * a.y_col] = device::store<T>(zero ? C(0) : acc[i][c] * inv);
    }
  }
}

template <typename F>
auto with_kernel(DataType dtype, F f) {
  switch (dtype) {
    case DataType::kFloat32:
      return f(attention_kernel<float>);
    case DataType::kFloat16:
      return f(attention_kernel<__half>);
    case DataType::kBFloat16:
      return f(attention_kernel<__nv_bfloat16>);
    case DataType::kFloat64:
      return f(attention_kernel<double>);
    default:
      fail(ErrorCode::kUnsupported, "the attention kernel takes float types, not ",
           to_string(dtype));
  }
}

}  // namespace

size_t attention_shared_bytes(DataType dtype, int64_t d, int64_t dv) {
  size_t es = dtype == DataType::kFloat64 ? sizeof(double) : sizeof(float);
  return es * static_cast<size_t>(kRows * d + kKeys * (d + 1) + kKeys * dv);
}

void prepare_attention(DataType dtype, int64_t d, int64_t dv, int device, const std::string& what) {
  if (dv > kAttentionMaxValueDim) {
    fail(ErrorCode::kUnsupported, what, ": the CUDA attention kernel takes value heads of up to ",
         kAttentionMaxValueDim, ", not ", dv);
  }
  size_t bytes = attention_shared_bytes(dtype, d, dv);
  int limit = 0;
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (bytes > static_cast<size_t>(limit)) {
    fail(ErrorCode::kUnsupported, what, ": head sizes ", d, "/", dv, " need ", bytes,
         " bytes of shared memory per block; the device has ", limit);
  }
  with_kernel(dtype, [&](auto kernel) {
    KILN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(bytes)));
    return 0;
  });
}

void launch_attention(const AttentionArgs& args, DataType dtype, cudaStream_t stream) {
  const int64_t tiles = (args.sq + kRows - 1) / kRows;
  const int64_t blocks = tiles * args.batches;
  if (blocks == 0) return;
  if (blocks > 0x7fffffff) {
    fail(ErrorCode::kUnsupported, "attention over ", blocks,
         " query tiles is more than one launch ", "takes");
  }
  size_t bytes = attention_shared_bytes(dtype, args.d, args.dv);
  with_kernel(dtype, [&](auto kernel) {
    kernel<<<static_cast<unsigned>(blocks), kWarps * 32, bytes, stream>>>(args);
    KILN_CUDA_CHECK(cudaGetLastError());
    return 0;
  });
}

}  // namespace kiln::cuda
