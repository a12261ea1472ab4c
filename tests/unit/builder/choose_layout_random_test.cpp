// The layout stage on random CNN-shaped graphs: convolutions (strided, grouped, 1x1), pools,
// activations, residual and broadcast (squeeze-excite style) binary ops, channel Concats,
// Flatten/Reshape round trips that cut regions, the model's own Transpose pairs and several graph
// outputs. Every graph, run channels-last, must give the results it gave before.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "builder/choose_layout.hpp"
#include "ir/op_registry.hpp"
#include "unit/passes/pass_test_util.hpp"

namespace kiln::builder {
namespace {

using test::attrs;
using V = std::vector<int64_t>;

struct Act {
  ir::Value* v;
  int64_t c, h, w;
};

class RandomCnn {
 public:
  explicit RandomCnn(uint32_t seed) : rng_(seed) {}

  test::PassGraphBuilder& build(int layers) {
    pool_.push_back({b_.input("x", {2, 4, 8, 8}), 4, 8, 8});
    pool_.push_back(conv(pool_.back(), 6, 3, 1, 1));  // at least one region
    for (int i = 0; i < layers; ++i) step();
    b_.output(pool_.back().v);
    for (int i = 0; i < 2; ++i) {
      ir::Value* v = pick().v;
      if (!b_.graph().is_graph_input(v) &&
          std::find(b_.graph().outputs().begin(), b_.graph().outputs().end(), v) ==
              b_.graph().outputs().end())
        b_.output(v);
    }
    return b_;
  }

 private:
  int64_t choose(std::initializer_list<int64_t> options) {
    std::uniform_int_distribution<size_t> d(0, options.size() - 1);
    return *(options.begin() + d(rng_));
  }
  const Act& pick() {
    std::uniform_int_distribution<size_t> d(pool_.size() > 3 ? pool_.size() - 4 : 0,
                                            pool_.size() - 1);
    return pool_[d(rng_)];
  }
  std::vector<float> values(size_t n) {
    std::uniform_real_distribution<float> d(-0.5f, 0.5f);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng_);
    return v;
  }

  Act conv(const Act& a, int64_t k, int64_t kernel, int64_t stride, int64_t group) {
    int64_t pad = kernel / 2;
    ir::Value* w = b_.constant({k, a.c / group, kernel, kernel},
                               values(static_cast<size_t>(k * a.c / group * kernel * kernel)));
    ir::Value* y = b_.op(
        "Conv", {a.v, w, b_.constant({k}, values(static_cast<size_t>(k)))},
        attrs({{"pads", V{pad, pad, pad, pad}}, {"strides", V{stride, stride}}, {"group", group}}));
    return {y, k, (a.h + 2 * pad - kernel) / stride + 1, (a.w + 2 * pad - kernel) / stride + 1};
  }

