// CPU kernels for Slice and Pad: each output element reads one input element found per axis
// (a strided window for Slice; constant fill, reflection, edge clamping or wrap-around for Pad).
#include <cstring>
#include <string>

#include "backends/cpu/broadcast.hpp"
#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel.hpp"
#include "backends/cpu/shape_kernels.hpp"
#include "ir/ops/slice_range.hpp"

namespace kiln::cpu {
namespace {

int64_t normalized_axis(const KernelContext& ctx, int64_t a, int64_t rank) {
  if (a < -rank || a >= rank)
    ctx.fail(ErrorCode::kInvalidArgument, "axis ", a, " is out of range for rank ", rank);
  return a < 0 ? a + rank : a;
}

void slice(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  int64_t r = in.rank();
  std::vector<int64_t> starts = read_indices(ctx, ctx.input(1));
  std::vector<int64_t> ends = read_indices(ctx, ctx.input(2));
  size_t n = starts.size();
  std::vector<int64_t> axes, steps(n, 1);
  if (ctx.has_input(3)) {
    axes = read_indices(ctx, ctx.input(3));
  } else {
    for (size_t i = 0; i < n; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (ctx.has_input(4)) steps = read_indices(ctx, ctx.input(4));
  if (ends.size() != n || axes.size() != n || steps.size() != n)
    ctx.fail(ErrorCode::kInvalidArgument, "starts, ends, axes and steps differ in length");
  std::vector<int64_t> first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
  for (size_t i = 0; i < n; ++i) {
    auto a = static_cast<size_t>(normalized_axis(ctx, axes[i], r));
    if (steps[i] == 0) ctx.fail(ErrorCode::kInvalidArgument, "steps cannot be 0");
    ir::SliceRange sr = ir::slice_range(in.shape()[a], starts[i], ends[i], steps[i]);
    if (sr.count != out.shape()[a])
      ctx.fail(ErrorCode::kInternal, "slice of axis ", a, " reads ", sr.count,
               " elements but the output has ", out.shape()[a]);
    first[a] = sr.start;
    // A step only matters between two reads; ignoring it otherwise keeps stride x step (below)
    // from overflowing on a hostile step such as 2^62.
    step[a] = sr.count > 1 ? sr.step : 1;
  }
  std::vector<int64_t> in_strides = contiguous_strides(in.shape());
  std::vector<int64_t> strides(static_cast<size_t>(r));
  int64_t base = 0;
  for (size_t d = 0; d < static_cast<size_t>(r); ++d) {
    strides[d] = in_strides[d] * step[d];
    base += first[d] * in_strides[d];
  }
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = in.data<T>() + base;
    T* dst = out.data<T>();
    for (StridedWalk w(out.shape(), {strides}); !w.done(); w.next()) *dst++ = src[w.offset(0)];
  });
}

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// The input coordinate output coordinate `c` reads along an axis of size n, or -1 for the fill.
int64_t pad_source(PadMode mode, int64_t c, int64_t n) {
  if (c >= 0 && c < n) return c;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return c < 0 ? 0 : n - 1;
    case PadMode::kWrap:
      return ((c % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      // Reflection without repeating the edge is periodic with period 2(n - 1).
      int64_t p = 2 * (n - 1);
      int64_t m = ((c % p) + p) % p;
      return m < n ? m : p - m;
    }
  }
  return -1;
}

// The fill value as the data's dtype: copied when the dtypes agree, converted otherwise (older
// opsets gave it as a float attribute, which the importer turns into a float32 input).
std::vector<std::byte> pad_fill(const KernelContext& ctx, DataType dtype) {
  std::vector<std::byte> bytes(element_size(dtype));
  if (!ctx.has_input(2) || ctx.input(2).numel() == 0) return bytes;
  const Tensor& v = ctx.input(2);
  if (v.dtype() == dtype) {
    std::memcpy(bytes.data(), v.raw(), bytes.size());
    return bytes;
  }
  double x = visit_dtype(v.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(load(v.data<T>()[0]));
  });
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T t = store<T>(static_cast<compute_t<T>>(x));
    std::memcpy(bytes.data(), &t, bytes.size());
  });
  return bytes;
}

void pad(KernelContext& ctx) {
  const Tensor& in = ctx.input(0);
  Tensor& out = ctx.output(0);
  int64_t r = in.rank();
  std::string mode_name = ctx.node.attrs.get_string("mode", "constant");
  PadMode mode = mode_name == "reflect" ? PadMode::kReflect
                 : mode_name == "edge"  ? PadMode::kEdge
                 : mode_name == "wrap"  ? PadMode::kWrap
                                        : PadMode::kConstant;
  std::vector<int64_t> pads = read_indices(ctx, ctx.input(1));
  std::vector<int64_t> axes;
  if (ctx.has_input(3)) {
    axes = read_indices(ctx, ctx.input(3));
  } else {
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  }
  if (pads.size() != 2 * axes.size())
    ctx.fail(ErrorCode::kInvalidArgument, "pads has ", pads.size(), " entries for ", axes.size(),
             " axes");
  std::vector<int64_t> before(static_cast<size_t>(r), 0);
  for (size_t i = 0; i < axes.size(); ++i)
    before[static_cast<size_t>(normalized_axis(ctx, axes[i], r))] = pads[i];
  const Shape& s = in.shape();
  for (size_t d = 0; d < s.size(); ++d) {
    if (mode != PadMode::kConstant && s[d] == 0 && out.shape()[d] > 0)
      ctx.fail(ErrorCode::kInvalidArgument, "cannot pad axis ", d, " of size 0 in ", mode_name,
               " mode");
  }
  std::vector<std::byte> fill = pad_fill(ctx, in.dtype());
  std::vector<int64_t> strides = contiguous_strides(s);
  visit_element_bytes(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T fill_value;
    std::memcpy(&fill_value, fill.data(), sizeof(T));
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    for (StridedWalk w(out.shape(), {}); !w.done(); w.next()) {
      int64_t off = 0;
      for (size_t d = 0; d < s.size() && off >= 0; ++d) {
        int64_t c = pad_source(mode, w.index()[d] - before[d], s[d]);
        off = c < 0 ? -1 : off + c * strides[d];
      }
      *dst++ = off < 0 ? fill_value : src[off];
    }
  });
}

}  // namespace

void register_shape_slice_pad_kernels(CpuKernelRegistry& r) {
  r.add("Slice", slice);
  r.add("Pad", pad);
}

}  // namespace kiln::cpu
