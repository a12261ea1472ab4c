// If, Loop and Scan in a CUDA engine: their subgraphs run on the CPU backend, through the host
// fallback, and must give the CPU reference's results. Without a GPU only the reference runs.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_case_table.hpp"
#include "unit/control_flow_test_util.hpp"

namespace kiln::test {
namespace {

using DT = DataType;

// The case of the one `op` layer of `g`: its attributes (the subgraphs), and its inputs typed as
// in `g`, random floats, counts of 3 and true conditions.
GpuCase case_of(const ir::Graph& g, const std::string& op) {
  for (const auto& n : g.nodes()) {
    if (n->op != op) continue;
    GpuCase c;
    c.name = op + " (" + g.name + ")";
    c.op = op;
    c.attrs = n->attrs;
    c.num_outputs = n->outputs.size();
    for (const ir::Value* v : n->inputs) {
      GpuInput in;
      if (!v) {
        in.omitted = true;
      } else {
        in.dtype = v->dtype;
        in.shape = *ir::to_concrete(*v->shape);
        if (v->dtype == DT::kInt64) in.values = std::vector<double>(shape_numel(in.shape), 3);
        if (v->dtype == DT::kBool) in.values = std::vector<double>(shape_numel(in.shape), 1);
      }
      c.inputs.push_back(in);
    }
    return c;
  }
  ADD_FAILURE() << "no " << op << " layer in " << g.name;
  return {};
}

// state, scan = Scan(state0, x) { state + x_i, the sum so far } over x's rows.
GpuCase running_sum_scan() {
  GraphBuilder body("running_sum");
  ir::Value* s = body.input("s", DT::kFloat32, std::nullopt);
  ir::Value* xi = body.input("xi", DT::kFloat32, std::nullopt);
  ir::Value* sum = body.op("Add", {s, xi}, "sum");
  body.output(sum);
  body.output(body.op("Identity", {sum}, "seen"));
  GpuCase c;
  c.name = "Scan (running sum)";
  c.op = "Scan";
  c.attrs.set("body", body.subgraph());
  c.attrs.set("num_scan_inputs", int64_t{1});
  c.inputs = {input(DT::kFloat32, {2}), input(DT::kFloat32, {4, 2})};
  c.num_outputs = 2;
  return c;
}

const GpuCaseTable kControlFlowCases("ControlFlowGpu.SubgraphsMatchTheCpu", [] {
  return std::vector<GpuCase>{case_of(*if_with_captures(), "If"),
                              case_of(*loop_with_nested_if(), "Loop"), running_sum_scan()};
});

TEST(ControlFlowGpu, SubgraphsMatchTheCpu) {
  run_table(kControlFlowCases);
}

}  // namespace
}  // namespace kiln::test
