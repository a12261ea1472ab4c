// CUDA Resize and Upsample with exactly the CPU reference's sampling: the per-axis taps (input
// offsets and weights of every output coordinate, from ir/ops/resize_taps) are computed on the
// host at prepare time into a small device table; one kernel combines the taps of every resized
// axis for each output element. Every mode (nearest, linear, cubic, antialiased filters),
// coordinate transformation, exclude_outside and extrapolation_value is supported.
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <optional>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "ir/ops/resize_taps.hpp"

namespace kiln::cuda {
namespace {

// Where each output axis finds its taps. n[d] == 0: the axis is not resampled (the output
// coordinate is the input coordinate).
struct ResizeDims {
  int rank = 0;
  int64_t out_sizes[kMaxDims] = {};
  int64_t in_strides[kMaxDims] = {};
  int n[kMaxDims] = {};
  int64_t tap_base[kMaxDims] = {};      // first tap of the axis in offsets/weights
  int64_t outside_base[kMaxDims] = {};  // first coordinate of the axis in outside
};

struct ResizeTables {
  const int64_t* offsets;  // input element offset of each tap (index * input stride)
  const double* weights;
  const uint8_t* outside;  // per output coordinate: takes extrapolation_value
};

// fp16/bf16/fp8 accumulate in float; the rest in double, as the reference (fp32 sums of 16 cubic
// taps would otherwise lose the last bits the CPU keeps).
template <typename T>
using resize_acc_t = std::conditional_t<is_reduced_float_v<T>, float, double>;

template <typename T>
__device__ __forceinline__ double finite_limit() {
  if constexpr (std::is_same_v<T, double>) return DBL_MAX;
  if constexpr (std::is_same_v<T, float>) return FLT_MAX;
  if constexpr (std::is_same_v<T, half_t>) return 65504.0;
  if constexpr (std::is_same_v<T, bf16_t>) return 3.3895313892515355e38;
  return 448.0;  // fp8 e4m3
}

// The reference's saturating conversion: integers round half to even and clamp, floats clamp to
// their finite range.
template <typename T, typename A>
__device__ __forceinline__ T saturate(A v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != A(0);
  } else if constexpr (is_int_v<T>) {
    if (v != v) return T{0};
    v = rint(v);
    if (v <= static_cast<A>(std::numeric_limits<T>::lowest()))
      return std::numeric_limits<T>::lowest();
    if (v >= static_cast<A>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  } else {
    const auto lim = static_cast<A>(finite_limit<T>());
    if (isfinite(v)) v = v < -lim ? -lim : (v > lim ? lim : v);  // infinities stay, as on the CPU
    if constexpr (is_reduced_float_v<T>) {
      return T(static_cast<float>(v));
    } else {
      return static_cast<T>(v);
    }
  }
}

// kPick: every resampled axis has one tap of weight 1 (nearest without exclude_outside), so the
// output copies an input element (exact for 64-bit integers, which double would round).
template <typename T, bool kPick>
__global__ void resize_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total,
                              ResizeDims dims, ResizeTables tab, double extrapolation,
                              bool keep_zero_weights) {
  using A = resize_acc_t<T>;
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    int64_t coord[kMaxDims];
    int64_t rest = i;
    for (int d = dims.rank - 1; d >= 0; --d) {
      coord[d] = rest % dims.out_sizes[d];
      rest /= dims.out_sizes[d];
    }
    int64_t base = 0;  // offset contributed by the axes that are not resampled
    bool outside = false;
    for (int d = 0; d < dims.rank; ++d) {
      if (dims.n[d] == 0) {
        base += coord[d] * dims.in_strides[d];
      } else {
        outside = outside || tab.outside[dims.outside_base[d] + coord[d]] != 0;
      }
    }
    if (outside) {
      y[i] = saturate<T>(static_cast<A>(extrapolation));
      continue;
    }
    if constexpr (kPick) {
      int64_t off = base;
      for (int d = 0; d < dims.rank; ++d) {
        if (dims.n[d] != 0) off += tab.offsets[dims.tap_base[d] + coord[d]];
      }
      if constexpr (is_int_v<T> || std::is_same_v<T, bool>) {
        y[i] = x[off];
      } else {
        y[i] = saturate<T>(static_cast<A>(load(x[off])));
      }
    } else {
      // Every combination of one tap per resampled axis; k counts through them.
      int k[kMaxDims] = {};
      A acc = 0;
      while (true) {
        A w = 1;
        int64_t off = base;
        for (int d = 0; d < dims.rank; ++d) {
          if (dims.n[d] == 0) continue;
          int64_t tap = dims.tap_base[d] + coord[d] * dims.n[d] + k[d];
          w *= static_cast<A>(tab.weights[tap]);
          off += tab.offsets[tap];
        }
        // Zero-weight taps count where ONNX Runtime multiplies them (0 * inf is NaN), as on the
        // CPU; elsewhere they are skipped, as the reference skips them.
        if (w != A(0) || keep_zero_weights) acc += w * static_cast<A>(load(x[off]));
        int d = dims.rank - 1;
        for (; d >= 0; --d) {
          if (dims.n[d] == 0) continue;
          if (++k[d] < dims.n[d]) break;
          k[d] = 0;
        }
        if (d < 0) break;
      }
      y[i] = saturate<T>(acc);
    }
  }
}

