// cuDNN execution plans stored in their Conv layers, so that loading a plan compiles nothing
// (issue 13: build time does the building). Finalizing a plan of cuDNN's runtime-fusion engines
// compiles a kernel; cuDNN can write such a plan out as JSON and read it back without compiling.
// The JSON is kept with the cuDNN version and GPU it was made for (a key): a context reads it
// only where both match, and otherwise finalizes the recorded tactic as before.
#pragma once

#include <cudnn.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/cudnn_descriptor.hpp"
#include "ir/graph.hpp"

namespace kiln::cuda {

inline constexpr const char* kCudnnPlanAttr = "cudnn_plan";
inline constexpr const char* kCudnnPlanKeyAttr = "cudnn_plan_key";
inline constexpr const char* kCudnnPlanTacticAttr = "cudnn_plan_tactic";

// The cuDNN version and the GPU of `device`: where a serialized plan may be read back.
std::string cudnn_plan_key(int device);

// The plan's JSON, or nullopt where cuDNN cannot serialize it (only runtime-compiled engines
// can be: the others finalize without compiling anyway).
std::optional<std::vector<char>> serialize_cudnn_plan(const CudnnDescriptor& plan);

// Stores `json`, the serialized plan of `tactic`, in `layer` for GPUs of `key`.
void store_cudnn_plan(ir::Node& layer, const std::vector<char>& json, const std::string& tactic,
                      const std::string& key);

// The plan stored in `layer` for `tactic`, read back with `handle`; nullptr when none was stored
// for this tactic and key, or cuDNN refuses it (the caller then finalizes the tactic itself).
std::shared_ptr<CudnnDescriptor> stored_cudnn_plan(const ir::Node& layer, const std::string& tactic,
                                                   const std::string& key, cudnnHandle_t handle);

}  // namespace kiln::cuda
