// MatMul batch planning: per output batch dim, each operand's stride (0 when broadcast); adjacent
// dims merge while every operand stays evenly strided across them; the innermost merged dim
// becomes cuBLASLt's strided batch and the rest become separate calls.
#include "backends/cuda/matmul_plan.hpp"

#include <algorithm>

namespace kiln::cuda {
namespace {

struct BatchDim {
  int64_t size = 1;
  int64_t a = 0, b = 0, c = 0;  // element strides
};

}  // namespace

MatmulPlan plan_matmul(const Shape& a_in, const Shape& b_in) {
  Shape a = a_in, b = b_in;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatmulPlan p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  size_t rank = std::max(a.size(), b.size()) - 2;
  auto batch_dim = [rank](const Shape& s, size_t i) -> int64_t {
    size_t lead = rank - (s.size() - 2);  // s's batch dims are right-aligned
    return i < lead ? 1 : s[i - lead];
  };
  // Strides from the innermost batch dim outwards.
  std::vector<BatchDim> dims(rank);
  int64_t sa = p.m * p.k, sb = p.k * p.n, sc = p.m * p.n;
  for (size_t j = rank; j-- > 0;) {
    int64_t da = batch_dim(a, j), db = batch_dim(b, j);
    BatchDim& d = dims[j];
    d.size = da == 1 ? db : da;  // broadcast: 1 stretches, 0 stays empty
    d.a = da == 1 ? 0 : sa;
    d.b = db == 1 ? 0 : sb;
    d.c = sc;
    sa *= da;
    sb *= db;
    sc *= d.size;
  }
  // Size-1 dims carry nothing; drop them, then merge dim j into j+1 (inner) when the inner
  // strides continue evenly: stride_outer == stride_inner * size_inner for every operand.
  std::vector<BatchDim> merged;
  for (const BatchDim& d : dims) {
    if (d.size == 1) continue;
    if (!merged.empty()) {
      // `merged.back()` is outer to `d`.
      BatchDim& o = merged.back();
      if (o.a == d.a * d.size && o.b == d.b * d.size && o.c == d.c * d.size) {
        o = BatchDim{o.size * d.size, d.a, d.b, d.c};  // inner strides, both sizes
        continue;
      }
    }
    merged.push_back(d);
  }
  if (merged.empty()) merged.push_back(BatchDim{1, 0, 0, p.m * p.n});
  // A batch only A has, with A's batches contiguous: one taller product (M * batch rows).
  if (merged.size() == 1 && merged[0].b == 0 && merged[0].a == p.m * p.k && merged[0].size > 1) {
    p.m *= merged[0].size;
    merged[0] = BatchDim{1, 0, 0, p.m * p.n};
  }
  const BatchDim& inner = merged.back();
  p.batch = inner.size;
  p.stride_a = inner.a;
  p.stride_b = inner.b;
  p.stride_c = inner.c;
  if (p.m * p.n == 0) return p;  // empty output: no call
  // Every combination of the outer dims is a call.
  std::vector<MatmulPlan::Call> calls{{0, 0, 0}};
  for (size_t i = 0; i + 1 < merged.size(); ++i) {
    const BatchDim& d = merged[i];
    std::vector<MatmulPlan::Call> next;
    next.reserve(calls.size() * static_cast<size_t>(d.size));
    for (const auto& c : calls) {
      for (int64_t t = 0; t < d.size; ++t)
        next.push_back({c.a + t * d.a, c.b + t * d.b, c.c + t * d.c});
    }
    calls = std::move(next);
  }
  if (p.batch == 0) calls.clear();
  p.calls = std::move(calls);
  return p;
}

}  // namespace kiln::cuda
