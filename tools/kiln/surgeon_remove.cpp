// `kiln surgeon remove`: deletes nodes by name or op type; whoever read a removed node's first
// output reads its first input instead.
#include "kiln/error.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

namespace pb = ::onnx;

int remove_nodes(pb::ModelProto& model, const std::vector<std::string>& names,
                 const std::vector<std::string>& ops, std::ostream& log) {
  pb::GraphProto& g = *model.mutable_graph();
  std::vector<int> picked = select_nodes(g, names, ops);
  TypeTable types = known_types(model, "the model");
  for (int index : picked) {
    const pb::NodeProto& n = g.node(index);
    std::string who = "cannot remove " + describe_node(g, index);
    std::string in;
    for (const auto& i : n.input()) {
      if (!i.empty()) {
        in = i;
        break;
      }
    }
    if (in.empty()) fail(ErrorCode::kInvalidArgument, who, ": it has no input to pass through");
    if (n.output_size() == 0 || n.output(0).empty()) {
      fail(ErrorCode::kInvalidArgument, who, ": it has no first output");
    }
    std::string out = n.output(0);
    std::map<std::string, int> uses = use_counts(g);
    for (int i = 1; i < n.output_size(); ++i) {
      if (!n.output(i).empty() && uses.count(n.output(i))) {
        fail(ErrorCode::kInvalidArgument, who, ": its output '", n.output(i),
             "' is used, and only the first output can be rewired to the input");
      }
    }
    auto tin = types.find(in), tout = types.find(out);
    std::string why;
    if (tin && tout && types_conflict(*tin, *tout, &why)) {
      fail(ErrorCode::kInvalidArgument, who, ": its input '", in, "' and output '", out,
           "' differ (", why, "), so the readers of '", out, "' would get another type or shape");
    }
    if (output_names(g).count(out)) {
      // The graph output keeps its name: the input's producer writes it directly.
      if (input_names(g).count(in) || initializer_names(g).count(in) || output_names(g).count(in) ||
          !producers(g).count(in)) {
        fail(ErrorCode::kInvalidArgument, who, ": its output '", out,
             "' is a graph output and its input '", in,
             "' is a graph input, initializer or output; use 'kiln surgeon replace --name ",
             n.name(), " --with Identity' instead");
      }
      int p = producers(g).at(in);
      for (auto& o : *g.mutable_node(p)->mutable_output()) {
        if (o == in) o = out;
      }
      rename_reads(g, in, out);
      log << "  removed " << describe_node(g, index) << ": '" << in << "' is now named '" << out
          << "'\n";
    } else {
      rename_reads(g, out, in);
      log << "  removed " << describe_node(g, index) << ": readers of '" << out << "' now read '"
          << in << "'\n";
    }
    // Unlinked: it reads and writes nothing anyone sees; deleted below with the others.
    g.mutable_node(index)->clear_output();
    g.mutable_node(index)->clear_input();
  }
  for (auto it = picked.rbegin(); it != picked.rend(); ++it)
    g.mutable_node()->DeleteSubrange(*it, 1);
  drop_unused_declarations(g);
  return static_cast<int>(picked.size());
}

}  // namespace kiln::tools::surgeon
