// Reading and writing NumPy .npy files: format versions 1.0, 2.0 and 3.0, little- and big-endian
// data, C and Fortran order; written files are what np.save writes (version 1.0, C order).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "kiln/tensor.hpp"

namespace kiln::tools {

// Reads the .npy file at `path`, which must be a regular file (a directory, FIFO or device is
// refused without blocking). Throws Error naming the file on anything but a well-formed .npy of
// a dtype kiln supports whose data is exactly as long as its shape needs.
Tensor read_npy(const std::string& path);

// The same for a whole .npy file held in memory; `file` names it in errors. For tests and fuzzers.
Tensor parse_npy(std::span<const std::byte> bytes, std::string_view file);

void write_npy(const std::string& path, const Tensor& t);

}  // namespace kiln::tools
