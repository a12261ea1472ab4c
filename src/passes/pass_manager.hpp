// Runs graph passes to a fixed point and records, for each pass run, the layer count before and
// after and its time (what `kiln build --verbose` prints).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::passes {

// A pass rewrites the graph in place and says whether it changed anything. A step the build
// cannot do without (choosing the layout, assigning precisions) is `required`: it cannot be
// disabled by name.
struct Pass {
  std::string name;
  std::function<bool(ir::Graph& graph)> run;
  bool required = false;
};

struct PassRecord {
  std::string stage;  // the pipeline stage that ran it (builder/pipeline.hpp); "" outside one
  std::string name;
  int round = 0;
  size_t layers_before = 0;
  size_t layers_after = 0;
  bool changed = false;
  double milliseconds = 0;
};

class PassManager {
 public:
  explicit PassManager(std::vector<Pass> passes, int max_rounds = 8, std::string stage = "")
      : passes_(std::move(passes)), max_rounds_(max_rounds), stage_(std::move(stage)) {}

  // Runs every pass in order, round after round, until a round changes nothing. Verifies the
  // graph after each pass that changed it, so a broken rewrite is caught where it happens.
  // Returns what each pass did; logs nothing (the caller logs format_pass_records).
  std::vector<PassRecord> run(ir::Graph& graph) const;

 private:
  std::vector<Pass> passes_;
  int max_rounds_;
  std::string stage_;
};

// The passes the builder runs at an optimization level (0 runs only cleanup).
std::vector<Pass> default_passes(int optimization_level);

std::string format_pass_records(const std::vector<PassRecord>& records);

}  // namespace kiln::passes
