// Conv, ConvTranspose and FusedConv on the CPU. float32 runs through oneDNN (multithreaded,
// vectorized, weights reordered once into its preferred layout, a fused layer's activation and
// residual add as post-ops); other dtypes and geometries oneDNN cannot express run a direct
// reference loop followed by the epilogue. The oneDNN primitive is cached per input shape.
// channels_last=1 (Conv, FusedConv) means x, y and the residual are [N, spatial..., C] and the
// weight [K, spatial..., C/group]: oneDNN gets the same logical dims with those strides.
#include <map>
#include <optional>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/epilogue.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/onednn.hpp"
#include "ir/ops/channels_last.hpp"
#include "ir/ops/window.hpp"

namespace kiln::cpu {
namespace {

// Everything a convolution needs to know about its operands, resolved for one input shape.
struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  std::vector<int64_t> in, out, kernel, strides, dilations, pad_begin, pad_end;
  bool channels_last = false;

  // Flat offsets of x[n, c, spatial s] and y[n, m, spatial s], and of a conv weight's [m, c, k]
  // (c within the group), in the node's layout.
  int64_t x_at(int64_t n, int64_t c, int64_t s) const {
    return channels_last ? (n * in_size() + s) * in_channels + c
                         : (n * in_channels + c) * in_size() + s;
  }
  int64_t y_at(int64_t n, int64_t m, int64_t s) const {
    return channels_last ? (n * out_size() + s) * out_channels + m
                         : (n * out_channels + m) * out_size() + s;
  }
  int64_t w_at(int64_t m, int64_t c, int64_t k) const {
    int64_t cg = in_channels / group;
    return channels_last ? (m * kernel_size() + k) * cg + c : (m * cg + c) * kernel_size() + k;
  }

