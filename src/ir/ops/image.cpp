// Inference for the image op family's sampling and detection ops: RoiAlign, GridSample,
// AffineGrid, Col2Im, MaxUnpool, CenterCropPad and NonMaxSuppression (Resize and Upsample:
// image_resize.cpp).
#include <optional>

#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {
namespace {

Dim dim_at(const TensorType& t, size_t i) {
  return t.shape && i < t.shape->size() ? (*t.shape)[i] : Dim();
}

// The length of a 1-D input, when known.
std::optional<int64_t> length_of(const TensorType& t) {
  if (t.shape && t.shape->size() == 1 && (*t.shape)[0].known()) return (*t.shape)[0].value;
  return std::nullopt;
}

void require_string(const InferenceContext& ctx, const char* attr, const std::string& fallback,
                    std::initializer_list<const char*> allowed) {
  std::string v = ctx.attrs().get_string(attr, fallback);
  for (const char* a : allowed) {
    if (v == a) return;
  }
  std::string list;
  for (const char* a : allowed) list += cat(list.empty() ? "" : ", ", "'", a, "'");
  ctx.fail("attribute '", attr, "' is '", v, "'; expected one of ", list);
}

void infer_roi_align(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  const TensorType& x = ctx.input(0);
  const TensorType& rois = ctx.input(1);
  const TensorType& idx = ctx.input(2);
  if (rois.dtype != x.dtype)
    ctx.fail("rois has dtype ", to_string(rois.dtype), ", X has ", to_string(x.dtype));
  if (idx.dtype != DataType::kInt64) ctx.fail("batch_indices must be int64");
  if (x.rank() != -1 && x.rank() != 4)
    ctx.fail("X must be 4-D (N, C, H, W), got ", sym_shape_to_string(x.shape));
  if (rois.rank() != -1 &&
      (rois.rank() != 2 || (dim_at(rois, 1).known() && dim_at(rois, 1).value != 4)))
    ctx.fail("rois must have shape (num_rois, 4), got ", sym_shape_to_string(rois.shape));
  if (idx.rank() != -1 && idx.rank() != 1)
    ctx.fail("batch_indices must be 1-D, got ", sym_shape_to_string(idx.shape));
  Dim n = dim_at(rois, 0), ni = dim_at(idx, 0);
  if (n.known() && ni.known() && n.value != ni.value)
    ctx.fail("rois has ", n.value, " boxes but batch_indices has ", ni.value);
  if (!n.known()) n = ni;
  require_string(ctx, "mode", "avg", {"avg", "max"});
  require_string(ctx, "coordinate_transformation_mode", "half_pixel",
                 {"half_pixel", "output_half_pixel"});
  int64_t oh = ctx.attrs().get_int("output_height", 1), ow = ctx.attrs().get_int("output_width", 1);
  if (oh <= 0 || ow <= 0) ctx.fail("output_height and output_width must be positive");
  if (ctx.attrs().get_int("sampling_ratio", 0) < 0) ctx.fail("sampling_ratio must be >= 0");
  ctx.set_output(0, x.dtype, SymShape{n, dim_at(x, 1), Dim(oh), Dim(ow)});
}

void infer_grid_sample(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  const TensorType& grid = ctx.input(1);
  require_float_input(ctx, 1);
  require_string(ctx, "mode", "linear", {"linear", "nearest", "cubic"});
  require_string(ctx, "padding_mode", "zeros", {"zeros", "border", "reflection"});
  bool nearest = ctx.attrs().get_string("mode", "linear") == "nearest";
  if (x.dtype == DataType::kFloat8E4M3 || (!nearest && !is_floating(x.dtype)))
    ctx.fail("X has dtype ", to_string(x.dtype), "; GridSample interpolates float32, float64, ",
             "float16 or bfloat16 (nearest mode also integers and bool)");
  if (x.rank() != -1 && x.rank() < 3)
    ctx.fail("X must be (N, C, D1, ..., Dr), got ", sym_shape_to_string(x.shape));
  if (x.rank() != -1 && grid.rank() != -1 && grid.rank() != x.rank())
    ctx.fail("grid must have the rank of X (", x.rank(), "), got ",
             sym_shape_to_string(grid.shape));
  if (!grid.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  size_t r = grid.shape->size();
  if (r < 3) ctx.fail("grid must be (N, D1, ..., Dr, r), got ", sym_shape_to_string(grid.shape));
  Dim last = (*grid.shape)[r - 1];
  if (last.known() && last.value != static_cast<int64_t>(r) - 2)
    ctx.fail("grid's last dim must be the spatial rank ", r - 2, ", got ", last.value);
  Dim n = dim_at(x, 0), gn = (*grid.shape)[0];
  if (n.known() && gn.known() && n.value != gn.value)
    ctx.fail("X has batch ", n.value, " but grid has ", gn.value);
  SymShape out{n.known() ? n : gn, dim_at(x, 1)};
  for (size_t i = 1; i + 1 < r; ++i) out.push_back((*grid.shape)[i]);
  ctx.set_output(0, x.dtype, out);
}

void infer_affine_grid(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  const TensorType& theta = ctx.input(0);
  if (ctx.input(1).dtype != DataType::kInt64) ctx.fail("size must be int64");
  std::optional<int64_t> n_size = length_of(ctx.input(1));
  std::optional<std::vector<int64_t>> size = ctx.input_ints(1);
  if (size) n_size = static_cast<int64_t>(size->size());
  if (n_size && *n_size != 4 && *n_size != 5)
    ctx.fail("size must hold 4 (N, C, H, W) or 5 (N, C, D, H, W) values, got ", *n_size);
  if (theta.rank() != -1 && theta.rank() != 3)
    ctx.fail("theta must be (N, 2, 3) or (N, 3, 4), got ", sym_shape_to_string(theta.shape));
  if (!n_size) {
    ctx.set_output(0, theta.dtype, std::nullopt);
    return;
  }
  int64_t spatial = *n_size - 2;
  Dim r = dim_at(theta, 1), c = dim_at(theta, 2);
  if ((r.known() && r.value != spatial) || (c.known() && c.value != spatial + 1))
    ctx.fail("theta must be (N, ", spatial, ", ", spatial + 1, ") for a ", *n_size,
             "-value size, got ", sym_shape_to_string(theta.shape));
  SymShape out{dim_at(theta, 0)};
  for (int64_t i = 0; i < spatial; ++i)
    out.push_back(size ? Dim((*size)[static_cast<size_t>(2 + i)]) : Dim());
  out.push_back(Dim(spatial));
  if (size) {
    if ((*size)[0] < 0) ctx.fail("size values must be >= 0");
    Dim n = dim_at(theta, 0);
    if (n.known() && n.value != (*size)[0])
      ctx.fail("theta has batch ", n.value, " but size says ", (*size)[0]);
    out[0] = Dim((*size)[0]);
  }
  ctx.set_output(0, theta.dtype, out);
}

// Col2Im: (N, C * prod(block), L) -> (N, C, image...).
void infer_col2im(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype == DataType::kBool || x.dtype == DataType::kFloat8E4M3)
    ctx.fail("input dtype ", to_string(x.dtype), " is not supported");
  if (x.rank() != -1 && x.rank() != 3)
    ctx.fail("input must be 3-D (N, C * prod(block_shape), L), got ", sym_shape_to_string(x.shape));
  auto image = ctx.input_ints(1), block = ctx.input_ints(2);
  std::optional<int64_t> r =
      image ? std::optional(static_cast<int64_t>(image->size())) : length_of(ctx.input(1));
  if (!r) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  if (*r < 1) ctx.fail("image_shape must not be empty");
  checked_rank(ctx, *r, "image_shape");
  if (block && static_cast<int64_t>(block->size()) != *r)
    ctx.fail("block_shape has ", block->size(), " values, image_shape ", *r);
  auto check_len = [&](const char* a, size_t n) {
    if (ctx.attrs().has(a) && ctx.attrs().get_ints(a).size() != n)
      ctx.fail("attribute '", a, "' must hold ", n, " values");
  };
  check_len("strides", static_cast<size_t>(*r));
  check_len("dilations", static_cast<size_t>(*r));
  check_len("pads", static_cast<size_t>(2 * *r));
  Dim c;
  if (block) {
    int64_t b = 1;
    for (int64_t v : *block) {
      if (v <= 0) ctx.fail("block_shape values must be positive");
      b = checked_mul(ctx, b, v);
    }
    Dim cb = dim_at(x, 1);
    if (cb.known()) {
      if (cb.value % b != 0)
        ctx.fail("input dim 1 (", cb.value, ") is not divisible by prod(block_shape) ", b);
      c = Dim(cb.value / b);
    }
    if (image) {
      std::vector<int64_t> strides = ctx.attrs().get_ints("strides", std::vector<int64_t>(*r, 1));
      std::vector<int64_t> dil = ctx.attrs().get_ints("dilations", std::vector<int64_t>(*r, 1));
      std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * *r, 0));
      int64_t blocks = 1;
      for (size_t i = 0; i < image->size(); ++i) {
        if (strides[i] <= 0 || dil[i] <= 0) ctx.fail("strides and dilations must be positive");
        int64_t padded =
            checked_add(ctx, checked_add(ctx, (*image)[i], pads[i]), pads[i + image->size()]);
        int64_t extent = checked_add(ctx, checked_mul(ctx, dil[i], (*block)[i] - 1), 1);
        int64_t n = checked_sub(ctx, padded, extent);
        if (n < 0) ctx.fail("the block does not fit the padded image along axis ", i);
        blocks = checked_mul(ctx, blocks, n / strides[i] + 1);
      }
      Dim l = dim_at(x, 2);
      if (l.known() && l.value != blocks)
        ctx.fail("input has ", l.value, " blocks; image_shape, block_shape, strides, pads and ",
                 "dilations give ", blocks);
    }
  }
  SymShape out{dim_at(x, 0), c};
  for (int64_t i = 0; i < *r; ++i) {
    if (image && (*image)[static_cast<size_t>(i)] < 0) ctx.fail("image_shape must be >= 0");
    out.push_back(image ? Dim((*image)[static_cast<size_t>(i)]) : Dim());
  }
  ctx.set_output(0, x.dtype, out);
}

