// The one registration point of the backends: the only file outside backends/cuda that knows
// whether the CUDA backend was compiled in. A new backend adds its folder and one line here.
#include "backends/cpu/cpu_backend.hpp"
#include "core/error.hpp"
#ifdef KILN_WITH_CUDA
#include "backends/cuda/cuda_backend.hpp"
#endif

namespace kiln::backends {

const Backend* find_backend(kiln::Backend kind) {
  switch (kind) {
    case kiln::Backend::kCpu:
      return &cpu::cpu_backend();
    case kiln::Backend::kCuda:
#ifdef KILN_WITH_CUDA
      return &cuda::cuda_backend();
#else
      return nullptr;
#endif
  }
  return nullptr;
}

const Backend& get_backend(kiln::Backend kind) {
  const Backend* b = find_backend(kind);
  if (!b) {
    fail(ErrorCode::kUnsupported, "this kiln build has no ", to_string(kind),
         " backend (it was built without it; the CUDA backend needs the CUDA toolkit at build "
         "time)");
  }
  return *b;
}

}  // namespace kiln::backends

namespace kiln {

bool backend_built(Backend b) {
  return backends::find_backend(b) != nullptr;
}

bool backend_available(Backend b) {
  const backends::Backend* found = backends::find_backend(b);
  return found && found->available();
}

}  // namespace kiln
