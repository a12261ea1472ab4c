// CUDA normalization kernels: LayerNormalization (with Mean/InvStdDev outputs),
// RMSNormalization, InstanceNormalization and GroupNormalization normalize rows of contiguous
// values with float statistics, FP16/BF16 data read and written as is. LayerNorm and RMSNorm rows
// have two one-pass kernels: a warp per row with 16-byte loads (norm_warp.cu; rows of up to 2048
// 16-bit values with a parameter per column) and a warp or block per row holding up to
// kMaxCachedRow values in registers (row_cache.cuh); longer rows and the other norms take a block
// per row and three passes.
// BatchNormalization (inference) is a per-channel affine map.
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/device_index.cuh"
#include "backends/cuda/device_types.cuh"
#include "backends/cuda/families.hpp"
#include "backends/cuda/kernel_factory.hpp"
#include "backends/cuda/launch.hpp"
#include "backends/cuda/norm_cached.cuh"
#include "backends/cuda/norm_warp.cuh"
#include "backends/cuda/param_vector.cuh"
#include "backends/cuda/reduce_ops.cuh"
#include "backends/cuda/row_cache.cuh"
#include "backends/cuda/row_launch.hpp"
#include "backends/cuda/tactic.hpp"
#include "ir/layer_tactic.hpp"

namespace kiln::cuda {
namespace {

template <typename T>
constexpr bool kNormType = is_float_v<T>;

enum class NormKind { kLayer, kRms, kInstance, kGroup };

// Where row r, column i of the normalized view finds its scale and bias.
struct AffineIndex {
  NormKind kind = NormKind::kLayer;
  int64_t channels = 1, groups = 1, spatial = 1;
  bool per_group = false;

  __device__ __forceinline__ int64_t operator()(int64_t r, int64_t i) const {
    switch (kind) {
      case NormKind::kInstance:
        return r % channels;
      case NormKind::kGroup: {
        int64_t g = r % groups;
        return per_group ? g : g * (channels / groups) + i / spatial;
      }
      default:
        return i;
    }
  }
};

// Row statistics and the affine map. Mean and InvStdDev (LayerNorm's optional outputs) are stored
// in U when their pointers are set.
template <typename T, typename U>
__global__ void normalize_rows_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                      int64_t cols, float eps, ParamVector scale, ParamVector bias,
                                      AffineIndex affine, U* mean_out, U* inv_std_out) {
  using A = compute_t<T>;
  __shared__ A scratch[32];
  const bool rms = affine.kind == NormKind::kRms;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    A mean = 0;
    if (!rms) {
      // Summed relative to the row's first value, so a large common offset does not drown the
      // deviations in the rounding of a large total (as in the cached kernel).
      const A pivot = load(xr[0]);
      A s = 0;
      for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) s += load(xr[i]) - pivot;
      mean = pivot + block_reduce(s, SumOp{}, scratch) / static_cast<A>(cols);
    }
    A sq = 0;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      A d = load(xr[i]) - mean;
      sq += d * d;
    }
    A var = block_reduce(sq, SumOp{}, scratch) / static_cast<A>(cols);
    A inv = A(1) / sqrt(var + static_cast<A>(eps));
    if (threadIdx.x == 0) {
      if (mean_out) mean_out[r] = store<U>(mean);
      if (inv_std_out) inv_std_out[r] = store<U>(inv);
    }
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      A v = (load(xr[i]) - mean) * inv;
      int64_t k = affine(r, i);
      // RMSNorm rounds the normalized value to X's type before the scale (the ONNX function).
      if (rms) v = load(store<T>(v));
      yr[i] = store<T>(v * scale.at<A>(k, A(1)) + bias.at<A>(k, A(0)));
    }
  }
}

