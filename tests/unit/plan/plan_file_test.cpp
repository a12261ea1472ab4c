// Plan file round trips (every attribute kind, several dtypes, symbolic shapes, borrowed weights)
// and refusal of truncated, corrupt, foreign and malicious plan files.
#include "plan/plan_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <unordered_map>

#include "core/error.hpp"
#include "kiln/kiln.hpp"
#include "plan/plan_header.hpp"
#include "plan_schema_generated.h"
#include "unit/temp_dir_util.hpp"

namespace kiln::plan {
namespace {

using test::TempDir;

// A tensor whose bytes follow a pattern, so every byte of it is checked by a comparison.
Tensor patterned(DataType dtype, Shape shape, int seed) {
  Tensor t(dtype, std::move(shape));
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(i * 31 + seed);
  if (dtype == DataType::kBool) {
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  }
  return t;
}

std::unique_ptr<ir::Graph> sample_graph() {
  auto g = std::make_unique<ir::Graph>();
  g->name = "sample graph";
  ir::Value* x =
      g->add_value("x", DataType::kFloat32, ir::SymShape{ir::Dim::symbolic("batch"), 3, ir::Dim()});
  ir::Value* mask = g->add_value("mask", DataType::kBool, ir::SymShape{4});
  ir::Value* w = g->add_constant("w", patterned(DataType::kFloat32, {3, 5}, 1));
  ir::Value* w_alias = g->add_constant("w_alias", *w->constant);  // same buffer: stored once
  ir::Value* b = g->add_constant("b", patterned(DataType::kFloat16, {5}, 2));
  ir::Value* q = g->add_constant("q", patterned(DataType::kInt8, {7}, 3));
  ir::Value* bf = g->add_constant("bf", patterned(DataType::kBFloat16, {2, 2}, 4));
  ir::Value* f8 = g->add_constant("f8", patterned(DataType::kFloat8E4M3, {9}, 5));
  ir::Value* u64 = g->add_constant("u64", patterned(DataType::kUInt64, {2}, 6));
  ir::Value* empty = g->add_constant("empty", Tensor(DataType::kFloat32, {0, 3}));
  ir::Value* scalar = g->add_constant("scalar", patterned(DataType::kFloat64, {}, 7));
  ir::Value* bits = g->add_constant("bits", patterned(DataType::kBool, {3}, 8));
  ir::Value* y =
      g->add_value("y", DataType::kFloat32, ir::SymShape{ir::Dim::symbolic("batch"), 3, 5});
  ir::Value* z = g->add_value("z", DataType::kFloat16);  // rank unknown
  ir::Value* idx = g->add_value("idx", DataType::kInt64, ir::SymShape{});
  ir::Value* out = g->add_value("out", DataType::kUInt16, ir::SymShape{ir::Dim::symbolic("n")});
  g->inputs() = {x, mask};

  ir::Node* mm = g->add_node("MatMul", "mm", {x, w}, {y});
  mm->origins = {"onnx_matmul", "onnx_add"};
  ir::Node* custom =
      g->add_node("Fancy", "fancy/1", {y, nullptr, b, w_alias, mask}, {z, nullptr, idx});
  custom->domain = "com.example";
  custom->attrs.set("i", int64_t{-42});
  custom->attrs.set("f", -0.25f);
  custom->attrs.set("inf", std::numeric_limits<float>::infinity());
  custom->attrs.set("s", std::string("hello\0world", 11));
  custom->attrs.set("ints", std::vector<int64_t>{1, -2, std::numeric_limits<int64_t>::max()});
  custom->attrs.set("floats", std::vector<float>{1.5f, -0.0f, 3e38f});
  custom->attrs.set("strings", std::vector<std::string>{"a", "", "ccc"});
  custom->attrs.set("no_ints", std::vector<int64_t>{});
  custom->attrs.set("tensor", patterned(DataType::kInt32, {2, 3}, 9));
  custom->attrs.set("tensor_shared", *q->constant);
  custom->attrs.set("undefined", Tensor());
  g->add_node("Mix", "mix", {z, idx, q, bf, f8, u64, empty, scalar, bits}, {out});
  g->outputs() = {out, y};
  return g;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.defined() == b.defined() && a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Compares two graphs value by value, node by node, through value indices.
void expect_same_graph(const ir::Graph& a, const ir::Graph& b) {
  EXPECT_EQ(a.name, b.name);
  ASSERT_EQ(a.values().size(), b.values().size());
  std::unordered_map<const ir::Value*, size_t> ia, ib;
  for (size_t i = 0; i < a.values().size(); ++i) {
    const ir::Value& va = *a.values()[i];
    const ir::Value& vb = *b.values()[i];
    ia[&va] = i;
    ib[&vb] = i;
    SCOPED_TRACE("value " + va.name);
    EXPECT_EQ(va.name, vb.name);
    EXPECT_EQ(va.dtype, vb.dtype);
    EXPECT_EQ(va.shape, vb.shape);
    ASSERT_EQ(va.is_constant(), vb.is_constant());
    if (va.is_constant()) EXPECT_TRUE(same_tensor(*va.constant, *vb.constant));
  }
  auto index = [](auto& map, const ir::Value* v) -> long { return v ? long(map.at(v)) : -1; };
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (size_t i = 0; i < a.nodes().size(); ++i) {
    const ir::Node& na = *a.nodes()[i];
    const ir::Node& nb = *b.nodes()[i];
    SCOPED_TRACE(na.describe());
    EXPECT_EQ(na.name, nb.name);
    EXPECT_EQ(na.op, nb.op);
    EXPECT_EQ(na.domain, nb.domain);
    EXPECT_EQ(na.origins, nb.origins);
    EXPECT_TRUE(na.attrs == nb.attrs);
    ASSERT_EQ(na.inputs.size(), nb.inputs.size());
    for (size_t k = 0; k < na.inputs.size(); ++k) {
      EXPECT_EQ(index(ia, na.inputs[k]), index(ib, nb.inputs[k]));
    }
    ASSERT_EQ(na.outputs.size(), nb.outputs.size());
    for (size_t k = 0; k < na.outputs.size(); ++k) {
      EXPECT_EQ(index(ia, na.outputs[k]), index(ib, nb.outputs[k]));
      if (nb.outputs[k]) EXPECT_EQ(nb.outputs[k]->producer, &nb);
    }
  }
  ASSERT_EQ(a.inputs().size(), b.inputs().size());
  for (size_t k = 0; k < a.inputs().size(); ++k) {
    EXPECT_EQ(index(ia, a.inputs()[k]), index(ib, b.inputs()[k]));
  }
  ASSERT_EQ(a.outputs().size(), b.outputs().size());
  for (size_t k = 0; k < a.outputs().size(); ++k) {
    EXPECT_EQ(index(ia, a.outputs()[k]), index(ib, b.outputs()[k]));
  }
}

// The address range of the mapping of `path` in this process, from /proc/self/maps.
std::pair<uintptr_t, uintptr_t> mapped_range(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::string canonical = std::filesystem::canonical(path).string();
  while (std::getline(maps, line)) {
    if (line.size() >= canonical.size() &&
        line.compare(line.size() - canonical.size(), canonical.size(), canonical) == 0) {
      uintptr_t lo = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
      uintptr_t hi = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
      return {lo, hi};
    }
  }
  return {0, 0};
}

TEST(PlanFile, RoundTripsEveryAttributeKindAndDtype) {
  auto g = sample_graph();
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCpu);
  LoadedPlan p =
      read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "mem");
  EXPECT_EQ(p.backend, Backend::kCpu);
  expect_same_graph(*g, *p.graph);
  // Writing the loaded graph again gives the same bytes: nothing is lost or reordered.
  EXPECT_EQ(write_plan(*p.graph, Backend::kCpu), bytes);
}

TEST(PlanFile, FileLayoutIsAligned) {
  auto g = sample_graph();
  std::vector<uint8_t> bytes = write_plan(*g, Backend::kCuda);
  PlanHeader h = decode_header(bytes);
  EXPECT_EQ(h.weights_offset % kWeightsSectionAlignment, 0u);
  EXPECT_EQ(h.file_size, bytes.size());
  EXPECT_EQ(h.kiln_version, version());
  LoadedPlan p =
      read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "mem");
  EXPECT_EQ(p.backend, Backend::kCuda);
  for (const auto& v : p.graph->values()) {
    if (v->constant) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(v->constant->raw()) % kTensorAlignment, 0u) << v->name;
    }
  }
}

