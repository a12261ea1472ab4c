// NVRTC compilation and the process-wide cache of loaded Pointwise kernels. Kernels load through
// the runtime's library API (cudaLibraryLoadData), whose cudaKernel_t cudaLaunchKernel accepts, so
// kiln needs no driver-API link.
#include "backends/cuda/pointwise_compiler.hpp"

#include <nvrtc.h>

#include <map>
#include <mutex>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/pointwise_codegen.hpp"
#include "core/error.hpp"

namespace kiln::cuda {
namespace {

void check_nvrtc(nvrtcResult status, const char* call, const std::string& what) {
  if (status != NVRTC_SUCCESS) {
    fail(ErrorCode::kInternal, what, ": ", call, " failed: ", nvrtcGetErrorString(status));
  }
}

// Owns an nvrtcProgram.
struct Program {
  nvrtcProgram p = nullptr;
  ~Program() {
    if (p) nvrtcDestroyProgram(&p);
  }
};

struct Cache {
  std::mutex mutex;
  // Loaded libraries stay loaded until the process exits: kernels of live contexts use them, and
  // unloading during static destruction can race the CUDA runtime's own teardown.
  std::map<std::string, std::shared_ptr<const CompiledPointwise>> entries;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed, see above
  return *c;
}

std::string cache_key(const std::string& source, int arch) {
  return cat("sm_", arch, "\n", source);
}

std::shared_ptr<const CompiledPointwise> load(std::vector<char> cubin, const std::string& what) {
  auto c = std::make_shared<CompiledPointwise>();
  c->cubin = std::move(cubin);
  KILN_CUDA_CHECK(
      cudaLibraryLoadData(&c->library, c->cubin.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  cudaError_t status = cudaLibraryGetKernel(&c->kernel, c->library, kPointwiseKernelName);
  if (status != cudaSuccess) {
    cudaLibraryUnload(c->library);
    fail(ErrorCode::kInternal, what, ": the compiled Pointwise kernel has no entry point '",
         kPointwiseKernelName, "': ", cudaGetErrorString(status));
  }
  return c;
}

}  // namespace

std::vector<char> nvrtc_compile(const std::string& source, int arch, const std::string& what) {
  Program prog;
  check_nvrtc(nvrtcCreateProgram(&prog.p, source.c_str(), "kiln_pointwise.cu", 0, nullptr, nullptr),
              "nvrtcCreateProgram", what);
  const std::string arch_flag = cat("--gpu-architecture=sm_", arch);
  // IEEE division and square root, no flush to zero: the CPU reference's arithmetic.
  const char* options[] = {arch_flag.c_str(), "--std=c++17",      "--fmad=false",
                           "--prec-div=true", "--prec-sqrt=true", "--ftz=false"};
  nvrtcResult status = nvrtcCompileProgram(prog.p, static_cast<int>(std::size(options)), options);
  if (status != NVRTC_SUCCESS) {
    size_t log_size = 0;
    nvrtcGetProgramLogSize(prog.p, &log_size);
    std::string log(log_size, '\0');
    if (log_size) nvrtcGetProgramLog(prog.p, log.data());
    fail(ErrorCode::kInternal, what, ": NVRTC could not compile the generated Pointwise kernel (",
         nvrtcGetErrorString(status), "):\n", log, "\nsource:\n", source);
  }
  size_t size = 0;
  check_nvrtc(nvrtcGetCUBINSize(prog.p, &size), "nvrtcGetCUBINSize", what);
  std::vector<char> cubin(size);
  check_nvrtc(nvrtcGetCUBIN(prog.p, cubin.data()), "nvrtcGetCUBIN", what);
  return cubin;
}

std::shared_ptr<const CompiledPointwise> compile_pointwise(const std::string& source, int arch,
                                                           const std::string& what) {
  Cache& c = cache();
  const std::string key = cache_key(source, arch);
  // Held while compiling: two contexts building the same layer compile it once.
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.entries.find(key);
  if (it != c.entries.end()) return it->second;
  auto compiled = load(nvrtc_compile(source, arch, what), what);
  c.entries.emplace(key, compiled);
  return compiled;
}

std::shared_ptr<const CompiledPointwise> load_pointwise_cubin(const std::string& source, int arch,
                                                              std::vector<char> cubin) {
  Cache& c = cache();
  const std::string key = cache_key(source, arch);
  std::lock_guard<std::mutex> lock(c.mutex);
  auto it = c.entries.find(key);
  if (it != c.entries.end()) return it->second;
  auto compiled = load(std::move(cubin), "a stored Pointwise kernel");
  c.entries.emplace(key, compiled);
  return compiled;
}

}  // namespace kiln::cuda
