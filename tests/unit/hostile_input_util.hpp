// Helpers for tests that feed kiln hostile sizes: a scoped tensor size limit, and a check that a
// call fails with one clean kiln::Error of the right code whose message names what is wrong.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "kiln/tensor.hpp"

namespace kiln::test {

// Lowers (or raises) the tensor size limit for one test and restores it afterwards, so a test can
// reach the limit with small tensors.
class ScopedTensorByteLimit {
 public:
  explicit ScopedTensorByteLimit(uint64_t bytes) : saved_(tensor_byte_limit()) {
    set_tensor_byte_limit(bytes);
  }
  ~ScopedTensorByteLimit() { set_tensor_byte_limit(saved_); }
  ScopedTensorByteLimit(const ScopedTensorByteLimit&) = delete;
  ScopedTensorByteLimit& operator=(const ScopedTensorByteLimit&) = delete;

 private:
  uint64_t saved_;
};

// Runs `fn`, expecting a kiln::Error with `code` whose message contains every one of `parts`.
// Returns the message ("" when nothing or something else was thrown, which fails the test).
template <typename Fn>
std::string expect_error(Fn fn, ErrorCode code, std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_EQ(e.code(), code) << message;
    for (const std::string& p : parts) {
      EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' missing from: " << message;
    }
    return message;
  }
  ADD_FAILURE() << "expected a kiln::Error";
  return "";
}

}  // namespace kiln::test