TEST(PlanFile, ConstantsBorrowFromTheMappedFile) {
  TempDir dir;
  std::string path = dir.file("model.plan");
  auto g = sample_graph();
  test::write_file(path, write_plan(*g, Backend::kCpu));
  LoadedPlan p = read_plan_file(path, Backend::kCpu);
  expect_same_graph(*g, *p.graph);
  auto [lo, hi] = mapped_range(path);
  ASSERT_NE(lo, 0u) << "the plan file is not mapped";
  for (const auto& v : p.graph->values()) {
    if (!v->constant || v->constant->nbytes() == 0) continue;
    auto addr = reinterpret_cast<uintptr_t>(v->constant->raw());
    EXPECT_TRUE(addr >= lo && addr + v->constant->nbytes() <= hi) << v->name;
  }
  // Two constants that shared a buffer when written share it when read.
  EXPECT_EQ(p.graph->find_value("w")->constant->raw(),
            p.graph->find_value("w_alias")->constant->raw());
  // A constant outlives the graph: it keeps the mapping alive.
  Tensor w = *p.graph->find_value("w")->constant;
  p.graph.reset();
  EXPECT_TRUE(same_tensor(w, *g->find_value("w")->constant));
}

// Every failure must be a clean Error(kInvalidPlan); returns its message.
std::string refusal(const std::vector<uint8_t>& bytes, std::optional<Backend> expected = {}) {
  try {
    read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "test.plan",
                    expected);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.plan"), std::string::npos) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "the plan was accepted";
  return {};
}

