// The `kiln surgeon` edits, each a function on an ONNX ModelProto (one file per edit), so tests
// can call them without the CLI. Each prints what it changed to `log` and throws kiln::Error
// naming the node, op, tensor or option at fault.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "surgeon_model.hpp"

namespace kiln::tools::surgeon {

// Inputs, outputs, opsets, op histogram, initializers, and the ops kiln cannot import.
void inspect_model(const OnnxModel& model, bool json, std::ostream& out);

// Constant folding, dead-code removal, no-op and duplicate removal and shape inference, with
// kiln (its importer and passes) deciding what is constant and what every shape is.
struct SanitizeResult {
  int nodes_before = 0;
  int nodes_after = 0;
  std::vector<std::string> folded;  // tensors that became initializers
  int renamed_reads = 0;            // reads redirected to an equal tensor (no-ops, duplicates)
  int shapes_annotated = 0;
};
SanitizeResult sanitize_model(::onnx::ModelProto& model, const std::string& source);

// Writes kiln's inferred type of every node output into value_info, and of graph outputs into
// their declarations. `replace_outputs`: overwrite declared output shapes (after set-shape)
// rather than only filling in what they leave unknown. Returns the number of tensors annotated.
int annotate_types(::onnx::GraphProto& g, const Network& inferred, bool replace_outputs);

// Keeps the subgraph computing `outputs` from `inputs` (and initializers).
struct ExtractResult {
  int nodes_before = 0;
  int nodes_after = 0;
  std::vector<std::string> unused_inputs;
};
ExtractResult extract_subgraph(::onnx::ModelProto& model, const std::vector<std::string>& inputs,
                               const std::vector<std::string>& outputs, const std::string& source);

// Removes the selected nodes; readers of each one's first output read its first input instead.
int remove_nodes(::onnx::ModelProto& model, const std::vector<std::string>& names,
                 const std::vector<std::string>& ops, std::ostream& log);

// Turns each selected node into a `with_op` node of input `input_index` alone (no attributes,
// first output only), e.g. every Where into an Identity of its X.
int replace_nodes(::onnx::ModelProto& model, const std::vector<std::string>& names,
                  const std::vector<std::string>& ops, const std::string& with_op, int input_index,
                  std::ostream& log);

// Sets graph input shapes from "NAME=DIMS" specs. Clears value_info (which the new shapes make
// stale); with `infer`, kiln re-infers it and the output shapes. Returns false when inference was
// asked for but kiln could not import the model (the reason goes to `log`).
bool set_input_shapes(::onnx::ModelProto& model, const std::vector<std::string>& specs, bool infer,
                      const std::string& source, std::ostream& log);

// Folds inference BatchNormalization into the Conv, ConvTranspose or Gemm before it. Returns the
// number folded; every BatchNormalization left is listed in `log` with the reason.
int fold_batchnorms(::onnx::ModelProto& model, std::ostream& log);

}  // namespace kiln::tools::surgeon
