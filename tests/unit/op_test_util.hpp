// Runs one op on the CPU backend through the full path (inference, engine, execution context),
// so op tests check exactly what users get.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::test {

struct OpInput {
  Tensor value;
  bool constant = false;  // an initializer rather than a runtime input
  bool omitted = false;   // an absent optional input
};

inline OpInput runtime(Tensor t) {
  return {std::move(t), false, false};
}
inline OpInput constant(Tensor t) {
  return {std::move(t), true, false};
}
inline OpInput omitted() {
  return {Tensor(), false, true};
}

// Builds a one-node graph, builds an engine for the CPU and runs it.
std::vector<Tensor> run_op(const std::string& op, const ir::Attributes& attrs,
                           const std::vector<OpInput>& inputs, size_t num_outputs = 1);

template <typename T>
Tensor make(DataType dtype, Shape shape, std::vector<T> values) {
  return Tensor::from_vector(dtype, std::move(shape), values);
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

}  // namespace kiln::test
