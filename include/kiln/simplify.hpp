// Cleaning up a network with the passes the builder starts with (onnx-graphsurgeon's
// fold_constants + cleanup), for tools that export the cleaned model: `kiln surgeon sanitize`
// maps the result back onto the ONNX file.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln {

struct SimplifyReport {
  size_t layers_before = 0;
  size_t layers_after = 0;
  // Inputs of layers that survived and now read another tensor, equal to the one they read (a
  // removed no-op's input, a merged duplicate's twin, a folded constant), in layer order:
  // {tensor read before, tensor read now}.
  std::vector<std::pair<std::string, std::string>> redirected_reads;
};

// Folds layers whose inputs are all constant (and Shape/Size of static shapes) into constants,
// removes no-op layers (Identity, Dropout, casts and reshapes that change nothing, Where with a
// constant condition), merges layers computing the same thing and removes layers no output needs.
// Only deletes layers and turns tensors constant: a tensor that keeps its name keeps its value
// (Network::constant gives the folded ones).
SimplifyReport simplify_network(Network& network);

}  // namespace kiln