// MaxUnpool's output size along one axis: (in - 1) * stride - pads + kernel, in checked steps.
int64_t unpooled_size(const InferenceContext& ctx, int64_t in, int64_t stride, int64_t pad_begin,
                      int64_t pad_end, int64_t kernel) {
  int64_t grown = checked_add(ctx, checked_mul(ctx, in - 1, stride), kernel);
  return checked_sub(ctx, grown, checked_add(ctx, pad_begin, pad_end));
}

void infer_max_unpool(InferenceContext& ctx) {
  require_float_input(ctx, 0);
  const TensorType& x = ctx.input(0);
  if (ctx.input(1).dtype != DataType::kInt64) ctx.fail("I must be int64");
  std::vector<int64_t> kernel = ctx.attrs().get_ints("kernel_shape");
  size_t r = kernel.size();
  if (x.rank() != -1 && x.rank() != static_cast<int64_t>(r) + 2)
    ctx.fail("X must have rank ", r + 2, " for a ", r, "-D kernel_shape, got ",
             sym_shape_to_string(x.shape));
  std::vector<int64_t> strides = ctx.attrs().get_ints("strides", std::vector<int64_t>(r, 1));
  std::vector<int64_t> pads = ctx.attrs().get_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (strides.size() != r || pads.size() != 2 * r)
    ctx.fail("strides must hold ", r, " values and pads ", 2 * r);
  if (ctx.has_input(2)) {
    if (ctx.input(2).dtype != DataType::kInt64) ctx.fail("output_shape must be int64");
    auto shape = ctx.input_ints(2);
    if (!shape) {
      ctx.set_output(0, x.dtype, SymShape(r + 2, Dim()));
      return;
    }
    if (shape->size() != r + 2) ctx.fail("output_shape must hold ", r + 2, " values");
    Shape s(shape->begin(), shape->end());
    for (size_t i = 0; i < s.size(); ++i) {
      Dim d = dim_at(x, i);
      if (i < 2 && d.known() && d.value != s[i])
        ctx.fail("output_shape ", shape_to_string(s), " disagrees with X on dim ", i);
      if (i >= 2 && d.known()) {
        int64_t inferred = unpooled_size(ctx, d.value, strides[i - 2], pads[i - 2], pads[i - 2 + r],
                                         kernel[i - 2]);
        if (s[i] < inferred)
          ctx.fail("output_shape dim ", i, " (", s[i], ") is smaller than the unpooled size ",
                   inferred);
      }
    }
    ctx.set_output(0, x.dtype, s);
    return;
  }
  SymShape out{dim_at(x, 0), dim_at(x, 1)};
  for (size_t i = 0; i < r; ++i) {
    Dim d = dim_at(x, i + 2);
    out.push_back(
        d.known() ? Dim(unpooled_size(ctx, d.value, strides[i], pads[i], pads[i + r], kernel[i]))
                  : Dim());
  }
  ctx.set_output(0, x.dtype, out);
}

