// Input preparation for `kiln run`; every mismatch names the input, the file and both shapes.
#include "run_inputs.hpp"

#include <algorithm>
#include <cstring>

#include "kiln/error.hpp"
#include "kiln/inspector.hpp"
#include "npy.hpp"
#include "option_values.hpp"

namespace kiln::tools {
namespace {

std::string input_names(const std::vector<TensorDesc>& inputs) {
  std::string s;
  for (const TensorDesc& v : inputs) s += (s.empty() ? "'" : ", '") + v.name + "'";
  return s.empty() ? "(none)" : s;
}

const TensorDesc* find_input(const std::vector<TensorDesc>& inputs, const std::string& name,
                             const std::string& opt) {
  for (const TensorDesc& v : inputs) {
    if (v.name == name) return &v;
  }
  fail(ErrorCode::kInvalidArgument, opt, " names '", name,
       "', which is not an input of the model; its inputs are ", input_names(inputs));
}

// The symbolic name of dimension `i` ("" for a known or anonymous one).
std::string dim_name(const TensorDesc& v, size_t i) {
  return i < v.dim_names.size() ? v.dim_names[i] : "";
}

// Checks `shape` (from `source`) against the input's declared shape, binding symbolic dims.
void match_shape(const TensorDesc& v, const Shape& shape, const std::string& source,
                 std::map<std::string, int64_t>& symbols) {
  if (!v.rank_known) return;
  auto mismatch = [&]() {
    fail(ErrorCode::kInvalidArgument, "input '", v.name, "' has shape ", shape_to_string(v),
         " but ", source, " has shape ", shape_to_string(shape));
  };
  if (shape.size() != v.dims.size()) mismatch();
  for (size_t i = 0; i < shape.size(); ++i) {
    bool known = v.dims[i] >= 0;
    if (known && v.dims[i] != shape[i]) mismatch();
    std::string symbol = dim_name(v, i);
    if (!known && !symbol.empty()) {
      auto [it, fresh] = symbols.emplace(symbol, shape[i]);
      if (!fresh && it->second != shape[i]) {
        fail(ErrorCode::kInvalidArgument, "dimension '", symbol, "' is ", it->second,
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
  // Drawn as float32, int64 or bool, one draw per element in order, and cast to `dtype` a chunk at
  // a time (a whole int64 copy of a large int8 input would take eight times its memory).
  DataType drawn = dtype == DataType::kBool ? DataType::kBool
                   : is_floating(dtype)     ? DataType::kFloat32
                                            : DataType::kInt64;
  Tensor t(dtype, shape);
  constexpr int64_t kChunk = int64_t{1} << 20;
  std::bernoulli_distribution coin(0.5);
  std::uniform_int_distribution<int> small(0, 3);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  for (int64_t start = 0; start < t.numel(); start += kChunk) {
    Tensor part(drawn, {std::min(kChunk, t.numel() - start)});
    for (int64_t i = 0; i < part.numel(); ++i) {
      if (drawn == DataType::kBool) {
        part.data<bool>()[i] = coin(rng);
      } else if (drawn == DataType::kFloat32) {
        part.data<float>()[i] = static_cast<float>(unit(rng));
      } else {
        part.data<int64_t>()[i] = small(rng);
      }
    }
    Tensor converted = part.cast(dtype);
    std::memcpy(static_cast<std::byte*>(t.raw()) + start * element_size(dtype), converted.raw(),
                converted.nbytes());
  }
  return t;
}

std::map<std::string, Tensor> prepare_inputs(const std::vector<TensorDesc>& inputs,
                                             const RunInputOptions& opts, std::ostream& log,
                                             std::ostream& notes) {
  std::map<std::string, std::string> files;
  for (const std::string& arg : opts.inputs) {
    auto [name, path] = split_assignment(arg, "--input");
    find_input(inputs, name, "--input");
    if (!files.emplace(name, path).second) {
      fail(ErrorCode::kInvalidArgument, "--input gives input '", name, "' twice");
    }
  }
  std::map<std::string, Shape> shapes;
  for (const std::string& arg : opts.shapes) {
    auto [name, dims] = split_assignment(arg, "--shape");
    find_input(inputs, name, "--shape");
    if (!shapes.emplace(name, parse_dims(dims, "--shape " + name)).second) {
      fail(ErrorCode::kInvalidArgument, "--shape gives input '", name, "' twice");
    }
  }

  std::map<std::string, int64_t> symbols;
  std::map<std::string, Tensor> out;
  for (const auto& [name, path] : files) {
    const TensorDesc& v = *find_input(inputs, name, "--input");
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
      match_shape(*find_input(inputs, name, "--shape"), shape, "--shape", symbols);
    }
  }

  std::mt19937_64 rng(opts.seed);
  for (const TensorDesc& v : inputs) {
    if (out.count(v.name)) {
      log << "input  " << v.name << ": " << to_string(v.dtype)
          << shape_to_string(out.at(v.name).shape()) << " from '" << files.at(v.name) << "'\n";
      continue;
    }
    Shape shape;
    if (shapes.count(v.name)) {
      shape = shapes.at(v.name);
    } else if (!v.rank_known) {
      fail(ErrorCode::kInvalidArgument, "input '", v.name,
           "' has no declared shape; give one with --shape ", v.name, "=DIMS");
    } else {
      for (size_t i = 0; i < v.dims.size(); ++i) {
        std::string symbol = dim_name(v, i);
        if (v.dims[i] >= 0) {
          shape.push_back(v.dims[i]);
        } else if (symbols.count(symbol)) {
          shape.push_back(symbols.at(symbol));
        } else {
          notes << "note: input '" << v.name << "' dimension "
                << (symbol.empty() ? "?" : "'" + symbol + "'")
                << " is not fixed; using 1 (set it with --shape " << v.name << "=...)\n";
          if (!symbol.empty()) symbols[symbol] = 1;
          shape.push_back(1);
        }
      }
    }
    int64_t numel;
    try {
      numel = shape_numel(shape);
    } catch (const Error&) {
      fail(ErrorCode::kInvalidArgument, "input '", v.name, "' shape ", shape_to_string(shape),
           " is too large");
    }
    uint64_t bytes = static_cast<uint64_t>(numel);
    if (bytes > kMaxRandomInputBytes / element_size(v.dtype)) {
      fail(ErrorCode::kInvalidArgument, "input '", v.name, "' of ", to_string(v.dtype),
           shape_to_string(shape), " would need more than ", kMaxRandomInputBytes >> 30,
           " GiB; give a smaller shape with --shape or the data with --input");
    }
    log << "input  " << v.name << ": " << to_string(v.dtype) << shape_to_string(shape)
        << " random (seed " << opts.seed << ")\n";
    out.emplace(v.name, random_tensor(v.dtype, shape, rng));
  }
  return out;
}

}  // namespace kiln::tools
