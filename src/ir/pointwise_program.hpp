// The program a `Pointwise` layer runs: a straight-line list of elementwise instructions over the
// layer's inputs, evaluated once per output element. Backends interpret it (CPU) or generate one
// kernel from it (CUDA, NVRTC), so the format is deliberately small.
//
// Format. A program works on numbered registers, each holding one value of the layer's compute
// type (float for float16/bfloat16 layers, the element type otherwise):
//   - registers 0 .. num_inputs-1 hold the layer's inputs, read at the element's position with
//     numpy broadcasting to the output shape;
//   - instruction i writes register num_inputs + i (static single assignment: each register is
//     written once, and an instruction reads only registers written before it);
//   - `outputs[k]` names the register layer output k is stored from; every output has the layer's
//     full (broadcast) shape.
// An instruction is (opcode, a, b, c): a, b, c are the registers the op reads (unused ones are
// -1), except for kConst, whose `a` indexes the `constants` list. Ops with parameters (LeakyRelu's
// alpha, Clip's bounds) read them from registers, usually kConst ones, so every instruction has
// the same shape. For float16/bfloat16 layers each instruction's result is rounded to the element
// type, exactly as the unfused ops round their outputs, so fusing never changes the result.
//
// In the IR, a Pointwise node stores the program in three attributes: `code` (ints: 4 per
// instruction), `constants` (floats) and `outputs` (ints).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/attribute.hpp"

namespace kiln::ir {

// The formula of each opcode is the one its ONNX op's CPU kernel computes.
enum class PointwiseOpcode : int64_t {
  kConst = 0,  // constants[a]
  // Unary: op(a).
  kNeg = 1,
  kAbs = 2,
  kExp = 3,
  kLog = 4,
  kSqrt = 5,
  kReciprocal = 6,
  kErf = 7,
  kTanh = 8,
  kSigmoid = 9,
  kRelu = 10,
  kFloor = 11,
  kCeil = 12,
  kRound = 13,
  kSin = 14,
  kCos = 15,
  kGelu = 16,      // Gelu, approximate="none"
  kGeluTanh = 17,  // Gelu, approximate="tanh"
  kSoftplus = 18,
  kSoftsign = 19,
  kMish = 20,
  kHardSwish = 21,
  // Binary: op(a, b).
  kAdd = 32,
  kSub = 33,
  kMul = 34,
  kDiv = 35,
  kPow = 36,
  kMax = 37,  // NaN-propagating, like ONNX Max
  kMin = 38,
  kLeakyRelu = 39,        // (x, alpha)
  kElu = 40,              // (x, alpha)
  kCelu = 41,             // (x, alpha)
  kThresholdedRelu = 42,  // (x, alpha)
  kPRelu = 43,            // (x, slope)
  // Ternary: op(a, b, c).
  kClip = 64,         // (x, min, max)
  kHardSigmoid = 65,  // (x, alpha, beta)
  kSelu = 66,         // (x, alpha, gamma)
};

// How many registers the opcode reads (0 for kConst), or nullopt for a number that is no opcode.
std::optional<int> pointwise_arity(int64_t opcode);
const char* pointwise_opcode_name(PointwiseOpcode op);

struct PointwiseInstruction {
  PointwiseOpcode op = PointwiseOpcode::kConst;
  int64_t a = -1, b = -1, c = -1;
};

struct PointwiseProgram {
  int64_t num_inputs = 0;
  std::vector<PointwiseInstruction> code;
  std::vector<float> constants;
  std::vector<int64_t> outputs;

  int64_t num_registers() const { return num_inputs + static_cast<int64_t>(code.size()); }
  // Appends an instruction and returns the register it writes.
  int64_t emit(PointwiseOpcode op, int64_t a = -1, int64_t b = -1, int64_t c = -1);
  // Appends a kConst instruction for `value` and returns its register.
  int64_t emit_constant(float value);

  void store(Attributes& attrs) const;
  // Reads and checks a program (register references, opcodes, outputs) for a node with
  // `num_inputs` inputs and `num_outputs` outputs; throws kInvalidModel naming `owner` otherwise.
  static PointwiseProgram load(const Attributes& attrs, int64_t num_inputs, int64_t num_outputs,
                               const std::string& owner);

  // Human-readable form, one instruction per line: "r3 = Mul r0 r2".
  std::string to_string() const;
};

}  // namespace kiln::ir
