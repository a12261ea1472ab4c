// `kiln surgeon set-shape`: gives graph inputs new shapes (static or symbolic dims) and lets kiln
// re-infer every other shape from them.
#include "kiln/error.hpp"
#include "quote.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

namespace pb = ::onnx;

bool set_input_shapes(pb::ModelProto& model, const std::vector<std::string>& specs, bool infer,
                      const std::string& source, std::ostream& log) {
  if (specs.empty()) fail(ErrorCode::kInvalidArgument, "give at least one --shape NAME=DIMS");
  pb::GraphProto& g = *model.mutable_graph();
  std::set<std::string> inits = initializer_names(g);
  for (const std::string& spec : specs) {
    auto [name, dims] = split_assignment(spec, "--shape");
    pb::ValueInfoProto* input = nullptr;
    std::string available;
    for (auto& in : *g.mutable_input()) {
      if (inits.count(in.name())) continue;
      if (in.name() == name) input = &in;
      available += (available.empty() ? "" : ", ") + in.name();
    }
    if (!input) {
      fail(ErrorCode::kInvalidArgument, "the model has no input '", name,
           "' (its inputs: ", available.empty() ? "none" : available, ")");
    }
    if (!input->type().has_tensor_type()) {
      fail(ErrorCode::kInvalidArgument, "input '", name, "' is not a tensor");
    }
    std::string before = type_to_string(input->type());
    *input->mutable_type()->mutable_tensor_type()->mutable_shape() = parse_shape(dims, spec);
    log << "  " << name << ": " << before << " -> " << type_to_string(input->type()) << "\n";
  }
  // Shapes recorded for the old input shapes may now be wrong; ONNX Runtime would trust them.
  g.clear_value_info();
  if (!infer) return true;
  try {
    int n = annotate_types(g, import_onnx_model(model, source), /*replace_outputs=*/true);
    log << "  kiln inferred " << n << " tensor type(s) from the new shapes\n";
    return true;
  } catch (const Error& e) {
    log << "  shapes not re-inferred (value_info cleared, output declarations kept): "
        << shorten_quoted_parts(e.what()) << "\n";
    return false;
  }
}

}  // namespace kiln::tools::surgeon
