// TEMPORARY: replaced by the plan format implementation.
#include "plan/plan_file.hpp"
#include "core/error.hpp"
namespace kiln::plan {
std::vector<uint8_t> write_plan(const ir::Graph&, Backend) {
  fail(ErrorCode::kInternal, "todo");
}
LoadedPlan read_plan_file(const std::string&) {
  fail(ErrorCode::kInternal, "todo");
}
LoadedPlan read_plan_bytes(std::string_view, const std::string&) {
  fail(ErrorCode::kInternal, "todo");
}
}  // namespace kiln::plan
