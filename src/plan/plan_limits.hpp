// Limits on what a plan file may hold, shared by the writer and the reader: the reader refuses a
// file past them (it may be hostile), and the writer refuses a graph past them at build time, so
// kiln never writes a plan that it would then refuse to load.
#pragma once

namespace kiln::plan {

// Deepest nesting of subgraphs (a Loop body holding an If holding ...): the main graph is level
// 0 and each subgraph one level below its owner. Real models nest a few levels; the bound keeps a
// hostile file from exhausting the reader's stack.
inline constexpr int kMaxSubgraphDepth = 16;

// The FlatBuffers verifier's depth bound that admits kMaxSubgraphDepth levels: each level adds
// five tables or vectors (graph, node list, node, attribute list, attribute) to the root's few.
inline constexpr int kMaxFlatBuffersDepth = 8 + 5 * (kMaxSubgraphDepth + 1);

}  // namespace kiln::plan
