// kiln build's tuning progress bar: the line's content and width, redraws in place, the clear at
// the end, and a GPU build calling BuilderConfig::progress once per tuned layer (GPU only).
#include "build_progress.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace kiln::tools {
namespace {

TEST(BuildProgress, LineShowsTheBarCountsTimeAndLayerWithinItsWidth) {
  BuildProgress p{10, 40, "/layer1/conv", 2.25};
  std::string line = progress_line(p, 200);
  EXPECT_EQ(line, "tuning [######..................] 10/40 layers  2.2 s  /layer1/conv");
  EXPECT_EQ(progress_line(p, 20), line.substr(0, 20));
  EXPECT_EQ(progress_line({40, 40, "", 9.0}, 200),
            "tuning [########################] 40/40 layers  9.0 s");
  EXPECT_EQ(progress_line({0, 0, "", 0.0}, 200).substr(0, 33), "tuning [########################]");
}

TEST(BuildProgress, BarRedrawsInPlaceAndClearsWhenTuningEnds) {
  std::ostringstream out;
  ProgressBar bar(out, 60);
  bar.update({0, 3, "a", 0.0});
  bar.update({1, 3, "b", 0.01});  // within 100 ms of the last draw: skipped
  bar.update({3, 3, "", 0.5});
  std::string s = out.str();
  EXPECT_EQ(s.find("1/3"), std::string::npos);
  EXPECT_NE(s.find("\rtuning ["), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 62), "\r" + std::string(60, ' ') + "\r");
  std::ostringstream none;
  EXPECT_FALSE(terminal_progress(none));  // not the process's stderr
}

TEST(BuildProgress, GpuBuildReportsEveryTunedLayer) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  Network net;
  net.add_input("x", DataType::kFloat32, {4, 16});
  auto r = net.add_layer("Relu", {"x"})[0];
  auto s = net.add_layer("Sigmoid", {r})[0];
  net.mark_output(net.add_layer("Softmax", {s}, {}, "y")[0]);
  BuilderConfig config;
  config.backend = Backend::kCuda;
  std::vector<BuildProgress> seen;
  config.progress = [&](const BuildProgress& p) { seen.push_back(p); };
  build_engine(net, config);
  ASSERT_GE(seen.size(), 2u);
  for (size_t i = 0; i + 1 < seen.size(); ++i) {
    EXPECT_EQ(seen[i].done, i);
    EXPECT_FALSE(seen[i].layer.empty());
    EXPECT_LE(seen[i].elapsed_s, seen[i + 1].elapsed_s);
  }
  EXPECT_EQ(seen.back().done, seen.back().total);
  EXPECT_TRUE(seen.back().layer.empty());
}

}  // namespace
}  // namespace kiln::tools