void infer_center_crop_pad(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  DataType st = ctx.input(1).dtype;
  if (st != DataType::kInt32 && st != DataType::kInt64) ctx.fail("shape must be int32 or int64");
  if (!x.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  std::vector<int64_t> axes;
  if (ctx.attrs().has("axes")) {
    for (int64_t a : ctx.attrs().get_ints("axes")) axes.push_back(normalize_axis(ctx, a, x.rank()));
  } else {
    for (int64_t a = 0; a < x.rank(); ++a) axes.push_back(a);
  }
  auto shape = ctx.input_ints(1);
  SymShape out = *x.shape;
  if (std::optional<int64_t> n =
          shape ? std::optional(static_cast<int64_t>(shape->size())) : length_of(ctx.input(1));
      n && *n != static_cast<int64_t>(axes.size()))
    ctx.fail("shape holds ", *n, " values for ", axes.size(), " axes");
  for (size_t i = 0; i < axes.size(); ++i) {
    if (shape && (*shape)[i] < 0) ctx.fail("shape values must be >= 0");
    out[static_cast<size_t>(axes[i])] = shape ? Dim((*shape)[i]) : Dim();
  }
  ctx.set_output(0, x.dtype, out);
}

void infer_nms(InferenceContext& ctx) {
  const TensorType& boxes = ctx.input(0);
  const TensorType& scores = ctx.input(1);
  if (!is_floating(boxes.dtype) || boxes.dtype != scores.dtype)
    ctx.fail("boxes and scores must be float tensors of one type, got ", to_string(boxes.dtype),
             " and ", to_string(scores.dtype));
  if (boxes.shape &&
      (boxes.shape->size() != 3 || ((*boxes.shape)[2].known() && (*boxes.shape)[2].value != 4)))
    ctx.fail("boxes must have shape [batch, boxes, 4], got ", sym_shape_to_string(boxes.shape));
  if (scores.shape && scores.shape->size() != 3)
    ctx.fail("scores must have shape [batch, classes, boxes], got ",
             sym_shape_to_string(scores.shape));
  if (boxes.shape && scores.shape) {
    auto same = [](const Dim& a, const Dim& b) { return !a.known() || !b.known() || a == b; };
    if (!same((*boxes.shape)[0], (*scores.shape)[0]) ||
        !same((*boxes.shape)[1], (*scores.shape)[2]))
      ctx.fail("boxes ", sym_shape_to_string(boxes.shape), " and scores ",
               sym_shape_to_string(scores.shape), " disagree on batch or box count");
  }
  if (ctx.has_input(2) && ctx.input(2).dtype != DataType::kInt64)
    ctx.fail("max_output_boxes_per_class (input 2) must be int64");
  int64_t cpb = ctx.attrs().get_int("center_point_box", 0);
  if (cpb != 0 && cpb != 1) ctx.fail("center_point_box must be 0 or 1, got ", cpb);
  // The number of selected boxes depends on the data: the kernel allocates the output.
  ctx.set_output(0, DataType::kInt64, SymShape{Dim(), Dim(3)});
}

}  // namespace

