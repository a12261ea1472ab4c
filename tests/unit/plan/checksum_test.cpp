// XXH64 against reference values computed with the official libxxhash.
#include "plan/checksum.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kiln::plan {
namespace {

uint64_t hash(const std::vector<uint8_t>& v, uint64_t seed = 0) {
  return xxhash64(v, seed);
}

std::vector<uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

TEST(Checksum, MatchesReferenceXxh64) {
  EXPECT_EQ(hash({}), 0xef46db3751d8e999ULL);
  EXPECT_EQ(hash(bytes("a")), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(hash(bytes("abc")), 0x44bc2cf5ad770999ULL);
  // Long input (the 32-byte stripe loop plus every tail size) and a non-zero seed.
  std::vector<uint8_t> long_input;
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 256; ++i) long_input.push_back(static_cast<uint8_t>(i));
  }
  for (char c : std::string("xyz")) long_input.push_back(static_cast<uint8_t>(c));
  EXPECT_EQ(hash(long_input), 0xe921a1b45bd779f8ULL);
  std::vector<uint8_t> hundred;
  for (int i = 0; i < 100; ++i) hundred.push_back(static_cast<uint8_t>(i));
  EXPECT_EQ(hash(hundred, 12345), 0x28ba1ae2de4de27ULL);
}

TEST(Checksum, UnalignedInputGivesSameHash) {
  std::vector<uint8_t> buf(200);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 7);
  uint64_t aligned = xxhash64(std::span<const uint8_t>(buf).subspan(8, 100));
  std::vector<uint8_t> shifted(buf.begin() + 7, buf.end());
  EXPECT_EQ(xxhash64(std::span<const uint8_t>(shifted).subspan(1, 100)), aligned);
}

}  // namespace
}  // namespace kiln::plan
