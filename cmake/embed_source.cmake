# Writes the text of the source file IN into OUT as a C++ raw string literal, for code that hands
# kiln's own headers to a compiler at run time: backends/cuda/pointwise_codegen.cpp gives NVRTC the
# formulas of ir/activation_math.hpp and what they need. The header's `#pragma once` and its
# includes of kiln headers are left out: the code puts those headers' text first itself.
# Run as: cmake -DIN=... -DOUT=... -P embed_source.cmake
file(READ "${IN}" text)
string(REPLACE "#pragma once" "" text "${text}")
string(REGEX REPLACE "#include \"[^\"]*\"" "" text "${text}")
file(WRITE "${OUT}" "R\"kiln_source(${text})kiln_source\"\n")
