// Attribute lookup with typed, node-naming errors.
#include "ir/attribute.hpp"

#include <cstring>

#include "core/error.hpp"
#include "ir/graph.hpp"

namespace kiln::ir {

std::string attr_value_to_string(const AttrValue& v) {
  struct Printer {
    std::string operator()(int64_t x) const { return std::to_string(x); }
    std::string operator()(float x) const { return cat(x); }
    std::string operator()(const std::string& x) const { return "\"" + x + "\""; }
    std::string operator()(const std::vector<int64_t>& x) const { return shape_to_string(x); }
    std::string operator()(const std::vector<float>& x) const {
      std::string s = "[";
      for (size_t i = 0; i < x.size(); ++i) s += (i ? "," : "") + cat(x[i]);
      return s + "]";
    }
    std::string operator()(const std::vector<std::string>& x) const {
      std::string s = "[";
      for (size_t i = 0; i < x.size(); ++i) s += (i ? ",\"" : "\"") + x[i] + "\"";
      return s + "]";
    }
    std::string operator()(const Tensor& t) const {
      return cat("tensor<", to_string(t.dtype()), shape_to_string(t.shape()), ">");
    }
    std::string operator()(const GraphAttr& g) const {
      if (!g) return "graph<null>";
      return cat("graph<", g->name.empty() ? "<unnamed>" : g->name, ": ", g->inputs().size(),
                 " inputs, ", g->nodes().size(), " nodes, ", g->outputs().size(), " outputs>");
    }
  };
  return std::visit(Printer{}, v);
}

const AttrValue& Attributes::require(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    fail(ErrorCode::kInvalidModel, owner_, " is missing required attribute '", name, "'");
  }
  return it->second;
}

template <typename T>
const T& Attributes::typed(const std::string& name, const char* type_name) const {
  const AttrValue& v = require(name);
  if (const T* p = std::get_if<T>(&v)) return *p;
  fail(ErrorCode::kInvalidModel, owner_, " attribute '", name, "' should be ", type_name,
       " but is ", attr_value_to_string(v));
}

int64_t Attributes::get_int(const std::string& name) const {
  return typed<int64_t>(name, "an int");
}
int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  return has(name) ? get_int(name) : fallback;
}
float Attributes::get_float(const std::string& name) const {
  const AttrValue& v = require(name);
  if (const int64_t* i = std::get_if<int64_t>(&v)) return static_cast<float>(*i);
  return typed<float>(name, "a float");
}
float Attributes::get_float(const std::string& name, float fallback) const {
  return has(name) ? get_float(name) : fallback;
}
const std::string& Attributes::get_string(const std::string& name) const {
  return typed<std::string>(name, "a string");
}
std::string Attributes::get_string(const std::string& name, const std::string& fallback) const {
  return has(name) ? get_string(name) : fallback;
}
std::vector<int64_t> Attributes::get_ints(const std::string& name) const {
  return typed<std::vector<int64_t>>(name, "a list of ints");
}
std::vector<int64_t> Attributes::get_ints(const std::string& name,
                                          std::vector<int64_t> fallback) const {
  return has(name) ? get_ints(name) : fallback;
}
std::vector<float> Attributes::get_floats(const std::string& name) const {
  return typed<std::vector<float>>(name, "a list of floats");
}
std::vector<float> Attributes::get_floats(const std::string& name,
                                          std::vector<float> fallback) const {
  return has(name) ? get_floats(name) : fallback;
}
std::vector<std::string> Attributes::get_strings(const std::string& name) const {
  return typed<std::vector<std::string>>(name, "a list of strings");
}
const Tensor& Attributes::get_tensor(const std::string& name) const {
  return typed<Tensor>(name, "a tensor");
}
const GraphAttr& Attributes::get_graph(const std::string& name) const {
  const GraphAttr& g = typed<GraphAttr>(name, "a graph");
  if (!g) fail(ErrorCode::kInvalidModel, owner_, " attribute '", name, "' is an empty graph");
  return g;
}

namespace {

bool same_value(const AttrValue& a, const AttrValue& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, Tensor>) {
          // An undefined or empty tensor has no bytes (and may have a null pointer, which
          // memcmp must not be given even for 0 bytes).
          return x.defined() == y.defined() && x.dtype() == y.dtype() && x.shape() == y.shape() &&
                 (x.nbytes() == 0 || std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0);
        } else {
          return x == y;
        }
      },
      a);
}

}  // namespace

bool Attributes::operator==(const Attributes& other) const {
  if (values_.size() != other.values_.size()) return false;
  for (const auto& [k, v] : values_) {
    auto it = other.values_.find(k);
    if (it == other.values_.end() || !same_value(v, it->second)) return false;
  }
  return true;
}

}  // namespace kiln::ir
