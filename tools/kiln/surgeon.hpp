// `kiln surgeon`: edits ONNX models (inspect, sanitize, extract, remove, replace, set-shape,
// fold-bn) and writes models ONNX Runtime loads. Registered by kiln_main like every subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace kiln::tools {

struct SurgeonOptions {
  std::string action;  // the surgeon subcommand given: "inspect", "fold-bn"...
  std::string model;
  std::string output;
  bool external_data = false;
  bool json = false;                 // inspect
  std::vector<std::string> names;    // remove, replace: node names
  std::vector<std::string> ops;      // remove, replace: op types
  std::string with_op;               // replace
  int input_index = 0;               // replace
  std::vector<std::string> inputs;   // extract
  std::vector<std::string> outputs;  // extract
  std::vector<std::string> shapes;   // set-shape: NAME=DIMS
  bool no_infer = false;             // set-shape
};
CLI::App* add_surgeon_command(CLI::App& app, SurgeonOptions& opts);
void surgeon_command(const SurgeonOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace kiln::tools
