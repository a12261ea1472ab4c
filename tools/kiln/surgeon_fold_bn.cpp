// `kiln surgeon fold-bn`: folds each inference BatchNormalization into the weights and bias of the
// Conv, ConvTranspose or Gemm that feeds it, in the ONNX model itself.
#include <cmath>
#include <optional>

#include "kiln/error.hpp"
#include "onnx/tensor_proto.hpp"
#include "surgeon_edits.hpp"
#include "surgeon_graph.hpp"

namespace kiln::tools::surgeon {
namespace {

namespace pb = ::onnx;

int64_t int_attr(const pb::NodeProto& n, const std::string& name, int64_t fallback) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}

float float_attr(const pb::NodeProto& n, const std::string& name, float fallback) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.f();
  }
  return fallback;
}

void set_float_attr(pb::NodeProto& n, const std::string& name, float v) {
  for (auto& a : *n.mutable_attribute()) {
    if (a.name() == name) {
      a.set_f(v);
      return;
    }
  }
  auto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(v);
}

pb::TensorProto* find_initializer(pb::GraphProto& g, const std::string& name) {
  for (auto& t : *g.mutable_initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

// The float32 contents of an initializer (not one the caller may override as a graph input) or
// of a Constant node's tensor, also through Identity nodes (PyTorch's exporter shares equal
// running statistics that way); nullopt for anything else.
std::optional<Tensor> float_constant(pb::GraphProto& g, const std::string& name, int depth = 0) {
  if (name.empty() || input_names(g).count(name) || depth > 16) return std::nullopt;
  const pb::TensorProto* proto = find_initializer(g, name);
  if (!proto) {
    for (const auto& n : g.node()) {
      if (n.output_size() != 1 || n.output(0) != name) continue;
      if (n.op_type() == "Identity" && n.input_size() == 1) {
        return float_constant(g, n.input(0), depth + 1);
      }
      if (n.op_type() == "Constant" && n.attribute_size() == 1 &&
          n.attribute(0).name() == "value") {
        proto = &n.attribute(0).t();
      }
    }
  }
  if (!proto || proto->data_type() != pb::TensorProto::FLOAT) return std::nullopt;
  return onnx::tensor_from_proto(*proto, ".", "tensor '" + name + "'");
}

// What folding one BatchNormalization needs, gathered while checking that it can be folded.
struct Fold {
  int producer = -1;
  std::string weight, bias;  // the producer's; bias may be empty
  Tensor w;
  std::optional<Tensor> b;
  std::vector<double> scale, shift;  // y = x * scale + shift, per channel
};

// Returns the reason the node cannot be folded, or an empty string with `fold` filled in.
std::string check(pb::GraphProto& g, int bn_index, Fold& fold) {
  const pb::NodeProto& bn = g.node(bn_index);
  if (int_attr(bn, "training_mode", 0) != 0) return "it runs in training mode";
  if (int_attr(bn, "spatial", 1) != 1) return "it is not spatial (spatial=0)";
  std::map<std::string, int> uses = use_counts(g);
  for (int i = 1; i < bn.output_size(); ++i) {
    if (!bn.output(i).empty() && uses.count(bn.output(i))) {
      return "its output '" + bn.output(i) + "' (running statistics) is used";
    }
  }
  if (bn.input_size() < 5) return "it has fewer than 5 inputs";
  std::map<std::string, int> made_by = producers(g);
  auto p = made_by.find(bn.input(0));
  if (p == made_by.end()) return "its input '" + bn.input(0) + "' is not produced by a node";
  fold.producer = p->second;
  const pb::NodeProto& prod = g.node(fold.producer);
  const std::string& op = prod.op_type();
  if (!prod.domain().empty() && prod.domain() != "ai.onnx")
    return "its input comes from a custom op";
  if (op != "Conv" && op != "ConvTranspose" && op != "Gemm") {
    return "its input comes from " + op + ", not Conv, ConvTranspose or Gemm";
  }
  if (uses[bn.input(0)] != 1 || output_names(g).count(bn.input(0))) {
    return "'" + bn.input(0) + "' is also used elsewhere";
  }
  if (prod.input_size() < 2) return op + " has no weight";
  fold.weight = prod.input(1);
  auto w = float_constant(g, fold.weight);
  if (!w) return "the weight '" + fold.weight + "' is not a float32 initializer";
  fold.w = *w;
  if (prod.input_size() > 2 && !prod.input(2).empty()) {
    fold.bias = prod.input(2);
    fold.b = float_constant(g, fold.bias);
    if (!fold.b) return "the bias '" + fold.bias + "' is not a float32 initializer";
  }
  int64_t channels;
  if (op == "Conv") {
    if (fold.w.rank() < 3) return "the Conv weight is not of rank 3 or more";
    channels = fold.w.dim(0);
  } else if (op == "ConvTranspose") {
    if (fold.w.rank() < 3) return "the ConvTranspose weight is not of rank 3 or more";
    channels = fold.w.dim(1) * int_attr(prod, "group", 1);
  } else {
    if (fold.w.rank() != 2) return "the Gemm weight is not a matrix";
    channels = int_attr(prod, "transB", 0) ? fold.w.dim(0) : fold.w.dim(1);
    if (fold.b && fold.b->numel() != 1 &&
        !(fold.b->numel() == channels && (fold.b->rank() == 1 || fold.b->dim(0) == 1))) {
      return "the Gemm bias does not broadcast along the output channels";
    }
  }
  if (fold.b && fold.b->numel() != channels && op != "Gemm") {
    return "the bias has " + std::to_string(fold.b->numel()) + " values for " +
           std::to_string(channels) + " channels";
  }
  std::vector<Tensor> params;
  const char* names[] = {"scale", "B", "mean", "var"};
  for (int i = 1; i <= 4; ++i) {
    auto t = float_constant(g, bn.input(i));
    if (!t) return std::string("its ") + names[i - 1] + " is not a float32 constant";
    if (t->numel() != channels) {
      return std::string("its ") + names[i - 1] + " has " + std::to_string(t->numel()) +
             " values for " + std::to_string(channels) + " channels";
    }
    params.push_back(*t);
  }
  double eps = float_attr(bn, "epsilon", 1e-5f);
  fold.scale.resize(static_cast<size_t>(channels));
  fold.shift.resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    double s = params[0].data<float>()[c] / std::sqrt(double{params[3].data<float>()[c]} + eps);
    fold.scale[static_cast<size_t>(c)] = s;
    fold.shift[static_cast<size_t>(c)] =
        params[1].data<float>()[c] - params[2].data<float>()[c] * s;
  }
  return "";
}

// Scales the weight per output channel; returns the new bias (old bias * scale + shift).
std::vector<float> fold_into(const pb::NodeProto& prod, Fold& f) {
  const std::string& op = prod.op_type();
  auto channels = static_cast<int64_t>(f.scale.size());
  Tensor w = Tensor(DataType::kFloat32, f.w.shape());
  const float* src = f.w.data<float>();
  float* dst = w.data<float>();
  int64_t n = f.w.numel();
  if (op == "Conv") {
    int64_t per = n / channels;
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] * f.scale[i / per]);
  } else if (op == "ConvTranspose") {
    // Weight [C_in, M/group, k...]: output channel of (c, j) is (c / (C_in/group)) * M/group + j.
    int64_t group = int_attr(prod, "group", 1);
    int64_t in_per_group = f.w.dim(0) / group, out_per_group = f.w.dim(1);
    int64_t per = n / (f.w.dim(0) * out_per_group);
    for (int64_t i = 0; i < n; ++i) {
      int64_t c = i / (out_per_group * per), j = (i / per) % out_per_group;
      dst[i] = static_cast<float>(src[i] * f.scale[(c / in_per_group) * out_per_group + j]);
    }
  } else if (int_attr(prod, "transB", 0)) {  // Gemm weight [M, K]
    int64_t k = f.w.dim(1);
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] * f.scale[i / k]);
  } else {  // Gemm weight [K, M]
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i] * f.scale[i % channels]);
  }
  f.w = std::move(w);
  // Gemm computes alpha*A*B + beta*C: beta goes into the folded bias and becomes 1.
  double beta = op == "Gemm" ? float_attr(prod, "beta", 1.0f) : 1.0;
  std::vector<float> bias(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    double old = 0;
    if (f.b) old = f.b->numel() == 1 ? f.b->data<float>()[0] : f.b->data<float>()[c];
    bias[static_cast<size_t>(c)] = static_cast<float>(beta * old * f.scale[static_cast<size_t>(c)] +
                                                      f.shift[static_cast<size_t>(c)]);
  }
  return bias;
}

