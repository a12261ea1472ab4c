// Model building, reading and running for the surgeon tests.
#include "unit/tools/kiln/surgeon_test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "kiln/kiln.hpp"

namespace kiln::test {

void set_int_attr(::onnx::NodeProto& n, const std::string& name, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}

void set_float_attr(::onnx::NodeProto& n, const std::string& name, float v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

void set_ints_attr(::onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

::onnx::ModelProto read_model(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  ::onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&f)) << path;
  return m;
}

int count_ops(const ::onnx::ModelProto& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.graph().node()) n += node.op_type() == op ? 1 : 0;
  return n;
}

std::vector<float> wave(int64_t n, float phase) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    v[static_cast<size_t>(i)] = std::sin(0.37f * static_cast<float>(i) + phase);
  }
  return v;
}

Tensor float_tensor(const std::vector<int64_t>& shape, float phase) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return Tensor::from_vector(DataType::kFloat32, shape, wave(n, phase));
}

std::vector<Tensor> run_model(const std::string& path,
                              const std::map<std::string, Tensor>& inputs) {
  auto engine = build_engine(parse_onnx_file(path), BuilderConfig{});
  return engine->create_execution_context()->execute(inputs);
}

void expect_same_outputs(const std::string& a, const std::string& b,
                         const std::map<std::string, Tensor>& inputs, float tol) {
  std::vector<Tensor> ra = run_model(a, inputs);
  std::vector<Tensor> rb = run_model(b, inputs);
  ASSERT_EQ(ra.size(), rb.size());
  for (size_t i = 0; i < ra.size(); ++i) {
    ASSERT_EQ(ra[i].shape(), rb[i].shape()) << "output " << i;
    ASSERT_EQ(ra[i].dtype(), DataType::kFloat32);
    float worst = 0;
    for (int64_t k = 0; k < ra[i].numel(); ++k) {
      worst = std::max(worst, std::abs(ra[i].data<float>()[k] - rb[i].data<float>()[k]));
    }
    EXPECT_LE(worst, tol) << "output " << i << " of " << b << " differs from " << a;
  }
}

}  // namespace kiln::test
