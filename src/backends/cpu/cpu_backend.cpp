// The CPU backend: runs everywhere, every op (subgraphs included) through its kernel registry,
// data-dependent shapes too. It adds no passes of its own, keeps a convolution region
// channels-last only where that saves Transposes, and has nothing to tune (oneDNN picks its
// kernels when a context is created).
#include "backends/cpu/cpu_backend.hpp"

#include <sstream>

#include "backends/cpu/kernel.hpp"
#include "runtime/cpu_execution_context.hpp"

namespace kiln::cpu {
namespace {

// Lists every layer of `graph` and of its subgraphs (If branches, Loop bodies) without a kernel.
void list_missing_kernels(const ir::Graph& graph, const std::string& scope,
                          std::ostringstream& missing, int& count) {
  for (const auto& n : graph.nodes()) {
    if (!CpuKernelRegistry::instance().has(n->op)) {
      missing << "\n  - " << scope << n->describe();
      ++count;
    }
    for (const auto& [attr, value] : n->attrs.all()) {
      if (const auto* sub = std::get_if<ir::GraphAttr>(&value); sub && *sub) {
        list_missing_kernels(**sub, cat(scope, "in '", attr, "' of ", n->describe(), ": "), missing,
                             count);
      }
    }
  }
}

class CpuBackend final : public backends::Backend {
 public:
  kiln::Backend kind() const override { return kiln::Backend::kCpu; }
  bool available() const override { return true; }
  std::vector<passes::Pass> passes(backends::PassStage) const override { return {}; }
  builder::LayoutPolicy layout_policy() const override {
    return builder::LayoutPolicy::kChannelsLastWhereItSavesTransposes;
  }
  // The CPU attention kernel reads any strides alike.
  bool reads_interleaved_heads(const ir::Node&) const override { return true; }
  bool runs_data_dependent_shapes() const override { return true; }
  // execute() returns tensors of its own, copied out of the arena.
  GraphOutputMemory graph_output_memory() const override { return GraphOutputMemory::kArena; }

  void check_support(const ir::Graph& graph) const override {
    std::ostringstream missing;
    int count = 0;
    list_missing_kernels(graph, "", missing, count);
    if (count) fail(ErrorCode::kUnsupported, count, " layer(s) have no cpu kernel:", missing.str());
  }

  // Useful to check a model's reduced-precision numerics before deploying it to a GPU.
  std::string_view precision_note() const override {
    return "the CPU backend honours the precision flags: FP16/BF16 layers store their values and "
           "weights in that type and compute in FP32 (TF32 applies to GPU matrix work only)";
  }

  // The CPU kernels are compiled with kiln; nothing is generated per model.
  void generate_code(ir::Graph&) const override {}

  void tune(ir::Graph&, const std::shared_ptr<const Engine::Impl>&,
            const BuilderConfig&) const override {}

  std::unique_ptr<ExecutionContext> create_context(
      std::shared_ptr<const Engine::Impl> engine) const override {
    return std::make_unique<CpuExecutionContext>(std::move(engine));
  }
};

}  // namespace

const backends::Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace kiln::cpu
