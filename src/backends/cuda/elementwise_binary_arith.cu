// CUDA arithmetic binary ops: Add, Sub, Mul, Div (integers wrap; integer divide by zero gives 0),
// Mod (fmod or numpy's sign rule) and PRelu. Semantics follow the CPU backend op for op.
#include <type_traits>

#include "backends/cuda/binary_kernel.cuh"
#include "backends/cuda/families.hpp"

namespace kiln::cuda {
namespace {

enum class Arith { kAdd, kSub, kMul, kDiv };

template <Arith kKind>
struct ArithOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C y) const {
    if constexpr (is_int_v<C>) {
      if constexpr (kKind == Arith::kAdd) return wrap_add(x, y);
      if constexpr (kKind == Arith::kSub) return wrap_sub(x, y);
      if constexpr (kKind == Arith::kMul) return wrap_mul(x, y);
      if constexpr (kKind == Arith::kDiv) {
        if (y == 0) return C(0);
        if constexpr (std::is_signed_v<C>) {
          if (y == C(-1)) return wrap_sub(C(0), x);  // INT_MIN / -1 would trap
        }
        return static_cast<C>(x / y);
      }
    } else {
      if constexpr (kKind == Arith::kAdd) return x + y;
      if constexpr (kKind == Arith::kSub) return x - y;
      if constexpr (kKind == Arith::kMul) return x * y;
      if constexpr (kKind == Arith::kDiv) return x / y;
    }
  }
};

// fmod=1 takes the dividend's sign; fmod=0 the divisor's (numpy's mod).
struct ModOp {
  bool c_style;
  static ModOp make(const ir::Node& n) { return {n.attrs.get_int("fmod", 0) != 0}; }
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C x, C y) const {
    if constexpr (is_int_v<C>) {
      if (y == 0) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (y == C(-1)) return C(0);
      }
      auto r = static_cast<C>(x % y);
      if constexpr (std::is_signed_v<C>) {
        if (!c_style && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      }
      return r;
    } else {
      C r = fmod(x, y);
      if (c_style) return r;
      if (r != C(0)) {
        if ((y < C(0)) != (r < C(0))) r += y;
      } else {
        r = copysign(C(0), y);
      }
      return r;
    }
  }
};

// PRelu(x, slope): slope broadcasts to x.
struct PReluOp {
  static constexpr bool kCompare = false;
  template <typename T>
  static constexpr bool accepts() {
    return is_numeric_v<T>;
  }
  template <typename C>
  __device__ __forceinline__ C operator()(C v, C s) const {
    if constexpr (std::is_unsigned_v<C>) {
      return v;  // never negative
    } else if constexpr (is_int_v<C>) {
      return v < C(0) ? wrap_mul(s, v) : v;
    } else {
      return v < C(0) ? s * v : v;
    }
  }
};

}  // namespace

void register_elementwise_binary_arith_kernels(CudaKernelRegistry& r) {
  add_binary<ArithOp<Arith::kAdd>>(r, "Add");
  add_binary<ArithOp<Arith::kSub>>(r, "Sub");
  add_binary<ArithOp<Arith::kMul>>(r, "Mul");
  add_binary<ArithOp<Arith::kDiv>>(r, "Div");
  add_binary<ModOp>(r, "Mod");
  add_binary<PReluOp>(r, "PRelu");
}

}  // namespace kiln::cuda
