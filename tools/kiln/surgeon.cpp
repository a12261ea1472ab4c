// `kiln surgeon` on the command line: one CLI11 subcommand per edit, each with examples in its
// --help, all reading one ONNX model and (except inspect) writing another.
#include "surgeon.hpp"

#include <limits>

#include "kiln/error.hpp"
#include "option_values.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_model.hpp"

namespace kiln::tools {
namespace {

const char* const kWriteNote =
    "The written model keeps the input's opsets, metadata, names and every node the edit does "
    "not touch. Weights read from external data are written inline; with --external-data, or "
    "when the model is 2 GiB or more, every initializer of 1 KiB or more goes to OUTPUT.data "
    "beside OUTPUT.\n";

CLI::App* add_edit(CLI::App& surgeon, SurgeonOptions& o, const std::string& name,
                   const std::string& description, const std::string& examples) {
  CLI::App* sub = surgeon.add_subcommand(name, description);
  sub->add_option("model", o.model, "ONNX model to read")->required();
  if (name != "inspect") {
    sub->add_option("-o,--output", o.output, "ONNX model to write")->required();
    sub->add_flag("--external-data", o.external_data,
                  "write initializers of 1 KiB or more to OUTPUT.data");
    sub->footer(std::string(kWriteNote) + "Examples:\n" + examples);
  } else {
    sub->footer("Examples:\n" + examples);
  }
  sub->preparse_callback([&o, name](size_t) { o.action = name; });
  return sub;
}

void write(const ::onnx::ModelProto& model, const SurgeonOptions& o, std::ostream& out) {
  surgeon::WriteResult w = surgeon::write_onnx_model(model, o.output, o.external_data);
  out << surgeon::describe_write(o.output, w) << "\n";
}

}  // namespace

CLI::App* add_surgeon_command(CLI::App& app, SurgeonOptions& o) {
  CLI::App* s = app.add_subcommand(
      "surgeon",
      "Edit ONNX models: inspect, sanitize, extract, remove, replace, set-shape, fold-bn");
  s->require_subcommand(1);
  s->footer(
      "Run 'kiln surgeon SUBCOMMAND --help' for the options and examples of each.\n"
      "Example workflow for a model with ops kiln lacks:\n"
      "  kiln surgeon inspect model.onnx\n"
      "  kiln surgeon replace model.onnx --op Where --with Identity --input-index 1 -o a.onnx\n"
      "  kiln surgeon fold-bn a.onnx -o b.onnx && kiln surgeon sanitize b.onnx -o c.onnx");

  add_edit(*s, o, "inspect",
           "Show inputs, outputs, opsets, op counts, initializers and the ops kiln cannot run",
           "  kiln surgeon inspect model.onnx\n"
           "  kiln surgeon inspect model.onnx --json | jq '.unsupported_ops'")
      ->add_flag("--json", o.json, "print one JSON object");

  add_edit(*s, o, "sanitize",
           "Fold constants, drop dead, no-op and duplicate nodes, and record inferred shapes",
           "  kiln surgeon sanitize model.onnx -o clean.onnx\n"
           "kiln imports the model and runs its own passes (constant folding, Where with a\n"
           "constant condition, Identity/Dropout/no-op Cast/Reshape removal, common\n"
           "subexpressions, dead code); every tensor kiln finds constant becomes an\n"
           "initializer, and value_info gets kiln's inferred type of every node output.\n"
           "Every node must be importable: remove or replace unsupported ones first.");

  CLI::App* extract = add_edit(
      *s, o, "extract", "Keep the subgraph computing --outputs from --inputs",
      "  kiln surgeon extract model.onnx --inputs x --outputs stage2_out -o part.onnx\n"
      "  kiln surgeon extract model.onnx --inputs a,b --outputs y,z -o part.onnx\n"
      "Types of new inputs and outputs come from the model's value_info or kiln's inference.\n"
      "It is an error when an output depends on a graph input not among --inputs.");
  extract->add_option("--inputs", o.inputs, "tensors that become the graph inputs (comma list)")
      ->required()
      ->delimiter(',');
  extract->add_option("--outputs", o.outputs, "tensors that become the graph outputs (comma list)")
      ->required()
      ->delimiter(',');

  CLI::App* remove = add_edit(
      *s, o, "remove", "Remove nodes by name or op type, passing their first input through",
      "  kiln surgeon remove model.onnx --op Dropout -o out.onnx\n"
      "  kiln surgeon remove model.onnx --name dbg_print,dbg_cast -o out.onnx\n"
      "Readers of a removed node's first output read its first input instead; the node's\n"
      "other outputs must be unused, and its input and output must not have different\n"
      "declared types or static shapes.");
  remove->add_option("--name", o.names, "node names (repeatable or comma list)")->delimiter(',');
  remove->add_option("--op", o.ops, "op types (repeatable or comma list)")->delimiter(',');

  CLI::App* replace = add_edit(
      *s, o, "replace", "Replace nodes by name or op type with a one-input op (e.g. Identity)",
      "  kiln surgeon replace model.onnx --op Where --with Identity --input-index 1 -o out.onnx\n"
      "  kiln surgeon replace model.onnx --name mask_select --with Identity -o out.onnx\n"
      "Each node becomes a --with node (no attributes) of its input --input-index (default 0),\n"
      "keeping its name and first output; for Identity the kept input must have the output's\n"
      "type.");
  replace->add_option("--name", o.names, "node names (repeatable or comma list)")->delimiter(',');
  replace->add_option("--op", o.ops, "op types (repeatable or comma list)")->delimiter(',');
  replace->add_option("--with", o.with_op, "op type of the replacement")->required();
  replace->add_option("--input-index", o.input_index, "which input the replacement keeps")
      ->transform(whole_number_in(0, std::numeric_limits<int>::max()));

  CLI::App* set_shape = add_edit(
      *s, o, "set-shape", "Set graph input shapes; kiln re-infers the others",
      "  kiln surgeon set-shape model.onnx --shape input=1x3x224x224 -o static.onnx\n"
      "  kiln surgeon set-shape model.onnx --shape input=Nx3x224x224 -o dynamic.onnx\n"
      "Dims: numbers are static, names symbolic (dim_param), '?' unknown; join them with 'x'\n"
      "(or ',' when a name contains an x). Old value_info is dropped; unless --no-infer, kiln\n"
      "re-infers value_info and the output shapes (skipped, with a note, when kiln cannot\n"
      "import the model).");
  set_shape->add_option("--shape", o.shapes, "NAME=DIMS (repeatable)")->required();
  set_shape->add_flag("--no-infer", o.no_infer, "do not re-infer shapes");

  add_edit(*s, o, "fold-bn",
           "Fold inference BatchNormalization into the Conv, ConvTranspose or Gemm before it",
           "  kiln surgeon fold-bn model.onnx -o folded.onnx\n"
           "A BatchNormalization folds when it is in inference mode, its input comes only from a\n"
           "Conv, ConvTranspose or Gemm with float32 initializer weights, and its parameters\n"
           "are float32 constants. A weight another node also uses is copied, not changed.");
  return s;
}

void surgeon_command(const SurgeonOptions& o, std::ostream& out, std::ostream& err) {
  (void)err;
  surgeon::OnnxModel m = surgeon::read_onnx_model(o.model);
  std::string source = "'" + o.model + "'";
  ::onnx::ModelProto& proto = m.proto;
  if (o.action == "inspect") {
    surgeon::inspect_model(m, o.json, out);
    return;
  }
  if (o.action == "sanitize") {
    surgeon::SanitizeResult r = surgeon::sanitize_model(proto, source);
    out << "sanitize: " << r.nodes_before << " -> " << r.nodes_after << " nodes, "
        << r.folded.size() << " tensor(s) folded into initializers, " << r.renamed_reads
        << " read(s) redirected to equal tensors, " << r.shapes_annotated
        << " tensor type(s) recorded\n";
    for (size_t i = 0; i < r.folded.size() && i < 10; ++i)
      out << "  folded " << r.folded[i] << "\n";
    if (r.folded.size() > 10) out << "  ... (" << r.folded.size() - 10 << " more)\n";
  } else if (o.action == "extract") {
    surgeon::ExtractResult r = surgeon::extract_subgraph(proto, o.inputs, o.outputs, source);
    out << "extract: " << r.nodes_before << " -> " << r.nodes_after << " nodes\n";
    for (const std::string& t : r.unused_inputs) {
      out << "  note: input '" << t << "' is not needed by the outputs (kept as an input)\n";
    }
  } else if (o.action == "remove") {
    if (o.names.empty() && o.ops.empty()) {
      fail(ErrorCode::kInvalidArgument, "give the nodes to remove with --name or --op");
    }
    int n = surgeon::remove_nodes(proto, o.names, o.ops, out);
    out << "remove: " << n << " node(s) removed\n";
  } else if (o.action == "replace") {
    if (o.names.empty() && o.ops.empty()) {
      fail(ErrorCode::kInvalidArgument, "give the nodes to replace with --name or --op");
    }
    int n = surgeon::replace_nodes(proto, o.names, o.ops, o.with_op, o.input_index, out);
    out << "replace: " << n << " node(s) replaced by " << o.with_op << "\n";
  } else if (o.action == "set-shape") {
    surgeon::set_input_shapes(proto, o.shapes, !o.no_infer, source, out);
  } else if (o.action == "fold-bn") {
    int n = surgeon::fold_batchnorms(proto, out);
    out << "fold-bn: " << n << " BatchNormalization node(s) folded\n";
  } else {
    fail(ErrorCode::kInternal, "unknown surgeon subcommand '", o.action, "'");
  }
  write(proto, o, out);
}

}  // namespace kiln::tools
