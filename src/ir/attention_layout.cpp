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

OperandLayout attention_operand(const Attributes& attrs, int which, const Shape& stored) {
  const char* view_name = kAttentionViewAttrs[which];
  if (!attrs.has(view_name)) {
    const std::vector<int64_t> perm = attention_perm(attrs, which, stored.size());
    return {permuted(stored, perm), permuted(packed_strides(stored), perm), 0};
  }
  if (attrs.has(kAttentionPermAttrs[which])) {
    fail(ErrorCode::kInvalidArgument, "ScaledDotProductAttention has both ", view_name, " and ",
         kAttentionPermAttrs[which]);
  }
  const std::vector<int64_t> v = attrs.get_ints(view_name);
  if (v.size() < 5 || v.size() % 2 == 0) {
    fail(ErrorCode::kInvalidArgument, "ScaledDotProductAttention attribute ", view_name,
         " must be [offset, dim, stride, ...] with two dims or more, has ", v.size(), " values");
  }
  OperandLayout out;
  out.offset = v[0];
  // The last element the view reaches must lie inside the input.
  int64_t last = v[0];
  bool ok = v[0] >= 0;
  for (size_t i = 1; i + 1 < v.size(); i += 2) {
    const int64_t dim = v[i], stride = v[i + 1];
    ok = ok && dim >= 0 && stride >= 0 && (dim == 0 || stride <= (int64_t{1} << 40));
    out.shape.push_back(dim);
    out.strides.push_back(stride);
    if (ok && dim > 0) last += (dim - 1) * stride;
  }
  const int64_t numel = shape_numel(stored);
  const bool empty = shape_numel(out.shape) == 0;
  if (!ok || (!empty && last >= numel)) {
    fail(ErrorCode::kInvalidArgument, "ScaledDotProductAttention attribute ", view_name,
         " reaches outside its input of shape ", shape_to_string(stored));
  }
  return out;
}

SymShape attention_operand_shape(const Attributes& attrs, int which, const SymShape& stored) {
  if (!attrs.has(kAttentionViewAttrs[which])) {
    return permuted(stored, attention_perm(attrs, which, stored.size()));
  }
  Shape known;
  for (const Dim& d : stored) {
    if (!d.known()) {
      fail(ErrorCode::kInvalidArgument, "ScaledDotProductAttention attribute ",
           kAttentionViewAttrs[which], " needs its input's shape known");
    }
    known.push_back(d.value);
  }
  return to_sym_shape(attention_operand(attrs, which, known).shape);
}

std::vector<int64_t> broadcast_operand(const OperandLayout& operand, const Shape& target) {
  std::vector<int64_t> out(target.size(), 0);
  const size_t rank = operand.shape.size();
  for (size_t j = rank; j-- > 0;) {
    const size_t d = j + target.size() - rank;
    out[d] = operand.shape[j] == 1 && target[d] != 1 ? 0 : operand.strides[j];
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