  // Element counts of one spatial plane and of the kernel; conv_geometry sets them once, since
  // the reference loops index through them per element.
  int64_t in_elems = 0, out_elems = 0, kernel_elems = 0;
  int64_t in_size() const { return in_elems; }
  int64_t out_size() const { return out_elems; }
  int64_t kernel_size() const { return kernel_elems; }
  static int64_t product(const std::vector<int64_t>& v) {
    int64_t p = 1;
    for (int64_t d : v) p *= d;
    return p;
  }
};

ConvGeometry conv_geometry(const KernelContext& ctx, bool transpose) {
  ConvGeometry g;
  g.channels_last = ctx.node.attrs.get_int(ir::kChannelsLastAttr, 0) != 0;
  // Shapes in ONNX's order: the geometry is the same in both layouts.
  Shape x = g.channels_last ? ir::to_channels_first(ctx.input(0).shape()) : ctx.input(0).shape();
  Shape w = g.channels_last ? ir::to_channels_first(ctx.input(1).shape()) : ctx.input(1).shape();
  ir::WindowFail fail = [&ctx](const std::string& m) { ctx.fail(ErrorCode::kInvalidArgument, m); };
  size_t spatial = x.size() - 2;
  std::vector<int64_t> wk(w.begin() + 2, w.end());
  ir::WindowSpec spec = ir::read_window_spec(ctx.node, spatial, wk, fail);
  g.batch = x[0];
  g.in_channels = x[1];
  g.group = ctx.node.attrs.get_int("group", 1);
  g.out_channels = transpose ? w[1] * g.group : w[0];
  g.kernel = wk;
  g.strides = spec.strides;
  g.dilations = spec.dilations;
  for (size_t i = 0; i < spatial; ++i) {
    int64_t in = x[i + 2];
    ir::AxisWindow a = transpose ? ir::transpose_window(ctx.node, spec, i, in, fail)
                                 : ir::forward_window(ctx.node, spec, i, in, fail);
    g.in.push_back(in);
    g.out.push_back(a.out);
    g.pad_begin.push_back(a.pad_begin);
    g.pad_end.push_back(a.pad_end);
  }
  g.in_elems = ConvGeometry::product(g.in);
  g.out_elems = ConvGeometry::product(g.out);
  g.kernel_elems = ConvGeometry::product(g.kernel);
  return g;
}

// Splits a flat spatial index into per-axis coordinates.
void unflatten(int64_t flat, const std::vector<int64_t>& dims, std::vector<int64_t>& coord) {
  for (size_t i = dims.size(); i-- > 0;) {
    coord[i] = flat % dims[i];
    flat /= dims[i];
  }
}

template <typename T>
using Acc = std::conditional_t<std::is_same_v<T, double>, double, float>;

template <typename T>
std::vector<Acc<T>> to_acc(const Tensor& t) {
  std::vector<Acc<T>> v(static_cast<size_t>(t.numel()));
  const T* p = t.data<T>();
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<Acc<T>>(p[i]);
  return v;
}

// y[n, m, o] = b[m] + sum over c in m's group, kernel offset k: x[n, c, o*s - pad + k*d] * w[m, c,
// k]
template <typename T>
void conv_reference(const ConvGeometry& g, const Tensor& xt, const Tensor& wt, const Tensor* bt,
                    Tensor& yt) {
  std::vector<Acc<T>> x = to_acc<T>(xt), w = to_acc<T>(wt);
  std::vector<Acc<T>> b = bt ? to_acc<T>(*bt) : std::vector<Acc<T>>();
  T* y = yt.data<T>();
  int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  int64_t out_size = g.out_size(), k_size = g.kernel_size();
  size_t spatial = g.in.size();
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < g.out_channels; ++m) {
      std::vector<int64_t> oc(spatial), kc(spatial);
      int64_t c0 = (m / mg) * cg;
      for (int64_t o = 0; o < out_size; ++o) {
        unflatten(o, g.out, oc);
        double acc = b.empty() ? 0.0 : b[static_cast<size_t>(m)];
        for (int64_t k = 0; k < k_size; ++k) {
          unflatten(k, g.kernel, kc);
          int64_t offset = 0;
          bool inside = true;
          for (size_t i = 0; i < spatial && inside; ++i) {
            int64_t pos = oc[i] * g.strides[i] - g.pad_begin[i] + kc[i] * g.dilations[i];
            inside = pos >= 0 && pos < g.in[i];
            offset = offset * g.in[i] + pos;
          }
          if (!inside) continue;
          for (int64_t c = 0; c < cg; ++c) {
            acc += static_cast<double>(x[static_cast<size_t>(g.x_at(n, c0 + c, offset))]) *
                   w[static_cast<size_t>(g.w_at(m, c, k))];
          }
        }
        y[g.y_at(n, m, o)] = static_cast<T>(static_cast<Acc<T>>(acc));
      }
    }
  }
}

// Scatters every input element through the kernel: y[n, m, i*s - pad + k*d] += x[n, c, i] * w[c,
// m', k]
template <typename T>
void conv_transpose_reference(const ConvGeometry& g, const Tensor& xt, const Tensor& wt,
                              const Tensor* bt, Tensor& yt) {
  std::vector<Acc<T>> x = to_acc<T>(xt), w = to_acc<T>(wt);
  std::vector<Acc<T>> b = bt ? to_acc<T>(*bt) : std::vector<Acc<T>>();
  T* y = yt.data<T>();
  int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  int64_t in_size = g.in_size(), out_size = g.out_size(), k_size = g.kernel_size();
  size_t spatial = g.in.size();
#pragma omp parallel for collapse(2)
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t m = 0; m < g.out_channels; ++m) {
      std::vector<double> acc(static_cast<size_t>(out_size),
                              b.empty() ? 0.0 : b[static_cast<size_t>(m)]);
      std::vector<int64_t> ic(spatial), kc(spatial);
      int64_t grp = m / mg, mm = m % mg;
      for (int64_t c = grp * cg; c < (grp + 1) * cg; ++c) {
        for (int64_t i = 0; i < in_size; ++i) {
          Acc<T> xv = x[static_cast<size_t>((n * g.in_channels + c) * in_size + i)];
          unflatten(i, g.in, ic);
          for (int64_t k = 0; k < k_size; ++k) {
            unflatten(k, g.kernel, kc);
            int64_t offset = 0;
            bool inside = true;
            for (size_t a = 0; a < spatial && inside; ++a) {
              int64_t pos = ic[a] * g.strides[a] - g.pad_begin[a] + kc[a] * g.dilations[a];
              inside = pos >= 0 && pos < g.out[a];
              offset = offset * g.out[a] + pos;
            }
            if (inside)
              acc[static_cast<size_t>(offset)] +=
                  static_cast<double>(xv) * w[static_cast<size_t>((c * mg + mm) * k_size + k)];
          }
        }
      }
      for (int64_t o = 0; o < out_size; ++o)
        y[(n * g.out_channels + m) * out_size + o] =
            static_cast<T>(static_cast<Acc<T>>(acc[static_cast<size_t>(o)]));
    }
  }
}

