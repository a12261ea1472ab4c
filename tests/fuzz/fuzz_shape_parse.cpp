// Fuzz target: a `--shape NAME=DIMS` argument -> the two shape parsers of the kiln tool: `kiln
// run`/`kiln build` (run_inputs.cpp, dims only) and `kiln surgeon set-shape` (surgeon_graph.cpp,
// dims, symbolic names and '?'). Each must accept or throw kiln::Error, and what it accepts must
// read back the same when written out again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kiln/kiln.hpp"
#include "option_values.hpp"
#include "run_inputs.hpp"
#include "surgeon_graph.hpp"

namespace {

[[noreturn]] void broken(const std::string& parser, const std::string& arg, const char* what) {
  fprintf(stderr, "%s parser, argument '%s': %s\n", parser.c_str(), arg.c_str(), what);
  abort();
}

void check_run_shape(const std::string& arg) {
  kiln::Shape dims;
  try {
    auto [name, text] = kiln::tools::split_assignment(arg, "--shape");
    dims = kiln::tools::parse_dims(text, "--shape " + name);
  } catch (const kiln::Error&) {
    return;
  }
  std::string written;
  for (int64_t d : dims) {
    if (d < 0) broken("run", arg, "accepted a negative dimension");
    written += (written.empty() ? "" : "x") + std::to_string(d);
  }
  try {
    if (kiln::tools::parse_dims(written, "--shape") != dims) {
      broken("run", arg, "reads its own output back differently");
    }
  } catch (const kiln::Error&) {
    broken("run", arg, "refuses its own output");
  }
}

// A dim as set-shape writes it: a number, a symbolic name or '?'.
std::string dim_text(const ::onnx::TensorShapeProto::Dimension& d) {
  if (d.has_dim_value()) return std::to_string(d.dim_value());
  if (d.has_dim_param()) return d.dim_param();
  return "?";
}

void check_surgeon_shape(const std::string& arg) {
  ::onnx::TensorShapeProto shape;
  try {
    auto [name, text] = kiln::tools::surgeon::split_assignment(arg, "--shape");
    shape = kiln::tools::surgeon::parse_shape(text, arg);
  } catch (const kiln::Error&) {
    return;
  }
  // ',' joins the dims so that names containing an 'x' stay whole.
  std::string written;
  for (const auto& d : shape.dim()) {
    if (d.has_dim_value() && d.dim_value() < 0) {
      broken("surgeon", arg, "accepted a negative dimension");
    }
    written += (written.empty() ? "" : ",") + dim_text(d);
  }
  // (A lone dim needs no separator; a lone name with an 'x' in it cannot be parsed in the first
  // place, so writing it without ',' loses nothing.)
  try {
    ::onnx::TensorShapeProto again = kiln::tools::surgeon::parse_shape(written, written);
    if (again.SerializeAsString() != shape.SerializeAsString()) {
      broken("surgeon", arg, "reads its own output back differently");
    }
  } catch (const kiln::Error&) {
    broken("surgeon", arg, "refuses its own output");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string arg(reinterpret_cast<const char*>(data), size);
  check_run_shape(arg);
  check_surgeon_shape(arg);
  return 0;
}
