// CPU kernels for the layout ops of the shape family: the reshape-like copies, Transpose, Concat,
// Split, Expand, Tile, Shape, Size, Dropout, DepthToSpace, SpaceToDepth. All move bytes without
// looking at them, so every dtype goes through one width-typed instantiation.
#include <algorithm>
#include <cstring>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/shape_kernels.hpp"

namespace kiln::cpu {

std::vector<int64_t> read_indices(const KernelContext& ctx, const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  if (t.dtype() == DataType::kInt64) {
    std::copy_n(t.data<int64_t>(), out.size(), out.begin());
  } else if (t.dtype() == DataType::kInt32) {
    std::copy_n(t.data<int32_t>(), out.size(), out.begin());
  } else {
    ctx.fail(ErrorCode::kInvalidArgument, "indices must be int32 or int64, got ",
             to_string(t.dtype()));
  }
  return out;
}

int64_t dims_product(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

namespace {

// Reshape, Flatten, Squeeze, Unsqueeze, Identity: the same bytes under a new shape.
void copy_data(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  if (out.nbytes() != in.nbytes())
    ctx.fail(ErrorCode::kInternal, "output holds ", out.nbytes(), " bytes, input ", in.nbytes());
  if (in.nbytes()) std::memcpy(out.raw(), in.raw(), in.nbytes());
}

void transpose(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  auto r = static_cast<int64_t>(in.rank());
  std::vector<int64_t> perm;
  for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  perm = ctx.node.attrs.get_ints("perm", perm);
  std::vector<int64_t> in_strides = contiguous_strides(in.shape());
  std::vector<int64_t> strides;
  for (int64_t p : perm) strides.push_back(in_strides[static_cast<size_t>(p < 0 ? p + r : p)]);
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (StridedWalk w(out.shape(), {strides}); !w.done(); w.next()) *dst++ = src[w.offset(0)];
  });
}

int64_t attr_axis(const KernelContext& ctx, const char* name, int64_t fallback, int64_t rank) {
  int64_t a = ctx.node.attrs.get_int(name, fallback);
  return a < 0 ? a + rank : a;
}

void concat(KernelContext& ctx) {
  Tensor& out = ctx.output(0);
  auto axis = static_cast<size_t>(attr_axis(ctx, "axis", 0, out.rank()));
  int64_t outer = dims_product(out.shape(), 0, axis);
  size_t esize = element_size(out.dtype());
  // Row `o` of the output is row `o` of every input, one after the other.
  std::vector<size_t> block;
  for (const Tensor* in : ctx.inputs) {
    block.push_back(static_cast<size_t>(dims_product(in->shape(), axis, in->shape().size())) *
                    esize);
  }
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < ctx.inputs.size(); ++i) {
      if (!block[i]) continue;
      std::memcpy(dst, static_cast<const std::byte*>(ctx.inputs[i]->raw()) + o * block[i],
                  block[i]);
      dst += block[i];
    }
  }
}

void split(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  auto axis = static_cast<size_t>(attr_axis(ctx, "axis", 0, in.rank()));
  int64_t outer = dims_product(in.shape(), 0, axis);
  size_t esize = element_size(in.dtype());
  size_t in_block = static_cast<size_t>(dims_product(in.shape(), axis, in.shape().size())) * esize;
  size_t offset = 0;
  for (size_t o = 0; o < ctx.node.outputs.size(); ++o) {
    Tensor& out = ctx.output(o);
    size_t block = static_cast<size_t>(dims_product(out.shape(), axis, out.shape().size())) * esize;
    auto* dst = static_cast<std::byte*>(out.raw());
    const auto* src = static_cast<const std::byte*>(in.raw()) + offset;
    for (int64_t r = 0; r < outer && block; ++r) {
      std::memcpy(dst + r * block, src + r * in_block, block);
    }
    offset += block;
  }
}

void expand(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  std::vector<int64_t> strides = broadcast_strides(in.shape(), out.shape());
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (StridedWalk w(out.shape(), {strides}); !w.done(); w.next()) *dst++ = src[w.offset(0)];
  });
}

