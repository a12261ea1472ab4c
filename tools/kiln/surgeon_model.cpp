// Reading, writing and importing ONNX models for `kiln surgeon`, external data included.
#include "surgeon_model.hpp"

#include <google/protobuf/io/coded_stream.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "kiln/error.hpp"
#include "kiln/tensor.hpp"
#include "onnx/tensor_proto.hpp"

namespace kiln::tools::surgeon {
namespace {

namespace fs = std::filesystem;
namespace pb = ::onnx;

// Calls `fn` on every tensor the graph holds: initializers and tensor attributes, in subgraphs too.
void for_each_tensor(pb::GraphProto& g, const std::function<void(pb::TensorProto&)>& fn) {
  for (auto& t : *g.mutable_initializer()) fn(t);
  for (auto& n : *g.mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) fn(*a.mutable_t());
      for (auto& t : *a.mutable_tensors()) fn(t);
      if (a.has_g()) for_each_tensor(*a.mutable_g(), fn);
      for (auto& sub : *a.mutable_graphs()) for_each_tensor(sub, fn);
    }
  }
}

std::string read_bytes(const fs::path& file, int64_t offset, int64_t length,
                       const std::string& what) {
  std::error_code ec;
  auto size = static_cast<int64_t>(fs::file_size(file, ec));
  if (ec) fail(ErrorCode::kIo, what, ": cannot open external-data file '", file.string(), "'");
  if (length < 0) length = size - offset;
  if (offset < 0 || offset > size || length < 0 || size - offset < length) {
    fail(ErrorCode::kInvalidModel, what, " needs ", length, " bytes at offset ", offset, " of '",
         file.string(), "' (", size, " bytes)");
  }
  std::ifstream f(file, std::ios::binary);
  std::string bytes(static_cast<size_t>(length), '\0');
  f.seekg(offset);
  if (!f.read(bytes.data(), length)) {
    fail(ErrorCode::kIo, what, ": cannot read '", file.string(), "': ", std::strerror(errno));
  }
  return bytes;
}

// Replaces the tensor's external reference by its bytes.
void inline_external(pb::TensorProto& t, const fs::path& base_dir, OnnxModel& m) {
  if (t.data_location() != pb::TensorProto::EXTERNAL) return;
  std::string what = cat("'", m.path, "': tensor '", t.name(), "'");
  onnx::ExternalDataRef ref = onnx::external_data_ref(t, base_dir.string(), what);
  int64_t length = ref.length;
  if (length < 0) {
    // Without a length field the tensor's own size says how much to read.
    if (auto dt = onnx::from_onnx_dtype(t.data_type())) {
      const std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
      const size_t esize = element_size(*dt);
      int64_t numel = checked_numel(dims, esize, ErrorCode::kInvalidModel, what);
      length = static_cast<int64_t>(checked_nbytes(numel, esize, ErrorCode::kInvalidModel, what));
    }
  }
  std::string bytes = read_bytes(ref.file, ref.offset, length, what);
  m.inlined_bytes += bytes.size();
  ++m.inlined_tensors;
  t.clear_external_data();
  t.clear_data_location();
  t.set_raw_data(std::move(bytes));
}

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.3g %s", v, units[i]);
  return buf;
}

}  // namespace

OnnxModel read_onnx_model(const std::string& path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (!fs::exists(status)) fail(ErrorCode::kIo, "'", path, "' does not exist");
  if (!fs::is_regular_file(status)) fail(ErrorCode::kIo, "'", path, "' is not a file");
  uint64_t size = fs::file_size(path);
  if (size > kMaxInlineModelBytes) {
    fail(ErrorCode::kInvalidModel, "'", path, "' is ", size,
         " bytes; an ONNX file over 2 GiB must keep its weights in external data");
  }
  std::ifstream f(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!f || !f.read(bytes.data(), static_cast<std::streamsize>(size))) {
    fail(ErrorCode::kIo, "cannot read '", path, "': ", std::strerror(errno));
  }
  OnnxModel m;
  m.path = path;
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  stream.SetTotalBytesLimit(static_cast<int>(kMaxInlineModelBytes));
  stream.SetRecursionLimit(64);
  if (!m.proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    fail(ErrorCode::kInvalidModel, "'", path,
         "' is not a valid ONNX model (protobuf parsing failed)");
  }
  if (!m.proto.has_graph()) fail(ErrorCode::kInvalidModel, "'", path, "' has no graph");
  fs::path base = fs::path(path).parent_path();
  if (base.empty()) base = ".";
  for_each_tensor(*m.proto.mutable_graph(),
                  [&](pb::TensorProto& t) { inline_external(t, base, m); });
  return m;
}

