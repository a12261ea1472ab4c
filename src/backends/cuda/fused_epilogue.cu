// The fused-layer epilogue kernel: one thread per output element (grid-stride, 64-bit indices),
// the bias gathered through broadcast strides, the residual read at the element's own position.
#include <cstdint>
#include <type_traits>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/fused_epilogue.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

struct EpilogueArgs {
  int rank;
  int64_t dims[EpilogueLaunch::kMaxRank];
  int64_t bias_strides[EpilogueLaunch::kMaxRank];
  int64_t total;
  bool residual_before;
  device::ActivationParams act;
};

template <typename T>
__global__ void epilogue_kernel(T* y, const T* bias, const T* residual, EpilogueArgs args) {
  using C = device::compute_t<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < args.total;
       i += step) {
    C v = device::load(y[i]);
    if (bias) {
      int64_t rem = i, offset = 0;
      for (int d = args.rank - 1; d >= 0; --d) {
        offset += (rem % args.dims[d]) * args.bias_strides[d];
        rem /= args.dims[d];
      }
      v += device::load(bias[offset]);
    }
    if (residual && args.residual_before) v += device::load(residual[i]);
    v = device::apply_activation(args.act, v);
    if (residual && !args.residual_before) v += device::load(residual[i]);
    y[i] = device::store<T>(v);
  }
}

// The common case, a bias along the innermost dim (a MatMul's bias row, an NHWC conv's channels)
// or none: no per-element index decoding, and kVec neighbours per thread through one 16-byte
// access where alignment allows.
template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

// kAct >= 0 fixes the activation at compile time (the common ones: no runtime switch per element,
// which made the GELU epilogue of a transformer MLP compute-bound); -1 reads it from `act`.
template <typename T, int kVec, int kAct>
__global__ void row_epilogue_kernel(T* y, const T* bias, const T* residual, int64_t total,
                                    int64_t row, bool residual_before,
                                    device::ActivationParams act) {
  using C = device::compute_t<T>;
  const int64_t packs = total / kVec;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < packs;
       p += step) {
    const int64_t i = p * kVec;
    Pack<T, kVec> out = *reinterpret_cast<const Pack<T, kVec>*>(y + i);
    Pack<T, kVec> res{}, b{};
    if (residual) res = *reinterpret_cast<const Pack<T, kVec>*>(residual + i);
    // A pack never straddles rows (row % kVec == 0), so its bias values are one pack too.
    if (bias) b = *reinterpret_cast<const Pack<T, kVec>*>(bias + i % row);
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      C v = device::load(out.v[k]);
      if (bias) v += device::load(b.v[k]);
      if (residual && residual_before) v += device::load(res.v[k]);
      if constexpr (kAct >= 0) {
        v = ir::activation_value(static_cast<ir::ActivationKind>(kAct), C(act.alpha), C(act.beta),
                                 v);
      } else {
        v = device::apply_activation(act, v);
      }
      if (residual && !residual_before) v += device::load(res.v[k]);
      out.v[k] = device::store<T>(v);
    }
    *reinterpret_cast<Pack<T, kVec>*>(y + i) = out;
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Launches the row kernel when the epilogue has that shape; false otherwise.
template <typename T>
bool launch_row(const EpilogueLaunch& e, const EpilogueArgs& args, cudaStream_t stream) {
  const int r = args.rank;
  const bool row_bias =
      r >= 1 && args.bias_strides[r - 1] == 1 && (r == 1 || (r == 2 && args.bias_strides[0] == 0));
  if (e.bias && !row_bias) return false;
  const int64_t row = e.bias ? args.dims[r - 1] : 1;
  constexpr int kWide = 16 / sizeof(T) > 0 ? static_cast<int>(16 / sizeof(T)) : 1;
  const bool wide = kWide > 1 && args.total % kWide == 0 && (!e.bias || row % kWide == 0) &&
                    aligned16(e.y) && (!e.residual || aligned16(e.residual)) &&
                    (!e.bias || aligned16(e.bias));
  constexpr int kThreads = 256;
  auto launch = [&](auto vec, auto act) {
    constexpr int kVec = decltype(vec)::value;
    int64_t packs = args.total / kVec;
    int64_t blocks = std::min<int64_t>((packs + kThreads - 1) / kThreads, int64_t{1} << 20);
    row_epilogue_kernel<T, kVec, decltype(act)::value>
        <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
            static_cast<T*>(e.y), static_cast<const T*>(e.bias), static_cast<const T*>(e.residual),
            args.total, row, args.residual_before, args.act);
  };
  auto with_act = [&](auto vec) {
    using K = ir::ActivationKind;
    auto fixed = [](K k) { return static_cast<int>(k); };
    switch (static_cast<K>(args.act.kind)) {
      case K::kNone:
        return launch(vec, std::integral_constant<int, fixed(K::kNone)>{});
      case K::kRelu:
        return launch(vec, std::integral_constant<int, fixed(K::kRelu)>{});
      case K::kGelu:
        return launch(vec, std::integral_constant<int, fixed(K::kGelu)>{});
      case K::kGeluTanh:
        return launch(vec, std::integral_constant<int, fixed(K::kGeluTanh)>{});
      default:
        return launch(vec, std::integral_constant<int, -1>{});
    }
  };
  if (wide) {
    with_act(std::integral_constant<int, kWide>{});
  } else {
    with_act(std::integral_constant<int, 1>{});
  }
  KILN_CUDA_CHECK(cudaGetLastError());
  return true;
}