// Stores `t` under `name` if only the producer reads it, else as a new initializer; returns the
// name the producer should read.
std::string store(pb::GraphProto& g, const std::string& name, const std::string& fallback_base,
                  const Tensor& t) {
  std::map<std::string, int> uses = use_counts(g);
  if (!name.empty() && uses[name] == 1) {
    if (pb::TensorProto* init = find_initializer(g, name)) {
      std::string doc = init->doc_string();
      onnx::tensor_to_proto(t, name, *init);
      if (!doc.empty()) init->set_doc_string(doc);
      return name;
    }
  }
  // Shared with another node, or a Constant node's tensor: leave it and add a folded copy.
  std::string fresh = unique_tensor_name(g, (name.empty() ? fallback_base : name) + "_bn_folded");
  onnx::tensor_to_proto(t, fresh, *g.add_initializer());
  return fresh;
}

}  // namespace

int fold_batchnorms(pb::ModelProto& model, std::ostream& log) {
  pb::GraphProto& g = *model.mutable_graph();
  int folded = 0;
  for (int i = 0; i < g.node_size();) {
    const pb::NodeProto& bn = g.node(i);
    if (bn.op_type() != "BatchNormalization" ||
        (!bn.domain().empty() && bn.domain() != "ai.onnx")) {
      ++i;
      continue;
    }
    Fold f;
    std::string reason = check(g, i, f);
    if (!reason.empty()) {
      log << "  kept " << describe_node(g, i) << ": " << reason << "\n";
      ++i;
      continue;
    }
    std::string prod_label = describe_node(g, f.producer);
    std::string bn_label = describe_node(g, i);
    pb::NodeProto& prod = *g.mutable_node(f.producer);
    std::vector<float> bias = fold_into(prod, f);
    std::string base = prod.name().empty() ? prod.output(0) : prod.name();
    std::string w_name = store(g, f.weight, base + "_weight", f.w);
    std::string b_name =
        store(g, f.bias, base + "_bias",
              Tensor::from_vector(DataType::kFloat32, {static_cast<int64_t>(bias.size())}, bias));
    pb::NodeProto& p = *g.mutable_node(f.producer);  // store() may have grown the graph
    p.set_input(1, w_name);
    if (p.input_size() < 3) p.add_input(b_name);
    p.set_input(2, b_name);
    if (p.op_type() == "Gemm") set_float_attr(p, "beta", 1.0f);
    // The producer now writes the BatchNormalization's output; its old output disappears.
    p.set_output(0, g.node(i).output(0));
    g.mutable_node()->DeleteSubrange(i, 1);
    log << "  folded " << bn_label << " into " << prod_label << "\n";
    ++folded;
  }
  drop_unused_declarations(g);
  return folded;
}

}  // namespace kiln::tools::surgeon
