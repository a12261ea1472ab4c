// Parsing of Einsum equations into label ids per operand axis, shared by Einsum's inference and
// its CPU kernel. Ellipsis dims become labels too, so both treat every axis alike.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kiln::ir {

struct EinsumEquation {
  // Labels 0..ellipsis_rank-1 are the broadcast (ellipsis) dims, right-aligned across operands;
  // letters follow. An operand whose ellipsis covers e dims uses labels ellipsis_rank-e.. .
  int ellipsis_rank = 0;
  int num_labels = 0;
  std::vector<std::vector<int>> operands;  // per operand, the label of each axis
  std::vector<int> output;                 // the label of each output axis
};

// Parses `equation` for operands of the given ranks; `fail` reports a malformed equation and
// must throw.
EinsumEquation parse_einsum(const std::string& equation, const std::vector<int64_t>& ranks,
                            const std::function<void(const std::string&)>& fail);

}  // namespace kiln::ir
