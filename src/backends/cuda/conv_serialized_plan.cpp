// cuDNN execution plans serialized into their layers (see conv_serialized_plan.hpp).
#include "backends/cuda/conv_serialized_plan.hpp"

#include <cuda_runtime.h>

#include <cstring>
#include <map>
#include <mutex>

#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"

namespace kiln::cuda {

std::string cudnn_plan_key(int device) {
  // Asked once per Conv layer of every context: the device's properties are read once.
  static std::mutex mutex;
  static std::map<int, std::string> keys;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = keys.find(device);
  if (it != keys.end()) return it->second;
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return keys[device] =
             cat("cudnn ", cudnnGetVersion(), "|", prop.name, " sm", prop.major, prop.minor);
}

std::optional<std::vector<char>> serialize_cudnn_plan(const CudnnDescriptor& plan) {
  int64_t size = 0;
  if (cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION,
                               CUDNN_TYPE_CHAR, 0, &size, nullptr) != CUDNN_STATUS_SUCCESS ||
      size <= 0) {
    return std::nullopt;
  }
  std::vector<char> json(static_cast<size_t>(size));
  int64_t written = 0;
  if (cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION,
                               CUDNN_TYPE_CHAR, size, &written,
                               json.data()) != CUDNN_STATUS_SUCCESS ||
      written <= 0 || written > size) {
    return std::nullopt;
  }
  json.resize(static_cast<size_t>(written));
  return json;
}

void store_cudnn_plan(ir::Node& layer, const std::vector<char>& json, const std::string& tactic,
                      const std::string& key) {
  Tensor bytes(DataType::kUInt8, {static_cast<int64_t>(json.size())});
  std::memcpy(bytes.raw(), json.data(), json.size());
  layer.attrs.set(kCudnnPlanAttr, std::move(bytes));
  layer.attrs.set(kCudnnPlanTacticAttr, tactic);
  layer.attrs.set(kCudnnPlanKeyAttr, key);
}

std::shared_ptr<CudnnDescriptor> stored_cudnn_plan(const ir::Node& layer, const std::string& tactic,
                                                   const std::string& key, cudnnHandle_t handle) {
  if (!layer.attrs.has(kCudnnPlanAttr) ||
      layer.attrs.get_string(kCudnnPlanTacticAttr, "") != tactic ||
      layer.attrs.get_string(kCudnnPlanKeyAttr, "") != key) {
    return nullptr;
  }
  const Tensor& bytes = layer.attrs.get_tensor(kCudnnPlanAttr);
  if (bytes.dtype() != DataType::kUInt8 || bytes.shape().size() != 1 || bytes.numel() == 0) {
    return nullptr;
  }
  // cuDNN parses the text; a plan file's bytes are not trusted to end in a terminator.
  std::vector<char> json(static_cast<const char*>(bytes.raw()),
                         static_cast<const char*>(bytes.raw()) + bytes.numel());
  json.push_back('\0');
  auto plan = std::make_shared<CudnnDescriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  if (cudnnBackendSetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                               &handle) != CUDNN_STATUS_SUCCESS ||
      cudnnBackendSetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_JSON_REPRESENTATION,
                               CUDNN_TYPE_CHAR, static_cast<int64_t>(bytes.numel()),
                               json.data()) != CUDNN_STATUS_SUCCESS ||
      plan->try_finalize() != CUDNN_STATUS_SUCCESS) {
    return nullptr;
  }
  return plan;
}

}  // namespace kiln::cuda
