// Pointwise kernels compiled at build time into the plan (no GPU needed: NVRTC compiles for
// Hopper): a CUDA build stores each Pointwise layer's cubin with its architecture and source
// hash, the plan keeps them, and a context takes a stored cubin only for the same architecture
// and source. A layer pinned to the interpreter gets none.
#include "backends/cuda/pointwise_prebuilt.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::cuda {
namespace {

// x -> Relu -> Sigmoid -> Tanh -> y: one Pointwise layer after fusion.
Network chain() {
  Network net;
  std::string x = net.add_input("x", DataType::kFloat32, {4, 8});
  std::string a = net.add_layer("Relu", {x})[0];
  std::string b = net.add_layer("Sigmoid", {a})[0];
  net.mark_output(net.add_layer("Tanh", {b})[0]);
  return net;
}

const ir::Node* pointwise_layer(const Engine& engine) {
  for (const auto& n : engine.impl().graph->nodes()) {
    if (n->op == "Pointwise") return n.get();
  }
  return nullptr;
}

// A CUDA build of `net` (on a machine without a GPU, its kernels are compiled for Hopper).
std::unique_ptr<Engine> cuda_build(const Network& net,
                                   std::map<std::string, std::string> tactics = {}) {
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.tactics = std::move(tactics);
  return build_engine(net, config);
}

TEST(PointwisePrebuilt, CudaBuildStoresTheKernelAndThePlanKeepsIt) {
  if (!backend_built(Backend::kCuda)) GTEST_SKIP() << "this build has no CUDA backend";
  std::unique_ptr<Engine> engine = cuda_build(chain());
  const ir::Node* layer = pointwise_layer(*engine);
  ASSERT_NE(layer, nullptr);
  ASSERT_TRUE(layer->attrs.has(kPointwiseCubinAttr));
  const int arch = static_cast<int>(layer->attrs.get_int(kPointwiseCubinArchAttr, 0));
  EXPECT_GE(arch, 70);
  const std::string source = pointwise_layer_source(*layer);
  std::optional<std::vector<char>> cubin = stored_pointwise_cubin(*layer, source, arch);
  ASSERT_TRUE(cubin.has_value());
  EXPECT_GT(cubin->size(), 100u);
  EXPECT_FALSE(stored_pointwise_cubin(*layer, source, arch + 1).has_value());     // another GPU
  EXPECT_FALSE(stored_pointwise_cubin(*layer, source + "\n", arch).has_value());  // other code

  std::vector<uint8_t> plan = engine->serialize();
  auto loaded = Engine::deserialize({reinterpret_cast<const char*>(plan.data()), plan.size()});
  const ir::Node* reloaded = pointwise_layer(*loaded);
  ASSERT_NE(reloaded, nullptr);
  std::optional<std::vector<char>> kept = stored_pointwise_cubin(*reloaded, source, arch);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(*kept, *cubin);
}

// Four Pointwise layers of different programs, separated by Softmax (which does not fuse): the
// build compiles the four programs on parallel threads.
Network four_programs() {
  Network net;
  std::string y = net.add_input("x", DataType::kFloat32, {4, 8});
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"Relu", "Sigmoid"}, {"Tanh", "Neg"}, {"Abs", "Sqrt"}, {"Exp", "Softsign"}};
  for (const auto& [first, second] : pairs) {
    y = net.add_layer(first, {y})[0];
    y = net.add_layer(second, {y})[0];
    y = net.add_layer("Softmax", {y})[0];
  }
  net.mark_output(y);
  return net;
}

TEST(PointwisePrebuilt, DistinctProgramsCompiledAtOnceEachGetTheirOwnKernel) {
  if (!backend_built(Backend::kCuda)) GTEST_SKIP() << "this build has no CUDA backend";
  std::unique_ptr<Engine> engine = cuda_build(four_programs());
  std::set<std::string> sources;
  std::set<std::vector<char>> kernels;
  for (const auto& n : engine->impl().graph->nodes()) {
    if (n->op != "Pointwise") continue;
    ASSERT_TRUE(n->attrs.has(kPointwiseCubinAttr)) << n->describe();
    const int arch = static_cast<int>(n->attrs.get_int(kPointwiseCubinArchAttr, 0));
    const std::string source = pointwise_layer_source(*n);
    std::optional<std::vector<char>> cubin = stored_pointwise_cubin(*n, source, arch);
    ASSERT_TRUE(cubin.has_value()) << n->describe();
    sources.insert(source);
    kernels.insert(*cubin);
  }
  EXPECT_EQ(sources.size(), 4u);
  EXPECT_EQ(kernels.size(), 4u);  // each program its own kernel, none swapped or shared
}

TEST(PointwisePrebuilt, InterpretedLayersGetNoKernel) {
  if (!backend_built(Backend::kCuda)) GTEST_SKIP() << "this build has no CUDA backend";
  std::unique_ptr<Engine> engine = cuda_build(chain(), {{"Pointwise", "interpret"}});
  const ir::Node* layer = pointwise_layer(*engine);
  ASSERT_NE(layer, nullptr);
  EXPECT_FALSE(layer->attrs.has(kPointwiseCubinAttr));
}

}  // namespace
}  // namespace kiln::cuda
