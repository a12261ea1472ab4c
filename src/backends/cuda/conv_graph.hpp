// cuDNN graph-API pieces of the convolution kernels: the operation graph of one convolution with
// the part of its epilogue cuDNN is asked to fuse (bias add, residual add, activation as pointwise
// nodes), and the execution plans of a graph that finalize (the tactic candidates).
#pragma once

#include <cudnn.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/cuda/conv_plan.hpp"
#include "backends/cuda/cudnn_descriptor.hpp"
#include "ir/activation.hpp"

namespace kiln::cuda {

enum ConvUid : int64_t { kConvX = 1, kConvW = 2, kConvY = 3, kConvBias = 4, kConvZ = 6 };
constexpr int64_t kConvAlignment = 16;  // of every bound tensor; checked in enqueue()

// The epilogue steps the graph computes after the convolution, in the order
// bias, [residual], activation, [residual] (residual_before_activation picks the place).
struct GraphEpilogue {
  bool bias = false;
  bool residual = false;
  bool residual_before_activation = true;
  ir::Activation act;  // kNone: no activation node

  bool operator==(const GraphEpilogue&) const = default;
};

// Whether cuDNN has a pointwise mode for the activation.
bool cudnn_has_activation(const ir::Activation& act);

// One operation graph and the descriptors it was built from (kept alive with it).
struct ConvGraph {
  std::vector<CudnnDescriptor> parts;
  CudnnDescriptor graph;
};

// Throws Error when cuDNN rejects a descriptor (callers try a smaller fusion then).
ConvGraph build_conv_graph(cudnnHandle_t handle, const ConvGeometry& g, cudnnDataType_t type,
                           const GraphEpilogue& epilogue);

struct ConvCandidate {
  std::string name;
  GraphEpilogue fused;  // what the graph computes; the rest runs in kiln's epilogue kernel
  std::shared_ptr<CudnnDescriptor> plan;
  std::shared_ptr<std::vector<CudnnDescriptor>> configs;  // the heuristic's, kept with the plan
  int64_t workspace = 0;
};

// The execution plans of `graph` that finalize, in the heuristic's order, at most `limit`.
// `filtered` drops engines whose numerical notes would take strict FP32 off FP32 arithmetic.
// With `wanted` (a candidate name an earlier call gave, as a plan records it), only that one:
// configs of other engines are skipped without finalizing them (finalizing a runtime-compiled
// engine costs a compilation), so loading a plan does not redo the tuning run's work.
std::vector<ConvCandidate> finalized_conv_plans(cudnnHandle_t handle, const CudnnDescriptor& graph,
                                                cudnnBackendHeurMode_t mode, cudnnDataType_t type,
                                                bool allow_tf32, bool filtered,
                                                const GraphEpilogue& fused, size_t limit,
                                                const std::string* wanted = nullptr);

// The scratch bytes a finalized execution plan needs.
int64_t plan_workspace(const CudnnDescriptor& plan);

// A candidate name's parts: "<kind>.eng<engine index>.<ordinal among that engine's configs>".
struct CandidateName {
  std::string kind;
  int64_t engine = -1, ordinal = -1;
};
std::optional<CandidateName> parse_candidate_name(const std::string& name);
// The <kind> of the candidates of a graph computing `fused`: "conv", "fused" (bias) or
// "fused-<b><r><a>" (bias, residual, activation).
std::string candidate_kind(const GraphEpilogue& fused);

}  // namespace kiln::cuda
