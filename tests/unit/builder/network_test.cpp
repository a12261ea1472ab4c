// The Network API: a small CNN defined layer by layer gives the same outputs as the same network
// imported from ONNX; bad layers are refused with their name, leaving the network as it was.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "kiln/kiln.hpp"
#include "onnx.pb.h"
#include "runtime/engine_impl.hpp"

namespace kiln {
namespace {

Tensor random_tensor(std::mt19937& rng, Shape shape) {
  Tensor t(DataType::kFloat32, std::move(shape));
  std::normal_distribution<float> d(0.0f, 0.5f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

struct Weights {
  Tensor w1, b1, w2, b2, fc, fc_bias;
};

Weights make_weights() {
  std::mt19937 rng(17);
  return {random_tensor(rng, {6, 1, 3, 3}),    random_tensor(rng, {6}),
          random_tensor(rng, {4, 6, 3, 3}),    random_tensor(rng, {4}),
          random_tensor(rng, {10, 4 * 3 * 3}), random_tensor(rng, {10})};
}

Network api_network(const Weights& w) {
  Network net;
  net.add_input("x", DataType::kFloat32, {1, 1, 12, 12});
  net.add_constant("w1", w.w1);
  net.add_constant("b1", w.b1);
  net.add_constant("w2", w.w2);
  net.add_constant("b2", w.b2);
  net.add_constant("fc", w.fc);
  net.add_constant("fc_bias", w.fc_bias);
  LayerAttributes conv = {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}};
  LayerAttributes pool = {{"kernel_shape", std::vector<int64_t>{2, 2}},
                          {"strides", std::vector<int64_t>{2, 2}}};
  auto y = net.add_layer("Conv", {"x", "w1", "b1"}, conv, "conv1");
  y = net.add_layer("Relu", y);
  y = net.add_layer("MaxPool", y, pool);
  y = net.add_layer("Conv", {y[0], "w2", "b2"}, conv, "conv2");
  y = net.add_layer("Relu", y);
  y = net.add_layer("MaxPool", y, pool);
  y = net.add_layer("Flatten", y);
  y = net.add_layer("Gemm", {y[0], "fc", "fc_bias"}, {{"transB", int64_t{1}}}, "fc_layer");
  y = net.add_layer("Softmax", y, {{"axis", int64_t{1}}}, "prob");
  net.mark_output(y[0]);
  return net;
}

void add_initializer(::onnx::GraphProto* g, const std::string& name, const Tensor& t) {
  auto* init = g->add_initializer();
  init->set_name(name);
  init->set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : t.shape()) init->add_dims(d);
  init->set_raw_data(t.raw(), t.nbytes());
}

::onnx::NodeProto* add_node(::onnx::GraphProto* g, const std::string& op,
                            std::vector<std::string> inputs, const std::string& output) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

void ints_attr(::onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void int_attr(::onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(v);
}

std::string onnx_bytes(const Weights& w) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("cnn");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : {1, 1, 12, 12}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  add_initializer(g, "w1", w.w1);
  add_initializer(g, "b1", w.b1);
  add_initializer(g, "w2", w.w2);
  add_initializer(g, "b2", w.b2);
  add_initializer(g, "fc", w.fc);
  add_initializer(g, "fc_bias", w.fc_bias);
  auto conv = [&](std::vector<std::string> in, const std::string& out) {
    auto* n = add_node(g, "Conv", std::move(in), out);
    ints_attr(n, "kernel_shape", {3, 3});
    ints_attr(n, "pads", {1, 1, 1, 1});
  };
  auto pool = [&](const std::string& in, const std::string& out) {
    auto* n = add_node(g, "MaxPool", {in}, out);
    ints_attr(n, "kernel_shape", {2, 2});
    ints_attr(n, "strides", {2, 2});
  };
  conv({"x", "w1", "b1"}, "c1");
  add_node(g, "Relu", {"c1"}, "r1");
  pool("r1", "p1");
  conv({"p1", "w2", "b2"}, "c2");
  add_node(g, "Relu", {"c2"}, "r2");
  pool("r2", "p2");
  add_node(g, "Flatten", {"p2"}, "f");
  int_attr(add_node(g, "Gemm", {"f", "fc", "fc_bias"}, "logits"), "transB", 1);
  int_attr(add_node(g, "Softmax", {"logits"}, "prob"), "axis", 1);
  g->add_output()->set_name("prob");
  return m.SerializeAsString();
}

TEST(NetworkApi, SmallCnnMatchesTheSameNetworkFromOnnx) {
  Weights w = make_weights();
  Network api = api_network(w);
  EXPECT_EQ(api.describe("prob").dims, (std::vector<int64_t>{1, 10}));
  Network onnx = parse_onnx_bytes(onnx_bytes(w), "cnn.onnx");
  auto api_engine = build_engine(api, BuilderConfig{});
  auto onnx_engine = build_engine(onnx, BuilderConfig{});
  std::mt19937 rng(3);
  for (int run = 0; run < 3; ++run) {
    Tensor x = random_tensor(rng, {1, 1, 12, 12});
    Tensor got = api_engine->create_execution_context()->execute({{"x", x}})[0];
    Tensor want = onnx_engine->create_execution_context()->execute({{"x", x}})[0];
    ASSERT_EQ(got.shape(), want.shape());
    float total = 0;
    for (int64_t i = 0; i < got.numel(); ++i) {
      EXPECT_FLOAT_EQ(got.data<float>()[i], want.data<float>()[i]) << i;
      total += got.data<float>()[i];
    }
    EXPECT_NEAR(total, 1.0f, 1e-5f);
  }
  // The engine, memory plan included, survives a plan round trip.
  std::vector<uint8_t> bytes = api_engine->serialize();
  auto loaded = Engine::deserialize({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  ASSERT_TRUE(loaded->impl().memory);
  EXPECT_EQ(loaded->impl().memory->arena_bytes, api_engine->impl().memory->arena_bytes);
  Tensor x = random_tensor(rng, {1, 1, 12, 12});
  Tensor got = loaded->create_execution_context()->execute({{"x", x}})[0];
  Tensor want = onnx_engine->create_execution_context()->execute({{"x", x}})[0];
  EXPECT_EQ(std::memcmp(got.raw(), want.raw(), got.nbytes()), 0);
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(NetworkApi, BadLayersAreRefusedByNameAndLeaveNoTrace) {
  Network net;
  net.add_input("x", DataType::kFloat32, {2, 3});
  net.add_constant("w", Tensor(DataType::kFloat32, {4, 5}));
  expect_error([&] { net.add_layer("Frobnicate", {"x"}, {}, "frob"); }, "unknown op 'Frobnicate'");
  expect_error([&] { net.add_layer("Relu", {"nope"}, {}, "r"); }, "'nope'");
  expect_error([&] { net.add_layer("MatMul", {"x", "w"}, {}, "mm"); }, "node 'mm' (MatMul)");
  expect_error([&] { net.add_input("x", DataType::kFloat32, {1}); }, "already exists");
  expect_error([&] { net.mark_output("missing"); }, "'missing'");
  expect_error([&] { build_engine(net, BuilderConfig{}); }, "no outputs");
  // The refused MatMul left nothing behind: its name and output are free.
  auto y = net.add_layer("Relu", {"x"}, {}, "mm");
  EXPECT_EQ(y, std::vector<std::string>{"mm"});
  net.mark_output("mm");
  expect_error([&] { net.mark_output("mm"); }, "already an output");
  auto engine = build_engine(net, BuilderConfig{});
  Tensor x =
      Tensor::from_vector(DataType::kFloat32, {2, 3}, std::vector<float>{-1, 2, -3, 4, 5, -6});
  Tensor out = engine->create_execution_context()->execute({{"x", x}})[0];
  EXPECT_EQ(out.data<float>()[0], 0.0f);
  EXPECT_EQ(out.data<float>()[1], 2.0f);
}

TEST(NetworkApi, MultiOutputLayersNameEachOutput) {
  Network net;
  net.add_input("x", DataType::kFloat32, {6});
  auto parts = net.add_layer("Split", {"x"}, {{"num_outputs", int64_t{3}}}, "split", 3);
  EXPECT_EQ(parts, (std::vector<std::string>{"split_0", "split_1", "split_2"}));
  EXPECT_EQ(net.describe("split_2").dims, std::vector<int64_t>{2});
}

}  // namespace
}  // namespace kiln
