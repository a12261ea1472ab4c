// CPU kernel of the image family's NonMaxSuppression: per batch and class, boxes by descending
// score, each kept unless it overlaps a kept one by more than the IoU threshold. The output's
// length depends on the data, so the kernel allocates it.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/families.hpp"
#include "backends/cpu/kernel_helpers.hpp"

namespace kiln::cpu {
namespace {

struct Box {
  float y1, x1, y2, x2;
};

Box read_box(const float* b, bool center) {
  if (center) {  // [x_center, y_center, width, height]
    return {b[1] - b[3] / 2, b[0] - b[2] / 2, b[1] + b[3] / 2, b[0] + b[2] / 2};
  }
  // [y1, x1, y2, x2] with either corner first.
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

// As ONNX Runtime: boxes overlap too much when IoU > threshold; degenerate boxes never do.
bool suppresses(const Box& a, const Box& b, float iou_threshold) {
  float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  if (ih <= 0 || iw <= 0) return false;
  float inter = ih * iw;
  float area_a = (a.y2 - a.y1) * (a.x2 - a.x1);
  float area_b = (b.y2 - b.y1) * (b.x2 - b.x1);
  float uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

std::vector<float> as_floats(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(load(t.data<T>()[i]));
  });
  return out;
}

void nms_kernel(KernelContext& ctx) {
  const Tensor& boxes_t = ctx.input(0);
  const Tensor& scores_t = ctx.input(1);
  int64_t max_per_class = 0;
  if (ctx.has_input(2) && ctx.input(2).numel() > 0)
    max_per_class = std::max<int64_t>(0, ctx.input(2).data<int64_t>()[0]);
  float iou_threshold = 0;
  if (ctx.has_input(3) && ctx.input(3).numel() > 0) iou_threshold = as_floats(ctx.input(3))[0];
  bool has_score_threshold = ctx.has_input(4) && ctx.input(4).numel() > 0;
  float score_threshold = has_score_threshold ? as_floats(ctx.input(4))[0] : 0.f;
  if (iou_threshold < 0 || iou_threshold > 1)
    ctx.fail(ErrorCode::kInvalidArgument, "iou_threshold must be in [0, 1], got ", iou_threshold);
  bool center = ctx.node.attrs.get_int("center_point_box", 0) != 0;
  int64_t batches = boxes_t.dim(0), n = boxes_t.dim(1), classes = scores_t.dim(1);
  if (scores_t.dim(0) != batches || scores_t.dim(2) != n || boxes_t.dim(2) != 4) {
    ctx.fail(ErrorCode::kInvalidArgument, "boxes ", shape_to_string(boxes_t.shape()),
             " and scores ", shape_to_string(scores_t.shape()), " do not match");
  }
  std::vector<float> boxes = as_floats(boxes_t);
  std::vector<float> scores = as_floats(scores_t);
  std::vector<int64_t> selected;  // triples (batch, class, box)
  std::vector<int64_t> order;
  std::vector<int64_t> kept;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t c = 0; c < classes; ++c) {
      const float* s = scores.data() + (b * classes + c) * n;
      order.clear();
      for (int64_t i = 0; i < n; ++i) {
        if (!has_score_threshold || s[i] > score_threshold) order.push_back(i);
      }
      // Highest score first; equal scores keep the lower box index first.
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b2) { return s[a] > s[b2]; });
      kept.clear();
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        Box bi = read_box(boxes.data() + (b * n + i) * 4, center);
        bool keep = true;
        for (int64_t j : kept) {
          if (suppresses(bi, read_box(boxes.data() + (b * n + j) * 4, center), iou_threshold)) {
            keep = false;
            break;
          }
        }
        if (!keep) continue;
        kept.push_back(i);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  Tensor& out =
      ctx.allocate_output(0, DataType::kInt64, {static_cast<int64_t>(selected.size() / 3), 3});
  std::copy(selected.begin(), selected.end(), out.data<int64_t>());
}

}  // namespace

void register_image_nms_kernels(CpuKernelRegistry& r) {
  r.add("NonMaxSuppression", nms_kernel);
}

}  // namespace kiln::cpu
