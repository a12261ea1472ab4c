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

#include "ir/activation_math.hpp"
#include "ir/attribute.hpp"

namespace kiln::ir {

struct OpSchema;

// The op whose Pointwise instruction `op` is (OpTraits::pointwise); nullptr for kConst or a number
// no op lowers to.
const OpSchema* op_lowering_to(PointwiseOpcode op);
// How many registers the opcode reads (0 for kConst), or nullopt for a number that is no opcode:
// one no op of the op table lowers to (OpTraits::pointwise).
std::optional<int> pointwise_arity(int64_t opcode);
// The op's name ("Mul"; "Gelu(approximate=tanh)" for an attribute's variant), from the op table.
std::string pointwise_opcode_name(PointwiseOpcode op);

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
