// The CUDA channels-last (channels_last=1) layers against the CPU reference, which the CPU tests
// check against NCHW: Conv and FusedConv through cuDNN with NHWC strides (fp32, fp16, bf16;
// groups, depthwise, stride 2, 7x7 with C=3, 1x1, odd channel counts that rule out the fastest
// engines, each epilogue path), the NHWC pool kernels on their vectorised and scalar paths, and a
// whole engine whose convolution region the builder runs channels-last. Case names say the op,
// dtype, shapes and what the case exercises.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "ir/activation.hpp"
#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"
#include "unit/backends/cuda/gpu_case_table.hpp"
#include "unit/channels_last_test_util.hpp"

namespace kiln::test {
namespace {

using V = std::vector<int64_t>;

const Precision kPrecisions[] = {{DataType::kFloat32, "fp32", 1e-4, 1e-4},
                                 {DataType::kFloat16, "fp16", 8e-3, 1e-2},
                                 {DataType::kBFloat16, "bf16", 4e-2, 6e-2}};

struct ConvShape {
  const char* label;
  Shape x;  // NHWC
  Shape w;  // KRSC
  V strides, pads, dilations;
  int64_t group = 1;
};

const ConvShape kConvs[] = {
    {"3x3 pad 1", {2, 8, 8, 16}, {32, 3, 3, 16}, {}, {1, 1, 1, 1}, {}},
    {"3x3 stride 2", {2, 9, 9, 16}, {16, 3, 3, 16}, {2, 2}, {1, 1, 1, 1}, {}},
    {"groups 2", {1, 7, 7, 16}, {24, 3, 3, 8}, {}, {1, 1, 1, 1}, {}, 2},
    {"depthwise stride 2", {2, 10, 10, 32}, {32, 3, 3, 1}, {2, 2}, {1, 1, 1, 1}, {}, 32},
    {"7x7 stride 2 C=3 (stem)", {2, 32, 32, 3}, {16, 7, 7, 3}, {2, 2}, {3, 3, 3, 3}, {}},
    {"1x1", {2, 6, 6, 64}, {64, 1, 1, 64}, {}, {}, {}},
    {"odd C=5 K=7", {1, 9, 9, 5}, {7, 3, 3, 5}, {}, {1, 1, 1, 1}, {}},
    {"dilation 2", {1, 12, 12, 8}, {8, 3, 3, 8}, {}, {2, 2, 2, 2}, {2, 2}},
};

ir::Attributes conv_attrs(const ConvShape& c) {
  ir::Attributes a;
  a.set("channels_last", int64_t{1});
  if (!c.strides.empty()) a.set("strides", c.strides);
  if (!c.pads.empty()) a.set("pads", c.pads);
  if (!c.dilations.empty()) a.set("dilations", c.dilations);
  a.set("group", c.group);
  return a;
}

// NHWC output shape of the case (H, W from the usual window arithmetic).
Shape conv_output(const ConvShape& c) {
  Shape y{c.x[0]};
  for (size_t i = 0; i < 2; ++i) {
    int64_t s = c.strides.empty() ? 1 : c.strides[i];
    int64_t d = c.dilations.empty() ? 1 : c.dilations[i];
    int64_t p = c.pads.empty() ? 0 : c.pads[i] + c.pads[i + 2];
    y.push_back((c.x[i + 1] + p - (d * (c.w[i + 1] - 1) + 1)) / s + 1);
  }
  y.push_back(c.w[0]);
  return y;
}

GpuCase conv_case(const std::string& op, const ConvShape& c, const Precision& p,
                  const ir::Attributes& attrs, bool bias, bool residual, const std::string& what) {
  std::vector<GpuInput> ins{input(p.dtype, c.x)};
  GpuInput w = input(p.dtype, c.w, -0.5, 0.5);
  w.constant = true;
  ins.push_back(w);
  if (bias || residual) {
    GpuInput b = input(p.dtype, {c.w[0]});
    b.constant = true;
    b.omitted = !bias;
    ins.push_back(b);
  }
  if (residual) ins.push_back(input(p.dtype, conv_output(c)));
  GpuCase k = make_case(op, ins, attrs);
  k.name = cat(op, " nhwc ", p.name, " ", c.label, " x", shape_to_string(c.x), " w",
               shape_to_string(c.w), what.empty() ? "" : " " + what);
  k.rtol = p.rtol;
  k.atol = p.atol;
  return k;
}

const GpuCaseTable kConvGeometriesCases("ChannelsLastGpu.ConvGeometries", [] {
  std::vector<GpuCase> cases;
  for (const ConvShape& c : kConvs) {
    for (const Precision& p : kPrecisions) {
      cases.push_back(conv_case("Conv", c, p, conv_attrs(c), false, false, ""));
      cases.push_back(conv_case("Conv", c, p, conv_attrs(c), true, false, "bias"));
    }
  }
  return cases;
});

TEST(ChannelsLastGpu, ConvGeometries) {
  run_table(kConvGeometriesCases);
}

const GpuCaseTable kFusedConvEpiloguesCases("ChannelsLastGpu.FusedConvEpilogues", [] {
  struct Epilogue {
    ir::Activation act;
    bool bias, residual, before;
    const char* what;
  };
  // Relu/SiLU fuse into cuDNN's graph; HardSwish runs in kiln's epilogue kernel over NHWC rows,
  // with the bias and the residual it reads along C.
  const Epilogue epis[] = {
      {{ir::ActivationKind::kRelu}, true, false, true, "bias relu (cuDNN fused)"},
      {{ir::ActivationKind::kRelu}, true, true, true, "bias residual relu (cuDNN fused)"},
      {{ir::ActivationKind::kSilu}, true, true, false, "bias silu then residual"},
      {{ir::ActivationKind::kHardSwish}, true, true, true, "bias residual hardswish (kiln kernel)"},
      {{ir::ActivationKind::kHardSwish}, false, true, false, "hardswish then residual, no bias"},
      {{ir::ActivationKind::kClip, 0.0f, 6.0f}, true, false, true, "bias relu6"},
  };
  std::vector<GpuCase> cases;
  for (size_t i : {0, 3, 4, 6}) {
    const ConvShape& c = kConvs[i];
    for (const Epilogue& e : epis) {
      for (const Precision& p : kPrecisions) {
        ir::Attributes a = conv_attrs(c);
        ir::write_activation(a, e.act);
        if (e.residual) a.set("residual_before_activation", int64_t{e.before});
        cases.push_back(conv_case("FusedConv", c, p, a, e.bias, e.residual, e.what));
      }
    }
  }
  return cases;
});

TEST(ChannelsLastGpu, FusedConvEpilogues) {
  run_table(kFusedConvEpiloguesCases);
}

struct PoolShape {
  const char* label;
  Shape x;  // NHWC
  V kernel, strides, pads;
  bool ceil = false, include_pad = false;
};

const PoolShape kPools[] = {
    {"3x3 s2 p1, C=64 (vector loads)", {2, 9, 9, 64}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
    {"2x2 s2, C=3 (scalar path)", {2, 8, 6, 3}, {2, 2}, {2, 2}, {}},
    {"ceil mode, include pad, C=24", {1, 7, 7, 24}, {3, 3}, {2, 2}, {1, 1, 0, 0}, true, true},
    {"uneven pads, C=12", {3, 6, 9, 12}, {3, 2}, {1, 2}, {1, 0, 2, 1}},
};

const GpuCaseTable kWindowPoolsCases("ChannelsLastGpu.WindowPools", [] {
  std::vector<GpuCase> cases;
  for (const PoolShape& s : kPools) {
    for (const char* op : {"MaxPool", "AveragePool"}) {
      for (const Precision& p : kPrecisions) {
        ir::Attributes a;
        a.set("channels_last", int64_t{1});
        a.set("kernel_shape", s.kernel);
        if (!s.strides.empty()) a.set("strides", s.strides);
        if (!s.pads.empty()) a.set("pads", s.pads);
        if (s.ceil) a.set("ceil_mode", int64_t{1});
        if (s.include_pad && std::string(op) == "AveragePool")
          a.set("count_include_pad", int64_t{1});
        GpuCase k = make_case(op, {input(p.dtype, s.x)}, a);
        k.name = cat(op, " nhwc ", p.name, " ", s.label, " x", shape_to_string(s.x));
        cases.push_back(k);
      }
    }
  }
  // int8 MaxPool: 16 channels per vector load.
  ir::Attributes a;
  a.set("channels_last", int64_t{1});
  a.set("kernel_shape", V{3, 3});
  a.set("strides", V{2, 2});
  GpuCase k = make_case("MaxPool", {input(DataType::kInt8, {2, 9, 9, 32}, -100, 100)}, a);
  k.name = "MaxPool nhwc int8 3x3 s2, C=32 (16-wide loads)";
  cases.push_back(k);
  return cases;
});

TEST(ChannelsLastGpu, WindowPools) {
  run_table(kWindowPoolsCases);
}

const GpuCaseTable kGlobalPoolsCases("ChannelsLastGpu.GlobalPools", [] {
  std::vector<GpuCase> cases;
  const std::pair<const char*, Shape> shapes[] = {
      {"C=64 (vector loads)", {2, 7, 7, 64}},
      {"C=3 (scalar path)", {3, 5, 5, 3}},
      {"1x1 spatial, C=2048", {2, 1, 1, 2048}},
      {"C=300 (several tiles, scalar)", {2, 14, 14, 300}},
      {"C=40, many rows (spatial splits)", {4, 28, 28, 40}},
      {"batch 1, 112x112, C=32 (64 spatial splits)", {1, 112, 112, 32}},
      {"C=144 (rows of 18 groups, idle tail threads)", {2, 9, 9, 144}},
      {"C=4104 (several channel tiles, the last partial)", {2, 3, 3, 4104}},
      {"batch 8, 56x56, C=24 (narrow rows, splits)", {8, 56, 56, 24}},
  };
  for (const auto& [label, shape] : shapes) {
    for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
      for (const Precision& p : kPrecisions) {
        ir::Attributes a;
        a.set("channels_last", int64_t{1});
        GpuCase k = make_case(op, {input(p.dtype, shape)}, a);
        k.name = cat(op, " nhwc ", p.name, " ", label, " x", shape_to_string(shape));
        cases.push_back(k);
      }
    }
  }
  return cases;
});

TEST(ChannelsLastGpu, GlobalPools) {
  run_table(kGlobalPoolsCases);
}

// x -> Conv+bias -> Relu -> MaxPool -> Conv -> Add(residual) -> Relu -> GlobalAveragePool ->
// Flatten -> Gemm, in `dtype`: what a ResNet stage looks like to the layout stage.
Network small_cnn(DataType dtype, int64_t channels = 16, int64_t kernel = 3) {
  auto g = std::make_unique<ir::Graph>();
  uint32_t seed = 11;
  auto weight = [&](const std::string& name, const Shape& s) {
    return g->add_constant(name, random_tensor(dtype, s, seed++, -0.3f, 0.3f));
  };
  auto node = [&](const std::string& op, std::vector<ir::Value*> ins,
                  const ir::Attributes& a = {}) {
    ir::Value* out = g->add_value(op + std::to_string(seed++));
    ir::Node* n = g->add_node(op, out->name, std::move(ins), {out});
    for (const auto& [k, v] : a.all()) n->attrs.set(k, v);
    return out;
  };
  ir::Value* x = g->add_value("x", dtype, ir::to_sym_shape({4, channels, 14, 14}));
  g->inputs() = {x};
  ir::Attributes pad1;
  pad1.set("pads", V{1, 1, 1, 1});
  ir::Attributes pad_first;
  pad_first.set("pads", V{kernel / 2, kernel / 2, kernel / 2, kernel / 2});
  ir::Value* c1 = node(
      "Conv", {x, weight("w1", {32, channels, kernel, kernel}), weight("b1", {32})}, pad_first);
  ir::Attributes pool;
  pool.set("kernel_shape", V{3, 3});
  pool.set("strides", V{2, 2});
  pool.set("pads", V{1, 1, 1, 1});
  ir::Value* p = node("MaxPool", {node("Relu", {c1})}, pool);
  ir::Value* c2 = node("Conv", {p, weight("w2", {32, 32, 3, 3})}, pad1);
  ir::Value* r = node("Relu", {node("Add", {c2, p})});
  ir::Attributes flat;
  flat.set("axis", int64_t{1});
  ir::Value* f = node("Flatten", {node("GlobalAveragePool", {r})}, flat);
  g->outputs() = {node("Gemm", {f, weight("wf", {32, 10})})};
  ir::infer_graph(*g);
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  return Network(std::move(impl));
}

TEST(ChannelsLastGpu, EngineWithAChannelsLastRegionMatchesCpu) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  for (const Precision& p : kPrecisions) {
    Network net = small_cnn(p.dtype);
    std::map<std::string, Tensor> feeds{{"x", random_tensor(p.dtype, {4, 16, 14, 14}, 3)}};
    BuilderConfig cpu;
    cpu.optimization_level = 0;
    std::vector<double> want =
        as_doubles(build_engine(net, cpu)->create_execution_context()->execute(feeds).at(0));
    for (Layout layout : {Layout::kAuto, Layout::kNchw}) {
      BuilderConfig config;
      config.backend = Backend::kCuda;
      config.layout = layout;
      config.tf32 = false;  // the FP32 tolerance is for FP32 math, not TF32
      auto engine = build_engine(net, config);
      int64_t channels_last_convs = 0;
      for (const LayerInfo& l : engine->layers()) {
        auto it = l.attributes.find("channels_last");
        if ((l.op == "Conv" || l.op == "FusedConv") && it != l.attributes.end() &&
            it->second == "1")
          ++channels_last_convs;
      }
      EXPECT_EQ(channels_last_convs, layout == Layout::kAuto ? 2 : 0)
          << p.name << " layout " << to_string(layout);
      std::vector<double> got =
          as_doubles(engine->create_execution_context()->execute(feeds).at(0));
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 4 * (p.atol + p.rtol * std::fabs(want[i])))
            << p.name << " layout " << to_string(layout) << " element " << i;
      }
    }
  }
}

