// Random graphs of elementwise layers, views (Reshape, Identity, Unsqueeze/Squeeze) and Concat,
// with long and short lifetimes and several outputs: food for the memory planner's property
// tests and the arena executor's comparison with per-tensor allocation.
#pragma once

#include <memory>
#include <random>

#include "ir/graph.hpp"

namespace kiln::test {

// A graph with one float32 input "x" of shape [16] and `layers` layers; every tensor is rank 1.
// Shapes and dtypes are inferred.
std::unique_ptr<ir::Graph> random_graph(std::mt19937& rng, int layers);

}  // namespace kiln::test
