// kiln build's tuning progress bar (build_progress.hpp).
#include "build_progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

namespace kiln::tools {

std::string progress_line(const BuildProgress& p, size_t width) {
  constexpr size_t kBar = 24;
  const size_t filled = p.total ? std::min(kBar, p.done * kBar / p.total) : kBar;
  char counts[96];
  std::snprintf(counts, sizeof counts, "] %zu/%zu layers  %.1f s", p.done, p.total, p.elapsed_s);
  std::string line =
      "tuning [" + std::string(filled, '#') + std::string(kBar - filled, '.') + counts;
  if (!p.layer.empty()) line += "  " + p.layer;
  if (line.size() > width) line.resize(width);
  return line;
}

void ProgressBar::update(const BuildProgress& p) {
  const bool finished = p.layer.empty() && p.done == p.total;
  auto now = std::chrono::steady_clock::now();
  if (!finished && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  if (finished) {
    if (drawn_) out_ << "\r" << std::string(width_, ' ') << "\r" << std::flush;  // clear it
    drawn_ = false;
    return;
  }
  std::string line = progress_line(p, width_);
  out_ << "\r" << line << std::string(width_ - line.size(), ' ') << std::flush;
  drawn_ = true;
}

std::function<void(const BuildProgress&)> terminal_progress(std::ostream& err) {
  if (&err != &std::cerr || !isatty(STDERR_FILENO)) return {};
  auto bar = std::make_shared<ProgressBar>(err, 79);
  return [bar](const BuildProgress& p) { bar->update(p); };
}

}  // namespace kiln::tools
