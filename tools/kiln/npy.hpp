// Reading and writing NumPy .npy files (format versions 1-3, little-endian, C order).
#pragma once

#include <string>

#include "kiln/tensor.hpp"

namespace kiln::tools {

// Throws Error naming the file on anything but a well-formed .npy of a dtype kiln supports.
Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace kiln::tools
