// Build-time compilation of Pointwise kernels into their layers (see pointwise_prebuilt.hpp).
#include "backends/cuda/pointwise_prebuilt.hpp"

#include <cstring>
#include <map>
#include <mutex>

#include "backends/cuda/pointwise_codegen.hpp"
#include "backends/cuda/pointwise_compiler.hpp"
#include "core/error.hpp"
#include "ir/pointwise_program.hpp"
#include "plan/checksum.hpp"

namespace kiln::cuda {
namespace {

int64_t source_hash(const std::string& source) {
  const uint64_t h =
      plan::xxhash64({reinterpret_cast<const uint8_t*>(source.data()), source.size()}, /*seed=*/0);
  int64_t out = 0;
  std::memcpy(&out, &h, sizeof out);  // attributes hold int64
  return out;
}

// Compiled images by architecture and source: a model's Pointwise layers often share a program
// (every block's activation), and a build compiles each once.
std::vector<char> compile_once(const std::string& source, int arch, const std::string& what) {
  static std::mutex mutex;
  static std::map<std::pair<int, std::string>, std::vector<char>> compiled;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(arch, source);
  auto it = compiled.find(key);
  if (it == compiled.end()) it = compiled.emplace(key, nvrtc_compile(source, arch, what)).first;
  return it->second;
}

}  // namespace

std::string pointwise_layer_source(const ir::Node& layer) {
  const ir::Value* out = layer.output(0);
  if (!out) fail(ErrorCode::kInternal, layer.describe(), ": a Pointwise layer without an output");
  ir::PointwiseProgram program =
      ir::PointwiseProgram::load(layer.attrs, static_cast<int64_t>(layer.inputs.size()),
                                 static_cast<int64_t>(layer.outputs.size()), layer.describe());
  return pointwise_cuda_source(program, out->dtype);
}

void store_pointwise_cubin(ir::Node& layer, int arch) {
  const std::string source = pointwise_layer_source(layer);
  std::vector<char> cubin = compile_once(source, arch, layer.describe());
  Tensor bytes(DataType::kUInt8, {static_cast<int64_t>(cubin.size())});
  std::memcpy(bytes.raw(), cubin.data(), cubin.size());
  layer.attrs.set(kPointwiseCubinAttr, std::move(bytes));
  layer.attrs.set(kPointwiseCubinArchAttr, int64_t{arch});
  layer.attrs.set(kPointwiseCubinSourceHashAttr, source_hash(source));
}

std::optional<std::vector<char>> stored_pointwise_cubin(const ir::Node& layer,
                                                        const std::string& source, int arch) {
  if (!layer.attrs.has(kPointwiseCubinAttr)) return std::nullopt;
  if (layer.attrs.get_int(kPointwiseCubinArchAttr, 0) != arch) return std::nullopt;
  if (layer.attrs.get_int(kPointwiseCubinSourceHashAttr, 0) != source_hash(source)) {
    return std::nullopt;
  }
  const Tensor& bytes = layer.attrs.get_tensor(kPointwiseCubinAttr);
  if (bytes.dtype() != DataType::kUInt8 || bytes.shape().size() != 1 || bytes.numel() == 0) {
    return std::nullopt;
  }
  const char* p = static_cast<const char*>(bytes.raw());
  return std::vector<char>(p, p + bytes.numel());
}

}  // namespace kiln::cuda