// A oneDNN (de)convolution for one input shape, with the reorders its chosen layouts need.
struct OnednnConv {
  dnnl::primitive prim;
  dnnl::memory::desc src_plain, src_md, weights_plain, weights_md, dst_plain, dst_md, bias_md;
  dnnl::memory src_buffer, dst_buffer, weights;  // buffers used when layouts differ from plain
  const void* weights_source = nullptr;          // the constant weights already in `weights`
};

dnnl::memory::dims dnnl_dims(const std::vector<int64_t>& v) {
  return dnnl::memory::dims(v.begin(), v.end());
}

// Weight descriptor in the node's layout. Conv: [M, C/G, k...] (or [M, k..., C/G] channels-last);
// ConvTranspose: [C, M/G, k...]. oneDNN wants dims (G,) O, I, k... for all, so the strides say
// where the node keeps each.
dnnl::memory::desc onnx_weights_desc(const ConvGeometry& g, bool transpose) {
  int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group, ks = g.kernel_size();
  std::vector<int64_t> dims, strides;
  if (g.group > 1) {
    dims.push_back(g.group);
    strides.push_back(mg * cg * ks);
  }
  dims.push_back(mg);
  dims.push_back(cg);
  // The kernel axes are packed among themselves; channels-last puts C/G innermost.
  int64_t kernel_inner = g.channels_last ? cg : 1;
  if (transpose) {
    strides.push_back(ks);       // o
    strides.push_back(mg * ks);  // i
  } else if (g.channels_last) {
    strides.push_back(ks * cg);
    strides.push_back(1);
  } else {
    strides.push_back(cg * ks);
    strides.push_back(ks);
  }
  std::vector<int64_t> kstrides(g.kernel.size(), kernel_inner);
  for (size_t i = g.kernel.size(); i-- > 1;) kstrides[i - 1] = kstrides[i] * g.kernel[i];
  for (size_t i = 0; i < g.kernel.size(); ++i) {
    dims.push_back(g.kernel[i]);
    strides.push_back(kstrides[i]);
  }
  return dnnl::memory::desc(dnnl_dims(dims), dnnl::memory::data_type::f32, dnnl_dims(strides));
}

// An activation [N, C, spatial...] as the node stores it: packed, or channels-last ([N, spatial...,
// C] in memory) with the same logical dims.
dnnl::memory::desc activation_desc(const std::vector<int64_t>& dims, bool channels_last) {
  if (!channels_last) return plain_f32_desc(dims);
  std::vector<int64_t> strides(dims.size(), 1);
  int64_t inner = dims[1];
  for (size_t i = dims.size(); i-- > 2;) {
    strides[i] = inner;
    inner *= dims[i];
  }
  strides[0] = inner;
  return dnnl::memory::desc(dnnl_dims(dims), dnnl::memory::data_type::f32, dnnl_dims(strides));
}

