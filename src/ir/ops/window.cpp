// Sliding-window attribute parsing and output-size arithmetic for Conv, ConvTranspose and pools.
#include "ir/ops/window.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace kiln::ir {
namespace {

template <typename... Parts>
[[noreturn]] void raise(const WindowFail& fail, const Parts&... parts) {
  fail(cat(parts...));
  throw Error(ErrorCode::kInternal, "window error handler returned: " + cat(parts...));
}

std::vector<int64_t> ints_of_length(const Node& node, const std::string& name, size_t n,
                                    int64_t fallback, const WindowFail& fail) {
  if (!node.attrs.has(name)) return std::vector<int64_t>(n, fallback);
  std::vector<int64_t> v = node.attrs.get_ints(name);
  if (v.size() != n) {
    raise(fail, "attribute '", name, "' has ", v.size(), " values; the input has ", n,
          " spatial axes");
  }
  return v;
}

// For b > 0; written so that no intermediate overflows for any a.
int64_t ceil_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return q + (a % b > 0 ? 1 : 0);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return q - (a % b < 0 ? 1 : 0);
}

// Window arithmetic on attributes and sizes from the model: a result past 64 bits is an error
// naming the axis, never a wrapped size. `overflows` wraps one of the __builtin_*_overflow.
template <typename Overflows>
int64_t checked(const WindowFail& fail, size_t axis, int64_t a, const char* op, int64_t b,
                Overflows overflows) {
  int64_t r = 0;
  if (overflows(a, b, &r))
    raise(fail, "the window on spatial axis ", axis, " overflows 64 bits (", a, op, b, ")");
  return r;
}

int64_t add(const WindowFail& fail, size_t axis, int64_t a, int64_t b) {
  return checked(fail, axis, a, " + ", b,
                 [](int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); });
}

int64_t sub(const WindowFail& fail, size_t axis, int64_t a, int64_t b) {
  return checked(fail, axis, a, " - ", b,
                 [](int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); });
}

int64_t mul(const WindowFail& fail, size_t axis, int64_t a, int64_t b) {
  return checked(fail, axis, a, " * ", b,
                 [](int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); });
}

// The dilated kernel extent (k - 1) * d + 1.
int64_t kernel_extent(const WindowSpec& w, size_t axis, const WindowFail& fail) {
  return add(fail, axis, mul(fail, axis, w.kernel[axis] - 1, w.dilations[axis]), 1);
}

}  // namespace

