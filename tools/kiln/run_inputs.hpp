// Inputs for `kiln run`: tensors from .npy files, random tensors for the rest, shapes given on the
// command line. Symbolic dimensions are bound consistently across inputs ("batch" is one size).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln::tools {

// Largest random input `kiln run` makes (a typo like 1x3x224224x224 should not eat the machine).
constexpr uint64_t kMaxRandomInputBytes = uint64_t{2} << 30;

// Splits "NAME=VALUE" (at the last '='; tensor names may contain '='). Throws
// Error(kInvalidArgument) mentioning `option` when there is no '=' or no name.
std::pair<std::string, std::string> split_assignment(const std::string& arg,
                                                     const std::string& option);

// Floats uniform in [-1, 1], integers uniform in [0, 3], bools fair coin flips.
Tensor random_tensor(DataType dtype, const Shape& shape, std::mt19937_64& rng);

struct RunInputOptions {
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::vector<std::string> shapes;  // NAME=1x3x224x224
  uint64_t seed = 0;
};

// Returns one tensor per input of a network or engine (`inputs`, in order). Writes one line per
// input saying where it came from, and notes (e.g. a symbolic dimension defaulted to 1) to
// `notes`.
std::map<std::string, Tensor> prepare_inputs(const std::vector<TensorDesc>& inputs,
                                             const RunInputOptions& opts, std::ostream& log,
                                             std::ostream& notes);

}  // namespace kiln::tools
