// The split engine's context (split_execution_context.hpp).
#include "runtime/split_execution_context.hpp"

#include "core/error.hpp"
#include "runtime/cpu_execution_context.hpp"

namespace kiln {

SplitExecutionContext::SplitExecutionContext(std::shared_ptr<const Engine::Impl> engine,
                                             std::unique_ptr<ExecutionContext> gpu)
    : engine_(std::move(engine)),
      gpu_(std::move(gpu)),
      host_(std::make_unique<CpuExecutionContext>(engine_->host_tail)) {}

std::vector<Tensor> SplitExecutionContext::execute(const std::map<std::string, Tensor>& inputs) {
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const TensorDesc& d : engine_->inputs) known |= d.name == name;
    if (!known) fail(ErrorCode::kInvalidArgument, "'", name, "' is not an input of this engine");
  }
  // The engine inputs, then each part's outputs, by name; each part takes the ones it reads.
  std::map<std::string, Tensor> made = inputs;
  auto take = [&](const std::vector<ir::Value*>& wanted) {
    std::map<std::string, Tensor> out;
    for (const ir::Value* v : wanted) {
      auto it = made.find(v->name);
      if (it == made.end())
        fail(ErrorCode::kInvalidArgument, "input '", v->name, "' was not given");
      out.emplace(v->name, it->second);
    }
    return out;
  };
  auto keep = [&](const std::vector<ir::Value*>& names, std::vector<Tensor> tensors) {
    for (size_t i = 0; i < names.size() && i < tensors.size(); ++i) {
      made.insert_or_assign(names[i]->name, std::move(tensors[i]));
    }
  };
  const ir::Graph& gpu = *engine_->graph;
  if (gpu_) {
    keep(gpu.outputs(), gpu_->execute(take(gpu.inputs())));
  } else {
    // No GPU layers: its outputs are engine inputs (in `made` already) or constants.
    for (const ir::Value* v : gpu.outputs()) {
      if (v->constant) made.emplace(v->name, *v->constant);
    }
  }
  const ir::Graph& host = *engine_->host_tail->graph;
  keep(host.outputs(), host_->execute(take(host.inputs())));
  std::vector<Tensor> result;
  for (const TensorDesc& d : engine_->outputs) {
    auto it = made.find(d.name);
    if (it == made.end()) {
      fail(ErrorCode::kInternal, "split engine: output '", d.name, "' was made by neither part");
    }
    result.push_back(it->second);
  }
  return result;
}

void SplitExecutionContext::enqueue(const std::map<std::string, void*>&, void*) {
  fail(ErrorCode::kUnsupported, "this engine's last ", engine_->host_tail->graph->nodes().size(),
       " layer(s) run on the host because their shapes depend on the data (",
       engine_->host_tail_reason, "), so its outputs have no size before it runs: use execute()");
}

}  // namespace kiln