void register_image_ops(OpRegistry& r) {
  constexpr const char* kRare = "no CUDA kernel yet: rare in inference models";
  auto coordinates = [](const char* reason) {
    return PrecisionTraits{.cls = PrecisionClass::kKeepFp32, .reason = reason};
  };
  r.add({"RoiAlign", 3, 3, 1, 1, infer_roi_align},
        {.precision = coordinates("box coordinates need FP32"),
         .host_fallback = "no CUDA kernel yet: detection heads run it after the backbone"});
  r.add({"GridSample", 2, 2, 1, 1, infer_grid_sample},
        {.precision = coordinates("sampling coordinates need FP32"), .host_fallback = kRare});
  r.add({"AffineGrid", 2, 2, 1, 1, infer_affine_grid},
        {.precision = coordinates("sampling coordinates need FP32"), .host_fallback = kRare});
  r.add({"Col2Im", 3, 3, 1, 1, infer_col2im}, {.host_fallback = kRare});
  r.add({"MaxUnpool", 2, 3, 1, 1, infer_max_unpool},
        {.flops = data_movement_flops(), .host_fallback = kRare});
  r.add({"CenterCropPad", 2, 2, 1, 1, infer_center_crop_pad},
        {.flops = data_movement_flops(), .host_fallback = kRare});
  r.add({"NonMaxSuppression", 2, 5, 1, 1, infer_nms},
        {.precision = coordinates("box coordinates need FP32"),
         .host_fallback = kDataDependentShape});
}

}  // namespace kiln::ir
