// The op table against the CUDA backend: every op has a CUDA kernel or the table's reasoned
// host-fallback mark (never both), a kernel registered by its op's family, and at least one case
// in a GPU case table, whose CPU reference runs on machines without a GPU too. Needs the backend
// built, not a GPU. The rest of the op table checks are tests/unit/ir/op_table_coverage_test.cpp.
#include <gtest/gtest.h>

#include <set>

#include "backends/cuda/cuda_kernel.hpp"
#include "ir/op_registry.hpp"
#include "unit/backends/cuda/gpu_case_table.hpp"
#include "unit/ir/op_family_check.hpp"

namespace kiln::test {
namespace {

TEST(OpTableCudaCoverage, EveryOpHasACudaKernelOrAReasonToRunOnTheHost) {
  const ir::OpRegistry& table = ir::OpRegistry::instance();
  for (const std::string& op : table.names()) {
    const char* fallback = table.find(op)->traits.host_fallback;
    if (cuda::CudaKernelRegistry::instance().has(op)) {
      EXPECT_EQ(fallback, nullptr) << op << " has a CUDA kernel, but the op table sends it to the "
                                   << "host: " << fallback;
    } else {
      EXPECT_NE(fallback, nullptr) << op << " has no CUDA kernel and no host_fallback reason in "
                                   << "the op table";
    }
  }
}

// Each CUDA kernel comes from a registration function of its op's family (cuda_kernel.cpp's
// table): the kernels of a family live in src/backends/cuda/<family>*.cu or .cpp.
TEST(OpTableCudaCoverage, EveryCudaKernelIsRegisteredByItsOpsFamily) {
  const auto registrations = cuda::CudaKernelRegistry::instance().families();
  EXPECT_GT(registrations.size(), 100u);
  EXPECT_EQ(ir::family_mismatches(registrations, "the CUDA kernel"), "");
}

TEST(OpTableCudaCoverage, EveryOpHasAGpuTestCase) {
  std::set<std::string> tested;
  for (const GpuCaseTable* t : GpuCaseTable::all()) {
    for (const GpuCase& c : t->cases()) tested.insert(c.op);
  }
  std::string missing;
  for (const std::string& op : ir::OpRegistry::instance().names()) {
    if (!tested.count(op)) missing += " " + op;
  }
  EXPECT_EQ(missing, "") << "ops with no case in any GPU case table (gpu_case_table.hpp)";
}

}  // namespace
}  // namespace kiln::test
