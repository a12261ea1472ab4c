// The plan file: everything the runtime needs to run an engine, in one versioned, checksummed
// file whose weights are aligned so the file can be memory-mapped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.hpp"
#include "kiln/kiln.hpp"

namespace kiln::plan {

struct LoadedPlan {
  std::unique_ptr<ir::Graph> graph;  // constants borrow from the mapped file
  Backend backend = Backend::kCpu;
};

std::vector<uint8_t> write_plan(const ir::Graph& graph, Backend backend);
// Both throw Error(kInvalidPlan) naming the file and what is wrong with it.
LoadedPlan read_plan_file(const std::string& path);
LoadedPlan read_plan_bytes(std::string_view bytes, const std::string& source);

}  // namespace kiln::plan