  void step() {
    const Act a = pick();
    switch (choose({0, 1, 2, 3, 4, 5, 6, 7, 8, 9})) {
      case 0: {  // 3x3 conv, maybe strided or grouped
        int64_t k = choose({4, 6, 8});
        int64_t group = a.c % 2 == 0 && k % 2 == 0 ? choose({1, 2}) : 1;
        pool_.push_back(conv(a, k, 3, a.h >= 4 ? choose({1, 2}) : 1, group));
        break;
      }
      case 1:
        pool_.push_back(conv(a, choose({4, 8}), 1, 1, 1));
        break;
      case 2:
        pool_.push_back({b_.op(choose({0, 1}) ? "Relu" : "Sigmoid", {a.v}), a.c, a.h, a.w});
        break;
      case 3: {  // residual Add with a same-shaped value, else a per-channel constant
        for (auto it = pool_.rbegin(); it != pool_.rend(); ++it) {
          if (it->v != a.v && it->c == a.c && it->h == a.h && it->w == a.w) {
            pool_.push_back({b_.op("Add", {a.v, it->v}), a.c, a.h, a.w});
            return;
          }
        }
        ir::Value* k = b_.constant({a.c, 1, 1}, values(static_cast<size_t>(a.c)));
        pool_.push_back({b_.op("Add", {a.v, k}), a.c, a.h, a.w});
        break;
      }
      case 4: {  // squeeze-excite: x * sigmoid(conv1x1(gap(x)))
        ir::Value* g = b_.op("GlobalAveragePool", {a.v});
        Act s = conv({g, a.c, 1, 1}, a.c, 1, 1, 1);
        pool_.push_back({b_.op("Mul", {a.v, b_.op("Sigmoid", {s.v})}), a.c, a.h, a.w});
        break;
      }
      case 5: {  // channel Concat with a value of the same spatial size
        for (auto it = pool_.rbegin(); it != pool_.rend(); ++it) {
          if (it->v != a.v && it->h == a.h && it->w == a.w) {
            pool_.push_back({b_.op("Concat", {a.v, it->v}, attrs({{"axis", int64_t{1}}})),
                             a.c + it->c, a.h, a.w});
            return;
          }
        }
        pool_.push_back(
            {b_.op("Concat", {a.v, a.v}, attrs({{"axis", int64_t{-3}}})), 2 * a.c, a.h, a.w});
        break;
      }
      case 6:
        if (a.h >= 4) {
          pool_.push_back(
              {b_.op("MaxPool", {a.v}, attrs({{"kernel_shape", V{2, 2}}, {"strides", V{2, 2}}})),
               a.c, a.h / 2, a.w / 2});
        } else {
          pool_.push_back({b_.op("AveragePool", {a.v},
                                 attrs({{"kernel_shape", V{3, 3}}, {"pads", V{1, 1, 1, 1}}})),
                           a.c, a.h, a.w});
        }
        break;
      case 7: {  // Flatten + Reshape back: cuts the region
        ir::Value* f = b_.op("Flatten", {a.v}, attrs({{"axis", int64_t{1}}}));
        pool_.push_back({b_.op("Reshape", {f, b_.ints({2, a.c, a.h, a.w})}), a.c, a.h, a.w});
        break;
      }
      case 8: {  // the model's own NHWC round trip
        ir::Value* t = b_.op("Transpose", {a.v}, attrs({{"perm", V{0, 2, 3, 1}}}));
        ir::Value* r = b_.op("Relu", {t});
        pool_.push_back({b_.op("Transpose", {r}, attrs({{"perm", V{0, 3, 1, 2}}})), a.c, a.h, a.w});
        break;
      }
      default:
        pool_.push_back({b_.op("Mul", {a.v, b_.scalar(0.5f)}), a.c, a.h, a.w});
        break;
    }
  }

  std::mt19937 rng_;
  test::PassGraphBuilder b_;
  std::vector<Act> pool_;
};

bool cuda_auto(ir::Graph& g) {
  return choose_layout(g, LayoutPolicy::kChannelsLastAlways, Layout::kAuto).channels_last_regions >
         0;
}
bool cpu_nhwc(ir::Graph& g) {
  return choose_layout(g, LayoutPolicy::kChannelsLastWhereItSavesTransposes, Layout::kNhwc)
             .channels_last_regions > 0;
}

TEST(ChooseLayoutRandom, ChannelsLastKeepsEveryRandomGraphsResults) {
  // What the converted graphs held, so the test shows it exercised each kind of rewrite.
  int concats_on_last_axis = 0, channels_last_pools = 0, broadcast_products = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomCnn cnn(seed);
    test::PassGraphBuilder& b = cnn.build(12);
    auto after = test::apply_and_compare(b.graph(), seed % 2 ? cuda_auto : cpu_nhwc, 1e-4);
    if (HasFailure()) break;  // one seed's report is enough to debug
    for (const auto& n : after->nodes()) {
      concats_on_last_axis += n->op == "Concat" && n->attrs.get_int("axis") == 3;
      channels_last_pools +=
          n->op.find("Pool") != std::string::npos && n->attrs.get_int("channels_last", 0) == 1;
      broadcast_products += n->op == "Mul" && !n->inputs[1]->is_constant() && n->inputs[1]->shape &&
                            (*n->inputs[1]->shape)[1].value == 1;
    }
  }
  EXPECT_GT(concats_on_last_axis, 0);
  EXPECT_GT(channels_last_pools, 0);
  EXPECT_GT(broadcast_products, 0);  // squeeze-excite's [N, 1, 1, C] scale
}

}  // namespace
}  // namespace kiln::builder
