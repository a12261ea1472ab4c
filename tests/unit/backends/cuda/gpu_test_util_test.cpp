// The harness itself: without a GPU every comparison reports that CUDA cannot run, so op tables
// skip; with one, an op compares against the CPU.
#include <gtest/gtest.h>

#include "unit/backends/cuda/gpu_test_util.hpp"

namespace kiln::test {
namespace {

TEST(GpuHarness, ReportsWhetherADeviceIsPresent) {
  GpuCase c{"Relu fp32", "Relu", {}, {{DataType::kFloat32, {2, 3}}}};
  std::string diff = compare_cuda_with_cpu(c);
  if (!gpu_available()) {
    EXPECT_NE(diff.find("CUDA failed"), std::string::npos) << diff;
    GTEST_SKIP() << "no CUDA device";
  }
  EXPECT_EQ(diff, "");
}

}  // namespace
}  // namespace kiln::test
