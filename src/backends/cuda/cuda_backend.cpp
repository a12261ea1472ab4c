// The CUDA backend: its own graph rewrites (patch embeddings as GEMMs, space-to-depth stems,
// padded narrow convolutions, fused copy chains), every convolution region channels-last, static
// shapes only (later layers with data-dependent shapes go to a host part), and build-time tactic
// tuning on this machine's GPU.
#include "backends/cuda/cuda_backend.hpp"

#include <chrono>
#include <map>

#include "backends/cuda/conv_serialized_plan.hpp"
#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cuda_execution_context.hpp"
#include "backends/cuda/flash_attention_heads.hpp"
#include "backends/cuda/pointwise_prebuilt.hpp"
#include "core/logging.hpp"
#include "ir/layer_precision.hpp"
#include "ir/layer_tactic.hpp"
#include "passes/passes.hpp"

namespace kiln::cuda {
namespace {

class CudaBackend final : public backends::Backend {
 public:
  kiln::Backend kind() const override { return kiln::Backend::kCuda; }
  bool available() const override { return device_available(); }

  std::vector<passes::Pass> passes(backends::PassStage stage) const override {
    switch (stage) {
      case backends::PassStage::kBeforeLayout:
        // GPU convolution libraries run a patch embedding (3 channels, stride = kernel) far from
        // the matrix units' rate; as a GEMM it runs near it. The transpose it adds may then
        // collapse with the model's own rearrangements.
        return {{"patchify_to_gemm", passes::patchify_to_gemm},
                {"collapse_view_chains", passes::collapse_view_chains}};
      case backends::PassStage::kAfterPrecision:
        // Both depend on the layout and the 16-bit precision chosen before them.
        return {{"space_to_depth_stems", passes::space_to_depth_stems},
                {"pad_narrow_conv_channels", passes::pad_narrow_conv_channels},
                {"fuse_rearrange_chains", passes::fuse_rearrange_chains}};
    }
    return {};
  }

  builder::LayoutPolicy layout_policy() const override {
    return builder::LayoutPolicy::kChannelsLastAlways;
  }

  // Only 16-bit attention layers read interleaved heads at full speed (the flash kernel,
  // flash_attention_heads.hpp); for the others the Transposes feed the cuBLASLt GEMM tactic
  // packed operands.
  bool reads_interleaved_heads(const ir::Node& n) const override {
    const ir::Value* q = n.input(0);
    const ir::Value* v = n.input(2);
    if (!q || !v || !q->shape || !v->shape) return false;
    const ir::Dim& d = q->shape->back();
    const ir::Dim& dv = v->shape->back();
    return flash_attention_dtype(q->dtype, ir::allows_tf32(n)) && d.known() && dv.known() &&
           flash_attention_heads(d.value, dv.value);
  }

  bool runs_data_dependent_shapes() const override { return false; }

  // enqueue() writes the graph outputs straight into the caller's device buffers.
  GraphOutputMemory graph_output_memory() const override { return GraphOutputMemory::kCaller; }

  void check_support(const ir::Graph& graph) const override { check_cuda_support(graph); }

  std::string_view precision_note() const override { return ""; }

  // Compiles every Pointwise layer's generated kernel with NVRTC for this machine's GPU, or for
  // Hopper (sm_90, kiln's target) where there is none. A layer whose kernel does not compile
  // keeps none: a context then tries again and falls back to the interpreter, as before.
  void generate_code(ir::Graph& graph) const override {
    const int arch = device_available() ? device_compute_capability() : kDefaultTargetArch;
    size_t compiled = 0, failed = 0;
    std::vector<ir::Node*> layers;
    std::vector<std::string> sources;
    for (const auto& n : graph.nodes()) {
      if (n->op != "Pointwise" || ir::pinned_tactic(*n) == std::string("interpret")) continue;
      layers.push_back(n.get());
      try {
        sources.push_back(pointwise_layer_source(*n));
      } catch (const Error&) {
        // reported below, by store_pointwise_cubin
      }
    }
    // NVRTC compiles one program per thread: the distinct programs at once, then each layer's
    // store is a lookup.
    compile_pointwise_sources(sources, arch);
    for (ir::Node* n : layers) {
      try {
        store_pointwise_cubin(*n, arch);
        ++compiled;
      } catch (const Error& e) {
        ++failed;
        log(Severity::kWarning, cat(n->describe(), ": no kernel stored in the plan (", e.what(),
                                    "); it is compiled when the plan loads"));
      }
    }
    if (compiled || failed) {
      log(Severity::kInfo,
          cat("generated code: ", compiled, " Pointwise kernel(s) compiled for sm_", arch,
              " into the plan", failed ? cat(", ", failed, " failed") : ""));
    }
  }

  // Tunes every layer now (a context's creation times the candidate tactics) and records each
  // winner in its layer, so the plan carries the choice and loading it times nothing. Without a
  // GPU the choice waits for the load.
  void tune(ir::Graph& graph, const std::shared_ptr<const Engine::Impl>& engine,
            const BuilderConfig& config) const override {
    if (!device_available()) {
      log(Severity::kInfo,
          "no CUDA device here: each layer's tactic is chosen when the plan loads");
      return;
    }
    std::map<const ir::Node*, std::string> choices;
    std::map<const ir::Node*, std::vector<char>> cudnn_plans;
    try {
      CudaExecutionContext::PrepareProgress progress;
      if (config.progress) {
        auto start = std::chrono::steady_clock::now();
        progress = [&config, start](size_t done, size_t total, const ir::Node* layer) {
          std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
          config.progress(BuildProgress{done, total, layer ? layer->name : "", elapsed.count()});
        };
      }
      CudaExecutionContext context(engine, progress);
      choices = context.tuner().choices();
      cudnn_plans = context.tuner().cudnn_plans();
    } catch (const Error& e) {
      // A pinned tactic that does not apply is the user's error: say so now.
      if (e.code() == ErrorCode::kInvalidArgument) throw;
      // The plan is still valid without recorded tactics: they are chosen when it loads. A
      // layer that cannot run at all fails there, naming itself, as it would have here.
      log(Severity::kWarning, cat("could not tune on this GPU (", e.what(),
                                  "); each layer's tactic is chosen when the plan loads"));
      return;
    }
    size_t recorded = 0, stored_plans = 0;
    int device = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&device));
    const std::string key = cudnn_plan_key(device);
    for (const auto& n : graph.nodes()) {
      auto it = choices.find(n.get());
      if (it == choices.end()) continue;
      if (!ir::pinned_tactic(*n)) {
        n->attrs.set(ir::kTacticAttr, it->second);
        ++recorded;
      }
      auto plan = cudnn_plans.find(n.get());
      if (plan != cudnn_plans.end()) {
        store_cudnn_plan(*n, plan->second, it->second, key);
        ++stored_plans;
      }
    }
    log(Severity::kInfo,
        cat("tactics: recorded the chosen tactic of ", recorded, " layer(s)",
            stored_plans ? cat(", the compiled cuDNN plan of ", stored_plans) : std::string()));
  }

  std::unique_ptr<ExecutionContext> create_context(
      std::shared_ptr<const Engine::Impl> engine) const override {
    return std::make_unique<CudaExecutionContext>(std::move(engine));
  }
};

}  // namespace

const backends::Backend& cuda_backend() {
  static const CudaBackend backend;
  return backend;
}

}  // namespace kiln::cuda
