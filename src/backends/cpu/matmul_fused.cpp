// FusedMatMul on the CPU: Y = act(alpha * op(A) x op(B) + bias + Z) with MatMul's batch
// broadcasting and Gemm's transposes. float32 runs as one oneDNN matmul whose post-ops carry the
// epilogue (cached per operand shapes); other float dtypes, and epilogues a oneDNN build rejects,
// run a reference loop that accumulates in float (double for float64) and rounds once.
#include <map>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/epilogue.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/onednn.hpp"

namespace kiln::cpu {
namespace {

// The operands as same-rank batched matrices: logical [batch..., M, K] and [batch..., K, N] views
// (transposes as swapped strides) of the stored tensors, the output [batch..., M, N], and the
// bias right-aligned to the output's rank.
struct FusedShapes {
  Shape a, b, y, bias;                                // logical dims
  std::vector<int64_t> a_strides, b_strides;          // element strides of the logical views
  std::vector<int64_t> a_batch_bcast, b_batch_bcast;  // batch strides, 0 where broadcast
  int64_t m = 0, k = 0, n = 0;
};

// Logical dims and strides of a stored operand padded to `rank`, last two axes swapped if
// `transpose`.
void logical_view(const Shape& stored, size_t rank, bool transpose, Shape& dims,
                  std::vector<int64_t>& strides) {
  dims = stored;
  dims.insert(dims.begin(), rank - stored.size(), 1);
  strides = contiguous_strides(dims);
  if (transpose) {
    std::swap(dims[rank - 1], dims[rank - 2]);
    std::swap(strides[rank - 1], strides[rank - 2]);
  }
}

FusedShapes fused_shapes(const KernelContext& ctx, bool trans_a, bool trans_b, const Tensor* bias) {
  const Shape& a = ctx.input(0).shape();
  const Shape& b = ctx.input(1).shape();
  if (a.size() < 2 || b.size() < 2)
    ctx.fail(ErrorCode::kInvalidArgument, "operands must have rank 2 or more, got shapes ",
             shape_to_string(a), " and ", shape_to_string(b));
  FusedShapes s;
  size_t rank = std::max(a.size(), b.size());
  logical_view(a, rank, trans_a, s.a, s.a_strides);
  logical_view(b, rank, trans_b, s.b, s.b_strides);
  s.m = s.a[rank - 2];
  s.k = s.a[rank - 1];
  s.n = s.b[rank - 1];
  for (size_t i = 0; i + 2 < rank; ++i) {
    s.y.push_back(s.a[i] == 1 ? s.b[i] : s.a[i]);
    s.a_batch_bcast.push_back(s.a[i] == 1 ? 0 : s.a_strides[i]);
    s.b_batch_bcast.push_back(s.b[i] == 1 ? 0 : s.b_strides[i]);
  }
  s.y.push_back(s.m);
  s.y.push_back(s.n);
  if (bias) {
    s.bias = bias->shape();
    s.bias.insert(s.bias.begin(), rank - s.bias.size(), 1);
  }
  return s;
}

dnnl::memory::desc strided_f32_desc(const Shape& dims, const std::vector<int64_t>& strides) {
  return dnnl::memory::desc(to_dnnl_dims(dims), dnnl::memory::data_type::f32,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

// A oneDNN matmul with its epilogue, for one set of operand shapes.
struct OnednnFusedMatmul {
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, y_md, bias_md;
  bool bias_as_post_op = false;  // with alpha != 1 the bias is added after the scaling
  int bias_post_op = -1, residual_post_op = -1;
};

class FusedMatMulKernel final : public CpuKernel {
 public:
  explicit FusedMatMulKernel(const ir::Node& node)
      : alpha_(node.attrs.get_float("alpha", 1.0f)),
        trans_a_(node.attrs.get_int("transA", 0) != 0),
        trans_b_(node.attrs.get_int("transB", 0) != 0),
        epilogue_(Epilogue::from_node(node, 3)),
        split_(split_for_onednn(epilogue_)) {}

  void run(KernelContext& ctx) override {
    const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const Tensor* z = epilogue_.has_residual ? &ctx.input(3) : nullptr;
    Tensor& y = ctx.output(0);
    if (y.numel() == 0) return;
    FusedShapes s = fused_shapes(ctx, trans_a_, trans_b_, bias);
    if (z && z->shape() != y.shape())
      ctx.fail(ErrorCode::kInvalidArgument, "residual shape ", shape_to_string(z->shape()),
               " differs from the output shape ", shape_to_string(y.shape()));
    if (y.dtype() == DataType::kFloat32 && s.k > 0 && !onednn_failed_) {
      try {
        run_onednn(ctx, s, bias, z, y);
        return;
      } catch (const dnnl::error&) {
        onednn_failed_ = true;  // the reference computes the same result
      }
    }
    visit_dtype(y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        run_reference<T>(ctx, s, bias, z, y);
      } else {
        ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(y.dtype()), " is not supported");
      }
    });
  }

