// Which reduction a Reduce* op computes; shared by every backend's reduction kernels.
#pragma once

#include <string>

namespace kiln::ir {

enum class ReduceKind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// The kind of a Reduce* op name; ReduceSumSquare for any name not listed (callers register only
// the Reduce* ops).
inline ReduceKind reduce_kind(const std::string& op) {
  if (op == "ReduceSum") return ReduceKind::kSum;
  if (op == "ReduceMean") return ReduceKind::kMean;
  if (op == "ReduceMax") return ReduceKind::kMax;
  if (op == "ReduceMin") return ReduceKind::kMin;
  if (op == "ReduceProd") return ReduceKind::kProd;
  if (op == "ReduceL1") return ReduceKind::kL1;
  if (op == "ReduceL2") return ReduceKind::kL2;
  if (op == "ReduceLogSum") return ReduceKind::kLogSum;
  if (op == "ReduceLogSumExp") return ReduceKind::kLogSumExp;
  return ReduceKind::kSumSquare;
}

}  // namespace kiln::ir
