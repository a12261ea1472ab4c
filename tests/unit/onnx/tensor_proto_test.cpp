// TensorProto decoding of hostile input: element counts whose byte size wraps (inline and
// external), and external data that is a FIFO, a symbolic link out of the model's folder, or has
// a malformed offset or length. Each must fail cleanly, naming the tensor, and never block.
#include "onnx/tensor_proto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "unit/hostile_input_util.hpp"
#include "unit/temp_dir_util.hpp"

namespace kiln::onnx {
namespace {

namespace fs = std::filesystem;
using P = ::onnx::TensorProto;
using test::expect_error;

constexpr int64_t k2Pow62 = int64_t{1} << 62;

class TensorProtoFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(model_dir());
    fs::create_directories(tmp_.path() / "outside");
    std::vector<float> v = {1, 2, 3, 4, 5, 6};
    std::vector<uint8_t> bytes(24);
    std::memcpy(bytes.data(), v.data(), 24);
    test::write_file((model_dir() / "weights.bin").string(), bytes);
    test::write_file((tmp_.path() / "outside" / "secret.bin").string(), bytes);
  }

  fs::path model_dir() const { return tmp_.path() / "model"; }

  // A float tensor of `dims` whose bytes are in `location`; offset and length given as text.
  static P external(const std::string& location, std::vector<int64_t> dims = {4},
                    std::optional<std::string> offset = std::nullopt,
                    std::optional<std::string> length = std::nullopt) {
    P p;
    p.set_name("w");
    p.set_data_type(P::FLOAT);
    for (int64_t d : dims) p.add_dims(d);
    p.set_data_location(P::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = p.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    if (offset) add("offset", *offset);
    if (length) add("length", *length);
    return p;
  }

  Tensor read(const P& p) { return tensor_from_proto(p, model_dir().string(), "initializer 'w'"); }

  test::TempDir tmp_;
};

TEST(TensorProto, InlineTensorWhoseByteSizeWrapsIsRefused) {
  // 2^62 floats are 2^64 bytes, which wrapped to 0: the old check let 64 bytes of data through.
  P p;
  p.set_name("huge");
  p.set_data_type(P::FLOAT);
  p.add_dims(k2Pow62);
  p.set_raw_data(std::string(64, '\0'));
  expect_error([&] { tensor_from_proto(p, ".", "initializer 'huge'"); }, ErrorCode::kInvalidModel,
               {"initializer 'huge'", "size limit"});
  p.clear_raw_data();
  for (int i = 0; i < 16; ++i) p.add_float_data(1.0f);
  expect_error([&] { tensor_from_proto(p, ".", "initializer 'huge'"); }, ErrorCode::kInvalidModel,
               {"initializer 'huge'"});
}

TEST(TensorProto, InlineTensorOverTheLimitIsRefused) {
  test::ScopedTensorByteLimit limit(16);
  P p;
  p.set_data_type(P::FLOAT);
  p.add_dims(5);
  p.set_raw_data(std::string(20, '\0'));
  expect_error([&] { tensor_from_proto(p, ".", "initializer 'five'"); }, ErrorCode::kInvalidModel,
               {"initializer 'five'", "size limit of 16 bytes"});
  p.set_dims(0, 4);
  p.set_raw_data(std::string(16, '\0'));
  EXPECT_EQ(tensor_from_proto(p, ".", "initializer 'four'").numel(), 4);
}

TEST_F(TensorProtoFiles, ReadsAControlTensor) {
  Tensor t = read(external("weights.bin", {4}, "8", "16"));
  ASSERT_EQ(t.numel(), 4);
  EXPECT_EQ(t.data<float>()[0], 3.0f);
  EXPECT_EQ(t.data<float>()[3], 6.0f);
}

TEST_F(TensorProtoFiles, ExternalTensorWhoseByteSizeWrapsIsRefused) {
  // Without a length field, the wrapped byte size (0) used to be read as an empty tensor of 2^62
  // elements backed by 64 bytes.
  expect_error([&] { read(external("weights.bin", {k2Pow62})); }, ErrorCode::kInvalidModel,
               {"initializer 'w'", "size limit"});
  expect_error([&] { read(external("weights.bin", {k2Pow62}, "0", "0")); },
               ErrorCode::kInvalidModel, {"initializer 'w'"});
}

TEST_F(TensorProtoFiles, OffsetAndLengthParseStrictly) {
  for (const char* bad :
       {"12abc", " 12", "12 ", "+12", "0x10", "-1", "", "1e3", "99999999999999999999"}) {
    expect_error([&] { read(external("weights.bin", {4}, bad)); }, ErrorCode::kInvalidModel,
                 {"initializer 'w'", "offset '" + std::string(bad) + "'"});
    expect_error([&] { read(external("weights.bin", {4}, "0", bad)); }, ErrorCode::kInvalidModel,
                 {"initializer 'w'", "length '" + std::string(bad) + "'"});
  }
  P twice = external("weights.bin", {4}, "0");
  auto* e = twice.add_external_data();
  e->set_key("offset");
  e->set_value("8");
  expect_error([&] { read(twice); }, ErrorCode::kInvalidModel, {"offset twice"});
}

TEST_F(TensorProtoFiles, RangePastTheFileIsRefusedWithoutWrapping) {
  expect_error([&] { read(external("weights.bin", {4}, "9223372036854775807")); },
               ErrorCode::kInvalidModel, {"initializer 'w'", "9223372036854775807"});
  expect_error([&] { read(external("weights.bin", {4}, "16")); }, ErrorCode::kInvalidModel,
               {"24 bytes"});
  expect_error([&] { read(external("weights.bin", {4}, "0", "12")); }, ErrorCode::kInvalidModel,
               {"length is 12"});
}

TEST_F(TensorProtoFiles, FifoIsRefusedWithoutBlocking) {
  fs::path fifo = model_dir() / "weights.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto start = std::chrono::steady_clock::now();
  {
    test::FifoUnblocker unblocker(fifo.string());  // should the reader block in open() (the bug)
    expect_error([&] { read(external("weights.fifo")); }, ErrorCode::kInvalidModel,
                 {"initializer 'w'", "weights.fifo", "not a regular file"});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900));
}

