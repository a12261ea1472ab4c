// Timing cache: round trip through its file format, eviction at the bound, and refusal of
// malformed or hostile files with a message naming the file and line.
#include "builder/timing_cache.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kiln/types.hpp"

namespace kiln {
namespace {

std::string parse_error(const std::string& text) {
  try {
    TimingCache::parse(text, "cache.txt");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    return e.what();
  }
  return "";
}

TEST(TimingCache, RoundTripsThroughText) {
  TimingCache c;
  c.put("Conv f16 x1,64,56,56|H100|kiln 0.1.0", {"fused.eng12.0", 0.0125});
  c.put("gemm f32 m7 n5 k13", {"lt00ff", 3.5});
  TimingCache back = TimingCache::parse(c.serialize(), "mem");
  EXPECT_EQ(back.size(), 2u);
  auto e = back.find("Conv f16 x1,64,56,56|H100|kiln 0.1.0");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->tactic, "fused.eng12.0");
  EXPECT_NEAR(e->time_ms, 0.0125, 1e-9);
  EXPECT_FALSE(back.find("missing"));
}

TEST(TimingCache, ReplacesAnEntryAndEvictsTheOldestPastTheBound) {
  TimingCache c;
  c.put("k", {"a", 1});
  c.put("k", {"b", 2});
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.find("k")->tactic, "b");
  for (size_t i = 0; i < TimingCache::kMaxEntries; ++i) c.put("key" + std::to_string(i), {"t", 1});
  EXPECT_EQ(c.size(), TimingCache::kMaxEntries);
  EXPECT_FALSE(c.find("k"));  // the oldest went
  EXPECT_TRUE(c.find("key0"));
}

TEST(TimingCache, RefusesUnstorableEntries) {
  TimingCache c;
  EXPECT_THROW(c.put("a\tb", {"t", 1}), Error);
  EXPECT_THROW(c.put("k", {"", 1}), Error);
  EXPECT_THROW(c.put("k", {"t", -1}), Error);
}

TEST(TimingCache, RejectsMalformedFiles) {
  EXPECT_NE(parse_error("").find("empty"), std::string::npos);
  EXPECT_NE(parse_error("some other file\n").find("line 1"), std::string::npos);
  const std::string header = "kiln-timing-cache 1\n";
  EXPECT_NE(parse_error(header + "key\ttactic\n").find("line 2: expected 3"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\ttactic\t1\textra\n").find("line 2"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\ttactic\tinf\n").find("not a finite"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\ttactic\t-1\n").find("not a finite"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\ttactic\t0x10\n").find("not a finite"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\ttactic\t1.5abc\n").find("not a finite"), std::string::npos);
  EXPECT_NE(parse_error(header + "\ttactic\t1\n").find("key"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\tta\x01\t1\n").find("tactic name"), std::string::npos);
  EXPECT_NE(parse_error(header + "key\ttactic\t1").find("cut off"), std::string::npos);
  EXPECT_NE(parse_error(header + std::string(5000, 'k') + "\tt\t1\n").find("too long"),
            std::string::npos);
  EXPECT_NE(parse_error(std::string(TimingCache::kMaxFileBytes + 1, 'x')).find("bytes"),
            std::string::npos);
  EXPECT_EQ(parse_error(header + "key\ttactic\t1e-3\n"), "");
}

TEST(TimingCache, SavesAndLoadsAFile) {
  auto path = std::filesystem::temp_directory_path() / "kiln_timing_cache_test.txt";
  std::filesystem::remove(path);
  EXPECT_EQ(TimingCache::load(path.string()).size(), 0u);  // absent: empty
  TimingCache c;
  c.put("MatMul sig", {"lt0123", 0.5});
  c.save(path.string());
  TimingCache back = TimingCache::load(path.string());
  ASSERT_TRUE(back.find("MatMul sig"));
  EXPECT_EQ(back.find("MatMul sig")->tactic, "lt0123");
  {
    std::ofstream f(path, std::ios::trunc);
    f << "garbage";
  }
  try {
    TimingCache::load(path.string());
    ADD_FAILURE() << "a corrupt cache loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kiln
