// Splitting a graph whose later layers have data-dependent shapes (detection post-processing:
// NonZero, NonMaxSuppression, TopK by a computed k) for a GPU engine: the layers whose shapes are
// static form the head, which the GPU runs with a memory plan and CUDA graphs like any engine; the
// layers from the first data-dependent one on form the tail, which runs on the host (the CPU
// backend) on the head's outputs. TensorRT runs such layers on the GPU with output allocators;
// kiln runs the heavy part (the backbone) on the GPU and the post-processing on the host, instead
// of refusing the model.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "builder/static_shapes.hpp"
#include "ir/graph.hpp"

namespace kiln::builder {

struct HostTailSplit {
  // The static layers. Inputs: the graph's. Outputs: the graph outputs they make, then every
  // tensor of theirs the tail reads (the boundary), each once.
  std::unique_ptr<ir::Graph> head;
  // The data-dependent layers and every layer after them that reads their outputs. Inputs: the
  // graph inputs they read, then the boundary tensors (with their static shapes). Outputs: the
  // graph outputs they make.
  std::unique_ptr<ir::Graph> tail;
  std::string why;  // the first data-dependent tensor or layer, for messages
};

// nullopt when `prefix` found no data-dependent layer. When no layer that computes anything would
// run on the GPU (every layer is data-dependent or reads the output of one, or only reads shapes),
// the head is empty and every layer is in the tail.
std::optional<HostTailSplit> split_host_tail(const ir::Graph& graph, const StaticPrefix& prefix);

}  // namespace kiln::builder