class RowNormKernel final : public CudaKernel {
 public:
  explicit RowNormKernel(const ir::Node& node) {
    if (node.op == "LayerNormalization") affine_.kind = NormKind::kLayer;
    if (node.op == "RMSNormalization") affine_.kind = NormKind::kRms;
    if (node.op == "InstanceNormalization") affine_.kind = NormKind::kInstance;
    if (node.op == "GroupNormalization") affine_.kind = NormKind::kGroup;
    eps_ = node.attrs.get_float("epsilon", 1e-5f);
  }

  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!kNormType<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    for (size_t i = 1; i < ctx.inputs.size(); ++i) {
      if (ctx.node.input(i) && !is_param_dtype(ctx.inputs[i].dtype)) {
        fail_dtype(ctx, i, ctx.inputs[i].dtype);
      }
    }
    auto rank = static_cast<int64_t>(x.shape.size());
    int64_t numel = x.numel();
    switch (affine_.kind) {
      case NormKind::kLayer:
      case NormKind::kRms: {
        int64_t axis = ctx.node.attrs.get_int("axis", -1);
        if (axis < 0) axis += rank;
        if (axis < 0 || axis > rank) ctx.fail(ErrorCode::kInvalidArgument, "axis out of range");
        cols_ = 1;
        for (int64_t i = axis; i < rank; ++i) cols_ *= x.shape[i];
        // Scale and bias must cover the normalized shape or be one value.
        for (size_t i = 1; i < 3 && i < ctx.inputs.size(); ++i) {
          if (ctx.node.input(i) && ctx.inputs[i].numel() != cols_ && ctx.inputs[i].numel() != 1) {
            ctx.fail(ErrorCode::kUnsupported, "the CUDA kernel needs input ", i, " to hold ", cols_,
                     " values (the normalized shape) or one, not ", ctx.inputs[i].numel());
          }
        }
        break;
      }
      case NormKind::kInstance:
        if (rank < 2) ctx.fail(ErrorCode::kInvalidArgument, "input must have rank >= 2");
        affine_.channels = x.shape[1];
        cols_ = x.shape[0] * x.shape[1] == 0 ? 0 : numel / (x.shape[0] * x.shape[1]);
        break;
      case NormKind::kGroup: {
        if (rank < 2) ctx.fail(ErrorCode::kInvalidArgument, "input must have rank >= 2");
        affine_.channels = x.shape[1];
        affine_.groups = ctx.node.attrs.get_int("num_groups");
        affine_.per_group = ctx.node.attrs.get_int("scale_per_group", 0) != 0;
        if (affine_.groups <= 0 || affine_.channels % affine_.groups != 0) {
          ctx.fail(ErrorCode::kInvalidArgument, "num_groups ", affine_.groups,
                   " must divide the channel count ", affine_.channels);
        }
        int64_t rows = x.shape[0] * affine_.groups;
        cols_ = rows == 0 ? 0 : numel / rows;
        affine_.spatial = affine_.channels == 0 ? 1 : cols_ * affine_.groups / affine_.channels;
        if (affine_.spatial == 0) affine_.spatial = 1;
        break;
      }
    }
    rows_ = cols_ == 0 ? 0 : numel / cols_;
    for (size_t o = 1; o < ctx.outputs.size(); ++o) {
      if (ctx.node.output(o) && ctx.outputs[o].dtype != DataType::kFloat32 &&
          ctx.outputs[o].dtype != x.dtype) {
        ctx.fail(ErrorCode::kUnsupported, "output ", o, " must be float32 or the input's type");
      }
    }
    choose_kernel(ctx);
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override { run(ctx, path_); }

 private:
  enum class Path { kBlock, kCached, kWarp };

