// The CPU backend as the builder and the runtime see it (backends/backend.hpp).
#pragma once

#include "backends/backend.hpp"

namespace kiln::cpu {

const backends::Backend& cpu_backend();

}  // namespace kiln::cpu
