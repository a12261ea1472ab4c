// What an op's import function sees: the node already converted generically (same op name,
// attributes, inputs and outputs) and the graph it lives in. An import function rewrites the
// node into kiln's canonical form for the op (the newest opset's), e.g. moving attributes that
// later opsets turned into inputs; it throws Error(kUnsupported) for attribute values kiln cannot
// run, and the importer collects those into its one report.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.hpp"
#include "ir/op_family.hpp"

namespace kiln::onnx {

struct ImportContext {
  ir::Graph& graph;
  int opset = 0;  // of the node's domain

  // Adds a constant value to the graph and returns it.
  ir::Value* constant(const std::string& base_name, Tensor data);
  ir::Value* constant_ints(const std::string& base_name, const std::vector<int64_t>& values);
  // Moves attribute `attr` (a list of ints) to input `index` as an int64 constant, if present.
  void attribute_to_input(ir::Node& node, const std::string& attr, size_t index);
  // Sets input `index`, growing the input list with omitted (nullptr) inputs as needed.
  static void set_input(ir::Node& node, size_t index, ir::Value* v);
};

using ImportFn = void (*)(ImportContext& ctx, ir::Node& node);

class ImporterTable {
 public:
  static const ImporterTable& instance();
  void add(const std::string& op, ImportFn fn);
  // nullptr: the op needs no rewriting beyond the generic conversion.
  ImportFn find(const std::string& op) const;
  // Every add() in order: the op and the family of the registration function that made it
  // (import_context.cpp's table), for the coverage test that holds importers to their op's family.
  const std::vector<std::pair<std::string, ir::OpFamily>>& families() const { return families_; }

 private:
  std::map<std::string, ImportFn> fns_;
  std::vector<std::pair<std::string, ir::OpFamily>> families_;
  ir::OpFamily registering_ = ir::OpFamily::kElementwise;  // the family whose function is adding
};

}  // namespace kiln::onnx