OnednnConv make_onednn_conv(const ConvGeometry& g, bool transpose, bool has_bias,
                            const Epilogue& epilogue) {
  using dnnl::memory;
  auto any = memory::format_tag::any;
  std::vector<int64_t> src{g.batch, g.in_channels}, dst{g.batch, g.out_channels};
  src.insert(src.end(), g.in.begin(), g.in.end());
  dst.insert(dst.end(), g.out.begin(), g.out.end());
  OnednnConv c;
  c.src_plain = activation_desc(src, g.channels_last);
  c.dst_plain = activation_desc(dst, g.channels_last);
  c.weights_plain = onnx_weights_desc(g, transpose);
  memory::desc src_any(dnnl_dims(src), memory::data_type::f32, any);
  memory::desc dst_any(dnnl_dims(dst), memory::data_type::f32, any);
  memory::desc weights_any(c.weights_plain.dims(), memory::data_type::f32, any);
  c.bias_md = has_bias ? plain_f32_desc({g.out_channels}) : memory::desc();
  std::vector<int64_t> dil;
  for (int64_t d : g.dilations) dil.push_back(d - 1);  // oneDNN counts the gaps
  std::vector<int64_t> pad_end = g.pad_end;
  if (transpose) {
    // oneDNN's deconvolution has no output_padding: it shows up as less padding at the end.
    for (size_t i = 0; i < pad_end.size(); ++i) {
      int64_t full = g.strides[i] * (g.in[i] - 1) + (g.kernel[i] - 1) * g.dilations[i] + 1;
      pad_end[i] = full - g.pad_begin[i] - g.out[i];
    }
  }
  dnnl::primitive_attr attr;
  if (!epilogue.empty()) {
    dnnl::post_ops ops;
    // The residual is a sum post-op: every convolution implementation takes one, whatever
    // layout it picks for the destination, where a binary post-op may fall back to slow code.
    append_epilogue_post_ops(epilogue, ops, dnnl::memory::desc());
    attr.set_post_ops(ops);
  }
  auto& eng = onednn_engine();
  if (transpose) {
    dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                        dnnl::algorithm::deconvolution_direct, src_any, weights_any,
                                        c.bias_md, dst_any, dnnl_dims(g.strides), dnnl_dims(dil),
                                        dnnl_dims(g.pad_begin), dnnl_dims(pad_end));
    dnnl::deconvolution_forward::primitive_desc pd(d, attr, eng);
    c.src_md = pd.src_desc();
    c.weights_md = pd.weights_desc();
    c.dst_md = pd.dst_desc();
    c.prim = dnnl::deconvolution_forward(pd);
  } else {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src_any, weights_any,
                                      c.bias_md, dst_any, dnnl_dims(g.strides), dnnl_dims(dil),
                                      dnnl_dims(g.pad_begin), dnnl_dims(pad_end));
    dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
    c.src_md = pd.src_desc();
    c.weights_md = pd.weights_desc();
    c.dst_md = pd.dst_desc();
    c.prim = dnnl::convolution_forward(pd);
  }
  if (c.src_md != c.src_plain) c.src_buffer = memory(c.src_md, eng);
  if (c.dst_md != c.dst_plain) c.dst_buffer = memory(c.dst_md, eng);
  c.weights = memory(c.weights_md, eng);
  return c;
}

// oneDNN takes 1-3 spatial axes, non-negative padding.
bool onednn_can_run(const ConvGeometry& g, bool transpose) {
  if (g.in.empty() || g.in.size() > 3) return false;
  for (size_t i = 0; i < g.in.size(); ++i) {
    if (g.pad_begin[i] < 0 || g.pad_end[i] < 0) return false;
    if (transpose) {
      int64_t full = g.strides[i] * (g.in[i] - 1) + (g.kernel[i] - 1) * g.dilations[i] + 1;
      if (full - g.pad_begin[i] - g.out[i] < 0) return false;
    }
  }
  return g.batch > 0 && g.in_size() > 0 && g.out_size() > 0 && g.in_channels > 0;
}

class ConvKernel final : public CpuKernel {
 public:
  ConvKernel(const ir::Node& node, bool transpose, Epilogue epilogue)
      : transpose_(transpose),
        constant_weights_(node.input(1) && node.input(1)->is_constant()),
        epilogue_(epilogue),
        split_(split_for_onednn(epilogue)) {}

