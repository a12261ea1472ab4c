// Shared set-up and the bounded zero-input run of the engine fuzz targets (fuzz_engine.hpp).
#include "fuzz_engine.hpp"

#include <omp.h>

#include <map>
#include <string>

#include "core/checked_size.hpp"

namespace kiln::fuzz {
namespace {

// Inputs above this are not run: the run is there to reach the kernels with the engine's
// shapes, and a few KiB of zeros do that as well as a full image would.
constexpr uint64_t kMaxInputBytes = uint64_t{1} << 20;

class SilentLogger : public Logger {
 public:
  void log(LogSeverity, std::string_view) override {}
};

}  // namespace

void prepare_kiln_for_fuzzing() {
  static SilentLogger silent;
  set_logger(&silent, LogSeverity::kError);
  set_tensor_byte_limit(kFuzzTensorByteLimit);
  omp_set_num_threads(1);
}

void run_once_on_zeros(const Engine& engine) {
  try {
    std::unique_ptr<ExecutionContext> context = engine.create_execution_context();
    std::map<std::string, Tensor> inputs;
    uint64_t total_bytes = 0;
    for (const TensorDesc& desc : engine.inputs()) {
      Shape shape;
      uint64_t numel = 1;
      for (int64_t d : desc.dims) {
        int64_t dim = d < 0 ? 1 : d;
        shape.push_back(dim);
        // Dims come from the fuzz input: stop before the product can overflow.
        if (dim != 0 && numel > kMaxInputBytes / static_cast<uint64_t>(dim)) return;
        numel *= static_cast<uint64_t>(dim);
      }
      total_bytes += numel * element_size(desc.dtype);
      if (total_bytes > kMaxInputBytes) return;
      inputs.emplace(desc.name, Tensor(desc.dtype, std::move(shape)));
    }
    context->execute(inputs);
  } catch (const Error&) {
    // A clear refusal is what hostile input should get.
  }
}

}  // namespace kiln::fuzz