TEST(PlanFile, RefusesTruncatedFiles) {
  TempDir dir;
  std::vector<uint8_t> bytes = write_plan(*sample_graph(), Backend::kCpu);
  std::vector<size_t> lengths = {0, 1, 7, 8, 9, 127, 128, 129, bytes.size() - 1};
  for (size_t n = 0; n < bytes.size(); n += 97) lengths.push_back(n);
  for (size_t n : lengths) {
    SCOPED_TRACE("length " + std::to_string(n));
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(n));
    std::string message = refusal(cut);
    if (n >= 8) EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    std::string path = dir.file("cut.plan");
    test::write_file(path, cut);
    try {
      read_plan_file(path);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << e.what();
    }
  }
}

TEST(PlanFile, RefusesEveryFlippedByte) {
  std::vector<uint8_t> bytes = write_plan(*sample_graph(), Backend::kCpu);
  for (size_t i = 0; i < bytes.size(); ++i) {
    SCOPED_TRACE("byte " + std::to_string(i));
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x10;
    std::string message = refusal(bad);
    if (i >= kHeaderSize) EXPECT_NE(message.find("checksum"), std::string::npos) << message;
  }
}

TEST(PlanFile, RefusesForeignFiles) {
  std::vector<uint8_t> bytes = write_plan(*sample_graph(), Backend::kCpu);
  std::vector<uint8_t> onnx_like = {0x08, 0x07, 0x12, 0x04, 't', 'e', 's', 't'};
  onnx_like.resize(4096, 0);
  EXPECT_NE(refusal(onnx_like).find("not a kiln plan"), std::string::npos);

  std::vector<uint8_t> bad_magic = bytes;
  bad_magic[3] = 'X';
  seal(bad_magic);
  EXPECT_NE(refusal(bad_magic).find("not a kiln plan"), std::string::npos);
}

TEST(PlanFile, RefusesOtherFormatVersion) {
  std::vector<uint8_t> bytes = write_plan(*sample_graph(), Backend::kCpu);
  PlanHeader h = decode_header(bytes);
  h.format_version = kFormatVersion + 1;
  encode_header(h, bytes);
  seal(bytes);
  std::string message = refusal(bytes);
  EXPECT_NE(message.find(cat("format version ", kFormatVersion + 1)), std::string::npos) << message;
}

TEST(PlanFile, RefusesOtherKilnVersionNamingBoth) {
  std::vector<uint8_t> bytes = write_plan(*sample_graph(), Backend::kCpu);
  PlanHeader h = decode_header(bytes);
  h.kiln_version = "0.0.1-other";
  encode_header(h, bytes);
  seal(bytes);
  std::string message = refusal(bytes);
  EXPECT_NE(message.find("0.0.1-other"), std::string::npos) << message;
  EXPECT_NE(message.find(std::string(version())), std::string::npos) << message;
}

