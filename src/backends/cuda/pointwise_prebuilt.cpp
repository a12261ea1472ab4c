// Build-time compilation of Pointwise kernels into their layers (see pointwise_prebuilt.hpp).
#include "backends/cuda/pointwise_prebuilt.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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
// (every block's activation), and a build compiles each once. The compilation runs outside the
// lock, so that threads compile different programs at once.
std::vector<char> compile_once(const std::string& source, int arch, const std::string& what) {
  static std::mutex mutex;
  static std::map<std::pair<int, std::string>, std::vector<char>> compiled;
  auto key = std::make_pair(arch, source);
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = compiled.find(key);
    if (it != compiled.end()) return it->second;
  }
  std::vector<char> image = nvrtc_compile(source, arch, what);
  std::lock_guard<std::mutex> lock(mutex);
  return compiled.emplace(key, std::move(image)).first->second;
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

void compile_pointwise_sources(const std::vector<std::string>& sources, int arch) {
  std::set<std::string> distinct(sources.begin(), sources.end());
  std::vector<const std::string*> todo;
  for (const std::string& s : distinct) todo.push_back(&s);
  const size_t threads = std::max(1u, std::min(std::thread::hardware_concurrency(), 16u));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < todo.size(); i = next++) {
      try {
        compile_once(*todo[i], arch, "a Pointwise kernel");
      } catch (const Error&) {
        // store_pointwise_cubin compiles it again and reports the failure with its layer.
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(threads, todo.size()); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
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
