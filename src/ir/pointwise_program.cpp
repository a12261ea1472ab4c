// Pointwise programs: opcode table, (de)serialization to node attributes, and validation.
#include "ir/pointwise_program.hpp"

#include <cmath>

#include "core/error.hpp"

namespace kiln::ir {
namespace {

struct OpcodeInfo {
  PointwiseOpcode op;
  const char* name;
  int arity;
};

constexpr OpcodeInfo kOpcodes[] = {
    {PointwiseOpcode::kConst, "Const", 0},
    {PointwiseOpcode::kNeg, "Neg", 1},
    {PointwiseOpcode::kAbs, "Abs", 1},
    {PointwiseOpcode::kExp, "Exp", 1},
    {PointwiseOpcode::kLog, "Log", 1},
    {PointwiseOpcode::kSqrt, "Sqrt", 1},
    {PointwiseOpcode::kReciprocal, "Reciprocal", 1},
    {PointwiseOpcode::kErf, "Erf", 1},
    {PointwiseOpcode::kTanh, "Tanh", 1},
    {PointwiseOpcode::kSigmoid, "Sigmoid", 1},
    {PointwiseOpcode::kRelu, "Relu", 1},
    {PointwiseOpcode::kFloor, "Floor", 1},
    {PointwiseOpcode::kCeil, "Ceil", 1},
    {PointwiseOpcode::kRound, "Round", 1},
    {PointwiseOpcode::kSin, "Sin", 1},
    {PointwiseOpcode::kCos, "Cos", 1},
    {PointwiseOpcode::kGelu, "Gelu", 1},
    {PointwiseOpcode::kGeluTanh, "GeluTanh", 1},
    {PointwiseOpcode::kSoftplus, "Softplus", 1},
    {PointwiseOpcode::kSoftsign, "Softsign", 1},
    {PointwiseOpcode::kMish, "Mish", 1},
    {PointwiseOpcode::kHardSwish, "HardSwish", 1},
    {PointwiseOpcode::kAdd, "Add", 2},
    {PointwiseOpcode::kSub, "Sub", 2},
    {PointwiseOpcode::kMul, "Mul", 2},
    {PointwiseOpcode::kDiv, "Div", 2},
    {PointwiseOpcode::kPow, "Pow", 2},
    {PointwiseOpcode::kMax, "Max", 2},
    {PointwiseOpcode::kMin, "Min", 2},
    {PointwiseOpcode::kLeakyRelu, "LeakyRelu", 2},
    {PointwiseOpcode::kElu, "Elu", 2},
    {PointwiseOpcode::kCelu, "Celu", 2},
    {PointwiseOpcode::kThresholdedRelu, "ThresholdedRelu", 2},
    {PointwiseOpcode::kPRelu, "PRelu", 2},
    {PointwiseOpcode::kClip, "Clip", 3},
    {PointwiseOpcode::kHardSigmoid, "HardSigmoid", 3},
    {PointwiseOpcode::kSelu, "Selu", 3},
};

const OpcodeInfo* find_opcode(int64_t code) {
  for (const OpcodeInfo& info : kOpcodes) {
    if (static_cast<int64_t>(info.op) == code) return &info;
  }
  return nullptr;
}

}  // namespace

std::optional<int> pointwise_arity(int64_t opcode) {
  const OpcodeInfo* info = find_opcode(opcode);
  if (!info) return std::nullopt;
  return info->arity;
}

const char* pointwise_opcode_name(PointwiseOpcode op) {
  const OpcodeInfo* info = find_opcode(static_cast<int64_t>(op));
  return info ? info->name : "?";
}

int64_t PointwiseProgram::emit(PointwiseOpcode op, int64_t a, int64_t b, int64_t c) {
  code.push_back({op, a, b, c});
  return num_registers() - 1;
}

int64_t PointwiseProgram::emit_constant(float value) {
  for (const PointwiseInstruction& ins : code) {
    if (ins.op == PointwiseOpcode::kConst && constants[static_cast<size_t>(ins.a)] == value &&
        !std::signbit(value) == !std::signbit(constants[static_cast<size_t>(ins.a)])) {
      return num_inputs + (&ins - code.data());
    }
  }
  constants.push_back(value);
  return emit(PointwiseOpcode::kConst, static_cast<int64_t>(constants.size()) - 1);
}

void PointwiseProgram::store(Attributes& attrs) const {
  std::vector<int64_t> flat;
  flat.reserve(code.size() * 4);
  for (const PointwiseInstruction& ins : code) {
    flat.insert(flat.end(), {static_cast<int64_t>(ins.op), ins.a, ins.b, ins.c});
  }
  attrs.set("code", flat);
  attrs.set("constants", constants);
  attrs.set("outputs", outputs);
}

PointwiseProgram PointwiseProgram::load(const Attributes& attrs, int64_t num_inputs,
                                        int64_t num_outputs, const std::string& owner) {
  auto bad = [&](const auto&... parts) {
    fail(ErrorCode::kInvalidModel, owner, ": invalid pointwise program: ", parts...);
  };
  PointwiseProgram p;
  p.num_inputs = num_inputs;
  std::vector<int64_t> flat = attrs.get_ints("code");
  p.constants = attrs.get_floats("constants", {});
  p.outputs = attrs.get_ints("outputs");
  if (flat.size() % 4 != 0) bad("'code' holds ", flat.size(), " ints, not a multiple of 4");
  for (size_t i = 0; i < flat.size(); i += 4) {
    const int64_t reg = p.num_registers();
    std::optional<int> arity = pointwise_arity(flat[i]);
    if (!arity) bad("instruction ", i / 4, " has unknown opcode ", flat[i]);
    PointwiseInstruction ins{static_cast<PointwiseOpcode>(flat[i]), flat[i + 1], flat[i + 2],
                             flat[i + 3]};
    const int64_t operands[3] = {ins.a, ins.b, ins.c};
    if (ins.op == PointwiseOpcode::kConst) {
      if (ins.a < 0 || ins.a >= static_cast<int64_t>(p.constants.size()))
        bad("instruction ", i / 4, " reads constant ", ins.a, " of ", p.constants.size());
    } else {
      for (int k = 0; k < 3; ++k) {
        bool used = k < *arity;
        if (used && (operands[k] < 0 || operands[k] >= reg))
          bad("instruction ", i / 4, " (", pointwise_opcode_name(ins.op), ") reads register ",
              operands[k], " before it is written");
        if (!used && operands[k] != -1)
          bad("instruction ", i / 4, " (", pointwise_opcode_name(ins.op), ") has operand ", k,
              " set, but takes ", *arity);
      }
    }
    p.code.push_back(ins);
  }
  if (static_cast<int64_t>(p.outputs.size()) != num_outputs)
    bad("'outputs' names ", p.outputs.size(), " registers for ", num_outputs, " outputs");
  for (int64_t r : p.outputs) {
    if (r < 0 || r >= p.num_registers()) bad("output register ", r, " does not exist");
  }
  return p;
}

std::string PointwiseProgram::to_string() const {
  std::string out;
  for (size_t i = 0; i < code.size(); ++i) {
    const PointwiseInstruction& ins = code[i];
    out += cat("r", num_inputs + static_cast<int64_t>(i), " = ", pointwise_opcode_name(ins.op));
    if (ins.op == PointwiseOpcode::kConst) {
      out += cat(" ", constants[static_cast<size_t>(ins.a)]);
    } else {
      for (int64_t r : {ins.a, ins.b, ins.c}) {
        if (r >= 0) out += cat(" r", r);
      }
    }
    out += "\n";
  }
  for (size_t k = 0; k < outputs.size(); ++k) out += cat("out", k, " = r", outputs[k], "\n");
  return out;
}

}  // namespace kiln::ir