TEST(PlanFile, RefusesOtherTarget) {
  std::vector<uint8_t> cuda = write_plan(*sample_graph(), Backend::kCuda);
  std::string message = refusal(cuda, Backend::kCpu);
  EXPECT_NE(message.find("cuda"), std::string::npos) << message;
  std::vector<uint8_t> cpu = write_plan(*sample_graph(), Backend::kCpu);
  EXPECT_NE(refusal(cpu, Backend::kCuda).find("cpu"), std::string::npos);

  PlanHeader h = decode_header(cpu);
  h.backend = 77;
  encode_header(h, cpu);
  seal(cpu);
  EXPECT_NE(refusal(cpu).find("unknown"), std::string::npos);
}

// Assembles a correctly sealed plan around hand-built (possibly malicious) metadata.
std::vector<uint8_t> assemble(flatbuffers::FlatBufferBuilder& fbb, size_t weights_size = 256) {
  PlanHeader h;
  h.kiln_version = std::string(version());
  h.backend = static_cast<uint8_t>(Backend::kCpu);
  h.metadata_offset = kHeaderSize;
  h.metadata_size = fbb.GetSize();
  h.weights_offset = (kHeaderSize + fbb.GetSize() + 4095) / 4096 * 4096;
  h.weights_size = weights_size;
  h.file_size = h.weights_offset + h.weights_size;
  std::vector<uint8_t> file(h.file_size, 0);
  encode_header(h, file);
  std::memcpy(file.data() + kHeaderSize, fbb.GetBufferPointer(), fbb.GetSize());
  seal(file);
  return file;
}

namespace fb = plan::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<fb::Value> plain_value(FlatBufferBuilder& fbb, const char* name, uint8_t dtype = 1) {
  return fb::CreateValue(fbb, fbb.CreateString(name), dtype, false);
}

// A graph of `n_values` float values and the given nodes / constants.
std::vector<uint8_t> graph_plan(FlatBufferBuilder& fbb, std::vector<Offset<fb::Value>> values,
                                std::vector<Offset<fb::Node>> nodes,
                                std::vector<Offset<fb::Constant>> constants = {},
                                std::vector<int32_t> inputs = {},
                                std::vector<int32_t> outputs = {}) {
  auto root = fb::CreatePlanGraph(fbb, fbb.CreateString("g"), fbb.CreateVector(values),
                                  fbb.CreateVector(constants), fbb.CreateVector(nodes),
                                  fbb.CreateVector(inputs), fbb.CreateVector(outputs));
  fbb.Finish(root);
  return assemble(fbb);
}

Offset<fb::Node> simple_node(FlatBufferBuilder& fbb, const char* name, std::vector<int32_t> ins,
                             std::vector<int32_t> outs,
                             std::vector<Offset<fb::Attribute>> attrs = {}) {
  return fb::CreateNode(fbb, fbb.CreateString(name), fbb.CreateString("Relu"), 0,
                        fbb.CreateVector(ins), fbb.CreateVector(outs), fbb.CreateVector(attrs));
}

TEST(PlanFile, HandBuiltMetadataIsAccepted) {
  // The control for the malicious cases below: the same construction, but valid.
  FlatBufferBuilder fbb;
  auto v0 = plain_value(fbb, "a");
  auto v1 = plain_value(fbb, "b");
  auto n = simple_node(fbb, "relu", {0}, {1});
  LoadedPlan p = [&] {
    auto bytes = graph_plan(fbb, {v0, v1}, {n}, {}, {0}, {1});
    return read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "ok");
  }();
  ASSERT_EQ(p.graph->nodes().size(), 1u);
  EXPECT_EQ(p.graph->nodes()[0]->inputs[0]->name, "a");
  EXPECT_EQ(p.graph->outputs()[0]->producer, p.graph->nodes()[0].get());
}

TEST(PlanFile, RefusesIndexOutOfRange) {
  FlatBufferBuilder fbb;
  auto v0 = plain_value(fbb, "a");
  auto v1 = plain_value(fbb, "b");
  auto n = simple_node(fbb, "relu", {5}, {1});
  std::string message = refusal(graph_plan(fbb, {v0, v1}, {n}));
  EXPECT_NE(message.find("refers to value 5"), std::string::npos) << message;

  FlatBufferBuilder fbb2;
  v0 = plain_value(fbb2, "a");
  EXPECT_NE(refusal(graph_plan(fbb2, {v0}, {}, {}, {}, {-7})).find("value -7"), std::string::npos);
}

