// --tactic and --disable-pass: the parsers, and the flags reaching the builder through
// `kiln build` (an unknown pass is a usage error naming it).
#include "pipeline_options.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

using tools::parse_tactics;

TEST(PipelineOptions, TacticsSplitAtTheLastEquals) {
  auto t = parse_tactics({"ScaledDotProductAttention=gemm", "a=b=flash", "x=y", "x=y"});
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t["ScaledDotProductAttention"], "gemm");
  EXPECT_EQ(t["a=b"], "flash");  // layer names may hold '='
  EXPECT_EQ(t["x"], "y");
}

TEST(PipelineOptions, MalformedTacticsAreRefused) {
  for (const char* bad : {"gemm", "=gemm", "Softmax=", ""}) {
    try {
      parse_tactics({bad});
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("LAYER_OR_OP=TACTIC"), std::string::npos) << e.what();
    }
  }
  try {
    parse_tactics({"Softmax=a", "Softmax=b"});
    ADD_FAILURE() << "accepted a key pinned twice";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
  }
}

class PipelineFlags : public PassthroughModelTest {};

TEST_F(PipelineFlags, BuildRefusesAnUnknownPassByName) {
  CliResult r = run_kiln({"build", model_, "-o", (dir_.path() / "m.plan").string(),
                          "--disable-pass", "fuse_everything"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("cannot disable pass 'fuse_everything'"), std::string::npos) << r.err;
}

TEST_F(PipelineFlags, BuildTakesAKnownPass) {
  CliResult r = run_kiln({"build", model_, "-o", (dir_.path() / "m.plan").string(),
                          "--disable-pass", "fuse_pointwise", "--disable-pass", "fold_constants"});
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST_F(PipelineFlags, TacticForNoLayerIsAnError) {
  // The passthrough model has no layers, so no key can match.
  CliResult r =
      run_kiln({"build", model_, "-o", (dir_.path() / "m.plan").string(), "--tactic", "Relu=x"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("no layer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kiln::test
