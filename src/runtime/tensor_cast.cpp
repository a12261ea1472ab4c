// Tensor::cast: the public dtype conversion, done by the CPU backend's Cast conversion so a tool
// converting a tensor gets the same values as a Cast layer would.
#include "backends/cpu/cast.hpp"

namespace kiln {

Tensor Tensor::cast(DataType dtype) const {
  if (!defined_) fail(ErrorCode::kInvalidArgument, "cast of an undefined tensor");
  Tensor out(dtype, shape_);
  cpu::cast_into(*this, out);
  return out;
}

}  // namespace kiln