  // LayerNorm and RMSNorm rows have up to three kernels: the warp-per-row one (where its rows and
  // parameters fit), the register-cached one (rows of up to kMaxCachedRow, float64 aside: its
  // cached rows would need twice the registers) and the block-per-row kernel that reads a row
  // three times. Which is fastest depends on the row shape and the GPU, so the tuner times them;
  // without tuning the warp kernel goes first where it applies.
  void choose_kernel(const CudaKernelContext& ctx) {
    path_ = Path::kBlock;
    const bool by_column = affine_.kind == NormKind::kLayer || affine_.kind == NormKind::kRms;
    const DataType t = ctx.inputs[0].dtype;
    if (!by_column || rows_ == 0) return;
    std::vector<Path> paths;
    if (warp_applies(ctx)) paths.push_back(Path::kWarp);
    paths.push_back(Path::kBlock);
    if (t != DataType::kFloat64 && cols_ <= kMaxCachedRow) paths.push_back(Path::kCached);
    std::vector<std::string> names;
    for (Path p : paths) {
      names.push_back(p == Path::kWarp    ? "warp_rows"
                      : p == Path::kBlock ? "block_rows"
                                          : "cached_rows");
    }
    path_ = paths[0];
    // A pinned tactic (BuilderConfig::tactics) is chosen, or refused, by the tuner even where
    // only one path applies.
    TacticTuner* tuner = ctx.libs ? ctx.libs->tuner : nullptr;
    if (!tuner || (paths.size() == 1 && !ir::pinned_tactic(ctx.node))) return;
    std::optional<TuningScratch> scratch;
    size_t chosen =
        tuner->choose(ctx.node, cat(ctx.node.op, " ", to_string(t), " ", rows_, "x", cols_), names,
                      std::vector<size_t>(names.size(), 0), [&](size_t i, cudaStream_t stream) {
                        if (!scratch) scratch.emplace(ctx, 0);
                        CudaKernelContext trial = ctx;
                        trial.stream = stream;
                        for (size_t k = 0; k < trial.inputs.size(); ++k)
                          trial.inputs[k].data = scratch->input(k);
                        for (size_t k = 0; k < trial.outputs.size(); ++k) {
                          if (trial.outputs[k].data || ctx.node.output(k)) {
                            trial.outputs[k].data = scratch->output(k);
                          }
                        }
                        run(trial, paths[i]);
                      });
    path_ = paths[chosen];
  }

  // The warp kernel takes a scale of one value per column (and a bias like it, for LayerNorm).
  // (At prepare time the tensors have shapes but no data: ask the node which inputs exist.)
  bool warp_applies(const CudaKernelContext& ctx) const {
    if (!ctx.node.input(1)) return false;
    const DeviceTensor& scale = ctx.inputs[1];
    if (!warp_norm_applies(ctx.inputs[0].dtype, scale.dtype, cols_, scale.numel())) return false;
    if (affine_.kind == NormKind::kLayer && ctx.node.input(2)) {
      const DeviceTensor& bias = ctx.inputs[2];
      if (bias.dtype != scale.dtype || bias.numel() != cols_) return false;
    }
    return true;
  }

  void run(const CudaKernelContext& ctx, Path path) const {
    if (rows_ == 0 || cols_ == 0) return;
    const DeviceTensor& x = ctx.inputs[0];
    auto out = [&](size_t o) { return o < ctx.outputs.size() ? ctx.outputs[o].data : nullptr; };
    bool float_stats = ctx.outputs.size() < 2 || !ctx.outputs[1].data ||
                       ctx.outputs[1].dtype == DataType::kFloat32;
    if (path == Path::kWarp) {
      WarpNormArgs w;
      w.x = x.data;
      w.y = ctx.outputs[0].data;
      w.scale = ctx.inputs[1].data;
      if (affine_.kind == NormKind::kLayer && ctx.has_input(2)) w.bias = ctx.inputs[2].data;
      w.rows = rows_;
      w.cols = cols_;
      w.eps = eps_;
      w.rms = affine_.kind == NormKind::kRms;
      w.stats = RowStats{out(1), out(2), float_stats};
      w.x_type = x.dtype;
      // A view at an odd offset cannot take 16-byte loads: the block kernel runs instead.
      if (warp_norm_aligned(w)) return launch_warp_norm(w, ctx.stream);
      path = Path::kBlock;
    }
    ParamVector scale = ctx.has_input(1) ? ParamVector::of(ctx.inputs[1]) : ParamVector{};
    ParamVector bias;
    if (affine_.kind != NormKind::kRms && ctx.has_input(2)) bias = ParamVector::of(ctx.inputs[2]);
    const bool cached = path == Path::kCached;
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kNormType<T>) {
        constexpr bool kCacheable = !std::is_same_v<T, double>;
        if (kCacheable && cached) {
          if constexpr (kCacheable) {
            launch_normalize_cached<T>(x.as<const T>(), ctx.outputs[0].as<T>(), rows_, cols_, eps_,
                                       scale, bias, affine_.kind == NormKind::kRms,
                                       RowStats{out(1), out(2), float_stats}, ctx.stream);
          }
        } else if (float_stats) {
          normalize_rows_kernel<T, float>
              <<<row_grid(rows_), row_block_size(cols_), 0, ctx.stream>>>(
                  x.as<const T>(), ctx.outputs[0].as<T>(), rows_, cols_, eps_, scale, bias, affine_,
                  static_cast<float*>(out(1)), static_cast<float*>(out(2)));
        } else {
          normalize_rows_kernel<T, T><<<row_grid(rows_), row_block_size(cols_), 0, ctx.stream>>>(
              x.as<const T>(), ctx.outputs[0].as<T>(), rows_, cols_, eps_, scale, bias, affine_,
              static_cast<T*>(out(1)), static_cast<T*>(out(2)));
        }
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

  AffineIndex affine_;
  float eps_ = 1e-5f;
  int64_t rows_ = 0, cols_ = 0;
  Path path_ = Path::kBlock;  // chosen by choose_kernel
};

// BatchNormalization in inference mode: y = (x - mean) / sqrt(var + eps) * scale + bias per
// channel (axis 1).
template <typename T>
__global__ void batch_norm_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n,
                                  int64_t channels, int64_t spatial, float eps, ParamVector scale,
                                  ParamVector bias, ParamVector mean, ParamVector var) {
  using A = compute_t<T>;
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    int64_t c = (i / spatial) % channels;
    A mul = scale.at<A>(c, A(1)) / sqrt(var.at<A>(c, A(1)) + static_cast<A>(eps));
    A add = bias.at<A>(c, A(0)) - mean.at<A>(c, A(0)) * mul;
    y[i] = store<T>(load(x[i]) * mul + add);
  }
}

