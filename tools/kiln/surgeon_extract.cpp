// `kiln surgeon extract`: keeps the part of a model that computes the given output tensors from
// the given input tensors (and initializers), as a model of its own.
#include <functional>

#include "kiln/error.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

namespace pb = ::onnx;

ExtractResult extract_subgraph(pb::ModelProto& model, const std::vector<std::string>& inputs,
                               const std::vector<std::string>& outputs, const std::string& source) {
  if (outputs.empty()) fail(ErrorCode::kInvalidArgument, "give the tensors to keep with --outputs");
  pb::GraphProto& g = *model.mutable_graph();
  ExtractResult r;
  r.nodes_before = g.node_size();
  std::map<std::string, int> made_by = producers(g);
  std::set<std::string> graph_inputs = input_names(g);
  std::set<std::string> inits = initializer_names(g);
  auto exists = [&](const std::string& t) {
    return made_by.count(t) || graph_inputs.count(t) || inits.count(t);
  };
  for (const std::string& t : inputs) {
    if (!exists(t))
      fail(ErrorCode::kInvalidArgument, "--inputs: the model has no tensor '", t, "'");
  }
  for (const std::string& t : outputs) {
    if (!exists(t)) {
      fail(ErrorCode::kInvalidArgument, "--outputs: the model has no tensor '", t, "'");
    }
  }
  // Walk back from each output; reaching a graph input not among --inputs means the output does
  // not depend only on them.
  std::set<std::string> boundary(inputs.begin(), inputs.end());
  std::set<std::string> seen, used_inputs;
  std::set<int> keep;
  for (const std::string& out : outputs) {
    std::vector<std::string> stack = {out};
    while (!stack.empty()) {
      std::string t = stack.back();
      stack.pop_back();
      if (!seen.insert(t).second) continue;
      if (boundary.count(t)) {
        used_inputs.insert(t);
        continue;
      }
      if (inits.count(t)) continue;  // a constant, even where old exporters list it as input
      auto p = made_by.find(t);
      if (p == made_by.end()) {
        fail(ErrorCode::kInvalidArgument, "output '", out, "' depends on '", t,
             "', which is a graph input not among --inputs; add it to --inputs or choose outputs "
             "that do not need it");
      }
      keep.insert(p->second);
      for (const std::string& read : node_reads(g.node(p->second))) stack.push_back(read);
    }
  }
  for (const std::string& t : inputs) {
    if (!used_inputs.count(t)) r.unused_inputs.push_back(t);
  }

  TypeTable types(g);
  bool inferred = false;
  auto type_of = [&](const std::string& t, const char* role) {
    auto type = types.find(t);
    if (!type && !inferred) {
      inferred = true;
      types = known_types(model, source);
      type = types.find(t);
    }
    if (!type) {
      fail(ErrorCode::kInvalidArgument, "no type is known for ", role, " '", t,
           "': the model does not declare it and kiln cannot infer it; declare it with 'kiln "
           "surgeon sanitize' first, or remove the ops kiln lacks");
    }
    pb::ValueInfoProto vi;
    vi.set_name(t);
    *vi.mutable_type() = *type;
    return vi;
  };
  std::vector<pb::ValueInfoProto> new_inputs, new_outputs;
  for (const std::string& t : inputs) new_inputs.push_back(type_of(t, "input"));
  for (const std::string& t : outputs) new_outputs.push_back(type_of(t, "output"));

  // Nodes that produce a new input are cut away even if kept for another output's sake.
  for (const std::string& t : inputs) {
    if (made_by.count(t)) keep.erase(made_by.at(t));
  }
  auto* nodes = g.mutable_node();
  for (int i = g.node_size() - 1; i >= 0; --i) {
    if (!keep.count(i)) nodes->DeleteSubrange(i, 1);
  }
  // An initializer turned input is fed by the caller now.
  auto* init_list = g.mutable_initializer();
  for (int i = init_list->size() - 1; i >= 0; --i) {
    if (boundary.count(init_list->Get(i).name())) init_list->DeleteSubrange(i, 1);
  }
  g.clear_input();
  for (auto& vi : new_inputs) *g.add_input() = vi;
  g.clear_output();
  for (auto& vi : new_outputs) *g.add_output() = vi;
  // Keep the initializers the kept nodes read, as constants.
  std::set<std::string> reads;
  for (const auto& n : g.node()) reads.merge(node_reads(n));
  reads.insert(outputs.begin(), outputs.end());
  for (int i = init_list->size() - 1; i >= 0; --i) {
    if (!reads.count(init_list->Get(i).name())) init_list->DeleteSubrange(i, 1);
  }
  std::set<std::string> produced(inputs.begin(), inputs.end());
  for (const auto& n : g.node()) produced.insert(n.output().begin(), n.output().end());
  auto* vi = g.mutable_value_info();
  for (int i = vi->size() - 1; i >= 0; --i) {
    const std::string& name = vi->Get(i).name();
    if (!produced.count(name) || boundary.count(name) ||
        std::find(outputs.begin(), outputs.end(), name) != outputs.end()) {
      vi->DeleteSubrange(i, 1);
    }
  }
  r.nodes_after = g.node_size();
  return r;
}

}  // namespace kiln::tools::surgeon
