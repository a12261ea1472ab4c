// Pointwise programs: opcode names and arities (from the op table), (de)serialization to node
// attributes, and validation.
#include "ir/pointwise_program.hpp"

#include <array>
#include <cmath>

#include "core/error.hpp"
#include "ir/op_registry.hpp"

namespace kiln::ir {
namespace {

// The op that lowers to an opcode (OpTraits::pointwise), and whether through its attribute variant.
struct OpcodeOwner {
  const OpSchema* op = nullptr;
  bool variant = false;
};

// Per opcode number, its owner in the op table. Sum folds its inputs with Add's opcode, so an op
// that is not variadic names an opcode before one that is.
const std::array<OpcodeOwner, kPointwiseOpcodeLimit>& opcode_owners() {
  static const auto owners = [] {
    std::array<OpcodeOwner, kPointwiseOpcodeLimit> t{};
    const OpRegistry& registry = OpRegistry::instance();
    for (const std::string& name : registry.names()) {
      const OpSchema* schema = registry.find(name);
      const std::optional<PointwiseLowering>& lowering = schema->traits.pointwise;
      if (!lowering) continue;
      const bool variadic = schema->traits.elementwise == ElementwiseClass::kVariadic;
      auto claim = [&](PointwiseOpcode op, bool variant) {
        OpcodeOwner& owner = t[static_cast<size_t>(op)];
        if (!owner.op || (owner.op->traits.elementwise == ElementwiseClass::kVariadic && !variadic))
          owner = {schema, variant};
      };
      claim(lowering->opcode, false);
      if (lowering->variant_attribute) claim(lowering->variant_opcode, true);
    }
    return t;
  }();
  return owners;
}

const OpcodeOwner* find_owner(int64_t code) {
  if (code <= 0 || code >= kPointwiseOpcodeLimit) return nullptr;
  const OpcodeOwner& owner = opcode_owners()[static_cast<size_t>(code)];
  return owner.op ? &owner : nullptr;
}

}  // namespace

const OpSchema* op_lowering_to(PointwiseOpcode op) {
  const OpcodeOwner* owner = find_owner(static_cast<int64_t>(op));
  return owner ? owner->op : nullptr;
}

std::optional<int> pointwise_arity(int64_t opcode) {
  if (opcode == static_cast<int64_t>(PointwiseOpcode::kConst)) return 0;
  if (!find_owner(opcode)) return std::nullopt;
  return pointwise_operand_count(static_cast<PointwiseOpcode>(opcode));
}

std::string pointwise_opcode_name(PointwiseOpcode op) {
  if (op == PointwiseOpcode::kConst) return "Const";
  const OpcodeOwner* owner = find_owner(static_cast<int64_t>(op));
  if (!owner) return "?";
  if (!owner->variant) return owner->op->name;
  const PointwiseLowering& lowering = *owner->op->traits.pointwise;
  return cat(owner->op->name, "(", lowering.variant_attribute, "=", lowering.variant_value, ")");
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
