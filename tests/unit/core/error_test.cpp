// The public error helpers (kiln/error.hpp): cat writes its parts as a stream does, fail throws
// an Error with the code and the concatenated message.
#include <gtest/gtest.h>

#include "kiln/error.hpp"

namespace kiln {
namespace {

TEST(PublicError, CatWritesPartsInOrder) {
  EXPECT_EQ(cat("input '", std::string("x"), "' has ", 3, " dims, scale ", 0.5),
            "input 'x' has 3 dims, scale 0.5");
  EXPECT_EQ(cat(), "");
}

TEST(PublicError, FailThrowsTheCodeAndMessage) {
  try {
    fail(ErrorCode::kUnsupported, "op '", "Foo", "' at ", 2);
    FAIL() << "fail returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_STREQ(e.what(), "op 'Foo' at 2");
  }
  EXPECT_THROW(fail(ErrorCode::kIo, "x"), std::runtime_error);  // Error is a runtime_error
  EXPECT_EQ(to_string(ErrorCode::kInvalidPlan), "invalid plan");
}

}  // namespace
}  // namespace kiln
