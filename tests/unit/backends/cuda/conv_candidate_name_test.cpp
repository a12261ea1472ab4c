// The convolution tactic names a plan records ("<kind>.eng<engine>.<ordinal>") parse back into
// their parts, so loading a plan finalizes only that engine's configs; anything else is refused
// (the full candidate search then runs). Host only: runs without a GPU.
#include <gtest/gtest.h>

#include "backends/cuda/conv_graph.hpp"

namespace kiln::cuda {
namespace {

TEST(ConvCandidateName, ParsesTheNamesCandidatesGet) {
  auto c = parse_candidate_name("fused-ra.eng12.3");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, "fused-ra");
  EXPECT_EQ(c->engine, 12);
  EXPECT_EQ(c->ordinal, 3);
  c = parse_candidate_name("conv.eng0.0");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, "conv");
  EXPECT_EQ(c->engine, 0);
  EXPECT_EQ(c->ordinal, 0);
}

TEST(ConvCandidateName, RefusesOtherStrings) {
  for (const char* bad : {"", "conv", "conv.eng", "conv.eng1", "conv.eng1.", "conv.engx.1",
                          "conv.eng1.y", "conv.eng-1.0", "conv.eng1.-2", "conv.eng1.2x"}) {
    EXPECT_FALSE(parse_candidate_name(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace kiln::cuda
