// In-process CLI runs and ONNX model construction for the tool tests.
#include "unit/tools/kiln/cli_test_util.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "commands.hpp"

namespace kiln::test {

CliResult run_kiln(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"kiln"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  CliResult r;
  r.code = tools::kiln_main(static_cast<int>(argv.size()), argv.data(), out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

::onnx::ValueInfoProto value_info(const std::string& name, int elem_type,
                                  const std::vector<int64_t>& dims,
                                  const std::vector<std::string>& symbols) {
  ::onnx::ValueInfoProto v;
  v.set_name(name);
  auto* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  auto* shape = t->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (dims[i] >= 0) {
      d->set_dim_value(dims[i]);
    } else if (i < symbols.size() && !symbols[i].empty()) {
      d->set_dim_param(symbols[i]);
    }
  }
  return v;
}

::onnx::ModelProto make_model(const std::vector<::onnx::NodeProto>& nodes,
                              const std::vector<::onnx::ValueInfoProto>& inputs,
                              const std::vector<::onnx::ValueInfoProto>& outputs,
                              const std::vector<::onnx::TensorProto>& initializers, int opset) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("kiln-tests");
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("test_graph");
  for (const auto& n : nodes) *g->add_node() = n;
  for (const auto& v : inputs) *g->add_input() = v;
  for (const auto& v : outputs) *g->add_output() = v;
  for (const auto& t : initializers) *g->add_initializer() = t;
  return m;
}

::onnx::NodeProto make_node(const std::string& op, const std::vector<std::string>& inputs,
                            const std::vector<std::string>& outputs, const std::string& name) {
  ::onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name.empty() ? op + "_" + outputs.at(0) : name);
  for (const auto& i : inputs) n.add_input(i);
  for (const auto& o : outputs) n.add_output(o);
  return n;
}

::onnx::TensorProto float_initializer(const std::string& name, const std::vector<int64_t>& dims,
                                      const std::vector<float>& values) {
  ::onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  for (float v : values) t.add_float_data(v);
  return t;
}

void write_model(const std::string& path, const ::onnx::ModelProto& model) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!model.SerializeToOstream(&f)) throw std::runtime_error("cannot write " + path);
}

void PassthroughModelTest::SetUp() {
  model_ = dir_.file("pass.onnx");
  write_model(model_, passthrough_model());
}

::onnx::ModelProto passthrough_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {-1, 3}, {"batch"});
  auto m = value_info("m", ::onnx::TensorProto::INT64, {-1, 2}, {"batch"});
  return make_model({}, {x, m}, {x, m});
}

}  // namespace kiln::test
