// Tensor storage and shape arithmetic.
#include "kiln/tensor.hpp"

#include <cstring>
#include <limits>

namespace kiln {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  "shape " + shape_to_string(shape) + " has a negative dimension");
    }
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      throw Error(ErrorCode::kInvalidArgument,
                  "shape " + shape_to_string(shape) + " has more elements than fit in 64 bits");
    }
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(DataType dtype, Shape shape)
    : dtype_(dtype), defined_(true), shape_(std::move(shape)), numel_(shape_numel(shape_)) {
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
  t.numel_ = shape_numel(t.shape_);
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