TEST(PlanFile, RefusesBadDtypes) {
  FlatBufferBuilder fbb;
  auto v0 = plain_value(fbb, "a", 0);
  EXPECT_NE(refusal(graph_plan(fbb, {v0}, {})).find("dtype"), std::string::npos);
  FlatBufferBuilder fbb2;
  v0 = plain_value(fbb2, "a", 200);
  EXPECT_NE(refusal(graph_plan(fbb2, {v0}, {})).find("dtype"), std::string::npos);
}

Offset<fb::Constant> constant_of(FlatBufferBuilder& fbb, int32_t value, std::vector<int64_t> shape,
                                 uint64_t offset, uint64_t size, uint8_t dtype = 1) {
  return fb::CreateConstant(fbb, value,
                            fb::CreateTensorRef(fbb, dtype, fbb.CreateVector(shape), offset, size));
}

TEST(PlanFile, RefusesInconsistentConstants) {
  struct Case {
    std::vector<int64_t> shape;
    uint64_t offset, size;
    const char* expect;
  };
  const int64_t big = int64_t{1} << 40;
  std::vector<Case> cases = {
      {{4}, 0, 12, "claims 12 bytes"},         // 4 floats are 16 bytes
      {{4}, 256, 16, "outside the weights"},   // past the 256-byte section
      {{64}, 64, 256, "outside the weights"},  // ends past the section
      {{4}, 32, 16, "outside the weights"},    // misaligned
      {{big, big, big}, 0, 0, "64 bits"},      // element count overflows
      {{big, big, 0}, 0, 0, "64 bits"},        // overflows before reaching the zero
      {{-4}, 0, 0, "shape"},                   // negative dim
      {{1ll << 62}, 0, 0, "size limit"},       // byte size overflows (it wrapped to 0 bytes)
  };
  for (const Case& c : cases) {
    FlatBufferBuilder fbb;
    auto v0 = plain_value(fbb, "w");
    auto k = constant_of(fbb, 0, c.shape, c.offset, c.size);
    std::string message = refusal(graph_plan(fbb, {v0}, {}, {k}));
    EXPECT_NE(message.find(c.expect), std::string::npos) << message;
  }
  // A constant whose dtype differs from its value's, and a value with two constants.
  FlatBufferBuilder fbb;
  auto v0 = plain_value(fbb, "w");
  auto k = constant_of(fbb, 0, {4}, 0, 4, /*dtype=*/6);  // int8
  EXPECT_NE(refusal(graph_plan(fbb, {v0}, {}, {k})).find("dtype"), std::string::npos);
  FlatBufferBuilder fbb2;
  v0 = plain_value(fbb2, "w");
  auto k1 = constant_of(fbb2, 0, {4}, 0, 16);
  auto k2 = constant_of(fbb2, 0, {4}, 64, 16);
  EXPECT_NE(refusal(graph_plan(fbb2, {v0}, {}, {k1, k2})).find("two constants"), std::string::npos);
}

Offset<fb::Value> shaped_value(FlatBufferBuilder& fbb, const char* name, std::vector<int64_t> dims,
                               uint8_t dtype = 1) {
  std::vector<Offset<fb::Dim>> ds;
  for (int64_t d : dims) ds.push_back(fb::CreateDim(fbb, d));
  return fb::CreateValue(fbb, fbb.CreateString(name), dtype, true, fbb.CreateVector(ds));
}

