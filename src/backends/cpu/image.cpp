// CPU kernels of the image family's sampling ops: RoiAlign (avg/max, both coordinate
// modes), GridSample (N-D; nearest/linear/cubic; zeros/border/reflection padding), AffineGrid,
// Col2Im, MaxUnpool and CenterCropPad (Resize: image_resize.cpp; NonMaxSuppression:
// image_nms.cpp). Coordinates and weights follow the ONNX reference.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/families.hpp"
#include "backends/cpu/values_as_double.hpp"

namespace kiln::cpu {
namespace {

// One bilinear sample of a RoiAlign bin: four pixel offsets and their weights.
struct BilinearTap {
  int64_t pos[4] = {};
  double w[4] = {};
};

BilinearTap bilinear_tap(int64_t height, int64_t width, double y, double x) {
  BilinearTap t;
  if (y < -1.0 || y > static_cast<double>(height) || x < -1.0 || x > static_cast<double>(width))
    return t;  // outside the feature map: contributes zero
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  auto y_low = static_cast<int64_t>(y), x_low = static_cast<int64_t>(x);
  int64_t y_high = y_low + 1, x_high = x_low + 1;
  if (y_low >= height - 1) {
    y_high = y_low = height - 1;
    y = static_cast<double>(y_low);
  }
  if (x_low >= width - 1) {
    x_high = x_low = width - 1;
    x = static_cast<double>(x_low);
  }
  double ly = y - static_cast<double>(y_low), lx = x - static_cast<double>(x_low);
  double hy = 1.0 - ly, hx = 1.0 - lx;
  t.pos[0] = y_low * width + x_low;
  t.pos[1] = y_low * width + x_high;
  t.pos[2] = y_high * width + x_low;
  t.pos[3] = y_high * width + x_high;
  t.w[0] = hy * hx;
  t.w[1] = hy * lx;
  t.w[2] = ly * hx;
  t.w[3] = ly * lx;
  return t;
}

void run_roi_align(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const auto& a = ctx.node.attrs;
  const bool max_mode = a.get_string("mode", "avg") == "max";
  const bool half_pixel =
      a.get_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  const double scale = a.get_float("spatial_scale", 1.0f);
  const int64_t sampling = a.get_int("sampling_ratio", 0);
  Tensor& y = ctx.output(0);
  const int64_t n_rois = y.dim(0), channels = x.dim(1), height = x.dim(2), width = x.dim(3);
  const int64_t oh = y.dim(2), ow = y.dim(3);
  std::vector<double> xv = to_doubles(x), rois = to_doubles(ctx.input(1));
  const int64_t* batch = ctx.input(2).data<int64_t>();
  for (int64_t n = 0; n < n_rois; ++n) {
    if (batch[n] < 0 || batch[n] >= x.dim(0))
      ctx.fail(ErrorCode::kInvalidArgument, "batch_indices[", n, "] = ", batch[n],
               " is outside the batch of ", x.dim(0));
  }
  if (n_rois > 0 && channels > 0 && (height == 0 || width == 0))
    ctx.fail(ErrorCode::kInvalidArgument, "X of shape ", shape_to_string(x.shape()),
             " has an empty feature map to sample from");
  std::vector<double> out(static_cast<size_t>(y.numel()));
  const double offset = half_pixel ? 0.5 : 0.0;
#pragma omp parallel for
  for (int64_t n = 0; n < n_rois; ++n) {
    const double* r = rois.data() + n * 4;
    double start_w = r[0] * scale - offset, start_h = r[1] * scale - offset;
    double roi_w = r[2] * scale - offset - start_w, roi_h = r[3] * scale - offset - start_h;
    if (!half_pixel) {
      roi_w = std::max(roi_w, 1.0);
      roi_h = std::max(roi_h, 1.0);
    }
    double bin_h = roi_h / static_cast<double>(oh), bin_w = roi_w / static_cast<double>(ow);
    int64_t grid_h =
        sampling > 0 ? sampling : static_cast<int64_t>(std::ceil(roi_h / static_cast<double>(oh)));
    int64_t grid_w =
        sampling > 0 ? sampling : static_cast<int64_t>(std::ceil(roi_w / static_cast<double>(ow)));
    double count = static_cast<double>(std::max<int64_t>(grid_h * grid_w, 1));
    // The sample taps are the same for every channel.
    std::vector<BilinearTap> taps;
    for (int64_t ph = 0; ph < oh; ++ph)
      for (int64_t pw = 0; pw < ow; ++pw)
        for (int64_t iy = 0; iy < grid_h; ++iy) {
          double yy = start_h + static_cast<double>(ph) * bin_h +
                      (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(grid_h);
          for (int64_t ix = 0; ix < grid_w; ++ix) {
            double xx = start_w + static_cast<double>(pw) * bin_w +
                        (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(grid_w);
            taps.push_back(bilinear_tap(height, width, yy, xx));
          }
        }
    for (int64_t c = 0; c < channels; ++c) {
      const double* plane = xv.data() + (batch[n] * channels + c) * height * width;
      size_t t = 0;
      for (int64_t p = 0; p < oh * ow; ++p) {
        double v = 0;
        bool first = true;
        for (int64_t s = 0; s < grid_h * grid_w; ++s, ++t) {
          const BilinearTap& tap = taps[t];
          if (max_mode) {
            // Like ONNX Runtime: the max of the weighted corner values, not of interpolations.
            double m = tap.w[0] * plane[tap.pos[0]];
            for (int k = 1; k < 4; ++k) m = std::max(m, tap.w[k] * plane[tap.pos[k]]);
            v = first ? m : std::max(v, m);
            first = false;
          } else {
            for (int k = 0; k < 4; ++k) v += tap.w[k] * plane[tap.pos[k]];
          }
        }
        if (!max_mode) v /= count;
        out[static_cast<size_t>((n * channels + c) * oh * ow + p)] = v;
      }
    }
  }
  from_doubles(y, out);
}

// Reflects x into [lo, hi] by bouncing off the borders, as the ONNX reference does.
double reflect(double x, double lo, double hi) {
  double range = hi - lo;
  if (x < lo) {
    double dx = lo - x;
    auto n = static_cast<int64_t>(dx / range);
    double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi;
    auto n = static_cast<int64_t>(dx / range);
    double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

void cubic_coeffs(double x, double c[4]) {
  constexpr double kA = -0.75;
  x = std::fabs(x);
  c[0] = ((kA * (x + 1) - 5 * kA) * (x + 1) + 8 * kA) * (x + 1) - 4 * kA;
  c[1] = ((kA + 2) * x - (kA + 3)) * x * x + 1;
  c[2] = ((kA + 2) * (1 - x) - (kA + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((kA * (2 - x) - 5 * kA) * (2 - x) + 8 * kA) * (2 - x) - 4 * kA;
}

enum class Padding { kZeros, kBorder, kReflection };

// One axis of a GridSample point: the taps (pixel indices, -1 for a zero pad) and weights.
struct AxisTaps {
  int64_t index[4] = {};
  double weight[4] = {};
  int count = 0;
};

void run_grid_sample(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& grid = ctx.input(1);
  const auto& a = ctx.node.attrs;
  const std::string mode = a.get_string("mode", "linear");
  const std::string pad_name = a.get_string("padding_mode", "zeros");
  const Padding padding = pad_name == "border"       ? Padding::kBorder
                          : pad_name == "reflection" ? Padding::kReflection
                                                     : Padding::kZeros;
  const bool align = a.get_int("align_corners", 0) != 0;
  const int64_t r = x.rank() - 2, n = x.dim(0), c = x.dim(1);
  if (grid.dim(0) != n)
    ctx.fail(ErrorCode::kInvalidArgument, "X has batch ", n, " but grid has ", grid.dim(0));
  Shape dims(x.shape().begin() + 2, x.shape().end());
  int64_t in_plane = shape_numel(dims);
  Tensor& y = ctx.output(0);
  if (in_plane == 0 && y.numel() > 0)
    ctx.fail(ErrorCode::kInvalidArgument, "X of shape ", shape_to_string(x.shape()),
             " has no pixels to sample from");
  int64_t points = n == 0 ? 0 : grid.numel() / (n * r);
  std::vector<double> g = to_doubles(grid), xv = to_doubles(x), out(static_cast<size_t>(y.numel()));
  const bool grid_double = grid.dtype() == DataType::kFloat64;

  // Maps an integer pixel index through the padding; -1 reads as zero.
  auto pad_index = [&](int64_t i, int64_t axis) -> int64_t {
    int64_t d = dims[static_cast<size_t>(axis)];
    if (i >= 0 && i < d) return i;
    if (padding == Padding::kZeros) return -1;
    if (padding == Padding::kBorder) return std::clamp<int64_t>(i, 0, d - 1);
    double lo = align ? 0.0 : -0.5, hi = align ? static_cast<double>(d - 1) : d - 0.5;
    return std::clamp<int64_t>(static_cast<int64_t>(reflect(static_cast<double>(i), lo, hi)), 0,
                               d - 1);
  };

#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t p = 0; p < points; ++p) {
      std::vector<AxisTaps> taps(static_cast<size_t>(r));
      // The grid's last dim lists coordinates innermost axis first (x, y, z).
      for (int64_t k = 0; k < r; ++k) {
        double nv = g[static_cast<size_t>((b * points + p) * r + (r - 1 - k))];
        auto len = static_cast<double>(dims[static_cast<size_t>(k)]);
        // The reference denormalizes in the grid's precision and keeps the result as float32.
        double pos;
        if (grid_double) {
          pos = align ? (nv + 1) / 2.0 * (len - 1) : ((nv + 1) * len - 1) / 2.0;
        } else {
          auto f = static_cast<float>(nv), fl = static_cast<float>(len);
          pos = align ? (f + 1.0f) / 2.0f * (fl - 1.0f) : ((f + 1.0f) * fl - 1.0f) / 2.0f;
        }
        pos = static_cast<float>(pos);
        if (mode == "nearest") pos = std::nearbyint(pos);
        double lo = align ? 0.0 : -0.5, hi = align ? len - 1 : len - 0.5;
        if (pos < lo || pos > hi) {
          if (padding == Padding::kBorder) pos = std::clamp(pos, 0.0, len - 1);
          if (padding == Padding::kReflection) pos = static_cast<float>(reflect(pos, lo, hi));
        }
        AxisTaps& t = taps[static_cast<size_t>(k)];
        if (mode == "nearest") {
          t.count = 1;
          t.index[0] = pad_index(static_cast<int64_t>(pos), k);
          t.weight[0] = 1;
        } else {
          double fl = std::floor(pos);
          auto i0 = static_cast<int64_t>(fl);
          double frac = pos - fl;
          if (mode == "linear") {
            t.count = 2;
            t.weight[0] = 1 - frac;
            t.weight[1] = frac;
            t.index[0] = pad_index(i0, k);
            t.index[1] = pad_index(i0 + 1, k);
          } else {
            t.count = 4;
            cubic_coeffs(frac, t.weight);
            for (int q = 0; q < 4; ++q) t.index[q] = pad_index(i0 - 1 + q, k);
          }
        }
      }
      // Sum over every combination of the axes' taps, like an odometer.
      for (int64_t ch = 0; ch < c; ++ch) {
        const double* plane = xv.data() + (b * c + ch) * in_plane;
        std::vector<int> digit(static_cast<size_t>(r), 0);
        double acc = 0;
        while (true) {
          double w = 1;
          int64_t off = 0;
          bool zero = false;
          for (int64_t k = 0; k < r; ++k) {
            const AxisTaps& t = taps[static_cast<size_t>(k)];
            int q = digit[static_cast<size_t>(k)];
            w *= t.weight[q];
            if (t.index[q] < 0) zero = true;
            off = off * dims[static_cast<size_t>(k)] + t.index[q];
          }
          if (!zero) acc += w * plane[off];
          int64_t k = r - 1;
          for (; k >= 0; --k) {
            auto ku = static_cast<size_t>(k);
            if (++digit[ku] < taps[ku].count) break;
            digit[ku] = 0;
          }
          if (k < 0) break;
        }
        out[static_cast<size_t>((b * c + ch) * points + p)] = acc;
      }
    }
  }
  from_doubles(y, out);
}

// The normalized coordinates of `size` pixel centers (or corners with align_corners).
std::vector<double> base_coords(int64_t size, bool align) {
  std::vector<double> v(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) {
    auto fi = static_cast<double>(i);
    if (align)
      v[static_cast<size_t>(i)] =
          size == 1 ? -1.0 : -1.0 + fi * (2.0 / static_cast<double>(size - 1));
    else
      v[static_cast<size_t>(i)] =
          -1.0 + (2.0 / static_cast<double>(size)) / 2 + fi * (2.0 / static_cast<double>(size));
  }
  return v;
}

void run_affine_grid(KernelContext& ctx) {
  const Tensor& theta = ctx.input(0);
  Tensor& y = ctx.output(0);
  const bool align = ctx.node.attrs.get_int("align_corners", 0) != 0;
  const int64_t r = y.rank() - 2, n = y.dim(0);
  if (theta.dim(0) != n || theta.dim(1) != r || theta.dim(2) != r + 1)
    ctx.fail(ErrorCode::kInvalidArgument, "theta of shape ", shape_to_string(theta.shape()),
             " does not match the requested size");
  std::vector<double> th = to_doubles(theta);
  // Spatial sizes outermost first (D, H, W); coordinates are listed innermost first (x, y, z).
  Shape sizes(y.shape().begin() + 1, y.shape().end() - 1);
  std::vector<std::vector<double>> coords;
  for (int64_t s : sizes) coords.push_back(base_coords(s, align));
  int64_t points = shape_numel(sizes);
  std::vector<double> out(static_cast<size_t>(y.numel()));
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t p = 0; p < points; ++p) {
      std::vector<double> homo(static_cast<size_t>(r + 1), 1.0);
      int64_t rem = p;
      for (int64_t k = r - 1; k >= 0; --k) {
        int64_t idx = rem % sizes[static_cast<size_t>(k)];
        rem /= sizes[static_cast<size_t>(k)];
        homo[static_cast<size_t>(r - 1 - k)] =
            coords[static_cast<size_t>(k)][static_cast<size_t>(idx)];
      }
      for (int64_t row = 0; row < r; ++row) {
        double acc = 0;
        for (int64_t col = 0; col <= r; ++col)
          acc += th[static_cast<size_t>((b * r + row) * (r + 1) + col)] *
                 homo[static_cast<size_t>(col)];
        out[static_cast<size_t>((b * points + p) * r + row)] = acc;
      }
    }
  }
  from_doubles(y, out);
}

// Sums each column block back into the image (the inverse of im2col).
void run_col2im(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const std::vector<int64_t> image(ctx.input(1).data<int64_t>(),
                                   ctx.input(1).data<int64_t>() + ctx.input(1).numel());
  const std::vector<int64_t> block(ctx.input(2).data<int64_t>(),
                                   ctx.input(2).data<int64_t>() + ctx.input(2).numel());
  const size_t r = image.size();
  const auto& a = ctx.node.attrs;
  std::vector<int64_t> strides = a.get_ints("strides", std::vector<int64_t>(r, 1));
  std::vector<int64_t> dil = a.get_ints("dilations", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = a.get_ints("pads", std::vector<int64_t>(2 * r, 0));
  std::vector<int64_t> cols(r);
  int64_t kernel = 1, blocks = 1, plane = 1;
  for (size_t i = 0; i < r; ++i) {
    cols[i] = (image[i] + pads[i] + pads[i + r] - (dil[i] * (block[i] - 1) + 1)) / strides[i] + 1;
    kernel *= block[i];
    blocks *= cols[i];
    plane *= image[i];
  }
  const int64_t n = x.dim(0), c = y.dim(1);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, Float8E4M3>) {
      ctx.fail(ErrorCode::kUnsupported, "dtype ", to_string(x.dtype()), " is not supported");
    } else {
      const T* xp = x.data<T>();
      std::vector<compute_t<T>> acc(static_cast<size_t>(y.numel()), compute_t<T>(0));
      std::vector<int64_t> koff(r), boff(r);
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t ch = 0; ch < c; ++ch) {
          compute_t<T>* dst = acc.data() + (b * c + ch) * plane;
          for (int64_t kk = 0; kk < kernel; ++kk) {
            for (int64_t rem = kk, i = static_cast<int64_t>(r) - 1; i >= 0; --i) {
              koff[static_cast<size_t>(i)] = rem % block[static_cast<size_t>(i)];
              rem /= block[static_cast<size_t>(i)];
            }
            const T* src = xp + ((b * c + ch) * kernel + kk) * blocks;
            for (int64_t l = 0; l < blocks; ++l) {
              int64_t rem = l, off = 0;
              bool inside = true;
              for (int64_t i = static_cast<int64_t>(r) - 1; i >= 0; --i) {
                boff[static_cast<size_t>(i)] = rem % cols[static_cast<size_t>(i)];
                rem /= cols[static_cast<size_t>(i)];
              }
              for (size_t i = 0; i < r; ++i) {
                int64_t at = boff[i] * strides[i] - pads[i] + koff[i] * dil[i];
                if (at < 0 || at >= image[i]) inside = false;
                off = off * image[i] + at;
              }
              if (inside) dst[off] += load(src[l]);
            }
          }
        }
      }
      T* yp = y.data<T>();
      for (size_t i = 0; i < acc.size(); ++i) yp[i] = store<T>(acc[i]);
    }
  });
}

