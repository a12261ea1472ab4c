// Fuzz target: plan file bytes -> Engine::deserialize -> execution context -> one run on zero
// inputs, and a loaded engine must serialize to a plan that loads again. The input's file-size
// field and checksum are recomputed first: otherwise almost every mutation would stop at the
// checksum, and the reader's structure, index and size checks behind it would go unexplored (the
// checksum test itself is covered by the unit tests).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "fuzz_engine.hpp"
#include "plan/plan_header.hpp"

namespace {

constexpr size_t kFileSizeOffset = 88;

void seal_as_complete_file(std::vector<uint8_t>& file) {
  if (file.size() < kiln::plan::kHeaderSize) return;
  uint64_t size = file.size();
  for (size_t i = 0; i < 8; ++i) file[kFileSizeOffset + i] = static_cast<uint8_t>(size >> (8 * i));
  kiln::plan::seal(file);
}

std::string_view as_chars(const std::vector<uint8_t>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  kiln::fuzz::prepare_kiln_for_fuzzing();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> file(data, data + size);
  seal_as_complete_file(file);
  std::unique_ptr<kiln::Engine> engine;
  try {
    engine = kiln::Engine::deserialize(as_chars(file));
  } catch (const kiln::Error&) {
    return 0;
  }
  kiln::fuzz::run_once_on_zeros(*engine);
  // What the reader accepted, the writer must write back in a form the reader accepts.
  try {
    kiln::Engine::deserialize(as_chars(engine->serialize()));
  } catch (const kiln::Error& e) {
    fprintf(stderr, "a loaded plan does not survive serialize + deserialize: %s\n", e.what());
    abort();
  }
  return 0;
}
