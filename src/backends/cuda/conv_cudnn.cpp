// Conv on the GPU through cuDNN 9's graph API. prepare() describes the convolution as an operation
// graph (conv, plus a pointwise bias add that cuDNN fuses into the same kernel), asks heuristic A
// for engine configs, keeps those whose execution plan finalizes (the tactic candidates, also with
// the bias instead written into Y first and accumulated with beta = 1) and lets the tuner pick.
// enqueue() sets the stream and runs the plan with a variant pack rebuilt only when pointers move.
#include <array>
#include <map>
#include <optional>

#include "backends/cuda/conv_plan.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cudnn_descriptor.hpp"
#include "backends/cuda/library_kernels.hpp"
#include "backends/cuda/output_prefill.hpp"
#include "backends/cuda/tactic.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"

// The handle attributes of the operation graph and the execution plan are marked deprecated in
// recent cuDNN 9 releases in favour of device-property descriptors that older 9.x lack; they still
// work in every 9.x, so kiln sets them.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace kiln::cuda {
namespace {

constexpr int64_t kAlignment = 16;  // of every bound tensor; checked in enqueue()
constexpr size_t kMaxCandidatesPerGraph = 8;
enum Uid : int64_t { kX = 1, kW = 2, kY = 3, kBias = 4, kConvOut = 5 };

cudnnDataType_t cudnn_type(DataType t, const CudaKernelContext& ctx) {
  switch (t) {
    case DataType::kFloat32:
      return CUDNN_DATA_FLOAT;
    case DataType::kFloat16:
      return CUDNN_DATA_HALF;
    case DataType::kBFloat16:
      return CUDNN_DATA_BFLOAT16;
    case DataType::kFloat64:
      return CUDNN_DATA_DOUBLE;
    default:
      ctx.fail(ErrorCode::kUnsupported, "the CUDA backend convolves float32, float16, bfloat16 ",
               "and float64 tensors, not ", to_string(t));
  }
}

CudnnDescriptor make_tensor(int64_t uid, cudnnDataType_t type, const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& strides, bool is_virtual) {
  CudnnDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type)
      .set_ints(CUDNN_ATTR_TENSOR_DIMENSIONS, dims)
      .set_ints(CUDNN_ATTR_TENSOR_STRIDES, strides)
      .set_int(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid)
      .set_int(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, kAlignment)
      .set_bool(CUDNN_ATTR_TENSOR_IS_VIRTUAL, is_virtual);
  t.finalize();
  return t;
}

// Numerical notes that would take a strict FP32 convolution off FP32 arithmetic (TF32 tensor
// cores, down-converted inputs) or change its rounding noticeably (FFT, Winograd).
bool engine_allowed(cudnnBackendDescriptor_t engine, cudnnDataType_t type, bool allow_tf32,
                    bool filtered) {
  if (!filtered) return true;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t count = 0;
  if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count,
                               notes) != CUDNN_STATUS_SUCCESS) {
    return true;
  }
  for (int64_t i = 0; i < count; ++i) {
    cudnnBackendNumericalNote_t n = notes[i];
    if (n == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return false;
    if (type == CUDNN_DATA_FLOAT && !allow_tf32 &&
        (n == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || n == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
         n == CUDNN_NUMERICAL_NOTE_FFT || n == CUDNN_NUMERICAL_NOTE_WINOGRAD ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4 ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6 ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13)) {
      return false;
    }
  }
  return true;
}

struct Candidate {
  std::string name;
  bool fused_bias = false;  // the graph adds the bias; otherwise Y is prefilled (when biased)
  std::shared_ptr<CudnnDescriptor> plan;
  std::shared_ptr<std::vector<CudnnDescriptor>> configs;  // the heuristic's, kept with the plan
  int64_t workspace = 0;
};

// One operation graph and the descriptors it was built from (kept alive with it).
struct ConvGraph {
  std::vector<CudnnDescriptor> parts;
  CudnnDescriptor graph;
};