class ResizeKernel final : public CudaKernel {
 public:
  explicit ResizeKernel(const ir::Node&) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    const ir::Attributes& a = ctx.node.attrs;
    const Shape& in = ctx.inputs[0].shape;
    const Shape& out = ctx.outputs[0].shape;
    if (ctx.inputs[0].dtype == DataType::kBool) fail_dtype(ctx, 0, ctx.inputs[0].dtype);
    ir::ResizeAttrs at;
    std::vector<double> scales, roi;
    if (ctx.node.op == "Upsample") {
      at = ir::upsample_attrs(a);
      if (runtime_input(ctx, 1)) need_constant(ctx, 1, "scales");
      scales = ir::upsample_scales(a, ctx.constant_input(1), in.size(), ctx.node.describe());
    } else {
      at = ir::resize_attrs(a);
      // Sizes computed at run time (a Shape subgraph left unfolded) are the static output dims
      // of the resized axes when the policy is stretch.
      std::optional<Tensor> derived_sizes;
      if (runtime_input(ctx, 3) && !runtime_input(ctx, 2) &&
          a.get_string("keep_aspect_ratio_policy", "stretch") == "stretch") {
        derived_sizes = sizes_from_output(ctx, in.size(), out);
      }
      for (size_t i = 1; i < 4; ++i) {
        if (runtime_input(ctx, i) && (i != 1 || uses_roi(at)) && (i != 3 || !derived_sizes)) {
          need_constant(ctx, i, i == 1 ? "roi" : i == 2 ? "scales" : "sizes");
        }
      }
      const Tensor* sizes = derived_sizes ? &*derived_sizes : ctx.constant_input(3);
      ir::ResizeParams p =
          ir::resize_params(a, at, in, uses_roi(at) ? ctx.constant_input(1) : nullptr,
                            ctx.constant_input(2), sizes, ctx.node.describe());
      scales = std::move(p.scales);
      roi = std::move(p.roi);
    }
    if (in.size() > static_cast<size_t>(kMaxDims)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel takes up to ", kMaxDims,
               " dimensions, not ", in.size());
    }
    extrapolation_ = at.extrapolation_value;
    total_ = shape_numel(out);
    if (total_ == 0) return 0;
    ir::ResizeTaps taps = ir::resize_taps(at, in, out, scales, roi);
    pick_ = at.mode == "nearest" && !at.exclude_outside;
    keep_zero_weights_ = false;
    for (const ir::AxisTaps& a : taps.taps)
      keep_zero_weights_ = keep_zero_weights_ || a.keep_zero_weights;
    upload_tables(in, out, taps);
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (total_ == 0) return;
    const DeviceTensor& y = ctx.outputs[0];
    const auto* base = static_cast<const char*>(tables_.get());
    ResizeTables tab{reinterpret_cast<const int64_t*>(base),
                     reinterpret_cast<const double*>(base + taps_ * sizeof(int64_t)),
                     reinterpret_cast<const uint8_t*>(base + taps_ * 2 * sizeof(int64_t))};
    visit_device_dtype(y.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        fail_dtype(ctx, 0, y.dtype);
      } else {
        const T* x = ctx.inputs[0].as<const T>();
        if (pick_) {
          resize_kernel<T, true><<<grid_for(total_), kBlockSize, 0, ctx.stream>>>(
              x, y.as<T>(), total_, dims_, tab, extrapolation_, keep_zero_weights_);
        } else {
          resize_kernel<T, false><<<grid_for(total_), kBlockSize, 0, ctx.stream>>>(
              x, y.as<T>(), total_, dims_, tab, extrapolation_, keep_zero_weights_);
        }
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  static bool uses_roi(const ir::ResizeAttrs& at) {
    return at.coordinate_mode == "tf_crop_and_resize";
  }
  // A non-empty input that is not a constant (data pointers are not bound yet at prepare time).
  static bool runtime_input(const CudaKernelContext& ctx, size_t i) {
    return i < ctx.inputs.size() && ctx.node.input(i) && !ctx.constant_input(i) &&
           shape_numel(ctx.inputs[i].shape) > 0;
  }
  // The sizes input (one value per listed axis) read back from the static output shape.
  static Tensor sizes_from_output(const CudaKernelContext& ctx, size_t rank, const Shape& out) {
    std::vector<int64_t> axes = ctx.node.attrs.get_ints("axes", {});
    if (axes.empty()) {
      for (size_t d = 0; d < rank; ++d) axes.push_back(static_cast<int64_t>(d));
    }
    Tensor t(DataType::kInt64, {static_cast<int64_t>(axes.size())});
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t ax = axes[i] < 0 ? axes[i] + static_cast<int64_t>(rank) : axes[i];
      if (ax < 0 || ax >= static_cast<int64_t>(rank)) {
        ctx.fail(ErrorCode::kInvalidArgument, "axis ", axes[i], " is out of range");
      }
      t.data<int64_t>()[i] = out[static_cast<size_t>(ax)];
    }
    return t;
  }
  [[noreturn]] static void need_constant(const CudaKernelContext& ctx, size_t i, const char* what) {
    ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel needs ", what, " (input ", i,
             ") to be a constant");
  }

  // Packs the taps of the resampled axes: offsets (int64), then weights (double), then the
  // outside flags (one byte per output coordinate). Nearest sampling keeps only the tap the
  // reference picks (the last one of non-zero weight).
  void upload_tables(const Shape& in, const Shape& out, const ir::ResizeTaps& taps) {
    dims_ = ResizeDims{};
    dims_.rank = static_cast<int>(in.size());
    std::vector<int64_t> strides = contiguous_strides(in);
    std::vector<int64_t> offsets;
    std::vector<double> weights;
    std::vector<uint8_t> outside;
    for (size_t d = 0; d < in.size(); ++d) {
      dims_.out_sizes[d] = out[d];
      dims_.in_strides[d] = strides[d];
      if (!taps.active[d]) continue;
      const ir::AxisTaps& t = taps.taps[d];
      dims_.n[d] = pick_ ? 1 : static_cast<int>(t.n);
      dims_.tap_base[d] = static_cast<int64_t>(offsets.size());
      dims_.outside_base[d] = static_cast<int64_t>(outside.size());
      for (int64_t c = 0; c < out[d]; ++c) {
        outside.push_back(t.outside[static_cast<size_t>(c)] ? 1 : 0);
        auto first = static_cast<size_t>(c * t.n);
        if (pick_) {
          size_t pick = first;
          for (size_t k = first; k < first + static_cast<size_t>(t.n); ++k) {
            if (t.weight[k] != 0) pick = k;
          }
          offsets.push_back(t.index[pick] * strides[d]);
          weights.push_back(1.0);
        } else {
          for (size_t k = first; k < first + static_cast<size_t>(t.n); ++k) {
            offsets.push_back(t.index[k] * strides[d]);
            weights.push_back(t.weight[k]);
          }
        }
      }
    }
    taps_ = offsets.size();
    std::vector<char> host(taps_ * 2 * sizeof(int64_t) + outside.size());
    if (taps_) {
      std::memcpy(host.data(), offsets.data(), taps_ * sizeof(int64_t));
      std::memcpy(host.data() + taps_ * sizeof(int64_t), weights.data(), taps_ * sizeof(double));
    }
    if (!outside.empty()) {
      std::memcpy(host.data() + taps_ * 2 * sizeof(int64_t), outside.data(), outside.size());
    }
    tables_ = DeviceBuffer(std::max<size_t>(host.size(), 1));
    if (!host.empty()) {
      KILN_CUDA_CHECK(cudaMemcpy(tables_.get(), host.data(), host.size(), cudaMemcpyHostToDevice));
    }
  }

  ResizeDims dims_;
  DeviceBuffer tables_;
  size_t taps_ = 0;
  int64_t total_ = 0;
  bool pick_ = false;
  bool keep_zero_weights_ = false;  // multiply the zero-weight taps too (ir::AxisTaps)
  double extrapolation_ = 0;
};

}  // namespace

void register_image_kernels(CudaKernelRegistry& r) {
  r.add("Resize", make_kernel<ResizeKernel>);
  r.add("Upsample", make_kernel<ResizeKernel>);
}

}  // namespace kiln::cuda
