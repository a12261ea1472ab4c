// What the control-flow kernels (If, Loop, Scan) share: running a subgraph attribute of their node
// as a nested CPU execution context, and cutting tensors into slices and stacking them back.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/kernel.hpp"

namespace kiln {
class CpuExecutionContext;
}

namespace kiln::cpu {

// Loops stop with an error after this many iterations: a model whose loop never ends (or asks for
// billions of trips) gets a message instead of hanging the process.
constexpr int64_t kMaxLoopIterations = int64_t{1} << 24;

// One subgraph of a node, ready to run; built once per execution context.
class SubgraphRunner {
 public:
  SubgraphRunner(const ir::Node& node, const char* attr);
  ~SubgraphRunner();

  const ir::Graph& graph() const { return *graph_; }
  // `inputs` has one tensor per subgraph input. Errors name the owning node, the subgraph and
  // `where` (e.g. "iteration 3").
  std::vector<Tensor> run(const std::vector<Tensor>& inputs, const std::string& where);

 private:
  const ir::Node& node_;
  std::string attr_;
  ir::GraphAttr graph_;
  std::unique_ptr<CpuExecutionContext> context_;
  std::vector<std::string> input_names_;
};

// The value of a one-element bool tensor (a condition); fails naming the node otherwise.
bool read_condition(const KernelContext& ctx, const Tensor& t, const std::string& what);

// The slice of `t` at `index` along `axis` (the axis removed).
Tensor take_slice(const Tensor& t, int64_t axis, int64_t index);
// Stacks equally shaped `slices` along a new axis `axis` of the result. With no slices, gives an
// empty tensor of `dtype` whose slices would have shape `slice_shape`.
Tensor stack_slices(const std::vector<Tensor>& slices, int64_t axis, DataType dtype,
                    const Shape& slice_shape);
// The shape a subgraph output declares, for stacking zero slices: unknown dims become 0 (no
// element exists anyway), an unknown rank a scalar.
Shape declared_slice_shape(const ir::Value& v);

// Checks that a new slice matches the first one of its output (the same dtype and shape), and
// that the stacked result stays within tensor_byte_limit().
void check_slice(const KernelContext& ctx, const std::vector<Tensor>& slices, const Tensor& next,
                 size_t output);

}  // namespace kiln::cpu
