// CUDA kernels of Cast and CastLike between every pair of kiln types, with the CPU backend's rules:
// float to integer truncates (NaN gives 0, out-of-range saturates), integer narrowing wraps,
// anything to bool is "nonzero", fp8 saturates or not per `saturate`, and conversions to fp16/bf16/
// fp8 from wider types round once (through a round-to-odd float). Each thread converts a pack of
// elements with one vector load and store where both buffers are aligned to their pack sizes.
#include <algorithm>
#include <cstdint>

#include "backends/cuda/elementwise_map.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"

namespace kiln::cuda {
namespace {

// double -> float rounding toward zero with the last bit set when inexact, so a second rounding
// to a narrower float equals the direct, correctly rounded conversion.
__device__ __forceinline__ float to_float_round_odd(double d) {
  float f = static_cast<float>(d);
  if (!isfinite(f) || static_cast<double>(f) == d) return f;
  if (fabs(static_cast<double>(f)) > fabs(d)) f = nextafterf(f, 0.0f);
  return __uint_as_float(__float_as_uint(f) | 1u);
}

template <typename T>
__device__ __forceinline__ auto widen(T v) {
  if constexpr (is_reduced_float_v<T>) {
    return static_cast<float>(v);
  } else {
    return v;
  }
}

template <typename From, typename To>
__device__ __forceinline__ To convert(From v, bool saturate) {
  if constexpr (std::is_same_v<From, To>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return widen(v) != 0;  // NaN is nonzero
  } else if constexpr (std::is_same_v<From, bool>) {
    if constexpr (is_reduced_float_v<To>) {
      return To(v ? 1.0f : 0.0f);
    } else {
      return static_cast<To>(v ? 1 : 0);
    }
  } else if constexpr (is_int_v<To>) {
    if constexpr (is_int_v<From>) {
      return static_cast<To>(v);
    } else {
      return float_to_int<To>(widen(v));
    }
  } else if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(widen(v));
  } else {
    float f;
    if constexpr (std::is_same_v<From, double> || (is_int_v<From> && sizeof(From) >= 4)) {
      f = to_float_round_odd(static_cast<double>(v));
    } else {
      f = static_cast<float>(widen(v));
    }
    if constexpr (std::is_same_v<To, fp8_t>) {
      To out;
      out.__x = __nv_cvt_float_to_fp8(f, saturate ? __NV_SATFINITE : __NV_NOSAT, __NV_E4M3);
      return out;
    } else {
      return To(f);
    }
  }
}

template <typename From, typename To>
__global__ void cast_kernel(const From* __restrict__ x, To* __restrict__ y, int64_t n,
                            bool saturate) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    y[i] = convert<From, To>(x[i], saturate);
  }
}

// K elements moved as one aligned access (K * sizeof(T) is 2, 4, 8 or 16 bytes).
template <typename T, int K>
struct alignas(sizeof(T) * K) Pack {
  T v[K];
};

// Elements per pack: as many as keep both the load and the store within 16 bytes.
template <typename From, typename To>
constexpr int kCastPack = static_cast<int>(16 / std::max(sizeof(From), sizeof(To)));

// The first n / K * K elements in packs of K; the few left over go element by element.
template <typename From, typename To, int K>
__global__ void cast_packed_kernel(const From* __restrict__ x, To* __restrict__ y, int64_t n,
                                   bool saturate) {
  const int64_t packs = n / K;
  const auto* xp = reinterpret_cast<const Pack<From, K>*>(x);
  auto* yp = reinterpret_cast<Pack<To, K>*>(y);
  for (int64_t i = global_index(); i < packs; i += global_stride()) {
    const Pack<From, K> in = xp[i];
    Pack<To, K> out;
#pragma unroll
    for (int k = 0; k < K; ++k) out.v[k] = convert<From, To>(in.v[k], saturate);
    yp[i] = out;
  }
  for (int64_t i = packs * K + global_index(); i < n; i += global_stride()) {
    y[i] = convert<From, To>(x[i], saturate);
  }
}

template <typename From, typename To>
void launch_cast(const void* x, void* y, int64_t n, bool saturate, cudaStream_t stream) {
  constexpr int K = kCastPack<From, To>;
  const auto aligned = [](const void* p, size_t bytes) {
    return reinterpret_cast<uintptr_t>(p) % bytes == 0;
  };
  if constexpr (K > 1) {
    if (n >= K && aligned(x, sizeof(From) * K) && aligned(y, sizeof(To) * K)) {
      cast_packed_kernel<From, To, K><<<grid_for(n / K), kBlockSize, 0, stream>>>(
          static_cast<const From*>(x), static_cast<To*>(y), n, saturate);
      KILN_CUDA_CHECK(cudaGetLastError());
      return;
    }
  }
  cast_kernel<<<grid_for(n), kBlockSize, 0, stream>>>(static_cast<const From*>(x),
                                                      static_cast<To*>(y), n, saturate);
  KILN_CUDA_CHECK(cudaGetLastError());
}

class CastKernel final : public CudaKernel {
 public:
  explicit CastKernel(const ir::Node& node) : saturate_(node.attrs.get_int("saturate", 1) != 0) {}
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    const DeviceTensor& y = ctx.outputs[0];
    int64_t n = x.numel();
    if (n == 0) return;
    if (x.dtype == y.dtype) {
      KILN_CUDA_CHECK(
          cudaMemcpyAsync(y.data, x.data, x.nbytes(), cudaMemcpyDeviceToDevice, ctx.stream));
      return;
    }
    visit_device_dtype(x.dtype, [&](auto from_tag) {
      using From = decltype(from_tag);
      visit_device_dtype(y.dtype, [&](auto to_tag) {
        using To = decltype(to_tag);
        launch_cast<From, To>(x.data, y.data, n, saturate_, ctx.stream);
      });
    });
  }

 private:
  bool saturate_;
};

}  // namespace

void register_elementwise_cast_kernels(CudaKernelRegistry& r) {
  r.add("Cast", make_kernel<CastKernel>);
  r.add("CastLike", make_kernel<CastKernel>);
}

}  // namespace kiln::cuda
