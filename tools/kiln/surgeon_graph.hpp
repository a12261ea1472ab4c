// Graph queries and small rewrites on ONNX GraphProtos shared by the `kiln surgeon` edits: who
// produces and reads a tensor (subgraphs included), pruning, renaming, declared types, node
// selection and shape strings.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"

namespace kiln::tools::surgeon {

// Tensors a node's subgraph attributes read from the enclosing scopes (not defined inside them).
std::set<std::string> subgraph_free_names(const ::onnx::NodeProto& node);
// Everything the node reads: its inputs and its subgraphs' free names.
std::set<std::string> node_reads(const ::onnx::NodeProto& node);

std::set<std::string> initializer_names(const ::onnx::GraphProto& g);
std::set<std::string> input_names(const ::onnx::GraphProto& g);
std::set<std::string> output_names(const ::onnx::GraphProto& g);
// Tensor name -> index of the node producing it (top-level nodes).
std::map<std::string, int> producers(const ::onnx::GraphProto& g);
// How many times each tensor is read: node inputs, subgraph free names, graph outputs.
std::map<std::string, int> use_counts(const ::onnx::GraphProto& g);

// Which nodes the tensors in `needed` depend on (one flag per node); `needed` grows by every
// tensor those nodes read. A tensor for which `stops(t)` holds is not traced through: its
// producer is kept only if something else needs it.
std::vector<bool> live_nodes(const ::onnx::GraphProto& g, std::set<std::string>& needed,
                             const std::function<bool(const std::string&)>& stops = nullptr);

// Keeps only the nodes the graph outputs depend on (in their order), the initializers they read
// (dropping an unused initializer's duplicate in the input list too) and value_info of tensors
// that still exist. Graph inputs stay. Returns the number of nodes removed.
int prune_graph(::onnx::GraphProto& g);

// Drops initializers nothing reads (and their entries in the input list) and value_info of
// tensors nothing produces. Returns the number of initializers dropped.
int drop_unused_declarations(::onnx::GraphProto& g);

// Redirects every read of `from` (node inputs, subgraph references) to `to`; not graph outputs.
void rename_reads(::onnx::GraphProto& g, const std::string& from, const std::string& to);

// A name not yet used by any tensor or node of the graph: `base`, or `base_2`, `base_3`...
std::string unique_tensor_name(const ::onnx::GraphProto& g, const std::string& base);

// What the model declares about a tensor's type: graph inputs and outputs, value_info and
// initializers; `add_inferred` adds kiln's inference for tensors the model leaves undeclared.
class TypeTable {
 public:
  explicit TypeTable(const ::onnx::GraphProto& g);
  void add_inferred(const Network& network);
  // The declared type with the tensor's element type set, or nullopt.
  std::optional<::onnx::TypeProto> find(const std::string& name) const;

 private:
  std::map<std::string, ::onnx::TypeProto> types_;
};

// "float32[1,3,N,?]" for a TypeProto; "?" when unknown.
std::string type_to_string(const ::onnx::TypeProto& t);
std::string elem_type_name(int32_t elem_type);

// Whether two declared types certainly differ: element types, ranks or a static dim.
bool types_conflict(const ::onnx::TypeProto& a, const ::onnx::TypeProto& b, std::string* why);

// A kiln tensor's dtype and shape as an ONNX type (known dims as dim_value, symbolic as
// dim_param, anonymous ones left empty).
::onnx::TypeProto type_from_desc(const TensorDesc& t);

// Parses "1x3x224x224" (or "1,3,224,224"): numbers are static dims, names ("N", "batch")
// symbolic, "?" unknown.
// An empty string is a scalar. Throws Error(kInvalidArgument) quoting `spec` on anything else.
::onnx::TensorShapeProto parse_shape(const std::string& dims, const std::string& spec);
// Splits "NAME=VALUE", throwing Error(kInvalidArgument) naming `option` when there is no '='.
std::pair<std::string, std::string> split_assignment(const std::string& s,
                                                     const std::string& option);
// Splits "a,b,c"; empty parts dropped.
std::vector<std::string> split_list(const std::vector<std::string>& items);

// Indexes of the top-level nodes named in `names` or whose op_type is in `ops`. Throws
// Error(kInvalidArgument) for a name no node has, or when nothing matches at all.
std::vector<int> select_nodes(const ::onnx::GraphProto& g, const std::vector<std::string>& names,
                              const std::vector<std::string>& ops);

// "node 'bn1' (BatchNormalization)", or "node #3 (Relu)" for an unnamed node.
std::string describe_node(const ::onnx::GraphProto& g, int index);

}  // namespace kiln::tools::surgeon
