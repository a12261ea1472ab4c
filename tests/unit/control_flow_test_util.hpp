// Hand-built graphs with subgraphs (If, Loop, Scan) shared by the IR, CPU kernel and plan tests,
// and a small builder that keeps such graphs readable.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::test {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name);

  ir::Value* input(const std::string& name, DataType dtype, std::optional<ir::SymShape> shape);
  ir::Value* constant(const std::string& name, Tensor t);
  // Adds a node with one output named `out` (typed later by inference) and returns the output.
  ir::Value* op(const std::string& op, std::vector<ir::Value*> ins, const std::string& out,
                ir::Attributes attrs = {});
  // Adds a node with several outputs.
  std::vector<ir::Value*> op_n(const std::string& op, std::vector<ir::Value*> ins,
                               const std::vector<std::string>& outs, ir::Attributes attrs = {});
  void output(ir::Value* v) { graph_->outputs().push_back(v); }

  ir::Graph& graph() { return *graph_; }
  // A subgraph attribute: left untyped past its inputs; the owner's inference types it.
  ir::GraphAttr subgraph() { return ir::GraphAttr(std::move(graph_)); }
  // A main graph, inferred.
  std::unique_ptr<ir::Graph> finish();

 private:
  std::unique_ptr<ir::Graph> graph_;
  int nodes_ = 0;
};

ir::Attributes attrs(std::initializer_list<std::pair<const std::string, ir::AttrValue>> kv);

Tensor scalar_bool(bool v);
Tensor scalar_i64(int64_t v);
Tensor floats(Shape shape, std::vector<float> v);

// Builds a CPU engine for `g` (with the default passes).
std::unique_ptr<Engine> build_cpu_engine(std::unique_ptr<ir::Graph> g);
// Builds a CPU engine for `g` and runs it once.
std::vector<Tensor> run_graph(std::unique_ptr<ir::Graph> g,
                              const std::map<std::string, Tensor>& feeds);

// out = If(cond) { x + y } else { x * y }, with x and y float[3] captured from the main graph.
std::unique_ptr<ir::Graph> if_with_captures();

// acc (float[3]) and a scan of it over M iterations of:
//   acc = (iteration % 2 == 0) ? acc + x : acc - 1     (an If nested in the body, x captured)
// Inputs: M (int64), x (float[3]), acc0 (float[3]); outputs: acc, scan (float[M,3]).
std::unique_ptr<ir::Graph> loop_with_nested_if();

// do { acc = acc + acc } while (acc < limit), at most M times, scanning acc; limit captured.
// Inputs: M (int64), go (bool), acc0 (float scalar), limit (float scalar); outputs: acc, scan.
std::unique_ptr<ir::Graph> loop_doubling_until();

}  // namespace kiln::test
