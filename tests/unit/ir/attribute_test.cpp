// Attribute equality on tensor attributes: bytes compared, and undefined or empty tensors compared
// without reading their (possibly null) storage.
#include "ir/attribute.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::ir {
namespace {

Attributes with_tensor(Tensor t) {
  Attributes a;
  a.set("value", std::move(t));
  return a;
}

Tensor scalar(float v) {
  return Tensor::from_vector(DataType::kFloat32, {}, std::vector<float>{v});
}

TEST(Attributes, TensorEqualityComparesBytes) {
  EXPECT_TRUE(with_tensor(scalar(1)) == with_tensor(scalar(1)));
  EXPECT_FALSE(with_tensor(scalar(1)) == with_tensor(scalar(2)));
}

TEST(Attributes, UndefinedAndEmptyTensorsCompareWithoutReadingStorage) {
  EXPECT_TRUE(with_tensor(Tensor()) == with_tensor(Tensor()));
  EXPECT_TRUE(with_tensor(Tensor(DataType::kFloat32, {0, 3})) ==
              with_tensor(Tensor(DataType::kFloat32, {0, 3})));
  // An undefined tensor has float32's dtype and the scalar's empty shape, but is no scalar.
  EXPECT_FALSE(with_tensor(Tensor()) == with_tensor(scalar(0)));
  EXPECT_FALSE(with_tensor(scalar(0)) == with_tensor(Tensor()));
}

}  // namespace
}  // namespace kiln::ir
