// MatMul and Gemm on the CPU. float32 runs through oneDNN's matmul (batch broadcasting, transposes
// as strides, Gemm's alpha as an output scale and beta*C as a sum post-op), cached per input
// shape; other dtypes use a reference loop that accumulates in float (reduced floats), double, or
// wrapping integer arithmetic.
#include "backends/cpu/matmul.hpp"

#include <map>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/onednn.hpp"

namespace kiln::cpu {
namespace {

// A matrix operand: `count` matrices (rows x cols) with element strides.
struct MatrixView {
  int64_t row_stride = 0, col_stride = 0;
};

// Accumulation type: wrapping unsigned arithmetic for integers (like numpy), else compute_t.
template <typename T>
struct MatAccOf {
  using type = compute_t<T>;
};
template <typename T>
requires std::is_integral_v<T>
struct MatAccOf<T> {
  using type = std::make_unsigned_t<T>;
};
template <typename T>
using MatAcc = typename MatAccOf<T>::type;

// y = a x b for one matrix pair, accumulating in MatAcc (wrapping for integers, like numpy).
template <typename T>
void matmul_reference(const T* a, MatrixView av, const T* b, MatrixView bv, T* y, int64_t m,
                      int64_t k, int64_t n) {
  using A = MatAcc<T>;
#pragma omp parallel for if (m * n * k > 65536)
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      A acc{};
      for (int64_t p = 0; p < k; ++p) {
        acc += static_cast<A>(load(a[i * av.row_stride + p * av.col_stride])) *
               static_cast<A>(load(b[p * bv.row_stride + j * bv.col_stride]));
      }
      y[i * n + j] = store<T>(static_cast<compute_t<T>>(acc));
    }
  }
}

// MatMul's operands as same-rank batched matrices: 1-D operands promoted, batch dims padded.
struct MatmulShapes {
  Shape a, b, y;  // each [batch..., rows, cols]
  int64_t m = 0, k = 0, n = 0;
};

MatmulShapes matmul_shapes(const Shape& a_in, const Shape& b_in) {
  MatmulShapes s;
  s.a = a_in;
  s.b = b_in;
  if (s.a.size() == 1) s.a.insert(s.a.begin(), 1);
  if (s.b.size() == 1) s.b.push_back(1);
  size_t rank = std::max(s.a.size(), s.b.size());
  s.a.insert(s.a.begin(), rank - s.a.size(), 1);
  s.b.insert(s.b.begin(), rank - s.b.size(), 1);
  s.m = s.a[rank - 2];
  s.k = s.a[rank - 1];
  s.n = s.b[rank - 1];
  for (size_t i = 0; i + 2 < rank; ++i) s.y.push_back(s.a[i] == 1 ? s.b[i] : s.a[i]);
  s.y.push_back(s.m);
  s.y.push_back(s.n);
  return s;
}

constexpr size_t kMaxOnednnRank = 12;

class MatMulKernel final : public CpuKernel {
 public:
  void run(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    if (y.numel() == 0) return;
    MatmulShapes s = matmul_shapes(a.shape(), b.shape());
    if (s.k == 0) {
      visit_dtype(y.dtype(), [&](auto tag) {
        using T = decltype(tag);
        std::fill(y.data<T>(), y.data<T>() + y.numel(), T{});
      });
      return;
    }
    if (a.dtype() == DataType::kFloat32 && s.y.size() <= kMaxOnednnRank) {
      run_onednn(ctx, s, a, b, y);
      return;
    }
    visit_dtype(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
        ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(a.dtype()), " is not supported");
      } else {
        run_reference<T>(s, a, b, y);
      }
    });
  }

 private:
  template <typename T>
  static void run_reference(const MatmulShapes& s, const Tensor& a, const Tensor& b, Tensor& y) {
    Shape batch(s.y.begin(), s.y.end() - 2);
    Shape a_batch(s.a.begin(), s.a.end() - 2), b_batch(s.b.begin(), s.b.end() - 2);
    int64_t y_mat = s.m * s.n;
    int64_t index = 0;
    for (StridedWalk w(batch,
                       {broadcast_strides(a_batch, batch), broadcast_strides(b_batch, batch)});
         !w.done(); w.next(), ++index) {
      matmul_reference<T>(a.data<T>() + w.offset(0) * s.m * s.k, {s.k, 1},
                          b.data<T>() + w.offset(1) * s.k * s.n, {s.n, 1},
                          y.data<T>() + index * y_mat, s.m, s.k, s.n);
    }
  }

  void run_onednn(KernelContext& ctx, const MatmulShapes& s, const Tensor& a, const Tensor& b,
                  Tensor& y) {
    try {
      auto key = std::make_pair(a.shape(), b.shape());
      auto it = cache_.find(key);
      if (it == cache_.end()) {
        dnnl::matmul::desc d(plain_f32_desc(s.a), plain_f32_desc(s.b), plain_f32_desc(s.y));
        it = cache_.emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(d, onednn_engine())))
                 .first;
      }
      auto& eng = onednn_engine();
      run_primitive(
          it->second,
          {{DNNL_ARG_SRC, dnnl::memory(plain_f32_desc(s.a), eng, const_cast<void*>(a.raw()))},
           {DNNL_ARG_WEIGHTS, dnnl::memory(plain_f32_desc(s.b), eng, const_cast<void*>(b.raw()))},
           {DNNL_ARG_DST, dnnl::memory(plain_f32_desc(s.y), eng, y.raw())}});
    } catch (const dnnl::error& e) {
      ctx.fail(ErrorCode::kInternal, "oneDNN matmul failed: ", e.what());
    }
  }

  std::map<std::pair<Shape, Shape>, dnnl::matmul> cache_;
};

