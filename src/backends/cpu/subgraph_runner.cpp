// Nested execution of subgraphs and the slicing/stacking that Loop and Scan need.
#include "backends/cpu/subgraph_runner.hpp"

#include <cstring>
#include <map>

#include "backends/cpu/run_node.hpp"
#include "core/checked_size.hpp"
#include "runtime/cpu_execution_context.hpp"

namespace kiln::cpu {

SubgraphRunner::SubgraphRunner(const ir::Node& node, const char* attr)
    : node_(node), attr_(attr), graph_(node.attrs.get_graph(attr)) {
  auto engine = std::make_shared<Engine::Impl>();
  engine->graph = graph_;  // shared, not copied: subgraphs are immutable
  engine->backend = Backend::kCpu;
  try {
    context_ = std::make_unique<CpuExecutionContext>(std::move(engine));
  } catch (const Error& e) {
    fail(e.code(), node.describe(), ": in subgraph '", attr, "': ", e.what());
  }
  for (const ir::Value* v : graph_->inputs()) input_names_.push_back(v->name);
}

SubgraphRunner::~SubgraphRunner() = default;

std::vector<Tensor> SubgraphRunner::run(const std::vector<Tensor>& inputs,
                                        const std::string& where) {
  std::string context = where.empty() ? attr_ : attr_ + ", " + where;
  if (inputs.size() != input_names_.size()) {
    fail(ErrorCode::kInvalidArgument, node_.describe(), ": subgraph '", attr_, "' takes ",
         input_names_.size(), " inputs, but is given ", inputs.size());
  }
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) feeds[input_names_[i]] = inputs[i];
  try {
    return context_->execute(feeds);
  } catch (const Error& e) {
    fail(e.code(), node_.describe(), ": in subgraph ", context, ": ", e.what());
  }
}

bool read_condition(const KernelContext& ctx, const Tensor& t, const std::string& what) {
  if (t.dtype() != DataType::kBool || t.numel() != 1) {
    ctx.fail(ErrorCode::kInvalidArgument, what, " must be a bool tensor of one element, not ",
             to_string(t.dtype()), shape_to_string(t.shape()));
  }
  return *t.data<uint8_t>() != 0;
}

namespace {

// Elements before and after `axis`, and its length.
struct AxisSplit {
  int64_t outer = 1, length = 1, inner = 1;
};

AxisSplit split_at(const Shape& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    int64_t d = shape[static_cast<size_t>(i)];
    if (i < axis) s.outer *= d;
    if (i == axis) s.length = d;
    if (i > axis) s.inner *= d;
  }
  return s;
}

}  // namespace

Tensor take_slice(const Tensor& t, int64_t axis, int64_t index) {
  AxisSplit s = split_at(t.shape(), axis);
  Shape shape = t.shape();
  shape.erase(shape.begin() + axis);
  Tensor out(t.dtype(), shape);
  size_t chunk = static_cast<size_t>(s.inner) * element_size(t.dtype());
  const auto* src = static_cast<const uint8_t*>(t.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t o = 0; o < s.outer; ++o) {
    std::memcpy(dst + static_cast<size_t>(o) * chunk,
                src + static_cast<size_t>(o * s.length + index) * chunk, chunk);
  }
  return out;
}

Tensor stack_slices(const std::vector<Tensor>& slices, int64_t axis, DataType dtype,
                    const Shape& slice_shape) {
  const Shape& part = slices.empty() ? slice_shape : slices[0].shape();
  Shape shape = part;
  auto count = static_cast<int64_t>(slices.size());
  shape.insert(shape.begin() + axis, count);
  Tensor out(slices.empty() ? dtype : slices[0].dtype(), shape);
  if (slices.empty() || out.nbytes() == 0) return out;
  AxisSplit s = split_at(shape, axis);
  size_t chunk = static_cast<size_t>(s.inner) * element_size(out.dtype());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t t = 0; t < count; ++t) {
    const auto* src = static_cast<const uint8_t*>(slices[static_cast<size_t>(t)].raw());
    for (int64_t o = 0; o < s.outer; ++o) {
      std::memcpy(dst + static_cast<size_t>(o * count + t) * chunk,
                  src + static_cast<size_t>(o) * chunk, chunk);
    }
  }
  return out;
}

Shape declared_slice_shape(const ir::Value& v) {
  Shape s;
  if (!v.shape) return s;
  for (const ir::Dim& d : *v.shape) s.push_back(d.known() ? d.value : 0);
  return s;
}

void check_slice(const KernelContext& ctx, const std::vector<Tensor>& slices, const Tensor& next,
                 size_t output) {
  if (slices.empty()) return;
  const Tensor& first = slices[0];
  if (next.dtype() != first.dtype() || next.shape() != first.shape()) {
    ctx.fail(ErrorCode::kInvalidArgument, "scan output ", output, " is ", to_string(next.dtype()),
             shape_to_string(next.shape()), " in iteration ", slices.size(), " but was ",
             to_string(first.dtype()), shape_to_string(first.shape()),
             " before; its slices cannot be stacked");
  }
  std::optional<int64_t> bytes =
      checked_mul(static_cast<int64_t>(slices.size() + 1), static_cast<int64_t>(first.nbytes()));
  if (!bytes || static_cast<uint64_t>(*bytes) > tensor_byte_limit()) {
    ctx.fail(ErrorCode::kInvalidArgument, "scan output ", output, " would grow past ",
             tensor_byte_limit(), " bytes after ", slices.size() + 1, " iterations");
  }
}

}  // namespace kiln::cpu