// Scatters X to the flat positions I gives in the unpooled shape, zero elsewhere; a larger
// output_shape keeps that block at its origin.
void run_max_unpool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& idx = ctx.input(1);
  Tensor& y = ctx.output(0);
  if (idx.shape() != x.shape())
    ctx.fail(ErrorCode::kInvalidArgument, "I of shape ", shape_to_string(idx.shape()),
             " must match X ", shape_to_string(x.shape()));
  const auto& a = ctx.node.attrs;
  std::vector<int64_t> kernel = a.get_ints("kernel_shape");
  size_t r = kernel.size();
  std::vector<int64_t> strides = a.get_ints("strides", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = a.get_ints("pads", std::vector<int64_t>(2 * r, 0));
  Shape inferred{x.dim(0), x.dim(1)};
  for (size_t i = 0; i < r; ++i)
    inferred.push_back((x.dim(static_cast<int64_t>(i) + 2) - 1) * strides[i] - pads[i] -
                       pads[i + r] + kernel[i]);
  int64_t total = shape_numel(inferred);
  std::vector<double> flat(static_cast<size_t>(total), 0.0), xv = to_doubles(x);
  const int64_t* ip = idx.data<int64_t>();
  for (int64_t e = 0; e < x.numel(); ++e) {
    if (ip[e] < 0 || ip[e] >= total)
      ctx.fail(ErrorCode::kInvalidArgument, "index ", ip[e], " is outside the unpooled tensor of ",
               total, " elements");
    flat[static_cast<size_t>(ip[e])] = xv[static_cast<size_t>(e)];
  }
  std::vector<double> out(static_cast<size_t>(y.numel()), 0.0);
  for (int64_t e = 0; e < total; ++e) {
    int64_t rem = e, off = 0, stride = 1;
    for (int64_t k = static_cast<int64_t>(inferred.size()) - 1; k >= 0; --k) {
      int64_t i = rem % inferred[static_cast<size_t>(k)];
      rem /= inferred[static_cast<size_t>(k)];
      off += i * stride;
      stride *= y.dim(k);
    }
    out[static_cast<size_t>(off)] = flat[static_cast<size_t>(e)];
  }
  from_doubles(y, out);
}

