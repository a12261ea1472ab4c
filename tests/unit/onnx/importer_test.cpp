// ONNX import: initializers, Constant nodes, external data, opset handling, and every error path
// fed with bad input (malformed bytes, truncation, cycles, missing tensors, hostile sizes).
#include "onnx/importer.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "onnx.pb.h"
#include "unit/hostile_input_util.hpp"

namespace kiln::onnx {
namespace {

namespace pb = ::onnx;
namespace fs = std::filesystem;

pb::ModelProto relu_model() {
  pb::ModelProto m;
  m.set_ir_version(8);
  auto* opset = m.add_opset_import();
  opset->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(pb::TensorProto::FLOAT);
  auto* shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_value(4);
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->set_name("relu");
  n->add_input("x");
  n->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

std::unique_ptr<ir::Graph> import(const pb::ModelProto& m, const std::string& dir = ".") {
  std::string bytes = m.SerializeAsString();
  return import_model_bytes(bytes, dir, "test model");
}

// Runs `fn` and returns the Error it throws (fails the test when it throws nothing).
template <typename Fn>
Error error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(ErrorCode::kInternal, "none");
}

TEST(Importer, ImportsGraphWithSymbolicShape) {
  auto g = import(relu_model());
  ASSERT_EQ(g->inputs().size(), 1u);
  ASSERT_EQ(g->nodes().size(), 1u);
  EXPECT_EQ(g->nodes()[0]->op, "Relu");
  EXPECT_EQ(g->nodes()[0]->origins, std::vector<std::string>{"relu"});
  const ir::Value* y = g->outputs()[0];
  ASSERT_TRUE(y->shape.has_value());
  EXPECT_EQ((*y->shape)[0].symbol, "batch");
  EXPECT_EQ((*y->shape)[1].value, 4);
}

TEST(Importer, ConstantNodesAndInitializersBecomeConstants) {
  pb::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  auto* c = g->add_node();
  c->set_op_type("Constant");
  c->add_output("k");
  auto* a = c->add_attribute();
  a->set_name("value_floats");
  a->set_type(pb::AttributeProto::FLOATS);
  a->add_floats(1.5f);
  a->add_floats(-2.0f);
  auto* init = g->add_initializer();
  init->set_name("w");
  init->set_data_type(pb::TensorProto::INT64);
  init->add_dims(2);
  init->add_int64_data(7);
  init->add_int64_data(-3);
  auto imported = import(m);
  const ir::Value* k = imported->find_value("k");
  ASSERT_NE(k, nullptr);
  ASSERT_TRUE(k->is_constant());
  EXPECT_EQ(k->constant->data<float>()[1], -2.0f);
  const ir::Value* w = imported->find_value("w");
  ASSERT_TRUE(w && w->is_constant());
  EXPECT_EQ(w->constant->data<int64_t>()[1], -3);
}

TEST(Importer, AcceptsNodesOutOfTopologicalOrder) {
  pb::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  g->mutable_output(0)->set_name("z");
  auto* second = g->add_node();
  second->set_op_type("Relu");
  second->set_name("relu2");
  second->add_input("y");
  second->add_output("z");
  g->mutable_node()->SwapElements(0, 1);
  auto imported = import(m);
  ASSERT_EQ(imported->nodes().size(), 2u);
  EXPECT_EQ(imported->nodes()[0]->name, "relu");
}

TEST(Importer, RejectsBytesThatAreNotAModel) {
  Error e =
      error_of([] { import_model_bytes("this is not protobuf \xff\xff\xff", ".", "junk.onnx"); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("junk.onnx"), std::string::npos);
}

TEST(Importer, RejectsEveryTruncationWithoutCrashing) {
  pb::ModelProto m = relu_model();
  auto* init = m.mutable_graph()->add_initializer();
  init->set_name("unused");
  init->set_data_type(pb::TensorProto::FLOAT);
  init->add_dims(16);
  init->set_raw_data(std::string(64, '\1'));
  std::string bytes = m.SerializeAsString();
  for (size_t len = 0; len < bytes.size(); ++len) {
    try {
      import_model_bytes(std::string_view(bytes).substr(0, len), ".", "cut");
    } catch (const Error&) {
      // Refused cleanly; some prefixes are valid models (protobuf fields end anywhere).
    }
  }
}

TEST(Importer, ReportsMissingFile) {
  Error e = error_of([] { import_model_file("/nonexistent/model.onnx"); });
  EXPECT_EQ(e.code(), ErrorCode::kIo);
  EXPECT_NE(std::string(e.what()).find("/nonexistent/model.onnx"), std::string::npos);
}

TEST(Importer, RefusesModelFilesThatAreNotRegularFiles) {
  // A FIFO used to block the import until something wrote to it; a folder is refused too.
  fs::path dir = fs::temp_directory_path() / ("kiln_fifo_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path fifo = dir / "model.onnx";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  test::FifoUnblocker unblocker(fifo.string());  // should the import block in open() (the bug)
  for (const fs::path& p : {fifo, dir}) {
    Error e = error_of([&] { import_model_file(p.string()); });
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Importer, ListsEveryUnsupportedNodeInOneError) {
  pb::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  for (const char* op : {"MadeUpOp", "AnotherMadeUpOp"}) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(std::string("n_") + op);
    n->add_input("y");
    n->add_output(std::string("o_") + op);
  }
  auto* custom = g->add_node();
  custom->set_op_type("Fancy");
  custom->set_domain("com.example");
  custom->set_name("fancy");
  custom->add_input("y");
  custom->add_output("o_fancy");
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  std::string msg = e.what();
  for (const char* expected :
       {"n_MadeUpOp", "n_AnotherMadeUpOp", "com.example::Fancy", "opset 17", "Remove or replace"}) {
    EXPECT_NE(msg.find(expected), std::string::npos) << "missing '" << expected << "' in: " << msg;
  }
}

TEST(Importer, RejectsCycles) {
  pb::ModelProto m = relu_model();
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_input(0, "z");
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->set_name("back");
  n->add_input("y");
  n->add_output("z");
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
}

TEST(Importer, RejectsTensorsNobodyProduces) {
  pb::ModelProto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_input(0, "ghost");
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("ghost"), std::string::npos);
}

TEST(Importer, RejectsOutputsNobodyProduces) {
  pb::ModelProto m = relu_model();
  m.mutable_graph()->mutable_output(0)->set_name("nowhere");
  Error e = error_of([&] { import(m); });
  EXPECT_NE(std::string(e.what()).find("nowhere"), std::string::npos);
}

TEST(Importer, RejectsTensorsProducedTwice) {
  pb::ModelProto m = relu_model();
  *m.mutable_graph()->add_node() = m.graph().node(0);
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("produced twice"), std::string::npos);
}

TEST(Importer, RejectsInitializerWhoseDataDoesNotMatchItsDims) {
  pb::ModelProto m = relu_model();
  auto* init = m.mutable_graph()->add_initializer();
  init->set_name("huge");
  init->set_data_type(pb::TensorProto::FLOAT);
  init->add_dims(1000000000);
  init->add_dims(1000000000);  // 10^18 elements claimed, 8 bytes given: must not allocate
  init->set_raw_data(std::string(8, '\0'));
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("huge"), std::string::npos);

