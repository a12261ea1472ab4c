// `kiln surgeon replace`: turns nodes selected by name or op type into a one-input op (usually
// Identity) of one of their inputs, e.g. every training-only Where into an Identity of its X.
#include "kiln/error.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

namespace pb = ::onnx;

int replace_nodes(pb::ModelProto& model, const std::vector<std::string>& names,
                  const std::vector<std::string>& ops, const std::string& with_op, int input_index,
                  std::ostream& log) {
  if (with_op.empty()) fail(ErrorCode::kInvalidArgument, "--with needs an op type, e.g. Identity");
  if (input_index < 0) fail(ErrorCode::kInvalidArgument, "--input-index must be 0 or more");
  pb::GraphProto& g = *model.mutable_graph();
  std::vector<int> picked = select_nodes(g, names, ops);
  TypeTable types = known_types(model, "the model");
  std::map<std::string, int> uses = use_counts(g);
  for (int index : picked) {
    pb::NodeProto& n = *g.mutable_node(index);
    std::string who = "cannot replace " + describe_node(g, index);
    if (input_index >= n.input_size() || n.input(input_index).empty()) {
      fail(ErrorCode::kInvalidArgument, who, ": it has no input ", input_index, " (it has ",
           n.input_size(), ")");
    }
    if (n.output_size() == 0 || n.output(0).empty()) {
      fail(ErrorCode::kInvalidArgument, who, ": it has no first output");
    }
    for (int i = 1; i < n.output_size(); ++i) {
      if (!n.output(i).empty() && uses.count(n.output(i))) {
        fail(ErrorCode::kInvalidArgument, who, ": its output '", n.output(i),
             "' is used, and the replacement has only the first output");
      }
    }
    std::string in = n.input(input_index);
    auto tin = types.find(in), tout = types.find(n.output(0));
    std::string why;
    if (with_op == "Identity" && tin && tout && types_conflict(*tin, *tout, &why)) {
      fail(ErrorCode::kInvalidArgument, who, ": its input ", input_index, " '", in,
           "' and its output '", n.output(0), "' differ (", why,
           "); pick the input to keep with --input-index");
    }
    log << "  " << describe_node(g, index) << " -> " << with_op << " of '" << in << "'\n";
    std::string out = n.output(0);
    n.set_op_type(with_op);
    n.clear_domain();
    n.clear_attribute();
    n.clear_input();
    n.add_input(in);
    n.clear_output();
    n.add_output(out);
  }
  drop_unused_declarations(g);
  return static_cast<int>(picked.size());
}

}  // namespace kiln::tools::surgeon