void tile(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  const Shape& s = in.shape();
  std::vector<int64_t> strides = contiguous_strides(s);
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (StridedWalk w(out.shape(), {}); !w.done(); w.next()) {
      int64_t off = 0;
      for (size_t d = 0; d < s.size(); ++d) off += (w.index()[d] % s[d]) * strides[d];
      *dst++ = src[off];
    }
  });
}

void shape_of(KernelContext& ctx) {
  const Shape& s = ctx.input(0).shape();
  auto r = static_cast<int64_t>(s.size());
  int64_t start = ctx.node.attrs.get_int("start", 0);
  if (start < 0) start += r;
  start = std::clamp<int64_t>(start, 0, r);
  Tensor& out = ctx.output(0);
  std::copy_n(s.begin() + start, out.numel(), out.data<int64_t>());
}

void size_of(KernelContext& ctx) {
  ctx.output(0).data<int64_t>()[0] = ctx.input(0).numel();
}

void dropout(KernelContext& ctx) {
  bool training = ctx.has_input(2) && ctx.input(2).numel() > 0 && ctx.input(2).data<bool>()[0];
  if (training) {
    double ratio = 0.5;
    if (ctx.has_input(1)) {
      visit_dtype(ctx.input(1).dtype(), [&](auto tag) {
        using T = decltype(tag);
        ratio = static_cast<double>(load(ctx.input(1).data<T>()[0]));
      });
    }
    // Training-mode dropout is random; kiln runs inference, where only ratio 0 is meaningful.
    if (ratio != 0)
      ctx.fail(ErrorCode::kUnsupported, "training-mode dropout (training_mode=true, ratio ", ratio,
               ") is random and not supported by an inference engine");
  }
  copy_data(ctx);
  if (ctx.has_output(1)) {
    Tensor& mask = ctx.output(1);
    std::fill_n(mask.data<bool>(), mask.numel(), true);
  }
}

// DepthToSpace (to_space) and SpaceToDepth: element (n, c, y, x) of the 4-D tensor with fewer
// channels maps to channel block (by, bx) of the one with more, in DCR or CRD channel order.
void block_rearrange(KernelContext& ctx, bool to_space) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  int64_t b = ctx.node.attrs.get_int("blocksize");
  bool dcr = ctx.node.attrs.get_string("mode", "DCR") == "DCR";
  const Shape& space = to_space ? out.shape() : in.shape();  // [N, C, H*b, W*b]
  int64_t n_ = space[0], c_ = space[1], h = space[2] / b, w = space[3] / b;
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (int64_t n = 0; n < n_; ++n)
      for (int64_t c = 0; c < c_; ++c)
        for (int64_t y = 0; y < h * b; ++y)
          for (int64_t x = 0; x < w * b; ++x) {
            int64_t by = y % b, bx = x % b;
            int64_t depth_c = dcr ? (by * b + bx) * c_ + c : (c * b + by) * b + bx;
            int64_t space_off = ((n * c_ + c) * h * b + y) * w * b + x;
            int64_t depth_off = ((n * c_ * b * b + depth_c) * h + y / b) * w + x / b;
            if (to_space)
              dst[space_off] = src[depth_off];
            else
              dst[depth_off] = src[space_off];
          }
  });
}

}  // namespace

void register_shape_kernels(CpuKernelRegistry& r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})
    r.add(op, copy_data);
  r.add("Transpose", transpose);
  r.add("Concat", concat);
  r.add("Split", split);
  r.add("Expand", expand);
  r.add("Tile", tile);
  r.add("Shape", shape_of);
  r.add("Size", size_of);
  r.add("Dropout", dropout);
  r.add("DepthToSpace", [](KernelContext& c) { block_rearrange(c, true); });
  r.add("SpaceToDepth", [](KernelContext& c) { block_rearrange(c, false); });
}

}  // namespace kiln::cpu
