// Runs graph passes to a fixed point and records, for each pass run, the layer count before and
// after and its time (what `kiln build --verbose` prints).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::passes {

// A pass rewrites the graph in place and says whether it changed anything.
struct Pass {
  std::string name;
  bool (*run)(ir::Graph& graph);
};

struct PassRecord {
  std::string name;
  int round = 0;
  size_t layers_before = 0;
  size_t layers_after = 0;
  bool changed = false;
  double milliseconds = 0;
};

class PassManager {
 public:
  explicit PassManager(std::vector<Pass> passes, int max_rounds = 8)
      : passes_(std::move(passes)), max_rounds_(max_rounds) {}

  // Runs every pass in order, round after round, until a round changes nothing. Verifies the
  // graph after each pass that changed it, so a broken rewrite is caught where it happens.
  std::vector<PassRecord> run(ir::Graph& graph) const;

 private:
  std::vector<Pass> passes_;
  int max_rounds_;
};

// The passes the builder runs at an optimization level (0 runs only cleanup).
std::vector<Pass> default_passes(int optimization_level);

std::string format_pass_records(const std::vector<PassRecord>& records);

}  // namespace kiln::passes
