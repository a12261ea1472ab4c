// CPU kernels of the reduction family that produce or follow indices along one axis: ArgMax,
// ArgMin, TopK, CumSum and NonMaxSuppression.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "backends/cpu/dispatch.hpp"
#include "backends/cpu/kernel_helpers.hpp"
#include "backends/cpu/reduction_family.hpp"
#include "ir/nan_minmax.hpp"

namespace kiln::cpu {
namespace {

int64_t norm_axis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

void arg_reduce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  int64_t axis = norm_axis(ctx.node.attrs.get_int("axis", 0), x.rank());
  bool last = ctx.node.attrs.get_int("select_last_index", 0) != 0;
  bool is_max = ctx.node.op == "ArgMax";
  AxisSplit v = split_at_axis(x.shape(), axis);
  int64_t* out = y.data<int64_t>();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* p = in + o * v.len * v.inner + i;
        int64_t best = 0;
        auto bv = load(p[0]);
        for (int64_t k = 1; k < v.len; ++k) {
          auto c = load(p[k * v.inner]);
          // The first NaN wins either way, as in numpy (ONNX Runtime sees a NaN only when it is
          // the first element).
          bool better = is_max ? ir::greater_nan_first(c, bv) : ir::less_nan_first(c, bv);
          bool tie = c == bv || (c != c && bv != bv);
          if (better || (last && tie)) {
            best = k;
            bv = c;
          }
        }
        out[o * v.inner + i] = best;
      }
    }
  });
}

void topk_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t k = ctx.input(1).data<int64_t>()[0];
  int64_t axis = norm_axis(ctx.node.attrs.get_int("axis", -1), x.rank());
  bool largest = ctx.node.attrs.get_int("largest", 1) != 0;
  // sorted=0 leaves the order unspecified; sorted order is a valid answer, so always sort.
  Tensor& values = ctx.output(0);
  Tensor& indices = ctx.output(1);
  AxisSplit v = split_at_axis(x.shape(), axis);
  int64_t* idx_out = indices.data<int64_t>();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x.data<T>();
    T* val_out = values.data<T>();
    std::vector<int64_t> order(static_cast<size_t>(v.len));
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const T* p = in + o * v.len * v.inner + i;
        std::iota(order.begin(), order.end(), 0);
        // Ties go to the lower index, which makes the order total.
        auto before = [&](int64_t a, int64_t b) {
          auto va = load(p[a * v.inner]);
          auto vb = load(p[b * v.inner]);
          // NaN ranks above every number, as in numpy's sort order (and ONNX Runtime's TopK).
          if (largest ? ir::greater_nan_first(va, vb) : ir::greater_nan_first(vb, va)) return true;
          if (largest ? ir::greater_nan_first(vb, va) : ir::greater_nan_first(va, vb)) return false;
          return a < b;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          int64_t dst = o * k * v.inner + j * v.inner + i;
          val_out[dst] = p[order[static_cast<size_t>(j)] * v.inner];
          idx_out[dst] = order[static_cast<size_t>(j)];
        }
      }
    }
  });
}

void cumsum_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const Tensor& a = ctx.input(1);
  int64_t raw = a.dtype() == DataType::kInt32 ? a.data<int32_t>()[0] : a.data<int64_t>()[0];
  int64_t axis = norm_axis(raw, x.rank());
  bool exclusive = ctx.node.attrs.get_int("exclusive", 0) != 0;
  bool reverse = ctx.node.attrs.get_int("reverse", 0) != 0;
  AxisSplit v = split_at_axis(x.shape(), axis);
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      ctx.fail(ErrorCode::kUnsupported, "CumSum does not accept bool input");
    } else {
      using C = compute_t<T>;
      const T* in = x.data<T>();
      T* out = y.data<T>();
      for (int64_t o = 0; o < v.outer; ++o) {
        for (int64_t i = 0; i < v.inner; ++i) {
          int64_t base = o * v.len * v.inner + i;
          C acc{};
          for (int64_t s = 0; s < v.len; ++s) {
            int64_t k = reverse ? v.len - 1 - s : s;
            int64_t off = base + k * v.inner;
            C cur = load(in[off]);
            if (!exclusive) acc = static_cast<C>(acc + cur);
            out[off] = store<T>(acc);
            if (exclusive) acc = static_cast<C>(acc + cur);
          }
        }
      }
    }
  });
}

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

void register_index_kernels(CpuKernelRegistry& r) {
  r.add("ArgMax", arg_reduce_kernel);
  r.add("ArgMin", arg_reduce_kernel);
  r.add("TopK", topk_kernel);
  r.add("CumSum", cumsum_kernel);
  r.add("NonMaxSuppression", nms_kernel);
}

}  // namespace kiln::cpu