TEST(PlanFile, RefusesAConstantWhoseShapeDisagreesWithItsValue) {
  // Inference and the planners would read [2, 3] while the kernels walk the constant's bytes.
  struct Case {
    std::vector<int64_t> value_dims, constant_dims;
    uint64_t size;
    bool accepted;
  };
  std::vector<Case> cases = {
      {{2, 3}, {2, 3}, 24, true},    // the control
      {{-1, 3}, {2, 3}, 24, true},   // an unknown dim of the value agrees with anything
      {{2, 3}, {6}, 24, false},      // same size, other rank
      {{2, 3}, {3, 2}, 24, false},   // same size, other dims
      {{2, 3}, {2, 4}, 32, false},   // more data than the value's shape
      {{64, 64}, {2, 3}, 24, false}  // less
  };
  for (const Case& c : cases) {
    FlatBufferBuilder fbb;
    auto v0 = shaped_value(fbb, "w", c.value_dims);
    auto k = constant_of(fbb, 0, c.constant_dims, 0, c.size);
    std::vector<uint8_t> bytes = graph_plan(fbb, {v0}, {}, {k});
    if (c.accepted) {
      LoadedPlan p =
          read_plan_bytes({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "test.plan");
      EXPECT_EQ(ir::sym_shape_to_string(p.graph->values()[0]->shape),
                ir::sym_shape_to_string(ir::to_sym_shape(c.constant_dims)));
      continue;
    }
    std::string message = refusal(bytes);
    EXPECT_NE(message.find("constant 'w' holds float32" + shape_to_string(c.constant_dims) +
                           " but its value has shape " + shape_to_string(c.value_dims)),
              std::string::npos)
        << message;
  }
}

TEST(PlanFile, RefusesValuesWhoseShapeNoTensorCanHave) {
  FlatBufferBuilder fbb;
  auto v0 = shaped_value(fbb, "huge", {int64_t{1} << 40, -1, int64_t{1} << 40});
  std::string message = refusal(graph_plan(fbb, {v0}, {}));
  EXPECT_NE(message.find("value 'huge'"), std::string::npos) << message;
  EXPECT_NE(message.find("64 bits"), std::string::npos) << message;
  FlatBufferBuilder fbb2;
  auto v1 = shaped_value(fbb2, "big", {int64_t{1} << 62});  // 2^64 bytes of float32
  message = refusal(graph_plan(fbb2, {v1}, {}));
  EXPECT_NE(message.find("size limit"), std::string::npos) << message;
}

// A plan whose main graph holds an If holding an If ... `levels` deep, built by hand (kiln's
// writer refuses to write one deeper than the reader reads).
std::vector<uint8_t> nested_plan(int levels) {
  FlatBufferBuilder fbb;
  Offset<fb::PlanGraph> inner = fb::CreatePlanGraph(fbb, fbb.CreateString("leaf"));
  for (int i = 0; i < levels; ++i) {
    auto branch = fb::CreateAttribute(fbb, fbb.CreateString("then_branch"), fb::AttributeKind_Graph,
                                      0, 0, 0, 0, 0, 0, 0, inner);
    auto node = fb::CreateNode(fbb, fbb.CreateString("if"), fbb.CreateString("If"), 0, 0, 0,
                               fbb.CreateVector(std::vector<Offset<fb::Attribute>>{branch}));
    inner = fb::CreatePlanGraph(fbb, fbb.CreateString("level"), 0, 0,
                                fbb.CreateVector(std::vector<Offset<fb::Node>>{node}));
  }
  fbb.Finish(inner);
  return assemble(fbb);
}

TEST(PlanFile, ReaderRefusesSubgraphsNestedPastTheSharedLimit) {
  std::vector<uint8_t> ok = nested_plan(16);
  EXPECT_NO_THROW(read_plan_bytes({reinterpret_cast<const char*>(ok.data()), ok.size()}, "ok"));
  std::string message = refusal(nested_plan(17));
  EXPECT_NE(message.find("nest more than 16 levels"), std::string::npos) << message;
}

TEST(PlanFile, RefusesCyclesAndDoubleProducers) {
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a"), plain_value(fbb, "b")};
    auto n0 = simple_node(fbb, "first", {1}, {0});
    auto n1 = simple_node(fbb, "second", {0}, {1});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0, n1})).find("cycle"), std::string::npos);
  }
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a")};
    auto n0 = simple_node(fbb, "self", {0}, {0});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0})).find("cycle"), std::string::npos);
  }
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a"), plain_value(fbb, "b")};
    auto n0 = simple_node(fbb, "first", {0}, {1});
    auto n1 = simple_node(fbb, "second", {0}, {1});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0, n1}, {}, {0})).find("already"), std::string::npos);
  }
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a"), plain_value(fbb, "b")};
    auto n0 = simple_node(fbb, "overwrites_input", {1}, {0});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0}, {}, {0})).find("graph input"), std::string::npos);
  }
}

TEST(PlanFile, RefusesBadAttributes) {
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a"), plain_value(fbb, "b")};
    auto a = fb::CreateAttribute(fbb, fbb.CreateString("k"), static_cast<fb::AttributeKind>(42));
    auto n0 = simple_node(fbb, "n", {0}, {1}, {a});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0})).find("unknown kind"), std::string::npos);
  }
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a"), plain_value(fbb, "b")};
    auto a1 = fb::CreateAttribute(fbb, fbb.CreateString("k"), fb::AttributeKind_Int, 1);
    auto a2 = fb::CreateAttribute(fbb, fbb.CreateString("k"), fb::AttributeKind_Int, 2);
    auto n0 = simple_node(fbb, "n", {0}, {1}, {a1, a2});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0})).find("repeats"), std::string::npos);
  }
  {
    FlatBufferBuilder fbb;
    std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a"), plain_value(fbb, "b")};
    auto t = fb::CreateTensorRef(fbb, 1, fbb.CreateVector(std::vector<int64_t>{100}), 0, 400);
    auto a = fb::CreateAttribute(fbb, fbb.CreateString("t"), fb::AttributeKind_Tensor, 0, 0, 0, 0,
                                 0, 0, t);
    auto n0 = simple_node(fbb, "n", {0}, {1}, {a});
    EXPECT_NE(refusal(graph_plan(fbb, vs, {n0})).find("outside the weights"), std::string::npos);
  }
}

