// Tensor: a typed, shaped block of host memory. Copies share the buffer (like a view); clone()
// makes a deep copy. Used for inputs and outputs of the runtime and for weights inside kiln.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/types.hpp"

namespace kiln {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);  // throws Error on negative dims or overflow
std::string shape_to_string(const Shape& shape);

// The largest tensor, in bytes, that kiln allocates, maps from a file or accepts as a shape
// (default 64 GiB). Every size that comes from a model, a plan or an input is checked against it,
// so a hostile file gets a clear error instead of a huge allocation; lower it to bound memory.
uint64_t tensor_byte_limit();
void set_tensor_byte_limit(uint64_t bytes);

// The element count of `dims`, checked the way kiln checks every size it is given (for sizes read
// from files or typed by a user). Throws Error(code) naming `what` (a tensor, "input 'x'", a file)
// on a negative dimension, on an overflow, or where elements x element_size passes
// tensor_byte_limit() (element_size 0 checks the count alone). The non-zero dims must multiply
// within 64 bits even where another dim is 0, so any subset of the dims multiplies safely.
int64_t checked_numel(std::span<const int64_t> dims, size_t element_size, ErrorCode code,
                      std::string_view what);
// elements x element_size in bytes, under the same checks.
size_t checked_nbytes(int64_t elements, size_t element_size, ErrorCode code, std::string_view what);

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-initialised storage. Throws Error(kInvalidArgument) where the shape's byte size
  // overflows or passes tensor_byte_limit(), as do borrow and from_bytes.
  Tensor(DataType dtype, Shape shape);
  // Wraps memory owned elsewhere; keep_alive holds the owner (e.g. a mapped plan file).
  static Tensor borrow(DataType dtype, Shape shape, void* data, std::shared_ptr<void> keep_alive);
  // Copies `bytes` into new storage; bytes.size() must equal the tensor's byte size.
  static Tensor from_bytes(DataType dtype, Shape shape, std::span<const std::byte> bytes);
  template <typename T>
  static Tensor from_vector(DataType dtype, Shape shape, const std::vector<T>& values) {
    return from_bytes(dtype, std::move(shape),
                      std::as_bytes(std::span<const T>(values.data(), values.size())));
  }

  bool defined() const { return defined_; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_.at(static_cast<size_t>(i)); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * element_size(dtype_); }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }
  std::span<const std::byte> bytes() const {
    return {static_cast<const std::byte*>(data_), nbytes()};
  }

  Tensor clone() const;
  // Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // A new tensor of `dtype` holding every element converted as ONNX Cast converts it: floats to
  // integers truncate (NaN gives 0, out-of-range values saturate), integers wrap, anything to bool
  // is "nonzero", narrowing float conversions round to nearest even (fp8 saturates). A copy even
  // when `dtype` is the tensor's own.
  Tensor cast(DataType dtype) const;

 private:
  DataType dtype_ = DataType::kFloat32;
  bool defined_ = false;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<void> owner_;
  void* data_ = nullptr;
};

}  // namespace kiln