WriteResult write_onnx_model(pb::ModelProto model, const std::string& path, bool external_data) {
  WriteResult w;
  fs::path out(path);
  if (external_data || model.ByteSizeLong() > kMaxInlineModelBytes) {
    w.data_path = path + ".data";
    std::string location = out.filename().string() + ".data";
    std::ofstream data(w.data_path, std::ios::binary | std::ios::trunc);
    if (!data) fail(ErrorCode::kIo, "cannot write '", w.data_path, "': ", std::strerror(errno));
    uint64_t offset = 0;
    // Initializers only: tensor attributes (Constant nodes) are small by nature.
    for (auto& t : *model.mutable_graph()->mutable_initializer()) {
      if (!t.has_raw_data()) {
        // Typed fields (float_data...) cannot point outside; store the bytes raw first.
        auto dt = onnx::from_onnx_dtype(t.data_type());
        if (!dt) continue;
        std::string doc = t.doc_string();
        Tensor value = onnx::tensor_from_proto(t, ".", "initializer '" + t.name() + "'");
        if (value.nbytes() < kMinExternalTensorBytes) continue;
        std::string name = t.name();  // tensor_to_proto clears `t` first
        onnx::tensor_to_proto(value, name, t);
        if (!doc.empty()) t.set_doc_string(doc);
      }
      if (t.raw_data().size() < kMinExternalTensorBytes) continue;
      uint64_t pad = (64 - offset % 64) % 64;
      data << std::string(pad, '\0');
      offset += pad;
      const std::string& raw = t.raw_data();
      data.write(raw.data(), static_cast<std::streamsize>(raw.size()));
      auto add = [&](const std::string& k, const std::string& v) {
        auto* e = t.add_external_data();
        e->set_key(k);
        e->set_value(v);
      };
      add("location", location);
      add("offset", std::to_string(offset));
      add("length", std::to_string(raw.size()));
      offset += raw.size();
      ++w.external_tensors;
      w.external_bytes += raw.size();
      t.clear_raw_data();
      t.set_data_location(pb::TensorProto::EXTERNAL);
    }
    if (!data.flush()) fail(ErrorCode::kIo, "cannot write '", w.data_path, "'");
  }
  if (model.ByteSizeLong() > kMaxInlineModelBytes) {
    fail(ErrorCode::kUnsupported, "the model written to '", path, "' is ", model.ByteSizeLong(),
         " bytes even with its initializers in external data; protobuf cannot write 2 GiB");
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail(ErrorCode::kIo, "cannot write '", path, "': ", std::strerror(errno));
  if (!model.SerializeToOstream(&f) || !f.flush()) {
    fail(ErrorCode::kIo, "cannot write '", path, "'");
  }
  w.model_bytes = model.ByteSizeLong();
  return w;
}

Network import_onnx_model(const pb::ModelProto& model, const std::string& source) {
  if (model.ByteSizeLong() > kMaxInlineModelBytes) {
    fail(ErrorCode::kUnsupported, source,
         " is 2 GiB or more with its weights; kiln can only import it from its own file");
  }
  std::string bytes;
  model.SerializeToString(&bytes);
  // Every tensor is inline, so no external data needs resolving.
  return parse_onnx_bytes(bytes, source);
}

TypeTable known_types(const pb::ModelProto& model, const std::string& source) {
  TypeTable types(model.graph());
  try {
    types.add_inferred(import_onnx_model(model, source));
  } catch (const Error&) {
    // Unsupported ops are why models get edited; the declared types are what is left.
  }
  return types;
}

std::string describe_write(const std::string& path, const WriteResult& w) {
  std::string s = cat("wrote ", path, " (", human_bytes(w.model_bytes), ")");
  if (!w.data_path.empty()) {
    s += cat(" and ", w.data_path, " (", w.external_tensors, " initializer(s), ",
             human_bytes(w.external_bytes), ")");
  }
  return s;
}

}  // namespace kiln::tools::surgeon