TEST(PlanFile, RefusesMetadataThatIsNotAFlatBuffer) {
  FlatBufferBuilder fbb;
  fbb.Finish(fbb.CreateString("definitely not a plan graph, just a string"));
  std::vector<uint8_t> bytes = assemble(fbb);
  // Scramble the root offset so it points outside the buffer.
  bytes[kHeaderSize] = 0xff;
  bytes[kHeaderSize + 1] = 0xff;
  seal(bytes);
  EXPECT_NE(refusal(bytes).find("metadata"), std::string::npos);
}

TEST(PlanFile, RefusesMetadataThatRepeatsOneHugeString) {
  // 20000 node names all pointing at one 100 KB string would decode to 2 GB.
  FlatBufferBuilder fbb;
  auto big = fbb.CreateString(std::string(100000, 'x'));
  std::vector<Offset<fb::Value>> vs = {plain_value(fbb, "a")};
  std::vector<Offset<flatbuffers::String>> names(20000, big);
  auto origins = fbb.CreateVector(names);
  auto n0 = fb::CreateNode(fbb, big, big, 0, fbb.CreateVector(std::vector<int32_t>{0}),
                           fbb.CreateVector(std::vector<int32_t>{}), 0, origins);
  std::string message = refusal(graph_plan(fbb, vs, {n0}));
  EXPECT_NE(message.find("over and over"), std::string::npos) << message;
}

TEST(PlanFile, RefusesMissingAndNonRegularFiles) {
  TempDir dir;
  try {
    read_plan_file(dir.file("missing.plan"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("missing.plan"), std::string::npos);
  }
  try {
    read_plan_file(dir.path().string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
  }
}

TEST(PlanFile, LooksLikePlan) {
  std::vector<uint8_t> bytes = write_plan(*sample_graph(), Backend::kCpu);
  EXPECT_TRUE(looks_like_plan({reinterpret_cast<const char*>(bytes.data()), 16}));
  EXPECT_FALSE(looks_like_plan("KILNPLA"));
  EXPECT_FALSE(looks_like_plan("\x08\x07"));
}

}  // namespace
}  // namespace kiln::plan

namespace kiln::plan {
namespace {

// Engines verify what they load: a structurally valid plan whose layers cannot run is refused.
void expect_engine_refuses(const ir::Graph& g, const std::string& part) {
  TempDir dir;
  std::string path = dir.file("bad_layers.plan");
  test::write_file(path, write_plan(g, Backend::kCpu));
  try {
    Engine::load(path);
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidPlan) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad_layers.plan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(EngineLoad, RefusesUnknownOpsAndBadArity) {
  {
    ir::Graph g;
    ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{2});
    ir::Value* y = g.add_value("y", DataType::kFloat32, ir::SymShape{2});
    g.inputs() = {x};
    g.add_node("NoSuchOpAnywhere", "mystery", {x}, {y});
    g.outputs() = {y};
    expect_engine_refuses(g, "NoSuchOpAnywhere");
  }
  {
    ir::Graph g;
    ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{2});
    ir::Value* y = g.add_value("y", DataType::kFloat32, ir::SymShape{2});
    g.inputs() = {x};
    g.add_node("Relu", "relu", {x, x, x}, {y});
    g.outputs() = {y};
    expect_engine_refuses(g, "3 inputs");
  }
  {
    ir::Graph g;
    ir::Value* x = g.add_value("x", DataType::kFloat32, ir::SymShape{2});
    ir::Value* y = g.add_value("y", DataType::kFloat32, ir::SymShape{2});
    g.inputs() = {x};
    g.outputs() = {y};  // nothing produces y
    expect_engine_refuses(g, "never produced");
  }
}

}  // namespace
}  // namespace kiln::plan
