// What the engine fuzz targets share: kiln set up for hostile input (quiet, small size limits,
// one thread) and one bounded run of an engine on zero-filled inputs.
#pragma once

#include "kiln/kiln.hpp"

namespace kiln::fuzz {

// The largest tensor a fuzz input may make kiln allocate. Real seeds stay far below it; anything
// bigger must be refused with an Error (kiln::set_tensor_byte_limit), not attempted.
constexpr uint64_t kFuzzTensorByteLimit = uint64_t{32} << 20;

// Call once before the first input: silences kiln's log, sets the tensor byte limit and runs
// kernels on one thread (the fuzzer runs one input at a time; threads only add noise).
void prepare_kiln_for_fuzzing();

// Creates an execution context and, when every input is small, runs the engine once on zeros
// (dims fixed only at run time taken as 1). kiln::Error from either step is a valid outcome and
// is swallowed; any other exception propagates, so the fuzzer reports it.
void run_once_on_zeros(const Engine& engine);

}  // namespace kiln::fuzz
