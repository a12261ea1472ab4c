// Free names of an ONNX subgraph, through nested subgraphs.
#include "onnx/subgraph_scope.hpp"

#include <unordered_set>

namespace kiln::onnx {
namespace {

class FreeNames {
 public:
  void add(const std::string& name) {
    if (!name.empty() && seen_.insert(name).second) names_.push_back(name);
  }
  std::vector<std::string> take() { return std::move(names_); }

 private:
  std::unordered_set<std::string> seen_;
  std::vector<std::string> names_;
};

}  // namespace

std::vector<std::string> free_names(const ::onnx::GraphProto& graph) {
  std::unordered_set<std::string> defined;
  for (const auto& in : graph.input()) defined.insert(in.name());
  for (const auto& init : graph.initializer()) defined.insert(init.name());
  for (const auto& init : graph.sparse_initializer()) defined.insert(init.values().name());
  for (const auto& node : graph.node()) defined.insert(node.output().begin(), node.output().end());

  FreeNames free;
  auto use = [&](const std::string& name) {
    if (!defined.count(name)) free.add(name);
  };
  for (const auto& node : graph.node()) {
    for (const auto& in : node.input()) use(in);
    for (const auto& a : node.attribute()) {
      if (a.has_g()) {
        for (const auto& name : free_names(a.g())) use(name);
      }
      for (const auto& g : a.graphs()) {
        for (const auto& name : free_names(g)) use(name);
      }
    }
  }
  for (const auto& out : graph.output()) use(out.name());
  return free.take();
}

}  // namespace kiln::onnx
