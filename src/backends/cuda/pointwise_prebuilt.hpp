// Pointwise kernels compiled at build time and stored in their layers, so the plan carries them
// and loading it compiles nothing (issue 13: build time does the building). The cubin is kept
// with the architecture it was compiled for and a hash of its source: a context uses it only
// where both match (another GPU, or a kiln whose code generator changed, compiles instead).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::cuda {

inline constexpr const char* kPointwiseCubinAttr = "cubin";
inline constexpr const char* kPointwiseCubinArchAttr = "cubin_arch";
inline constexpr const char* kPointwiseCubinSourceHashAttr = "cubin_source_hash";

// Compiles the distinct `sources` for sm_<arch> on parallel threads into the process's cache of
// compiled kernels, so that storing them in their layers afterwards compiles nothing. A source
// that does not compile is left for store_pointwise_cubin to report with its layer.
void compile_pointwise_sources(const std::vector<std::string>& sources, int arch);

// Compiles the kernel of `layer` (a Pointwise layer) for sm_<arch> with NVRTC and stores it in the
// layer. Needs no GPU. Throws Error when the program cannot be generated or compiled.
void store_pointwise_cubin(ir::Node& layer, int arch);

// The cubin stored in `layer` for `source` on sm_<arch>, or nullopt when none was stored for them.
std::optional<std::vector<char>> stored_pointwise_cubin(const ir::Node& layer,
                                                        const std::string& source, int arch);

// The Pointwise kernel source of `layer` for the element type of its first output.
std::string pointwise_layer_source(const ir::Node& layer);

}  // namespace kiln::cuda