ConvGraph build_graph(cudnnHandle_t handle, const ConvGeometry& g, cudnnDataType_t type,
                      bool fuse_bias, bool accumulate) {
  cudnnDataType_t compute = type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  ConvGraph cg;
  cg.parts.reserve(12);  // references into it are held while building
  const CudnnDescriptor& x =
      cg.parts.emplace_back(make_tensor(kX, type, g.x_dims, g.x_strides, false));
  const CudnnDescriptor& w =
      cg.parts.emplace_back(make_tensor(kW, type, g.w_dims, g.w_strides, false));
  const CudnnDescriptor& y =
      cg.parts.emplace_back(make_tensor(kY, type, g.y_dims, g.y_strides, false));
  CudnnDescriptor& conv = cg.parts.emplace_back(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  conv.set_int(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, static_cast<int64_t>(g.spatial()))
      .set_data_type(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, compute)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
      .set_ints(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, g.pre_pads)
      .set_ints(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, g.post_pads)
      .set_ints(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, g.strides)
      .set_ints(CUDNN_ATTR_CONVOLUTION_DILATIONS, g.dilations);
  conv.finalize();
  const CudnnDescriptor* conv_y = &y;
  if (fuse_bias) {
    conv_y = &cg.parts.emplace_back(make_tensor(kConvOut, compute, g.y_dims, g.y_strides, true));
  }
  CudnnDescriptor& op =
      cg.parts.emplace_back(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  op.set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x)
      .set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w)
      .set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *conv_y)
      .set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
  if (type == CUDNN_DATA_DOUBLE) {
    double alpha = 1, beta = accumulate ? 1 : 0;
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_DOUBLE, 1, &alpha)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_DOUBLE, 1, &beta);
  } else {
    float alpha = 1, beta = accumulate ? 1 : 0;
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  }
  op.finalize();
  std::vector<const CudnnDescriptor*> ops{&op};
  if (fuse_bias) {
    const CudnnDescriptor& bias =
        cg.parts.emplace_back(make_tensor(kBias, type, g.bias_dims, g.bias_strides, false));
    CudnnDescriptor& add = cg.parts.emplace_back(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    cudnnPointwiseMode_t pw = CUDNN_POINTWISE_ADD;
    add.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &pw)
        .set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, compute);
    add.finalize();
    CudnnDescriptor& add_op = cg.parts.emplace_back(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    add_op.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, add)
        .set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, *conv_y)
        .set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, bias)
        .set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
    add_op.finalize();
    ops.push_back(&add_op);
  }
  cg.graph = CudnnDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  cg.graph.set_descriptors(CUDNN_ATTR_OPERATIONGRAPH_OPS, ops)
      .set_handle(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle);
  cg.graph.finalize();
  return cg;
}

// The execution plans of `graph` that finalize, in the heuristic's order, at most `limit`.
std::vector<Candidate> finalized_plans(cudnnHandle_t handle, const CudnnDescriptor& graph,
                                       cudnnBackendHeurMode_t mode, cudnnDataType_t type,
                                       bool allow_tf32, bool filtered, bool fused_bias,
                                       size_t limit) {
  std::vector<Candidate> out;
  CudnnDescriptor heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heur.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph)
      .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  if (heur.try_finalize() != CUDNN_STATUS_SUCCESS) return out;
  int64_t count = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
  auto configs = std::make_shared<std::vector<CudnnDescriptor>>();
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs->emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(configs->back().get());
  }
  int64_t returned = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned,
                                            raw.data()));
  std::map<int64_t, int> seen;  // configs of one engine, numbered so each name is unique
  for (int64_t i = 0; i < returned && out.size() < limit; ++i) {
    CudnnDescriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    cudnnBackendDescriptor_t engine_raw = engine.get();
    int64_t n = 0;
    if (cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                 1, &n, &engine_raw) != CUDNN_STATUS_SUCCESS) {
      continue;
    }
    if (!engine_allowed(engine.get(), type, allow_tf32, filtered)) continue;
    int64_t index = -1;
    cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                             &index);
    auto plan = std::make_shared<CudnnDescriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    if (cudnnBackendSetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE,
                                 1, &handle) != CUDNN_STATUS_SUCCESS ||
        cudnnBackendSetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                 &raw[i]) != CUDNN_STATUS_SUCCESS ||
        plan->try_finalize() != CUDNN_STATUS_SUCCESS) {
      continue;
    }
    Candidate c;
    c.fused_bias = fused_bias;
    c.plan = std::move(plan);
    c.configs = configs;
    KILN_CUDNN_CHECK(cudnnBackendGetAttribute(c.plan->get(),
                                              CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                              CUDNN_TYPE_INT64, 1, &n, &c.workspace));
    c.name = cat(fused_bias ? "fused" : "conv", ".eng", index, ".", seen[index]++);
    out.push_back(std::move(c));
  }
  return out;
}

