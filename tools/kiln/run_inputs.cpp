// Input preparation for `kiln run`; every mismatch names the input, the file and both shapes.
#include "run_inputs.hpp"

#include "backends/cpu/dispatch.hpp"
#include "core/error.hpp"
#include "npy.hpp"
#include "option_values.hpp"

namespace kiln::tools {
namespace {

std::string input_names(const ir::Graph& g) {
  std::string s;
  for (const ir::Value* v : g.inputs()) s += (s.empty() ? "'" : ", '") + v->name + "'";
  return s.empty() ? "(none)" : s;
}

const ir::Value* find_input(const ir::Graph& g, const std::string& name, const std::string& opt) {
  for (const ir::Value* v : g.inputs()) {
    if (v->name == name) return v;
  }
  fail(ErrorCode::kInvalidArgument, opt, " names '", name,
       "', which is not an input of the model; its inputs are ", input_names(g));
}

// Checks `shape` (from `source`) against the input's declared shape, binding symbolic dims.
void match_shape(const ir::Value& v, const Shape& shape, const std::string& source,
                 std::map<std::string, int64_t>& symbols) {
  if (!v.shape) return;
  auto mismatch = [&]() {
    fail(ErrorCode::kInvalidArgument, "input '", v.name, "' has shape ",
         ir::sym_shape_to_string(v.shape), " but ", source, " has shape ", shape_to_string(shape));
  };
  if (shape.size() != v.shape->size()) mismatch();
  for (size_t i = 0; i < shape.size(); ++i) {
    const ir::Dim& d = (*v.shape)[i];
    if (d.known() && d.value != shape[i]) mismatch();
    if (!d.known() && !d.symbol.empty()) {
      auto [it, fresh] = symbols.emplace(d.symbol, shape[i]);
      if (!fresh && it->second != shape[i]) {
        fail(ErrorCode::kInvalidArgument, "dimension '", d.symbol, "' is ", it->second,
             " elsewhere, but ", source, " makes it ", shape[i], " for input '", v.name, "'");
      }
    }
  }
}

}  // namespace

std::pair<std::string, std::string> split_assignment(const std::string& arg,
                                                     const std::string& option) {
  size_t eq = arg.rfind('=');
  if (eq == std::string::npos || eq == 0) {
    fail(ErrorCode::kInvalidArgument, option, " expects NAME=VALUE, got '", arg, "'");
  }
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

Tensor random_tensor(DataType dtype, const Shape& shape, std::mt19937_64& rng) {
  Tensor t(dtype, shape);
  cpu::visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    if constexpr (std::is_same_v<T, bool>) {
      std::bernoulli_distribution coin(0.5);
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = coin(rng);
    } else if constexpr (std::is_integral_v<T>) {
      std::uniform_int_distribution<int> small(0, 3);
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(small(rng));
    } else {
      std::uniform_real_distribution<double> unit(-1.0, 1.0);
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = T(static_cast<float>(unit(rng)));
    }
  });
  return t;
}

std::map<std::string, Tensor> prepare_inputs(const ir::Graph& graph, const RunInputOptions& opts,
                                             std::ostream& log, std::ostream& notes) {
  std::map<std::string, std::string> files;
  for (const std::string& arg : opts.inputs) {
    auto [name, path] = split_assignment(arg, "--input");
    find_input(graph, name, "--input");
    if (!files.emplace(name, path).second) {
      fail(ErrorCode::kInvalidArgument, "--input gives input '", name, "' twice");
    }
  }
  std::map<std::string, Shape> shapes;
  for (const std::string& arg : opts.shapes) {
    auto [name, dims] = split_assignment(arg, "--shape");
    find_input(graph, name, "--shape");
    if (!shapes.emplace(name, parse_dims(dims, "--shape " + name)).second) {
      fail(ErrorCode::kInvalidArgument, "--shape gives input '", name, "' twice");
    }
  }

  std::map<std::string, int64_t> symbols;
  std::map<std::string, Tensor> out;
  for (const auto& [name, path] : files) {
    const ir::Value& v = *find_input(graph, name, "--input");
    Tensor t = read_npy(path);
    if (t.dtype() != v.dtype) {
      fail(ErrorCode::kInvalidArgument, "input '", name, "' is ", to_string(v.dtype), " but '",
           path, "' holds ", to_string(t.dtype()));
    }
    std::string source = "'" + path + "'";
    match_shape(v, t.shape(), source, symbols);
    auto s = shapes.find(name);
    if (s != shapes.end() && s->second != t.shape()) {
      fail(ErrorCode::kInvalidArgument, "--shape ", name, "=", shape_to_string(s->second),
           " disagrees with ", source, ", which has shape ", shape_to_string(t.shape()));
    }
    out.emplace(name, std::move(t));
  }
  for (const auto& [name, shape] : shapes) {
    if (!files.count(name)) {
      match_shape(*find_input(graph, name, "--shape"), shape, "--shape", symbols);
    }
  }

  std::mt19937_64 rng(opts.seed);
  for (const ir::Value* v : graph.inputs()) {
    if (out.count(v->name)) {
      log << "input  " << v->name << ": " << to_string(v->dtype)
          << shape_to_string(out.at(v->name).shape()) << " from '" << files.at(v->name) << "'\n";
      continue;
    }
    Shape shape;
    if (shapes.count(v->name)) {
      shape = shapes.at(v->name);
    } else if (!v->shape) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name,
           "' has no declared shape; give one with --shape ", v->name, "=DIMS");
    } else {
      for (const ir::Dim& d : *v->shape) {
        if (d.known()) {
          shape.push_back(d.value);
        } else if (symbols.count(d.symbol)) {
          shape.push_back(symbols.at(d.symbol));
        } else {
          notes << "note: input '" << v->name << "' dimension "
                << (d.symbol.empty() ? "?" : "'" + d.symbol + "'")
                << " is not fixed; using 1 (set it with --shape " << v->name << "=...)\n";
          if (!d.symbol.empty()) symbols[d.symbol] = 1;
          shape.push_back(1);
        }
      }
    }
    int64_t numel;
    try {
      numel = shape_numel(shape);
    } catch (const Error&) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' shape ", shape_to_string(shape),
           " is too large");
    }
    uint64_t bytes = static_cast<uint64_t>(numel);
    if (bytes > kMaxRandomInputBytes / element_size(v->dtype)) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' of ", to_string(v->dtype),
           shape_to_string(shape), " would need more than ", kMaxRandomInputBytes >> 30,
           " GiB; give a smaller shape with --shape or the data with --input");
    }
    log << "input  " << v->name << ": " << to_string(v->dtype) << shape_to_string(shape)
        << " random (seed " << opts.seed << ")\n";
    out.emplace(v->name, random_tensor(v->dtype, shape, rng));
  }
  return out;
}

}  // namespace kiln::tools
