// Inference for Resize (canonical opset-19 form) and Upsample, and the geometry they share with
// the kernels.
#include "ir/ops/resize.hpp"

#include <algorithm>
#include <cmath>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {

namespace {

// floor(size * scale + offset) as a dimension, failing where a hostile scale makes it too large
// (or not a number) instead of converting an out-of-range double, which is undefined.
int64_t scaled_size(int64_t size, double scale, const std::string& who, ErrorCode code,
                    int64_t axis, double offset = 0) {
  double v = std::floor(static_cast<double>(size) * scale + offset);
  if (!(v >= 0 && v < 0x1p62))
    fail(code, who, ": scale ", scale, " gives axis ", axis, " of size ", size,
         " an output size out of range");
  return static_cast<int64_t>(v);
}

}  // namespace

ResizeGeometry resize_geometry(const Shape& input, const std::vector<double>* scales,
                               const std::vector<int64_t>* sizes, const std::vector<int64_t>& axes,
                               const std::string& policy, const std::string& who, ErrorCode code) {
  ResizeGeometry g{input, std::vector<double>(input.size(), 1.0)};
  if (scales) {
    if (scales->size() != axes.size())
      fail(code, who, ": scales has ", scales->size(), " values, expected ", axes.size());
    for (size_t i = 0; i < axes.size(); ++i) {
      double s = (*scales)[i];
      if (!(s > 0)) fail(code, who, ": scales must be positive, got ", s);
      auto a = static_cast<size_t>(axes[i]);
      g.scales[a] = s;
      // ONNX: output_dimension = floor(input_dimension * scale).
      g.output[a] = scaled_size(input[a], s, who, code, axes[i]);
    }
    return g;
  }
  if (sizes->size() != axes.size())
    fail(code, who, ": sizes has ", sizes->size(), " values, expected ", axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    if ((*sizes)[i] < 0) fail(code, who, ": sizes must not be negative, got ", (*sizes)[i]);
    if (input[static_cast<size_t>(axes[i])] == 0 && (*sizes)[i] != 0)
      fail(code, who, ": cannot resize an empty axis ", axes[i], " to size ", (*sizes)[i]);
  }
  auto ratio = [&](size_t i) {
    auto in = static_cast<double>(input[static_cast<size_t>(axes[i])]);
    return in == 0 ? 1.0 : static_cast<double>((*sizes)[i]) / in;
  };
  if (policy == "stretch") {
    for (size_t i = 0; i < axes.size(); ++i) {
      auto a = static_cast<size_t>(axes[i]);
      g.scales[a] = ratio(i);
      g.output[a] = (*sizes)[i];
    }
    return g;
  }
  // not_larger / not_smaller: one scale for every resized axis, sizes rounded half up.
  double scale = ratio(0);
  for (size_t i = 1; i < axes.size(); ++i)
    scale = policy == "not_larger" ? std::min(scale, ratio(i)) : std::max(scale, ratio(i));
  for (int64_t axis : axes) {
    auto a = static_cast<size_t>(axis);
    g.scales[a] = scale;
    g.output[a] = scaled_size(input[a], scale, who, code, axis, 0.5);
  }
  return g;
}

