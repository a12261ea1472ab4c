// The header of a .npy file: the Python dict literal NumPy writes after the magic string and the
// header length, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with
// spaces to a newline. Parsed by hand, strictly, because the file may come from anyone.
#pragma once

#include <string>
#include <string_view>

#include "kiln/tensor.hpp"

namespace kiln::tools {

// Longest header kiln reads, in bytes: NumPy's own default limit for np.load (max_header_size).
// Every file NumPy loads by default, kiln loads; a plain array's header is far shorter (64
// dimensions of 19 digits are under 1.5 KB), so anything longer is not one NumPy writes for a
// dtype kiln supports.
constexpr size_t kMaxNpyHeaderBytes = 10000;

struct NpyHeader {
  DataType dtype = DataType::kFloat32;
  bool big_endian = false;     // descr '>...': the elements' bytes are swapped on reading
  bool fortran_order = false;  // elements are stored column-major (NumPy's F-contiguous arrays)
  Shape shape;
};

// Parses `text`, the header from '{' to its final newline. Accepts what NumPy writes (keys in any
// order, spaces between tokens, a trailing comma, padding spaces); refuses, with a reason naming
// `file`, anything else: a key missing, repeated or unknown, a value of the wrong kind, a dtype
// kiln lacks, a dimension that is not a whole number in int64.
NpyHeader parse_npy_header(std::string_view text, std::string_view file);

// The descr NumPy writes for `dtype` on a little-endian machine ("<f4", "|u1", "<V2" for bfloat16).
std::string npy_descr(DataType dtype);

}  // namespace kiln::tools
