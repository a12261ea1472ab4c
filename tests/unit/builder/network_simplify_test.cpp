// simplify_network: folds constant layers into constants (their data readable), removes no-ops
// and duplicates (reporting the reads it redirected) and dead layers, keeping what every
// surviving tensor name means.
#include <gtest/gtest.h>

#include "kiln/simplify.hpp"

namespace kiln {
namespace {

std::vector<std::string> layer_outputs(const Network& net) {
  std::vector<std::string> out;
  for (const TensorDesc& t : net.tensors()) {
    if (!net.constant(t.name) && t.name != "x") out.push_back(t.name);
  }
  return out;
}

TEST(SimplifyNetwork, FoldsConstantLayersIntoConstants) {
  Network net;
  net.add_input("x", DataType::kFloat32, {3});
  net.add_constant("c", Tensor::from_vector(DataType::kFloat32, {3}, std::vector<float>{1, 2, 3}));
  net.add_layer("Neg", {"c"}, {}, "minus_c");
  net.mark_output(net.add_layer("Add", {"x", "minus_c"}, {}, "y")[0]);
  SimplifyReport r = simplify_network(net);
  EXPECT_EQ(r.layers_before, 2u);
  EXPECT_EQ(r.layers_after, 1u);
  std::optional<Tensor> folded = net.constant("minus_c");
  ASSERT_TRUE(folded);
  EXPECT_EQ(std::vector<float>(folded->data<float>(), folded->data<float>() + 3),
            (std::vector<float>{-1, -2, -3}));
  EXPECT_TRUE(r.redirected_reads.empty());  // Add still reads minus_c, now a constant
}

TEST(SimplifyNetwork, RedirectsReadsOfNoOpsAndDuplicates) {
  Network net;
  net.add_input("x", DataType::kFloat32, {2});
  net.add_layer("Identity", {"x"}, {}, "same");
  net.add_layer("Relu", {"same"}, {}, "r1");
  net.add_layer("Relu", {"same"}, {}, "r2");  // computes what r1 does
  net.add_layer("Exp", {"x"}, {}, "unused");  // nothing reads it
  net.mark_output(net.add_layer("Add", {"r1", "r2"}, {}, "y")[0]);
  SimplifyReport r = simplify_network(net);
  EXPECT_EQ(r.layers_before, 5u);
  EXPECT_EQ(r.layers_after, 2u);  // one Relu, the Add
  EXPECT_EQ(layer_outputs(net), (std::vector<std::string>{"r1", "y"}));
  // The surviving Relu read the Identity's output and now reads x; the Add reads r1 twice.
  std::vector<std::pair<std::string, std::string>> want = {{"same", "x"}, {"r2", "r1"}};
  EXPECT_EQ(r.redirected_reads, want);
  // Still a working network with the same output.
  auto engine = build_engine(net, BuilderConfig{});
  Tensor x = Tensor::from_vector(DataType::kFloat32, {2}, std::vector<float>{-1, 2});
  Tensor y = engine->create_execution_context()->execute({{"x", x}})[0];
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 2), (std::vector<float>{0, 4}));
}

}  // namespace
}  // namespace kiln