namespace {

const char* const kModes[] = {"nearest", "linear", "cubic"};
const char* const kCoordinateModes[] = {
    "half_pixel", "half_pixel_symmetric",      "pytorch_half_pixel", "align_corners",
    "asymmetric", "tf_half_pixel_for_nearest", "tf_crop_and_resize"};
const char* const kNearestModes[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
const char* const kPolicies[] = {"stretch", "not_larger", "not_smaller"};

template <size_t N>
void check_choice(const InferenceContext& ctx, const char* attr, const std::string& fallback,
                  const char* const (&choices)[N]) {
  std::string v = ctx.attrs().get_string(attr, fallback);
  for (const char* c : choices) {
    if (v == c) return;
  }
  ctx.fail("attribute ", attr, " has unknown value '", v, "'");
}

// True when optional input i is given and not an empty placeholder tensor.
bool present(const InferenceContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return false;
  const auto& s = ctx.input(i).shape;
  return !(s && known_product(*s, 0, s->size()) == 0);
}

void infer_resize_shape(InferenceContext& ctx, const std::optional<std::vector<double>>& scales,
                        bool has_scales, const std::optional<std::vector<int64_t>>& sizes,
                        std::vector<int64_t> axes, const std::string& policy) {
  const TensorType& x = ctx.input(0);
  if (!x.shape) {
    ctx.set_output(0, x.dtype, std::nullopt);
    return;
  }
  SymShape out(x.shape->size());
  if (axes.empty()) {
    for (int64_t i = 0; i < x.rank(); ++i) axes.push_back(i);
  }
  if (has_scales ? !scales : !sizes) {
    ctx.set_output(0, x.dtype, out);  // rank known, sizes come at run time
    return;
  }
  if (auto in = to_concrete(*x.shape)) {
    ResizeGeometry g =
        resize_geometry(*in, scales ? &*scales : nullptr, sizes ? &*sizes : nullptr, axes, policy,
                        ctx.node().describe(), ErrorCode::kInvalidModel);
    ctx.set_output(0, x.dtype, g.output);
    return;
  }
  out = *x.shape;
  size_t n = has_scales ? scales->size() : sizes->size();
  if (n != axes.size())
    ctx.fail(has_scales ? "scales" : "sizes", " has ", n, " values, expected ", axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    Dim& d = out[static_cast<size_t>(axes[i])];
    if (!has_scales) {
      d = policy == "stretch" ? Dim((*sizes)[i]) : Dim();
    } else if ((*scales)[i] != 1.0) {
      d = d.known() ? Dim(scaled_size(d.value, (*scales)[i], ctx.node().describe(),
                                      ErrorCode::kInvalidModel, axes[i]))
                    : Dim();
    }
  }
  ctx.set_output(0, x.dtype, out);
}

void infer_resize(InferenceContext& ctx) {
  const TensorType& x = ctx.input(0);
  check_choice(ctx, "mode", "nearest", kModes);
  check_choice(ctx, "coordinate_transformation_mode", "half_pixel", kCoordinateModes);
  check_choice(ctx, "nearest_mode", "round_prefer_floor", kNearestModes);
  check_choice(ctx, "keep_aspect_ratio_policy", "stretch", kPolicies);
  if (x.dtype == DataType::kBool) ctx.fail("Resize does not accept bool input");
  bool has_scales = present(ctx, 2);
  bool has_sizes = present(ctx, 3);
  if (has_scales == has_sizes)
    ctx.fail("exactly one of scales (input 2) and sizes (input 3) must be given");
  if (has_scales && !is_floating(ctx.input(2).dtype))
    ctx.fail("scales (input 2) must be a float tensor");
  if (has_sizes && ctx.input(3).dtype != DataType::kInt64)
    ctx.fail("sizes (input 3) must be int64");
  if (present(ctx, 1) && !is_floating(ctx.input(1).dtype))
    ctx.fail("roi (input 1) must be a float tensor");
  std::vector<int64_t> axes;
  if (ctx.attrs().has("axes")) {
    if (!x.shape) ctx.fail("the axes attribute needs an input of known rank");
    for (int64_t a : ctx.attrs().get_ints("axes")) axes.push_back(normalize_axis(ctx, a, x.rank()));
    auto sorted = axes;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
      ctx.fail("axes must not repeat an axis");
  }
  std::optional<std::vector<double>> scales;
  std::optional<std::vector<int64_t>> sizes;
  if (has_scales) scales = ctx.input_doubles(2);
  if (has_sizes) sizes = ctx.input_ints(3);
  // Scales are float32 in ONNX; round as float so inference matches the reference exactly.
  if (scales) {
    for (double& s : *scales) s = static_cast<double>(static_cast<float>(s));
  }
  infer_resize_shape(ctx, scales, has_scales, sizes, axes,
                     ctx.attrs().get_string("keep_aspect_ratio_policy", "stretch"));
}

// Upsample (deprecated) is rewritten to Resize at import; this keeps hand-built graphs working.
void infer_upsample(InferenceContext& ctx) {
  std::string mode = ctx.attrs().get_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "bilinear")
    ctx.fail("attribute mode has unknown value '", mode, "'");
  std::optional<std::vector<double>> scales;
  if (ctx.has_input(1)) {
    scales = ctx.input_doubles(1);
  } else {
    std::vector<double> v;
    for (float f : ctx.attrs().get_floats("scales")) v.push_back(f);
    scales = v;
  }
  if (scales) {
    for (double& s : *scales) s = static_cast<double>(static_cast<float>(s));
  }
  infer_resize_shape(ctx, scales, true, std::nullopt, {}, "stretch");
}

}  // namespace

void register_image_resize_ops(OpRegistry& r) {
  // Their roi and scales are float32 whatever the image's type.
  r.add({"Resize", 1, 4, 1, 1, infer_resize},
        {.precision = {.fixed_type_inputs = 1u << 1 | 1u << 2}, .flops = data_movement_flops()});
  r.add({"Upsample", 1, 2, 1, 1, infer_upsample},
        {.precision = {.fixed_type_inputs = 1u << 1}, .flops = data_movement_flops()});
}

}  // namespace kiln::ir