 private:
  template <typename T>
  void run_reference(const KernelContext& ctx, const FusedShapes& s, const Tensor* bias,
                     const Tensor* z, Tensor& y) const {
    using C = compute_t<T>;
    const T* a = ctx.input(0).data<T>();
    const T* b = ctx.input(1).data<T>();
    const T* bp = bias ? bias->data<T>() : nullptr;
    const T* zp = z ? z->data<T>() : nullptr;
    T* yp = y.data<T>();
    Shape batch(s.y.begin(), s.y.end() - 2);
    std::vector<int64_t> bias_strides =
        bias ? broadcast_strides(s.bias, s.y) : std::vector<int64_t>(s.y.size(), 0);
    std::vector<int64_t> bias_batch(bias_strides.begin(), bias_strides.end() - 2);
    int64_t bias_row = bias_strides[s.y.size() - 2], bias_col = bias_strides[s.y.size() - 1];
    size_t r = s.y.size();
    int64_t am = s.a_strides[r - 2], ak = s.a_strides[r - 1];
    int64_t bk = s.b_strides[r - 2], bn = s.b_strides[r - 1];
    int64_t index = 0;
    for (StridedWalk w(batch, {s.a_batch_bcast, s.b_batch_bcast, bias_batch}); !w.done();
         w.next(), ++index) {
      const T* ab = a + w.offset(0);
      const T* bb = b + w.offset(1);
      int64_t bias_base = w.offset(2);
      int64_t y_base = index * s.m * s.n;
#pragma omp parallel for if (s.m * s.n * s.k > 65536)
      for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t j = 0; j < s.n; ++j) {
          C acc{};
          for (int64_t p = 0; p < s.k; ++p)
            acc += load(ab[i * am + p * ak]) * load(bb[p * bk + j * bn]);
          C v = C(alpha_) * acc;
          if (bp) v += load(bp[bias_base + i * bias_row + j * bias_col]);
          int64_t o = y_base + i * s.n + j;
          if (zp && epilogue_.residual_before_activation) v += load(zp[o]);
          v = apply_activation(epilogue_.act, v);
          if (zp && !epilogue_.residual_before_activation) v += load(zp[o]);
          yp[o] = store<T>(v);
        }
      }
    }
  }

  OnednnFusedMatmul make_onednn(const FusedShapes& s, bool has_bias, bool has_residual) const {
    OnednnFusedMatmul f;
    f.a_md = strided_f32_desc(s.a, s.a_strides);
    f.b_md = strided_f32_desc(s.b, s.b_strides);
    f.y_md = plain_f32_desc(s.y);
    dnnl::primitive_attr attr;
    dnnl::post_ops ops;
    // alpha scales the product alone; oneDNN's output scale applies before every post-op, so the
    // bias then comes as a post-op rather than as the primitive's bias.
    f.bias_as_post_op = has_bias && alpha_ != 1.0f;
    if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
    if (has_bias) f.bias_md = plain_f32_desc(s.bias);
    if (f.bias_as_post_op) {
      f.bias_post_op = ops.len();
      ops.append_binary(dnnl::algorithm::binary_add, f.bias_md);
    }
    Epilogue e = split_.onednn;
    e.has_residual = e.has_residual && has_residual;
    f.residual_post_op = append_epilogue_post_ops(e, ops, f.y_md);
    if (ops.len() > 0) attr.set_post_ops(ops);
    dnnl::memory::desc bias_arg = has_bias && !f.bias_as_post_op ? f.bias_md : dnnl::memory::desc();
    dnnl::matmul::desc d(f.a_md, f.b_md, bias_arg, f.y_md);
    f.prim = dnnl::matmul(dnnl::matmul::primitive_desc(d, attr, onednn_engine()));
    return f;
  }

  void run_onednn(const KernelContext& ctx, const FusedShapes& s, const Tensor* bias,
                  const Tensor* z, Tensor& y) {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    auto key = std::make_tuple(a.shape(), b.shape(), bias ? bias->shape() : Shape{-1});
    auto it = cache_.find(key);
    if (it == cache_.end())
      it = cache_.emplace(key, make_onednn(s, bias != nullptr, z != nullptr)).first;
    const OnednnFusedMatmul& f = it->second;
    auto& eng = onednn_engine();
    using dnnl::memory;
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(f.a_md, eng, const_cast<void*>(a.raw()))},
        {DNNL_ARG_WEIGHTS, memory(f.b_md, eng, const_cast<void*>(b.raw()))},
        {DNNL_ARG_DST, memory(f.y_md, eng, y.raw())}};
    if (bias) {
      memory bm(f.bias_md, eng, const_cast<void*>(bias->raw()));
      int slot = f.bias_as_post_op ? DNNL_ARG_ATTR_MULTIPLE_POST_OP(f.bias_post_op) | DNNL_ARG_SRC_1
                                   : DNNL_ARG_BIAS;
      args[slot] = bm;
    }
    if (z && f.residual_post_op >= 0) {
      args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(f.residual_post_op) | DNNL_ARG_SRC_1] =
          memory(f.y_md, eng, const_cast<void*>(z->raw()));
    }
    dnnl::stream stream(eng);
    f.prim.execute(stream, args);
    stream.wait();
    apply_epilogue(ctx, split_.after, y, z);
  }

  float alpha_;
  bool trans_a_, trans_b_;
  Epilogue epilogue_;
  EpilogueSplit split_;  // what the oneDNN primitive runs, and what follows it
  bool onednn_failed_ = false;
  std::map<std::tuple<Shape, Shape, Shape>, OnednnFusedMatmul> cache_;
};

}  // namespace

void register_matmul_fused_kernels(CpuKernelRegistry& r) {
  r.add_factory("FusedMatMul", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<FusedMatMulKernel>(n);
  });
}

}  // namespace kiln::cpu
