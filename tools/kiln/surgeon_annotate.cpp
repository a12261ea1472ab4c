// Writing kiln's inferred types back into an ONNX graph: value_info for node outputs, and the
// declared types of graph outputs (used by sanitize and set-shape).
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {

namespace pb = ::onnx;

int annotate_types(pb::GraphProto& g, const Network& inferred, bool replace_outputs) {
  std::map<std::string, TensorDesc> by_name;
  for (TensorDesc& t : inferred.tensors()) by_name.emplace(t.name, std::move(t));
  auto find = [&](const std::string& name) -> const TensorDesc* {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &it->second;
  };
  std::set<std::string> outputs = output_names(g);
  std::map<std::string, pb::ValueInfoProto*> declared;
  for (auto& vi : *g.mutable_value_info()) declared[vi.name()] = &vi;
  int annotated = 0;
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) {
      const TensorDesc* v = o.empty() || outputs.count(o) ? nullptr : find(o);
      if (!v) continue;
      pb::TypeProto t = type_from_desc(*v);
      if (t.tensor_type().elem_type() == 0) continue;  // a type kiln has no ONNX name for
      pb::ValueInfoProto* vi = declared.count(o) ? declared[o] : g.add_value_info();
      vi->set_name(o);
      *vi->mutable_type() = t;
      declared[o] = vi;
      ++annotated;
    }
  }
  for (auto& out : *g.mutable_output()) {
    const TensorDesc* v = find(out.name());
    if (!v) continue;
    pb::TypeProto t = type_from_desc(*v);
    if (t.tensor_type().elem_type() == 0) continue;
    auto* declared_type = out.mutable_type()->mutable_tensor_type();
    bool has_shape = declared_type->has_shape();
    if (replace_outputs || !has_shape ||
        declared_type->shape().dim_size() != t.tensor_type().shape().dim_size()) {
      if (!replace_outputs && has_shape && !t.tensor_type().has_shape()) continue;
      *out.mutable_type() = t;
    } else {
      // Keep the model's names for dims kiln cannot pin down; fill in the ones it knows.
      for (int i = 0; i < declared_type->shape().dim_size(); ++i) {
        const auto& d = t.tensor_type().shape().dim(i);
        auto* mine = declared_type->mutable_shape()->mutable_dim(i);
        if (d.has_dim_value() && !mine->has_dim_value()) mine->set_dim_value(d.dim_value());
      }
      if (declared_type->elem_type() == 0)
        declared_type->set_elem_type(t.tensor_type().elem_type());
    }
    ++annotated;
  }
  return annotated;
}

}  // namespace kiln::tools::surgeon
