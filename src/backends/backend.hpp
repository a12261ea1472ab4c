// The interface through which the builder and the runtime use a backend, so that neither names
// one (DESIGN.md). A backend says which layers it runs, adds its own passes to the build
// pipeline, sets its layout policy, tunes its tactics at build time and makes the execution
// contexts of its engines. Backends are registered in registry.cpp, the one place that knows
// which were compiled in; docs/architecture.md has the recipe for adding one.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "builder/choose_layout.hpp"
#include "kiln/kiln.hpp"
#include "passes/pass_manager.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::backends {

// Where in the build pipeline (builder/pipeline.hpp) a backend's own passes run.
enum class PassStage {
  kBeforeLayout,    // after the graph optimizations, before the layout is chosen
  kAfterPrecision,  // after layout, precision and the attention rewrites
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual kiln::Backend kind() const = 0;
  std::string_view name() const { return to_string(kind()); }

  // Whether this machine can run the backend's engines (a GPU backend needs a device).
  virtual bool available() const = 0;

  // The backend's passes at `stage`, in order. The builder runs them through the PassManager
  // with the rest (timed, verified, listed by `kiln build --verbose`) at optimization level 1 and
  // above, leaving out those BuilderConfig::disabled_passes names.
  virtual std::vector<passes::Pass> passes(PassStage stage) const = 0;

  // Whether convolution regions run channels-last when the layout is left to kiln.
  virtual builder::LayoutPolicy layout_policy() const = 0;

  // Whether an attention layer runs at full speed reading its operands' heads interleaved (the
  // merged-projection and absorbed-transpose rewrites are made only for such layers).
  virtual bool reads_interleaved_heads(const ir::Node& attention) const = 0;

  // Whether the backend runs layers whose output shapes depend on data. When it does not, the
  // builder hands the layers from the first such one on to the CPU backend, run on the host after
  // this backend's part (builder/host_tail.hpp).
  virtual bool runs_data_dependent_shapes() const = 0;

  // Where the backend's execution contexts keep the graph outputs: in the activation arena, or in
  // the buffers the caller binds for each run, which the memory plan then leaves out of the arena
  // (builder/memory_plan.hpp). Every context follows the engine's memory plan.
  virtual GraphOutputMemory graph_output_memory() const = 0;

  // Fails (Error kUnsupported) listing every layer of `graph` (subgraphs included) that the
  // backend cannot run.
  virtual void check_support(const ir::Graph& graph) const = 0;

  // A line for the build log on how the backend honours reduced-precision flags ("" for none).
  virtual std::string_view precision_note() const = 0;

  // Build-time code generation: compiles the kernels the backend generates for `graph`'s layers
  // and stores them in the layers, so that the plan carries them and loading it compiles
  // nothing. Runs at every optimization level, after the support check.
  virtual void generate_code(ir::Graph& graph) const = 0;

  // Build-time tuning at optimization level 3: chooses each layer's tactic on this machine and
  // records it in the layer (ir/layer_tactic.hpp), so that the plan carries the choices and
  // loading it times nothing. `engine` is the engine being built, whose graph is `graph`.
  virtual void tune(ir::Graph& graph, const std::shared_ptr<const Engine::Impl>& engine,
                    const BuilderConfig& config) const = 0;

  // An execution context for one of the backend's engines (not a split engine's host part).
  virtual std::unique_ptr<ExecutionContext> create_context(
      std::shared_ptr<const Engine::Impl> engine) const = 0;
};

// The backend of `kind`, or nullptr when this kiln build does not include it.
const Backend* find_backend(kiln::Backend kind);

// The backend of `kind`; Error kUnsupported when this kiln build does not include it.
const Backend& get_backend(kiln::Backend kind);

}  // namespace kiln::backends
