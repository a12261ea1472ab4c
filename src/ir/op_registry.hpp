// The op table: for every op kiln knows, its arity, its type/shape inference and its traits (the
// facts passes and planners need, ir/op_traits.hpp). Inference runs at build time on symbolic
// shapes and at run time on concrete tensors, so an op's output shapes are computed by one
// function everywhere.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "ir/graph.hpp"
#include "ir/op_family.hpp"
#include "ir/op_traits.hpp"

namespace kiln::ir {

// What inference knows about one tensor.
struct TensorType {
  DataType dtype = DataType::kFloat32;
  std::optional<SymShape> shape;  // nullopt: rank unknown
  const Tensor* value = nullptr;  // contents, when known (constants; every tensor at run time)

  int64_t rank() const { return shape ? static_cast<int64_t>(shape->size()) : -1; }
};

class InferenceContext {
 public:
  // `error_code` is what fail() throws: kInvalidModel at build time, kInvalidArgument at run time
  // (where a bad shape comes from the caller's inputs).
  InferenceContext(const Node& node, std::vector<std::optional<TensorType>> inputs,
                   ErrorCode error_code = ErrorCode::kInvalidModel);

  const Node& node() const { return node_; }
  const Attributes& attrs() const { return node_.attrs; }
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i].has_value(); }
  const TensorType& input(size_t i) const;
  // The input's contents as int64 values (any integer dtype), when known.
  std::optional<std::vector<int64_t>> input_ints(size_t i) const;
  // The input's contents as doubles (any numeric dtype), when known.
  std::optional<std::vector<double>> input_doubles(size_t i) const;

  size_t num_outputs() const { return outputs_.size(); }
  void set_output(size_t i, DataType dtype, std::optional<SymShape> shape);
  void set_output(size_t i, DataType dtype, const Shape& shape) {
    set_output(i, dtype, to_sym_shape(shape));
  }
  const std::vector<std::optional<TensorType>>& outputs() const { return outputs_; }

  template <typename... Parts>
  [[noreturn]] void fail(const Parts&... parts) const {
    kiln::fail(error_code_, node_.describe(), ": ", parts...);
  }

 private:
  const Node& node_;
  std::vector<std::optional<TensorType>> inputs_;
  std::vector<std::optional<TensorType>> outputs_;
  ErrorCode error_code_;
};

using InferFn = void (*)(InferenceContext&);
// For ops with subgraphs (If, Loop, Scan): gives the node's subgraph attributes input types that
// match the node's current input types (captured outer values, loop-carried values, scan slices)
// and re-infers them, replacing each subgraph attribute with the refined copy.
using BindSubgraphsFn = void (*)(Node&);

struct OpSchema {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // kVariadic for any number
  int min_outputs = 1;
  int max_outputs = 1;
  InferFn infer = nullptr;
  OpTraits traits{};
  BindSubgraphsFn bind_subgraphs = nullptr;  // only for ops with subgraph attributes
  // Never given at a registration: OpRegistry::add sets it to the family whose registration
  // function (src/ir/ops/<family>*.cpp, listed in op_registry.cpp) adds the op.
  OpFamily family = OpFamily::kElementwise;

  static constexpr int kVariadic = 1 << 20;
};

class OpRegistry {
 public:
  // The table with every built-in op registered.
  static const OpRegistry& instance();

  void add(OpSchema schema);
  // The same with its traits given apart, which reads better at a registration.
  void add(OpSchema schema, const OpTraits& traits);
  const OpSchema* find(std::string_view op) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, OpSchema, std::less<>> schemas_;
  OpFamily registering_ = OpFamily::kElementwise;  // the family whose function is adding ops
};

// Runs inference for one node given what is known of its inputs; checks arity first.
std::vector<std::optional<TensorType>> infer_node(const Node& node,
                                                  std::vector<std::optional<TensorType>> inputs,
                                                  ErrorCode error_code = ErrorCode::kInvalidModel);

// Runs inference over the whole graph in order and stores dtypes and shapes on its values. Nodes
// with subgraphs first get their subgraphs re-typed from their inputs (OpSchema::bind_subgraphs).
void infer_graph(Graph& graph);

}  // namespace kiln::ir