template <typename T>
void launch_typed(const EpilogueLaunch& e, const EpilogueArgs& args, cudaStream_t stream) {
  if (launch_row<T>(e, args, stream)) return;
  constexpr int kThreads = 256;
  int64_t blocks = std::min<int64_t>((args.total + kThreads - 1) / kThreads, int64_t{1} << 20);
  epilogue_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      static_cast<T*>(e.y), static_cast<const T*>(e.bias), static_cast<const T*>(e.residual), args);
  KILN_CUDA_CHECK(cudaGetLastError());
}

}  // namespace

int64_t EpilogueLaunch::numel() const {
  int64_t n = 1;
  for (int d = 0; d < rank; ++d) n *= dims[static_cast<size_t>(d)];
  return n;
}

void collapse_epilogue_dims(EpilogueLaunch& e, const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& bias_strides) {
  std::vector<int64_t> d_out, s_out;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    int64_t s = i < bias_strides.size() ? bias_strides[i] : 0;
    // Merge into the previous (outer) dim when the bias continues evenly across the two.
    if (!d_out.empty() && s_out.back() == s * dims[i]) {
      d_out.back() *= dims[i];
      s_out.back() = s;
      continue;
    }
    d_out.push_back(dims[i]);
    s_out.push_back(s);
  }
  if (d_out.empty()) {
    d_out.push_back(1);
    s_out.push_back(0);
  }
  if (d_out.size() > EpilogueLaunch::kMaxRank) {
    fail(ErrorCode::kUnsupported, "a fused epilogue over ", d_out.size(),
         " non-mergeable dims (the CUDA kernel takes ", EpilogueLaunch::kMaxRank, ")");
  }
  e.rank = static_cast<int>(d_out.size());
  for (size_t i = 0; i < d_out.size(); ++i) {
    e.dims[i] = d_out[i];
    e.bias_strides[i] = s_out[i];
  }
}

void launch_epilogue(const EpilogueLaunch& e, cudaStream_t stream) {
  EpilogueArgs args{};
  args.rank = e.rank;
  for (int d = 0; d < e.rank; ++d) {
    args.dims[d] = e.dims[static_cast<size_t>(d)];
    args.bias_strides[d] = e.bias_strides[static_cast<size_t>(d)];
  }
  args.total = e.numel();
  args.residual_before = e.residual_before_activation;
  args.act = device::to_params(e.act);
  if (args.total <= 0 || e.empty()) return;
  switch (e.dtype) {
    case DataType::kFloat32:
      return launch_typed<float>(e, args, stream);
    case DataType::kFloat16:
      return launch_typed<__half>(e, args, stream);
    case DataType::kBFloat16:
      return launch_typed<__nv_bfloat16>(e, args, stream);
    case DataType::kFloat64:
      return launch_typed<double>(e, args, stream);
    default:
      fail(ErrorCode::kUnsupported, "the fused epilogue kernel takes float types, not ",
           to_string(e.dtype));
  }
}

}  // namespace kiln::cuda