  init->clear_dims();
  init->add_dims(-5);
  e = error_of([&] { import(m); });
  EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos);

  init->clear_dims();
  init->add_dims(int64_t{1} << 40);
  init->add_dims(int64_t{1} << 40);  // overflows int64 element count
  e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
}

TEST(Importer, RejectsUnsupportedElementTypes) {
  pb::ModelProto m = relu_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
      pb::TensorProto::STRING);
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("STRING"), std::string::npos);
}

TEST(Importer, RejectsADuplicatedGraphInputNamingIt) {
  pb::ModelProto m = relu_model();
  *m.mutable_graph()->add_input() = m.graph().input(0);  // "x" listed twice
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("input 'x' is listed twice"), std::string::npos) << e.what();
}

TEST(Importer, RejectsDeclaredShapesNoTensorCanHave) {
  // An input whose dims multiply past 64 bits: every size computed from it later would wrap.
  pb::ModelProto m = relu_model();
  auto* shape =
      m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->mutable_dim(0)->set_dim_value(int64_t{1} << 40);
  shape->mutable_dim(1)->set_dim_value(int64_t{1} << 40);
  Error e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("input 'x'"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("64 bits"), std::string::npos) << e.what();

  // A value_info entry that, filled into an inferred [batch?, 4], makes a tensor over the limit.
  m = relu_model();
  m.mutable_graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(0)
      ->clear_dim_param();
  auto* vi = m.mutable_graph()->add_value_info();
  vi->set_name("y");
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(pb::TensorProto::FLOAT);
  auto* vs = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
  vs->add_dim()->set_dim_value(int64_t{1} << 60);
  vs->add_dim();
  e = error_of([&] { import(m); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kiln_ext_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream f(dir_ / "weights.bin", std::ios::binary);
    std::vector<float> v = {1, 2, 3, 4, 5, 6};
    f.write(reinterpret_cast<const char*>(v.data()), 24);
  }
  void TearDown() override { fs::remove_all(dir_); }

  pb::ModelProto model(const std::string& location, int64_t offset, int64_t length) {
    pb::ModelProto m = relu_model();
    auto* init = m.mutable_graph()->add_initializer();
    init->set_name("ext");
    init->set_data_type(pb::TensorProto::FLOAT);
    init->add_dims(4);
    init->set_data_location(pb::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = init->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(length));
    return m;
  }

  fs::path dir_;
};

TEST_F(ExternalData, MapsWeightsFromTheFileBesideTheModel) {
  auto g = import(model("weights.bin", 8, 16), dir_.string());
  const ir::Value* v = g->find_value("ext");
  ASSERT_TRUE(v && v->is_constant());
  EXPECT_EQ(v->constant->data<float>()[0], 3.0f);
  EXPECT_EQ(v->constant->data<float>()[3], 6.0f);
}

TEST_F(ExternalData, RejectsPathsOutsideTheModelFolder) {
  for (const char* bad : {"../weights.bin", "/etc/passwd", ""}) {
    Error e = error_of([&] { import(model(bad, 0, 16), dir_.string()); });
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << bad;
  }
}

TEST_F(ExternalData, RejectsRangesBeyondTheFile) {
  Error e = error_of([&] { import(model("weights.bin", 16, 16), dir_.string()); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  e = error_of([&] { import(model("weights.bin", -4, 16), dir_.string()); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  e = error_of([&] { import(model("weights.bin", 0, 12), dir_.string()); });
  EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
  e = error_of([&] { import(model("missing.bin", 0, 16), dir_.string()); });
  EXPECT_EQ(e.code(), ErrorCode::kIo);
}

TEST_F(ExternalData, ImportsWeightsBeyondTwoGigabytesWithoutReadingThem) {
  // A sparse 2.5 GB weights file: the model proto stays small, as ONNX requires for models over
  // 2 GB, and kiln maps the weights instead of reading them into memory.
  constexpr int64_t kElements = int64_t{5} << 27;  // 640 Mi floats = 2.5 GiB
  {
    std::ofstream f(dir_ / "big.bin", std::ios::binary);
    f.seekp(kElements * 4 - 4);
    float last = 7.0f;
    f.write(reinterpret_cast<const char*>(&last), 4);
  }
  pb::ModelProto m = model("big.bin", 0, kElements * 4);
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, kElements);
  auto g = import(m, dir_.string());
  const ir::Value* v = g->find_value("ext");
  ASSERT_TRUE(v && v->is_constant());
  EXPECT_EQ(v->constant->numel(), kElements);
  EXPECT_EQ(v->constant->data<float>()[kElements - 1], 7.0f);
  EXPECT_EQ(v->constant->data<float>()[0], 0.0f);
}

}  // namespace
}  // namespace kiln::onnx
