// kiln build's progress bar for auto-tuning on a terminal: one line on stderr, redrawn in place at
// most ten times a second, with the layers tuned, the elapsed time and the layer being tuned;
// cleared when tuning ends. Nothing is drawn when stderr is not a terminal (logs stay clean).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

#include "kiln/kiln.hpp"

namespace kiln::tools {

// The bar as text, at most `width` characters: "tuning [#####.....]  37/161 layers  4.2 s  NAME".
std::string progress_line(const BuildProgress& p, size_t width);

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, size_t width) : out_(out), width_(width) {}
  void update(const BuildProgress& p);

 private:
  std::ostream& out_;
  size_t width_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

// BuilderConfig::progress for `err`: a ProgressBar when err is the process's stderr and that is a
// terminal, else nothing.
std::function<void(const BuildProgress&)> terminal_progress(std::ostream& err);

}  // namespace kiln::tools
