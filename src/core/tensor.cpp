// Tensor storage and shape arithmetic.
#include "kiln/tensor.hpp"

#include <cstring>

#include "core/checked_size.hpp"
#include "core/error.hpp"

namespace kiln {

int64_t shape_numel(const Shape& shape) {
  // Element size 0: only the count is checked here, not the byte limit.
  return checked_numel(shape, 0, ErrorCode::kInvalidArgument, "tensor");
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {

// The element count of a tensor kiln is about to hold: the shape's byte size must fit in 64 bits
// and under the limit, which keeps nbytes() (elements x element size) from wrapping.
int64_t checked_tensor_numel(DataType dtype, const Shape& shape) {
  return checked_numel(shape, element_size(dtype), ErrorCode::kInvalidArgument,
                       cat("tensor of ", to_string(dtype), shape_to_string(shape)));
}

}  // namespace

Tensor::Tensor(DataType dtype, Shape shape)
    : dtype_(dtype),
      defined_(true),
      shape_(std::move(shape)),
      numel_(checked_tensor_numel(dtype_, shape_)) {
  size_t n = nbytes();
  // Aligned so vectorised kernels and oneDNN get full-width loads; never empty so data() != null.
  size_t alloc = (n + 63) / 64 * 64 + 64;
  void* p = ::operator new[](alloc, std::align_val_t(64));
  std::memset(p, 0, alloc);
  owner_ = std::shared_ptr<void>(p, [](void* q) { ::operator delete[](q, std::align_val_t(64)); });
  data_ = p;
}

Tensor Tensor::borrow(DataType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive) {
  Tensor t;
  t.dtype_ = dtype;
  t.defined_ = true;
  t.shape_ = std::move(shape);
  t.numel_ = checked_tensor_numel(dtype, t.shape_);
  t.owner_ = std::move(keep_alive);
  t.data_ = data;
  return t;
}

Tensor Tensor::from_bytes(DataType dtype, Shape shape, std::span<const std::byte> bytes) {
  Tensor t(dtype, std::move(shape));
  if (bytes.size() != t.nbytes()) {
    throw Error(ErrorCode::kInvalidArgument, "tensor of " + std::string(to_string(dtype)) +
                                                 shape_to_string(t.shape()) + " needs " +
                                                 std::to_string(t.nbytes()) + " bytes, got " +
                                                 std::to_string(bytes.size()));
  }
  if (!bytes.empty()) std::memcpy(t.data_, bytes.data(), bytes.size());
  return t;
}

Tensor Tensor::clone() const {
  if (!defined_) return {};
  return from_bytes(dtype_, shape_, bytes());
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_) {
    throw Error(ErrorCode::kInvalidArgument,
                "cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

}  // namespace kiln
