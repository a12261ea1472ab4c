// Long values in messages: `quoted` and `shorten_quoted_parts` themselves, then the CLI's errors
// and reports for a model with a 100 KB attribute value and a 100 KB name given on the command
// line, which used to be echoed in full.
#include "quote.hpp"

#include <gtest/gtest.h>

#include <string>

#include "unit/temp_dir_util.hpp"
#include "unit/tools/kiln/cli_test_util.hpp"

namespace kiln::test {
namespace {

using tools::quote;
using tools::shorten_quoted_parts;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Quote, ShortTextIsQuotedWhole) {
  EXPECT_EQ(quote("conv_1"), "'conv_1'");
  EXPECT_EQ(quote(""), "''");
  EXPECT_EQ(quote(std::string(200, 'a')), "'" + std::string(200, 'a') + "'");
}

TEST(Quote, LongTextIsCutWithItsLength) {
  EXPECT_EQ(quote(std::string(100000, 'a')), "'" + std::string(200, 'a') + "...' (100000 bytes)");
  EXPECT_EQ(quote("abcdef", 3), "'abc...' (6 bytes)");
  // Never inside a UTF-8 sequence: "é" is two bytes.
  EXPECT_EQ(quote("aé", 2), "'a...' (3 bytes)");
  // Control characters cannot reach the terminal.
  EXPECT_EQ(quote("a\nb\x1b[2J"), "'a?b?[2J'");
}

TEST(Quote, MessagesKeepShortQuotesAndCutLongOnes) {
  EXPECT_EQ(shorten_quoted_parts("node 'a' (Gelu): attribute 'x' is 'y'"),
            "node 'a' (Gelu): attribute 'x' is 'y'");
  std::string message = "attribute 'approximate' is '" + std::string(100000, 'z') +
                        "'; it must be one of 'none', 'tanh'";
  EXPECT_EQ(shorten_quoted_parts(message),
            "attribute 'approximate' is '" + std::string(200, 'z') +
                "...' (100000 bytes); it must be one of 'none', 'tanh'");
  // An apostrophe is not a quote mark: the long value after it is still cut.
  EXPECT_EQ(shorten_quoted_parts("the input's value '" + std::string(300, 'v') + "' is bad"),
            "the input's value '" + std::string(200, 'v') + "...' (300 bytes) is bad");
  EXPECT_EQ(shorten_quoted_parts("unpaired 'quote"), "unpaired 'quote");
  EXPECT_EQ(shorten_quoted_parts("no quotes"), "no quotes");
  EXPECT_EQ(shorten_quoted_parts(""), "");
}

// A Gelu whose 'approximate' attribute is 100 KB long: kiln cannot import it.
::onnx::ModelProto long_attribute_model() {
  auto x = value_info("x", ::onnx::TensorProto::FLOAT, {2, 3});
  auto y = value_info("y", ::onnx::TensorProto::FLOAT, {2, 3});
  ::onnx::NodeProto gelu = make_node("Gelu", {"x"}, {"y"}, "gelu");
  auto* a = gelu.add_attribute();
  a->set_name("approximate");
  a->set_type(::onnx::AttributeProto::STRING);
  a->set_s(std::string(100000, 'q'));
  return make_model({gelu}, {x}, {y}, {}, 20);
}

class LongValues : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(LongValues, ErrorsQuoteAnAttributeValueInPart) {
  std::string model = dir_.file("gelu.onnx");
  write_model(model, long_attribute_model());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"build", model, "-o", dir_.file("gelu.plan")},
        std::vector<std::string>{"inspect", model}, std::vector<std::string>{"run", model}}) {
    CliResult r = run_kiln(args);
    EXPECT_EQ(r.code, 1) << args[0] << ": " << r.err.substr(0, 500);
    EXPECT_TRUE(contains(r.err, "'approximate'")) << args[0] << ": " << r.err.substr(0, 500);
    EXPECT_TRUE(contains(r.err, "...' (100000 bytes)")) << args[0] << ": " << r.err.substr(0, 500);
    EXPECT_LT(r.err.size(), 2000u) << args[0];
  }
  // surgeon inspect reports the import failure as a line of its report.
  CliResult r = run_kiln({"surgeon", "inspect", model});
  EXPECT_EQ(r.code, 0) << r.err.substr(0, 500);
  EXPECT_TRUE(contains(r.out, "kiln import:  fails:")) << r.out.substr(0, 2000);
  EXPECT_TRUE(contains(r.out, "(100000 bytes)")) << r.out.substr(0, 2000);
  EXPECT_LT(r.out.size(), 3000u);
  CliResult j = run_kiln({"surgeon", "inspect", model, "--json"});
  EXPECT_TRUE(contains(j.out, "(100000 bytes)")) << j.out.substr(0, 2000);
  EXPECT_LT(j.out.size(), 3000u);
}

TEST_F(LongValues, ErrorsQuoteALongCommandLineValueInPart) {
  std::string model = dir_.file("pass.onnx");
  write_model(model, passthrough_model());
  std::string name(100000, 'n');
  CliResult r = run_kiln({"run", model, "--input", name + "=x.npy"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "which is not an input of the model")) << r.err.substr(0, 500);
  EXPECT_LT(r.err.size(), 1000u);
  CliResult usage = run_kiln({"bench", model, "--duration", std::string(100000, '9')});
  EXPECT_EQ(usage.code, 2);
  EXPECT_TRUE(contains(usage.err, "(100000 bytes)")) << usage.err.substr(0, 500);
  EXPECT_LT(usage.err.size(), 1000u);
}

}  // namespace
}  // namespace kiln::test
