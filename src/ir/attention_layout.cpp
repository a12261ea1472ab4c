#include "ir/attention_layout.hpp"

#include "core/error.hpp"

namespace kiln::ir {
namespace {

std::vector<int64_t> packed_strides(const Shape& s) {
  std::vector<int64_t> out(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) out[i - 1] = out[i] * s[i];
  return out;
}

}  // namespace

std::vector<int64_t> attention_perm(const Attributes& attrs, int which, size_t rank) {
  const char* name = kAttentionPermAttrs[which];
  if (!attrs.has(name)) return {};
  std::vector<int64_t> perm = attrs.get_ints(name);
  std::vector<bool> seen(rank, false);
  bool ok = perm.size() == rank;
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < static_cast<int64_t>(rank) && !seen[static_cast<size_t>(p)];
    if (ok) seen[static_cast<size_t>(p)] = true;
  }
  if (!ok) {
    fail(ErrorCode::kInvalidArgument, "ScaledDotProductAttention attribute ", name,
         " is not a permutation of ", rank, " axes");
  }
  return perm;
}

std::vector<int64_t> attention_input_strides(const Shape& stored, const std::vector<int64_t>& perm,
                                             const Shape& target) {
  const std::vector<int64_t> packed = packed_strides(stored);
  const Shape logical = permuted(stored, perm);
  const std::vector<int64_t> strides = permuted(packed, perm);
  std::vector<int64_t> out(target.size(), 0);
  for (size_t j = logical.size(); j-- > 0;) {
    const size_t d = j + target.size() - logical.size();
    out[d] = logical[j] == 1 && target[d] != 1 ? 0 : strides[j];
  }
  return out;
}

std::vector<int64_t> attention_output_strides(const Shape& logical,
                                              const std::vector<int64_t>& perm) {
  if (perm.empty()) return packed_strides(logical);
  const std::vector<int64_t> packed = packed_strides(permuted(logical, perm));
  std::vector<int64_t> out(logical.size(), 0);
  // Stored dim j holds logical dim perm[j].
  for (size_t j = 0; j < perm.size(); ++j) out[static_cast<size_t>(perm[j])] = packed[j];
  return out;
}

}  // namespace kiln::ir
