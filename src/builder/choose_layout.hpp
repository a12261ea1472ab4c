// The builder's layout stage: runs connected regions of convolutions and the layout-agnostic layers
// around them channels-last (NHWC) where the backend's policy or the user asks for it, with
// Transposes only at the regions' borders, then cancels the Transposes that undo each other.
#pragma once

#include <cstdint>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::builder {

// The borders of one region, each needing a Transpose when the region runs channels-last.
struct RegionBorders {
  int64_t cancelling = 0;  // entries from Transpose(0,3,1,2), exits only into Transpose(0,2,3,1)
  int64_t neutral = 0;     // [N, C, 1, 1] values: their Transpose moves no data
  int64_t paid = 0;        // the others: transposes channels-last adds
};

// What a backend does with a region when the layout is left to kiln (Layout::kAuto).
enum class LayoutPolicy {
  // Every region channels-last (the CUDA backend: cuDNN's tensor-core kernels read NHWC,
  // FP32/TF32 included).
  kChannelsLastAlways,
  // Only where it costs nothing extra: some border cancels a model's own Transpose and no more
  // are added than cancel (the CPU backend).
  kChannelsLastWhereItSavesTransposes,
};

// The policy table. kNchw/kNhwc: as asked. kAuto: as the backend's policy says.
bool region_runs_channels_last(LayoutPolicy policy, Layout requested, const RegionBorders& borders);

struct LayoutSummary {
  int64_t regions = 0;  // connected regions with at least one convolution
  int64_t channels_last_regions = 0;
  int64_t channels_last_layers = 0;  // layers set to channels-last
  int64_t transposes = 0;            // Transpose layers in the graph afterwards
};

// Rewrites `graph` in place. A region is a connected set of 2-D Conv/FusedConv with constant
// weights, MaxPool (without Indices), AveragePool, GlobalAveragePool, GlobalMaxPool, the layers
// the op table marks layout-agnostic (elementwise ops, Pointwise) and channel Concats over rank-4
// values. A region run
// channels-last gets channels_last=1 on its convs and pools, KRSC weight constants, per-channel
// constants re-laid out ([C,1,1] -> [C]), Concat axis 3, Transpose(0,2,3,1) at every entry and
// Transpose(0,3,1,2) at every exit; inverse Transpose pairs are then removed. Runs before
// precision assignment, so the inserted Transposes take their neighbours' precision.
LayoutSummary choose_layout(ir::Graph& graph, LayoutPolicy policy, Layout requested);

}  // namespace kiln::builder
