// Reading the builder's per-layer precision attribute.
#include "ir/layer_precision.hpp"

namespace kiln::ir {

std::string layer_precision(const Node& n) {
  return n.attrs.get_string(kLayerPrecisionAttr, "");
}

bool allows_tf32(const Node& n) {
  return layer_precision(n) == "tf32";
}

}  // namespace kiln::ir
