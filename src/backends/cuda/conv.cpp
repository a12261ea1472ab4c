// Conv and FusedConv on the GPU through cuDNN 9's graph API. prepare() describes the convolution
// as an operation graph with as much of the layer's epilogue as cuDNN will fuse (bias add, residual
// add, activation as pointwise nodes; conv_graph.cpp), falling back to smaller graphs (conv + bias,
// conv alone) whose remaining epilogue runs in kiln's epilogue kernel; asks the heuristics for
// engine configs, keeps those whose execution plan finalizes (the tactic candidates) and lets the
// tuner pick. enqueue() sets the stream and runs the plan with a variant pack rebuilt only when
// pointers move, then the epilogue kernel when the chosen graph left work for it. A channels_last=1
// layer is the same graph with NHWC strides on x, w (KRSC), y and the residual (conv_plan.cpp).
#include <algorithm>
#include <array>
#include <optional>

#include "backends/cuda/conv_graph.hpp"
#include "backends/cuda/conv_plan.hpp"
#include "backends/cuda/conv_serialized_plan.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/families.hpp"
#include "backends/cuda/fused_epilogue.hpp"
#include "backends/cuda/tactic.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "ir/layer_tactic.hpp"

namespace kiln::cuda {
namespace {

constexpr size_t kMaxCandidatesPerGraph = 8;

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

class ConvKernel final : public CudaKernel {
 public:
  // A Conv is a FusedConv without epilogue.
  explicit ConvKernel(const ir::Node& node)
      : act_(ir::read_activation(node.attrs)),
        residual_before_(node.attrs.get_int("residual_before_activation", 1) != 0) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    const DeviceTensor& x = ctx.inputs.at(0);
    const DeviceTensor& y = ctx.outputs.at(0);
    if (ctx.node.attrs.get_int("transposed", 0) != 0) {
      ctx.fail(ErrorCode::kUnsupported, "a transposed FusedConv (ConvTranspose) has no CUDA ",
               "kernel yet");
    }
    cudnnDataType_t type = cudnn_type(x.dtype, ctx);
    has_bias_ = ctx.node.input(2) != nullptr;
    has_residual_ = ctx.node.input(3) != nullptr;
    dtype_ = y.dtype;
    geometry_ = plan_conv(ctx.node, x.shape, ctx.inputs.at(1).shape, y.shape);
    if (y.numel() == 0) return 0;
    if (x.numel() == 0) {  // no input channels: the output is the epilogue of zeros
      empty_input_ = true;
      chosen_.fused = GraphEpilogue{};
      post_ = make_post(y.shape);
      return 0;
    }
    cudnnHandle_t handle = ctx.libs->cudnn;
    bool allow_tf32 = ir::allows_tf32(ctx.node);
    TacticTuner* tuner = ctx.libs->tuner;
    bool tuning = tuner && tuner->tuning();
    // Without tuning the first plan that finalizes is the one used: stop there, since
    // finalizing a runtime-compiled engine costs a compilation. A plan that recorded the tuned
    // tactic needs the same candidate list the build timed, so that its choice is among them.
    const std::string recorded_name = ir::recorded_tactic(ctx.node);
    const bool recorded = !recorded_name.empty();
    const bool search_all = tuning || recorded;
    size_t limit = search_all ? kMaxCandidatesPerGraph : 1;
    std::vector<ConvGraph> graphs;
    std::vector<ConvCandidate> candidates;
    // Heuristic A with the numerical filter, then the fallback list, then (rather than fail)
    // heuristic A with any engine, which for FP32 may mean TF32.
    struct Round {
      cudnnBackendHeurMode_t mode;
      bool filtered;
    };
    const Round rounds[] = {Round{CUDNN_HEUR_MODE_A, true}, Round{CUDNN_HEUR_MODE_FALLBACK, true},
                            Round{CUDNN_HEUR_MODE_A, false}};
    // The one candidate this layer can end with, where that is known before any plan is made:
    // the plan's recorded tactic when loading it, a pinned tactic, or while tuning the timing
    // cache's winner for this signature. Only that config is finalized (finalizing a
    // runtime-compiled engine is a compilation); the full candidate list below is the fallback,
    // e.g. after a cuDNN update renumbered engines.
    std::string known;
    if (recorded && (!tuning || ir::pinned_tactic(ctx.node))) {
      known = recorded_name;
    } else if (tuning) {
      known = tuner->cached_tactic(signature(ctx));
    }
    // Loading a plan that stored the tactic's cuDNN plan: read it back, which compiles nothing.
    if (recorded && !tuning) {
      std::optional<GraphEpilogue> fused = fusion_level_of(recorded_name);
      auto plan = fused ? stored_cudnn_plan(ctx.node, recorded_name,
                                            cudnn_plan_key(ctx.libs->device), handle)
                        : nullptr;
      if (plan) {
        const int64_t workspace = plan_workspace(*plan);
        candidates.push_back(
            ConvCandidate{recorded_name, *fused, std::move(plan), nullptr, workspace});
      }
    }
    if (!known.empty() && candidates.empty()) {
      for (const Round& round : rounds) {
        for (const GraphEpilogue& fused : fusion_levels()) {
          ConvGraph g;
          try {
            g = build_conv_graph(handle, geometry_, type, fused);
          } catch (const Error&) {
            continue;
          }
          auto found = finalized_conv_plans(handle, g.graph, round.mode, type, allow_tf32,
                                            round.filtered, fused, kMaxCandidatesPerGraph, &known);
          if (found.empty()) continue;
          candidates = std::move(found);
          graphs.push_back(std::move(g));
          break;
        }
        if (!candidates.empty()) break;
      }
      // A cached winner over this build's workspace limit is no choice: search them all.
      if (tuner && !candidates.empty() &&
          static_cast<size_t>(candidates[0].workspace) > tuner->workspace_limit()) {
        candidates.clear();
        graphs.clear();
      }
    }
    for (const Round& round : rounds) {
      if (!candidates.empty()) break;  // the recorded tactic was found
      for (const GraphEpilogue& fused : fusion_levels()) {
        if (!search_all && !candidates.empty()) break;
        ConvGraph g;
        try {
          g = build_conv_graph(handle, geometry_, type, fused);
        } catch (const Error&) {
          continue;  // e.g. cuDNN rejects this fusion pattern outright
        }
        auto found = finalized_conv_plans(handle, g.graph, round.mode, type, allow_tf32,
                                          round.filtered, fused, limit);
        for (auto& c : found) candidates.push_back(std::move(c));
        graphs.push_back(std::move(g));
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
    if (tuner) {
      std::vector<std::string> names;
      std::vector<size_t> workspace;
      size_t max_workspace = 0;
      for (const ConvCandidate& c : candidates) {
        names.push_back(c.name);
        workspace.push_back(static_cast<size_t>(c.workspace));
        max_workspace = std::max(max_workspace, workspace.back());
      }
      std::optional<TuningScratch> scratch;
      chosen = tuner->choose(
          ctx.node, signature(ctx), names, workspace, [&](size_t i, cudaStream_t stream) {
            if (!scratch) scratch.emplace(ctx, max_workspace);
            KILN_CUDNN_CHECK(cudnnSetStream(handle, stream));
            const ConvCandidate& c = candidates[i];
            const void* bias = has_bias_ ? scratch->input(2) : nullptr;
            const void* z = has_residual_ ? scratch->input(3) : nullptr;
            CudnnDescriptor pack = variant_pack(c.fused, scratch->input(0), scratch->input(1),
                                                scratch->output(0), bias, z, scratch->workspace());
            KILN_CUDNN_CHECK(cudnnBackendExecute(handle, c.plan->get(), pack.get()));
            // The epilogue kernel is part of the candidate's cost.
            EpilogueLaunch post = make_post_for(c.fused, y.shape);
            post.y = scratch->output(0);
            post.bias = post.bias ? bias : nullptr;
            post.residual = post.residual ? z : nullptr;
            launch_epilogue(post, stream);
          });
    }
    chosen_ = std::move(candidates[chosen]);
    graphs_ = std::move(graphs);
    if (tuning) {
      // The plan carries the chosen plan where cuDNN can write it out (runtime-compiled engines).
      if (auto json = serialize_cudnn_plan(*chosen_.plan)) {
        tuner->keep_cudnn_plan(ctx.node, std::move(*json));
      }
    }
    post_ = make_post(y.shape);
    return static_cast<size_t>(chosen_.workspace);
  }

  void enqueue(const CudaKernelContext& ctx) override {
    const DeviceTensor& y = ctx.outputs.at(0);
    if (y.numel() == 0) return;
    const void* bias = has_bias_ ? ctx.inputs.at(2).data : nullptr;
    const void* z = has_residual_ ? ctx.inputs.at(3).data : nullptr;
    if (empty_input_) {
      KILN_CUDA_CHECK(cudaMemsetAsync(y.data, 0, y.nbytes(), ctx.stream));
    } else {
      for (size_t i = 0; i < ctx.inputs.size(); ++i) {
        if (ctx.inputs[i].data &&
            reinterpret_cast<uintptr_t>(ctx.inputs[i].data) % kConvAlignment) {
          ctx.fail(ErrorCode::kInvalidArgument, "the device buffer of input ", i, " is not ",
                   kConvAlignment, "-byte aligned");
        }
      }
      if (reinterpret_cast<uintptr_t>(y.data) % kConvAlignment) {
        ctx.fail(ErrorCode::kInvalidArgument, "the output's device buffer is not ", kConvAlignment,
                 "-byte aligned");
      }
      std::array<const void*, 6> now{ctx.inputs[0].data, ctx.inputs[1].data, y.data, bias, z,
                                     ctx.workspace};
      if (!pack_ || now != pack_pointers_) {
        pack_ = variant_pack(chosen_.fused, now[0], now[1], y.data, bias, z, ctx.workspace);
        pack_pointers_ = now;
      }
      KILN_CUDNN_CHECK(cudnnSetStream(ctx.libs->cudnn, ctx.stream));
      KILN_CUDNN_CHECK(cudnnBackendExecute(ctx.libs->cudnn, chosen_.plan->get(), pack_.get()));
    }
    if (!post_.empty()) {
      EpilogueLaunch e = post_;
      e.y = y.data;
      e.bias = e.bias ? bias : nullptr;
      e.residual = e.residual ? z : nullptr;
      launch_epilogue(e, ctx.stream);
    }
  }

 private:
  // The graphs to try, from the most fused down to the convolution alone.
  std::vector<GraphEpilogue> fusion_levels() const {
    std::vector<GraphEpilogue> levels;
    auto add = [&levels](const GraphEpilogue& e) {
      if (std::find(levels.begin(), levels.end(), e) == levels.end()) levels.push_back(e);
    };
    GraphEpilogue full;
    full.bias = has_bias_;
    full.residual_before_activation = residual_before_;
    if (cudnn_has_activation(act_)) {
      full.act = act_;
      full.residual = has_residual_;
    } else {
      // The activation runs in kiln's kernel, and with it a residual added after it.
      full.residual = has_residual_ && residual_before_;
    }
    add(full);
    GraphEpilogue bias_only;
    bias_only.bias = has_bias_;
    add(bias_only);
    add(GraphEpilogue{});
    return levels;
  }

  // The fusion level whose candidates carry `tactic`'s kind, or nullopt for a name of none.
  std::optional<GraphEpilogue> fusion_level_of(const std::string& tactic) const {
    const std::optional<CandidateName> parsed = parse_candidate_name(tactic);
    if (!parsed) return std::nullopt;
    for (const GraphEpilogue& fused : fusion_levels()) {
      if (candidate_kind(fused) == parsed->kind) return fused;
    }
    return std::nullopt;
  }

  // The epilogue kernel's share when the graph computes `fused`; the bias and residual pointers
  // are non-null placeholders marking what the kernel reads.
  EpilogueLaunch make_post_for(const GraphEpilogue& fused, const Shape& y) const {
    static const char kMarker = 0;
    EpilogueLaunch e;
    e.dtype = dtype_;
    e.residual_before_activation = residual_before_;
    if (fused.act.kind == ir::ActivationKind::kNone) e.act = act_;
    if (has_bias_ && !fused.bias) e.bias = &kMarker;
    if (has_residual_ && !fused.residual) e.residual = &kMarker;
    if (geometry_.channels_last) {
      // y is [N, spatial..., C]: rows of C, the bias along C.
      int64_t rows = 1;
      for (size_t i = 0; i + 1 < y.size(); ++i) rows *= y[i];
      collapse_epilogue_dims(e, {rows, y.back()}, {0, 1});
      return e;
    }
    // NC + spatial, the bias along C.
    int64_t spatial = 1;
    for (size_t i = 2; i < y.size(); ++i) spatial *= y[i];
    collapse_epilogue_dims(e, {y[0], y[1], spatial}, {0, 1, 0});
    return e;
  }

  EpilogueLaunch make_post(const Shape& y) const { return make_post_for(chosen_.fused, y); }

  static CudnnDescriptor variant_pack(const GraphEpilogue& fused, const void* x, const void* w,
                                      void* y, const void* bias, const void* z, void* workspace) {
    std::vector<int64_t> uids{kConvX, kConvW, kConvY};
    std::vector<void*> pointers{const_cast<void*>(x), const_cast<void*>(w), y};
    if (fused.bias) {
      uids.push_back(kConvBias);
      pointers.push_back(const_cast<void*>(bias));
    }
    if (fused.residual) {
      uids.push_back(kConvZ);
      pointers.push_back(const_cast<void*>(z));
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
    std::string epilogue;
    if (has_residual_) epilogue += residual_before_ ? " residual" : " residual-after";
    if (act_.kind != ir::ActivationKind::kNone) epilogue += cat(" ", ir::to_string(act_));
    return cat("Conv ", to_string(ctx.inputs[0].dtype), ir::allows_tf32(ctx.node) ? " tf32" : "",
               g.channels_last ? " nhwc" : "", " x", list(g.x_dims), " w", list(g.w_dims), " pads",
               list(g.pre_pads), "/", list(g.post_pads), " strides", list(g.strides), " dil",
               list(g.dilations), has_bias_ ? " bias" : "", epilogue);
  }

  ir::Activation act_;
  bool residual_before_ = true;
  ConvGeometry geometry_;
  bool has_bias_ = false, has_residual_ = false;
  bool empty_input_ = false;
  DataType dtype_ = DataType::kFloat32;
  std::vector<ConvGraph> graphs_;
  ConvCandidate chosen_;
  EpilogueLaunch post_;
  CudnnDescriptor pack_;
  std::array<const void*, 6> pack_pointers_{};
};

}  // namespace

void register_conv_kernels(CudaKernelRegistry& r) {
  auto make = [](const ir::Node& node) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<ConvKernel>(node);
  };
  r.add("Conv", make);
  r.add("FusedConv", make);
}

}  // namespace kiln::cuda