// Crops (centered, the extra element off the end) or pads with zeros each listed axis.
void run_center_crop_pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t rank = x.rank();
  // Per axis: where the copied range starts in the input and in the output, and its length.
  std::vector<int64_t> in_start(static_cast<size_t>(rank), 0),
      out_start(static_cast<size_t>(rank), 0), len(x.shape().begin(), x.shape().end());
  for (int64_t k = 0; k < rank; ++k) {
    int64_t have = x.dim(k), want = y.dim(k);
    auto ku = static_cast<size_t>(k);
    if (want < have) {
      in_start[ku] = (have - want) / 2;
      len[ku] = want;
    } else if (want > have) {
      out_start[ku] = (want - have) / 2;
    }
  }
  size_t elem = element_size(x.dtype());
  std::memset(y.raw(), 0, y.nbytes());
  Shape copy(len.begin(), len.end());
  int64_t count = shape_numel(copy);
  const auto* src = static_cast<const std::byte*>(x.raw());
  auto* dst = static_cast<std::byte*>(y.raw());
  for (int64_t e = 0; e < count; ++e) {
    int64_t rem = e, si = 0, di = 0, ss = 1, ds = 1;
    for (int64_t k = rank - 1; k >= 0; --k) {
      auto ku = static_cast<size_t>(k);
      int64_t i = rem % len[ku];
      rem /= len[ku];
      si += (i + in_start[ku]) * ss;
      di += (i + out_start[ku]) * ds;
      ss *= x.dim(k);
      ds *= y.dim(k);
    }
    std::memcpy(dst + static_cast<size_t>(di) * elem, src + static_cast<size_t>(si) * elem, elem);
  }
}

}  // namespace

void register_image_kernels(CpuKernelRegistry& r) {
  r.add("RoiAlign", run_roi_align);
  r.add("GridSample", run_grid_sample);
  r.add("AffineGrid", run_affine_grid);
  r.add("Col2Im", run_col2im);
  r.add("MaxUnpool", run_max_unpool);
  r.add("CenterCropPad", run_center_crop_pad);
}

}  // namespace kiln::cpu
