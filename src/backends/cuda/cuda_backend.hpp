// The CUDA backend as the builder and the runtime see it (backends/backend.hpp).
#pragma once

#include "backends/backend.hpp"

namespace kiln::cuda {

const backends::Backend& cuda_backend();

}  // namespace kiln::cuda