class BatchNormKernel final : public CudaKernel {
 public:
  explicit BatchNormKernel(const ir::Node& node) : eps_(node.attrs.get_float("epsilon", 1e-5f)) {}
  size_t prepare(const CudaKernelContext& ctx) override {
    if (ctx.node.attrs.get_int("training_mode", 0) != 0) {
      ctx.fail(ErrorCode::kUnsupported,
               "the CUDA backend runs BatchNormalization for inference "
               "only (training_mode=0)");
    }
    const DeviceTensor& x = ctx.inputs[0];
    visit_device_dtype(x.dtype, [&](auto tag) {
      if constexpr (!kNormType<decltype(tag)>) fail_dtype(ctx, 0, x.dtype);
    });
    for (size_t i = 1; i < 5; ++i) {
      if (!is_param_dtype(ctx.inputs.at(i).dtype)) fail_dtype(ctx, i, ctx.inputs[i].dtype);
    }
    channels_ = x.shape.size() > 1 ? x.shape[1] : 1;
    int64_t planes = (x.shape.empty() ? 1 : x.shape[0]) * channels_;
    spatial_ = planes == 0 ? 1 : std::max<int64_t>(x.numel() / planes, 1);
    return 0;
  }
  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs[0];
    int64_t n = x.numel();
    if (n == 0) return;
    visit_device_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kNormType<T>) {
        batch_norm_kernel<<<grid_for(n), kBlockSize, 0, ctx.stream>>>(
            x.as<const T>(), ctx.outputs[0].as<T>(), n, channels_, spatial_, eps_,
            ParamVector::of(ctx.inputs[1]), ParamVector::of(ctx.inputs[2]),
            ParamVector::of(ctx.inputs[3]), ParamVector::of(ctx.inputs[4]));
        KILN_CUDA_CHECK(cudaGetLastError());
      }
    });
  }

 private:
  float eps_;
  int64_t channels_ = 1, spatial_ = 1;
};

}  // namespace

void register_normalization_kernels(CudaKernelRegistry& r) {
  r.add("LayerNormalization", make_kernel<RowNormKernel>);
  r.add("RMSNormalization", make_kernel<RowNormKernel>);
  r.add("InstanceNormalization", make_kernel<RowNormKernel>);
  r.add("GroupNormalization", make_kernel<RowNormKernel>);
  r.add("BatchNormalization", make_kernel<BatchNormKernel>);
}

}  // namespace kiln::cuda
