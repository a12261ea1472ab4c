// Helpers for tests that feed kiln hostile input: a scoped tensor size limit, a guard that keeps a
// test of FIFO handling from hanging, and a check that a call fails with one clean kiln::Error of
// the right code whose message names what is wrong.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <thread>

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

// While alive, releases any reader blocked opening the FIFO at `path` (after a grace period, by
// opening it for writing), so a test of code that must never block on a FIFO fails instead of
// hanging when that code does block.
class FifoUnblocker {
 public:
  explicit FifoUnblocker(std::string path)
      : path_(std::move(path)), thread_([this] {
          for (int i = 0; i < 20 && !done_; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          while (!done_) {
            int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);
            if (fd >= 0) ::close(fd);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        }) {}
  ~FifoUnblocker() {
    done_ = true;
    thread_.join();
  }
  FifoUnblocker(const FifoUnblocker&) = delete;
  FifoUnblocker& operator=(const FifoUnblocker&) = delete;

 private:
  std::string path_;
  std::atomic<bool> done_{false};
  std::thread thread_;
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