// An image-like input of 3 channels into a 7x7 stem: in 16 bits the convolution reads it
// zero-padded to a 16-byte vector of channels (pad_narrow_conv_channels), with the CPU's results.
TEST(ChannelsLastGpu, ThreeChannelInputPaddedToAVectorMatchesCpu) {
  for (const Precision& p : kPrecisions) {
    Network net = small_cnn(p.dtype, 3, 7);
    BuilderConfig config;
    config.backend = Backend::kCuda;
    config.tf32 = false;
    auto engine = build_engine(net, config);
    int pads = 0;  // a Pad layer, or one fused into the input's Rearrange
    for (const LayerInfo& l : engine->layers()) {
      auto pad = l.attributes.find("pad");
      pads += l.op == "Pad" || (l.op == "Rearrange" && pad->second != "0");
    }
    EXPECT_EQ(pads, p.dtype == DataType::kFloat32 ? 0 : 1) << p.name;
    if (!gpu_available()) continue;
    std::map<std::string, Tensor> feeds{{"x", random_tensor(p.dtype, {4, 3, 14, 14}, 3)}};
    BuilderConfig cpu;
    std::vector<double> want =
        as_doubles(build_engine(net, cpu)->create_execution_context()->execute(feeds).at(0));
    std::vector<double> got = as_doubles(engine->create_execution_context()->execute(feeds).at(0));
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(got[i], want[i], 4 * (p.atol + p.rtol * std::fabs(want[i])))
          << p.name << " element " << i;
    }
  }
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device (the builds and their layers were checked)";
}

}  // namespace
}  // namespace kiln::test