class ConvKernel final : public CudaKernel {
 public:
  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs.at(0);
    const DeviceTensor& y = ctx.outputs.at(0);
    cudnnDataType_t type = cudnn_type(x.dtype, ctx);
    has_bias_ = ctx.node.input(2) != nullptr;
    elem_ = element_size(y.dtype);
    geometry_ = plan_conv(ctx.node, x.shape, ctx.inputs.at(1).shape, y.shape);
    if (y.numel() == 0) return 0;
    if (x.numel() == 0) {  // no input channels: the output is the bias (or zero)
      empty_input_ = true;
      return 0;
    }
    cudnnHandle_t handle = ctx.libs->cudnn;
    bool allow_tf32 = ir::allows_tf32(ctx.node);
    TacticTuner* tuner = ctx.libs->tuner;
    bool tuning = tuner && tuner->tuning();
    // Without tuning the first plan that finalizes is the one used: stop there, since
    // finalizing a runtime-compiled engine costs a compilation.
    size_t limit = tuning ? kMaxCandidatesPerGraph : 1;
    std::vector<ConvGraph> graphs;
    std::vector<Candidate> candidates;
    // Heuristic A with the numerical filter, then the fallback list, then (rather than fail)
    // heuristic A with any engine, which for FP32 may mean TF32.
    struct Round {
      cudnnBackendHeurMode_t mode;
      bool filtered;
    };
    for (Round round : {Round{CUDNN_HEUR_MODE_A, true}, Round{CUDNN_HEUR_MODE_FALLBACK, true},
                        Round{CUDNN_HEUR_MODE_A, false}}) {
      for (bool fused : {true, false}) {
        if (fused && !has_bias_) continue;
        if (!tuning && !candidates.empty()) break;
        ConvGraph& g = graphs.emplace_back();
        try {
          g = build_graph(handle, geometry_, type, fused, has_bias_ && !fused);
        } catch (const Error&) {
          continue;  // e.g. cuDNN rejects this fusion pattern outright
        }
        auto found = finalized_plans(handle, g.graph, round.mode, type, allow_tf32, round.filtered,
                                     fused, limit);
        for (auto& c : found) candidates.push_back(std::move(c));
      }
      if (!candidates.empty()) {
        if (!round.filtered && type == CUDNN_DATA_FLOAT && !allow_tf32) {
          log(Severity::kWarning, cat(ctx.node.describe(), ": cuDNN offers only reduced-precision ",
                                      "engines for this FP32 convolution"));
        }
        break;
      }
    }
    if (candidates.empty()) {
      ctx.fail(ErrorCode::kUnsupported, "cuDNN has no engine for this convolution (",
               to_string(x.dtype), " input ", shape_to_string(x.shape), ", weight ",
               shape_to_string(ctx.inputs[1].shape), ", output ", shape_to_string(y.shape), ")");
    }
    size_t chosen = 0;
    if (tuner && candidates.size() > 1) {
      std::vector<std::string> names;
      size_t max_workspace = 0;
      for (const Candidate& c : candidates) {
        names.push_back(c.name);
        max_workspace = std::max(max_workspace, static_cast<size_t>(c.workspace));
      }
      std::optional<TuningScratch> scratch;
      chosen = tuner->choose(signature(ctx), names, [&](size_t i, cudaStream_t stream) {
        if (!scratch) scratch.emplace(ctx, max_workspace);
        KILN_CUDNN_CHECK(cudnnSetStream(handle, stream));
        const Candidate& c = candidates[i];
        CudnnDescriptor pack =
            variant_pack(c.fused_bias, scratch->input(0), scratch->input(1), scratch->output(0),
                         has_bias_ ? scratch->input(2) : nullptr, scratch->workspace());
        KILN_CUDNN_CHECK(cudnnBackendExecute(handle, c.plan->get(), pack.get()));
      });
    }
    chosen_ = std::move(candidates[chosen]);
    graphs_ = std::move(graphs);
    return static_cast<size_t>(chosen_.workspace);
  }

  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs.at(0);
    if (y.numel() == 0) return;
    const void* bias = has_bias_ ? ctx.inputs.at(2).data : nullptr;
    int64_t spatial = 1;
    for (size_t i = 2; i < y.shape.size(); ++i) spatial *= y.shape[i];
    std::array<int64_t, 3> dims{y.shape[0], y.shape[1], spatial};
    if (empty_input_) {
      if (bias) {
        prefill_output(y.data, bias, elem_, dims, {0, 1, 0}, ctx.stream);
      } else {
        KILN_CUDA_CHECK(cudaMemsetAsync(y.data, 0, y.nbytes(), ctx.stream));
      }
      return;
    }
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      if (ctx.inputs[i].data && reinterpret_cast<uintptr_t>(ctx.inputs[i].data) % kAlignment) {
        ctx.fail(ErrorCode::kInvalidArgument, "the device buffer of input ", i, " is not ",
                 kAlignment, "-byte aligned");
      }
    }
    if (reinterpret_cast<uintptr_t>(y.data) % kAlignment) {
      ctx.fail(ErrorCode::kInvalidArgument, "the output's device buffer is not ", kAlignment,
               "-byte aligned");
    }
    if (has_bias_ && !chosen_.fused_bias) {
      prefill_output(y.data, bias, elem_, dims, {0, 1, 0}, ctx.stream);
    }
    std::array<const void*, 5> now{ctx.inputs[0].data, ctx.inputs[1].data, y.data, bias,
                                   ctx.workspace};
    if (!pack_ || now != pack_pointers_) {
      pack_ = variant_pack(chosen_.fused_bias, now[0], now[1], y.data, bias, ctx.workspace);
      pack_pointers_ = now;
    }
    KILN_CUDNN_CHECK(cudnnSetStream(ctx.libs->cudnn, ctx.stream));
    KILN_CUDNN_CHECK(cudnnBackendExecute(ctx.libs->cudnn, chosen_.plan->get(), pack_.get()));
  }

 private:
  static CudnnDescriptor variant_pack(bool fused_bias, const void* x, const void* w, void* y,
                                      const void* bias, void* workspace) {
    std::vector<int64_t> uids{kX, kW, kY};
    std::vector<void*> pointers{const_cast<void*>(x), const_cast<void*>(w), y};
    if (fused_bias) {
      uids.push_back(kBias);
      pointers.push_back(const_cast<void*>(bias));
    }
    CudnnDescriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    pack.set_ints(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, uids)
        .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
             static_cast<int64_t>(pointers.size()), pointers.data())
        .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    pack.finalize();
    return pack;
  }

  std::string signature(const CudaKernelContext& ctx) const {
    const ConvGeometry& g = geometry_;
    auto list = [](const std::vector<int64_t>& v) {
      std::string s;
      for (int64_t x : v) s += cat(x, ",");
      return s;
    };
    return cat("Conv ", to_string(ctx.inputs[0].dtype), ir::allows_tf32(ctx.node) ? " tf32" : "",
               " x", list(g.x_dims), " w", list(g.w_dims), " pads", list(g.pre_pads), "/",
               list(g.post_pads), " strides", list(g.strides), " dil", list(g.dilations),
               has_bias_ ? " bias" : "");
  }

  ConvGeometry geometry_;
  bool has_bias_ = false;
  bool empty_input_ = false;
  size_t elem_ = 0;
  std::vector<ConvGraph> graphs_;
  Candidate chosen_;
  CudnnDescriptor pack_;
  std::array<const void*, 5> pack_pointers_{};
};

}  // namespace

void register_conv_kernels(CudaKernelRegistry& r) {
  r.add("Conv", [](const ir::Node&) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<ConvKernel>();
  });
}

}  // namespace kiln::cuda
