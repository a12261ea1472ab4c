// CUDA bit and comparison binary ops: BitShift, BitwiseAnd/Or/Xor, logical And/Or/Xor and the
// comparisons (bool output). Semantics follow the CPU backend op for op.
#include "backends/cuda/binary_kernel.cuh"
#include "backends/cuda/families.hpp"

namespace kiln::cuda {
namespace {

struct BitShiftOp {
  bool left;
  static BitShiftOp make(const ir::Node& n) { return {n.attrs.get_string("direction") == "LEFT"}; }
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_int_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C s) const {
    using U = std::make_unsigned_t<C>;
    using W = wide_unsigned_t<C>;
    const auto shift = static_cast<U>(s);
    constexpr U kBits = sizeof(C) * 8;
    if (left) return shift >= kBits ? C(0) : static_cast<C>(static_cast<W>(x) << shift);
    if (shift >= kBits) return (std::is_signed_v<C> && x < 0) ? static_cast<C>(-1) : C(0);
    return static_cast<C>(x >> shift);
  }
};

enum class Bits { kAnd, kOr, kXor };

template <Bits kKind, bool kLogical>
struct BitOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return kLogical ? std::is_same_v<T, bool> : is_int_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C y) const {
    if constexpr (kKind == Bits::kAnd) return static_cast<C>(x & y);
    if constexpr (kKind == Bits::kOr) return static_cast<C>(x | y);
    if constexpr (kKind == Bits::kXor) return static_cast<C>(x ^ y);
  }
};

enum class Cmp { kEq, kLt, kGt, kLe, kGe };

template <Cmp kKind>
struct CompareOp {
  static constexpr bool kCompare = true;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T> || (kKind == Cmp::kEq && std::is_same_v<T, bool>);
  }
  template <typename C>
  __device__ __forceinline__ bool operator()(C x, C y) const {
    if constexpr (kKind == Cmp::kEq) return x == y;
    if constexpr (kKind == Cmp::kLt) return x < y;
    if constexpr (kKind == Cmp::kGt) return x > y;
    if constexpr (kKind == Cmp::kLe) return x <= y;
    if constexpr (kKind == Cmp::kGe) return x >= y;
  }
};

}  // namespace

void register_elementwise_binary_logic_kernels(CudaKernelRegistry& r) {
  add_binary<BitShiftOp>(r, "BitShift");
  add_binary<BitOp<Bits::kAnd, false>>(r, "BitwiseAnd");
  add_binary<BitOp<Bits::kOr, false>>(r, "BitwiseOr");
  add_binary<BitOp<Bits::kXor, false>>(r, "BitwiseXor");
  add_binary<BitOp<Bits::kAnd, true>>(r, "And");
  add_binary<BitOp<Bits::kOr, true>>(r, "Or");
  add_binary<BitOp<Bits::kXor, true>>(r, "Xor");
  add_binary<CompareOp<Cmp::kEq>>(r, "Equal");
  add_binary<CompareOp<Cmp::kLt>>(r, "Less");
  add_binary<CompareOp<Cmp::kGt>>(r, "Greater");
  add_binary<CompareOp<Cmp::kLe>>(r, "LessOrEqual");
  add_binary<CompareOp<Cmp::kGe>>(r, "GreaterOrEqual");
}

}  // namespace kiln::cuda