  void run(KernelContext& ctx) override {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
    const Tensor* z = epilogue_.has_residual ? &ctx.input(3) : nullptr;
    Tensor& y = ctx.output(0);
    if (y.numel() == 0) return;
    if (z && z->shape() != y.shape())
      ctx.fail(ErrorCode::kInvalidArgument, "residual shape ", shape_to_string(z->shape()),
               " differs from the output shape ", shape_to_string(y.shape()));
    ConvGeometry g = conv_geometry(ctx, transpose_);
    if (x.dtype() == DataType::kFloat32 && onednn_can_run(g, transpose_) && !onednn_failed_) {
      try {
        run_onednn(ctx, g, x, w, b, z, y);
        return;
      } catch (const dnnl::error& e) {
        // A post-op combination this oneDNN build does not implement: the reference loop and
        // epilogue compute the same thing.
        if (epilogue_.empty()) ctx.fail(ErrorCode::kInternal, "oneDNN failed: ", e.what());
        onednn_failed_ = true;
      }
    }
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        if (transpose_)
          conv_transpose_reference<T>(g, x, w, b, y);
        else
          conv_reference<T>(g, x, w, b, y);
        apply_epilogue(ctx, epilogue_, y, z);
      } else {
        ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(x.dtype()), " is not supported");
      }
    });
  }

 private:
  void run_onednn(const KernelContext& ctx, const ConvGeometry& g, const Tensor& x, const Tensor& w,
                  const Tensor* b, const Tensor* z, Tensor& y) {
    auto key = std::make_pair(x.shape(), w.shape());
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      it = cache_.emplace(key, make_onednn_conv(g, transpose_, b != nullptr, split_.onednn)).first;
    }
    OnednnConv& c = it->second;
    auto& eng = onednn_engine();
    using dnnl::memory;
    memory src_user(c.src_plain, eng, const_cast<void*>(x.raw()));
    memory dst_user(c.dst_plain, eng, y.raw());
    memory weights_user(c.weights_plain, eng, const_cast<void*>(w.raw()));
    dnnl::stream stream(eng);
    if (c.weights_md == c.weights_plain) {
      c.weights = weights_user;
    } else if (!constant_weights_ || c.weights_source != w.raw()) {
      dnnl::reorder(weights_user, c.weights).execute(stream, weights_user, c.weights);
      c.weights_source = constant_weights_ ? w.raw() : nullptr;
    }
    memory src = src_user;
    if (c.src_buffer) {
      dnnl::reorder(src_user, c.src_buffer).execute(stream, src_user, c.src_buffer);
      src = c.src_buffer;
    }
    memory dst = c.dst_buffer ? c.dst_buffer : dst_user;
    if (z && split_.onednn.has_residual) {
      // The sum post-op adds what the destination holds: the residual, in its layout.
      memory z_user(c.dst_plain, eng, const_cast<void*>(z->raw()));
      dnnl::reorder(z_user, dst).execute(stream, z_user, dst);
    }
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, c.weights}, {DNNL_ARG_DST, dst}};
    if (b) args[DNNL_ARG_BIAS] = memory(c.bias_md, eng, const_cast<void*>(b->raw()));
    c.prim.execute(stream, args);
    if (c.dst_buffer) dnnl::reorder(c.dst_buffer, dst_user).execute(stream, c.dst_buffer, dst_user);
    stream.wait();
    apply_epilogue(ctx, split_.after, y, z);
  }

  bool transpose_;
  bool constant_weights_;
  Epilogue epilogue_;
  EpilogueSplit split_;  // what the oneDNN primitive runs, and what follows it
  bool onednn_failed_ = false;
  std::map<std::pair<Shape, Shape>, OnednnConv> cache_;  // by input and weight shape
};

}  // namespace

void register_conv_kernels(CpuKernelRegistry& r) {
  r.add_factory("Conv", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<ConvKernel>(n, false, Epilogue{});
  });
  r.add_factory("ConvTranspose", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<ConvKernel>(n, true, Epilogue{});
  });
  r.add_factory("FusedConv", [](const ir::Node& n) -> std::unique_ptr<CpuKernel> {
    return std::make_unique<ConvKernel>(n, n.attrs.get_int("transposed", 0) != 0,
                                        Epilogue::from_node(n, 3));
  });
}

}  // namespace kiln::cpu
