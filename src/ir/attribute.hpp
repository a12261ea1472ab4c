// Typed node attributes. Getters name the node and attribute in their errors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::ir {

class Graph;

// A subgraph (If branches, Loop/Scan bodies) is an immutable, closed function: it reads only its
// own inputs and constants (the importer turns outer-scope references into extra inputs), so an
// attribute can share it between graph copies. Code that refines one builds a new Graph.
using GraphAttr = std::shared_ptr<const Graph>;

using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>, Tensor, GraphAttr>;

std::string attr_value_to_string(const AttrValue& v);

class Attributes {
 public:
  // `owner` names the node in error messages, e.g. "node 'conv1' (Conv)".
  void set_owner(std::string owner) { owner_ = std::move(owner); }

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttrValue v) { values_[name] = std::move(v); }
  void erase(const std::string& name) { values_.erase(name); }
  const std::map<std::string, AttrValue>& all() const { return values_; }

  int64_t get_int(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  float get_float(const std::string& name) const;
  float get_float(const std::string& name, float fallback) const;
  const std::string& get_string(const std::string& name) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback) const;
  std::vector<float> get_floats(const std::string& name) const;
  std::vector<float> get_floats(const std::string& name, std::vector<float> fallback) const;
  std::vector<std::string> get_strings(const std::string& name) const;
  const Tensor& get_tensor(const std::string& name) const;
  // Never null: a null subgraph attribute is reported like a missing one.
  const GraphAttr& get_graph(const std::string& name) const;

  // Subgraphs compare by identity (the same Graph object), not by structure.
  bool operator==(const Attributes& other) const;

 private:
  const AttrValue& require(const std::string& name) const;
  template <typename T>
  const T& typed(const std::string& name, const char* type_name) const;

  std::string owner_;
  std::map<std::string, AttrValue> values_;
};

}  // namespace kiln::ir
