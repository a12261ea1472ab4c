// The channels_last attribute of Conv, FusedConv and the pools: with channels_last=1 their data
// tensors are physically [N, spatial..., C] and a conv's weight [K, spatial..., C/group] (KRSC).
// These helpers move shapes between that order and ONNX's [N, C, spatial...].
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.hpp"

namespace kiln::ir {

inline constexpr const char* kChannelsLastAttr = "channels_last";

// The attribute's value as a bool; anything but 0 or 1 is reported through `fail` (which throws).
template <typename Fail>
bool read_channels_last(const Node& node, const Fail& fail) {
  int64_t v = node.attrs.get_int(kChannelsLastAttr, 0);
  if (v != 0 && v != 1) fail(v);
  return v == 1;
}

// [N, C, s...] -> [N, s..., C]: moves axis 1 last. Ranks below 3 are returned unchanged.
template <typename S>
S to_channels_last(const S& s) {
  if (s.size() < 3) return s;
  S r(s.begin(), s.end());
  r.erase(r.begin() + 1);
  r.push_back(s[1]);
  return r;
}

// [N, s..., C] -> [N, C, s...]: moves the last axis to 1. Ranks below 3 are returned unchanged.
template <typename S>
S to_channels_first(const S& s) {
  if (s.size() < 3) return s;
  S r(s.begin(), s.end() - 1);
  r.insert(r.begin() + 1, s.back());
  return r;
}

// Transpose permutations between the two orders for a tensor of `rank` (>= 3).
inline std::vector<int64_t> channels_last_perm(size_t rank) {  // NCHW -> NHWC: (0, 2, ..., 1)
  std::vector<int64_t> p{0};
  for (size_t i = 2; i < rank; ++i) p.push_back(static_cast<int64_t>(i));
  p.push_back(1);
  return p;
}
inline std::vector<int64_t> channels_first_perm(size_t rank) {  // NHWC -> NCHW: (0, r-1, 1, ...)
  std::vector<int64_t> p{0, static_cast<int64_t>(rank) - 1};
  for (size_t i = 1; i + 1 < rank; ++i) p.push_back(static_cast<int64_t>(i));
  return p;
}

}  // namespace kiln::ir