WindowSpec read_window_spec(const Node& node, size_t spatial, std::vector<int64_t> fallback_kernel,
                            const WindowFail& fail) {
  WindowSpec w;
  if (node.attrs.has("kernel_shape")) {
    w.kernel = ints_of_length(node, "kernel_shape", spatial, 1, fail);
  } else {
    w.kernel = std::move(fallback_kernel);
    if (w.kernel.size() != spatial) {
      raise(fail, "the kernel has ", w.kernel.size(), " spatial axes; the input has ", spatial);
    }
  }
  w.strides = ints_of_length(node, "strides", spatial, 1, fail);
  w.dilations = ints_of_length(node, "dilations", spatial, 1, fail);
  w.pads = ints_of_length(node, "pads", 2 * spatial, 0, fail);
  w.auto_pad = node.attrs.get_string("auto_pad", "NOTSET");
  w.ceil_mode = node.attrs.get_int("ceil_mode", 0) != 0;
  if (w.auto_pad != "NOTSET" && w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER" &&
      w.auto_pad != "VALID") {
    raise(fail, "auto_pad '", w.auto_pad, "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  }
  for (size_t i = 0; i < spatial; ++i) {
    if (w.kernel[i] == 0 || w.kernel[i] < -1)
      raise(fail, "kernel size ", w.kernel[i], " on spatial axis ", i, " must be positive");
    if (w.strides[i] <= 0)
      raise(fail, "stride ", w.strides[i], " on spatial axis ", i, " must be positive");
    if (w.dilations[i] <= 0)
      raise(fail, "dilation ", w.dilations[i], " on spatial axis ", i, " must be positive");
  }
  if (w.auto_pad == "NOTSET") {
    for (int64_t p : w.pads) {
      if (p < 0) raise(fail, "pads must not be negative, got ", p);
    }
  }
  return w;
}

AxisWindow forward_window(const Node& node, const WindowSpec& w, size_t axis, int64_t in,
                          const WindowFail& fail) {
  AxisWindow r;
  int64_t k = w.kernel[axis], s = w.strides[axis];
  if (in < 0 || k < 0) return r;
  int64_t extent = kernel_extent(w, axis, fail);
  if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") {
    int64_t out = ceil_div(in, s);
    // (out - 1) * s < in, so only adding the extent can overflow.
    int64_t total = std::max<int64_t>(0, add(fail, axis, (out - 1) * s, extent) - in);
    r.pad_begin = w.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    r.pad_end = total - r.pad_begin;
    r.out = out;
    return r;
  }
  if (w.auto_pad == "NOTSET") {
    r.pad_begin = w.pads[axis];
    r.pad_end = w.pads[axis + w.spatial()];
  }
  int64_t padded = add(fail, axis, add(fail, axis, in, r.pad_begin), r.pad_end);
  int64_t span = padded - extent;  // both non-negative: cannot overflow
  if (span < 0) {
    raise(fail, "spatial axis ", axis, " has size ", in, " (padded ", padded,
          "), smaller than the dilated kernel extent ", extent);
  }
  if (w.ceil_mode) {
    r.out = ceil_div(span, s) + 1;
    // The last window must start inside the input or its leading pad. (out - 1) * s is below
    // span + s, which may pass 64 bits only where it is past in + pad_begin anyway.
    int64_t last_start = 0;
    if (__builtin_mul_overflow(r.out - 1, s, &last_start) || last_start >= in + r.pad_begin)
      --r.out;
  } else {
    r.out = floor_div(span, s) + 1;
  }
  return r;
}

AxisWindow transpose_window(const Node& node, const WindowSpec& w, size_t axis, int64_t in,
                            const WindowFail& fail) {
  AxisWindow r;
  size_t n = w.spatial();
  std::vector<int64_t> output_padding = node.attrs.get_ints("output_padding", {});
  if (!output_padding.empty() && output_padding.size() != n) {
    raise(fail, "attribute 'output_padding' has ", output_padding.size(), " values; the input has ",
          n, " spatial axes");
  }
  std::vector<int64_t> output_shape = node.attrs.get_ints("output_shape", {});
  // Early exporters wrote the full output shape (N, C, spatial...).
  if (output_shape.size() == n + 2)
    output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != n) {
    raise(fail, "attribute 'output_shape' has ", output_shape.size(), " values; the input has ", n,
          " spatial axes");
  }
  int64_t k = w.kernel[axis], s = w.strides[axis], d = w.dilations[axis];
  int64_t op = output_padding.empty() ? 0 : output_padding[axis];
  if (op < 0 || (op >= s && op >= d)) {
    raise(fail, "output_padding ", op, " on spatial axis ", axis,
          " must be smaller than the stride or the dilation");
  }
  if (in < 0 || k < 0) return r;
  int64_t extent = kernel_extent(w, axis, fail);
  int64_t full = add(fail, axis, add(fail, axis, mul(fail, axis, s, in - 1), op), extent);
  bool same = w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER";
  if (!output_shape.empty() || same) {
    int64_t out = output_shape.empty() ? mul(fail, axis, in, s) : output_shape[axis];
    if (out <= 0) raise(fail, "output_shape ", out, " on spatial axis ", axis, " must be positive");
    int64_t total = sub(fail, axis, full, out);
    r.pad_begin = w.auto_pad == "SAME_UPPER" ? floor_div(total, 2) : total - floor_div(total, 2);
    r.pad_end = total - r.pad_begin;
    r.out = out;
    return r;
  }
  if (w.auto_pad == "NOTSET") {
    r.pad_begin = w.pads[axis];
    r.pad_end = w.pads[axis + n];
  }
  r.out = sub(fail, axis, full, add(fail, axis, r.pad_begin, r.pad_end));
  if (r.out <= 0) {
    raise(fail, "spatial axis ", axis, " would have output size ", r.out, " (input ", in, ", pads ",
          r.pad_begin, "+", r.pad_end, ")");
  }
  return r;
}

}  // namespace kiln::ir