// Gemm: Y = alpha * op(A) x op(B) + beta * C, C broadcast one way to (M, N).
class GemmKernel final : public CpuKernel {
 public:
  explicit GemmKernel(const ir::Node& node)
      : alpha_(node.attrs.get_float("alpha", 1.0f)),
        beta_(node.attrs.get_float("beta", 1.0f)),
        trans_a_(node.attrs.get_int("transA", 0) != 0),
        trans_b_(node.attrs.get_int("transB", 0) != 0) {}

  void run(KernelContext& ctx) override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Tensor* c = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    Tensor& y = ctx.output(0);
    int64_t m = y.dim(0), n = y.dim(1);
    int64_t k = trans_a_ ? a.dim(0) : a.dim(1);
    if (y.numel() == 0) return;
    bool add_c = c && beta_ != 0.0f;
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
        ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
      } else {
        T* out = y.data<T>();
        if (add_c) {
          // beta * C, broadcast to (M, N); the product is added on top.
          const T* cv = c->data<T>();
          auto strides = broadcast_strides(c->shape(), y.shape());
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j)
              out[i * n + j] = store<T>(static_cast<compute_t<T>>(
                  beta_ * static_cast<double>(load(cv[i * strides[0] + j * strides[1]]))));
        }
        if (k == 0) {
          // An empty product: Y is beta * C alone.
          if (!add_c) std::fill(out, out + y.numel(), T{});
        } else if constexpr (std::is_same_v<T, float>) {
          run_onednn(ctx, a, b, y, m, k, n, add_c);
        } else {
          run_reference<T>(a, b, y, m, k, n, add_c);
        }
      }
    });
  }

 private:
  MatrixView view_a(int64_t m, int64_t k) const {
    return trans_a_ ? MatrixView{1, m} : MatrixView{k, 1};
  }
  MatrixView view_b(int64_t k, int64_t n) const {
    return trans_b_ ? MatrixView{1, k} : MatrixView{n, 1};
  }

  template <typename T>
  void run_reference(const Tensor& a, const Tensor& b, Tensor& y, int64_t m, int64_t k, int64_t n,
                     bool add_c) const {
    std::vector<T> product(static_cast<size_t>(m * n));
    matmul_reference<T>(a.data<T>(), view_a(m, k), b.data<T>(), view_b(k, n), product.data(), m, k,
                        n);
    T* out = y.data<T>();
    for (int64_t i = 0; i < m * n; ++i) {
      // alpha and beta are floats; integer Gemm scales in double and truncates, like numpy would
      // after casting back.
      double v = alpha_ * static_cast<double>(load(product[static_cast<size_t>(i)]));
      if (add_c) v += static_cast<double>(load(out[i]));
      out[i] = store<T>(static_cast<compute_t<T>>(v));
    }
  }

  void run_onednn(KernelContext& ctx, const Tensor& a, const Tensor& b, Tensor& y, int64_t m,
                  int64_t k, int64_t n, bool add_c) {
    using dnnl::memory;
    auto desc = [](int64_t rows, int64_t cols, MatrixView v) {
      return memory::desc({rows, cols}, memory::data_type::f32, {v.row_stride, v.col_stride});
    };
    memory::desc a_md = desc(m, k, view_a(m, k)), b_md = desc(k, n, view_b(k, n));
    memory::desc y_md = plain_f32_desc({m, n});
    try {
      auto key = std::make_tuple(m, k, n, add_c);
      auto it = cache_.find(key);
      if (it == cache_.end()) {
        dnnl::primitive_attr attr;
        if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
        if (add_c) {
          dnnl::post_ops ops;
          ops.append_sum(1.0f);
          attr.set_post_ops(ops);
        }
        dnnl::matmul::desc d(a_md, b_md, y_md);
        it = cache_
                 .emplace(key, dnnl::matmul(dnnl::matmul::primitive_desc(d, attr, onednn_engine())))
                 .first;
      }
      auto& eng = onednn_engine();
      run_primitive(it->second, {{DNNL_ARG_SRC, memory(a_md, eng, const_cast<void*>(a.raw()))},
                                 {DNNL_ARG_WEIGHTS, memory(b_md, eng, const_cast<void*>(b.raw()))},
                                 {DNNL_ARG_DST, memory(y_md, eng, y.raw())}});
    } catch (const dnnl::error& e) {
      ctx.fail(ErrorCode::kInternal, "oneDNN matmul failed: ", e.what());
    }
  }

  float alpha_, beta_;
  bool trans_a_, trans_b_;
  std::map<std::tuple<int64_t, int64_t, int64_t, bool>, dnnl::matmul> cache_;
};

}  // namespace

void batched_matmul_f32(const float* a, const float* w, float* y, int64_t batch, int64_t m,
                        int64_t k, int64_t n) {
  dnnl::matmul::desc d(plain_f32_desc({batch, m, k}), plain_f32_desc({batch, k, n}),
                       plain_f32_desc({batch, m, n}));
  auto& eng = onednn_engine();
  dnnl::matmul prim(dnnl::matmul::primitive_desc(d, eng));
  run_primitive(
      prim,
      {{DNNL_ARG_SRC, dnnl::memory(plain_f32_desc({batch, m, k}), eng, const_cast<float*>(a))},
       {DNNL_ARG_WEIGHTS, dnnl::memory(plain_f32_desc({batch, k, n}), eng, const_cast<float*>(w))},
       {DNNL_ARG_DST, dnnl::memory(plain_f32_desc({batch, m, n}), eng, y)}});
}

void register_matmul_kernels(CpuKernelRegistry& r) {
  r.add_factory("MatMul", [](const ir::Node&) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<MatMulKernel>();
  });
  r.add_factory("Gemm", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<GemmKernel>(n);
  });
}

}  // namespace kiln::cpu
