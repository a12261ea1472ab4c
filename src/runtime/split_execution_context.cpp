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
  // Each part takes the engine inputs it reads; the tail also takes the GPU part's outputs.
  std::map<std::string, Tensor> gpu_inputs;
  for (const ir::Value* v : engine_->graph->inputs()) {
    auto it = inputs.find(v->name);
    if (it == inputs.end())
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' was not given");
    gpu_inputs.emplace(v->name, it->second);
  }
  std::map<std::string, Tensor> made;
  const auto& gpu_names = engine_->graph->outputs();
  if (gpu_) {
    std::vector<Tensor> gpu_outputs = gpu_->execute(gpu_inputs);
    for (size_t i = 0; i < gpu_names.size() && i < gpu_outputs.size(); ++i) {
      made.emplace(gpu_names[i]->name, std::move(gpu_outputs[i]));
    }
  } else {
    // No GPU layers: its outputs can only be engine inputs or constants passed through.
    for (const ir::Value* v : gpu_names) {
      if (auto it = gpu_inputs.find(v->name); it != gpu_inputs.end()) {
        made.emplace(v->name, it->second);
      } else if (v->constant) {
        made.emplace(v->name, *v->constant);
      }
    }
  }
  std::map<std::string, Tensor> host_inputs;
  for (const ir::Value* v : engine_->host_tail->graph->inputs()) {
    auto it = made.find(v->name);
    if (it != made.end()) {
      host_inputs.emplace(v->name, it->second);
      continue;
    }
    auto given = inputs.find(v->name);
    if (given == inputs.end()) {
      fail(ErrorCode::kInvalidArgument, "input '", v->name, "' was not given");
    }
    host_inputs.emplace(v->name, given->second);
  }
  std::vector<Tensor> host_outputs = host_->execute(host_inputs);
  const auto& host_names = engine_->host_tail->graph->outputs();
  for (size_t i = 0; i < host_names.size() && i < host_outputs.size(); ++i) {
    made.insert_or_assign(host_names[i]->name, std::move(host_outputs[i]));
  }
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