TEST_F(TensorProtoFiles, DirectoriesAreRefused) {
  fs::create_directories(model_dir() / "dir");
  expect_error([&] { read(external("dir")); }, ErrorCode::kInvalidModel, {"not a regular file"});
}

TEST_F(TensorProtoFiles, SymbolicLinksOutOfTheFolderAreRefused) {
  fs::create_symlink("../outside/secret.bin", model_dir() / "relative.bin");
  fs::create_symlink(tmp_.path() / "outside" / "secret.bin", model_dir() / "absolute.bin");
  fs::create_directory_symlink("../outside", model_dir() / "linked_dir");
  fs::create_symlink("/dev/zero", model_dir() / "zero.bin");
  for (const char* location :
       {"relative.bin", "absolute.bin", "linked_dir/secret.bin", "zero.bin"}) {
    expect_error([&] { read(external(location)); }, ErrorCode::kInvalidModel,
                 {"initializer 'w'", location, "outside the model's folder"});
  }
}

TEST_F(TensorProtoFiles, SymbolicLinksInsideTheFolderAreFollowed) {
  fs::create_symlink("weights.bin", model_dir() / "alias.bin");
  EXPECT_EQ(read(external("alias.bin", {4}, "8")).data<float>()[0], 3.0f);
  // The model's folder reached through a link resolves the same way as the real folder.
  fs::create_directory_symlink(model_dir(), tmp_.path() / "model_link");
  Tensor t = tensor_from_proto(external("weights.bin", {2}), (tmp_.path() / "model_link").string(),
                               "initializer 'w'");
  EXPECT_EQ(t.data<float>()[1], 2.0f);
}

TEST_F(TensorProtoFiles, ExternalTensorOverTheLimitIsRefusedBeforeReading) {
  test::ScopedTensorByteLimit limit(8);
  expect_error([&] { read(external("weights.bin", {4})); }, ErrorCode::kInvalidModel,
               {"initializer 'w'", "size limit of 8 bytes"});
}

}  // namespace
}  // namespace kiln::onnx
