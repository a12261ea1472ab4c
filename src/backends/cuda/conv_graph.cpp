// The convolution operation graph (conv, then the fused epilogue as pointwise nodes over virtual
// float tensors) and the search for execution plans that finalize.
#include "backends/cuda/conv_graph.hpp"

#include <map>

#include "backends/cuda/cuda_check.hpp"
#include "core/error.hpp"

// The handle attributes of the operation graph and the execution plan are marked deprecated in
// recent cuDNN 9 releases in favour of device-property descriptors that older 9.x lack; they still
// work in every 9.x, so kiln sets them.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace kiln::cuda {
namespace {

// Uids of the virtual tensors between the graph's nodes.
constexpr int64_t kFirstVirtualUid = 100;

CudnnDescriptor make_tensor(int64_t uid, cudnnDataType_t type, const std::vector<int64_t>& dims,
                            const std::vector<int64_t>& strides, bool is_virtual) {
  CudnnDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  t.set_data_type(CUDNN_ATTR_TENSOR_DATA_TYPE, type)
      .set_ints(CUDNN_ATTR_TENSOR_DIMENSIONS, dims)
      .set_ints(CUDNN_ATTR_TENSOR_STRIDES, strides)
      .set_int(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid)
      .set_int(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, kConvAlignment)
      .set_bool(CUDNN_ATTR_TENSOR_IS_VIRTUAL, is_virtual);
  t.finalize();
  return t;
}

// Numerical notes that would take a strict FP32 convolution off FP32 arithmetic (TF32 tensor
// cores, down-converted inputs) or change its rounding noticeably (FFT, Winograd).
bool engine_allowed(cudnnBackendDescriptor_t engine, cudnnDataType_t type, bool allow_tf32,
                    bool filtered) {
  if (!filtered) return true;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t count = 0;
  if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count,
                               notes) != CUDNN_STATUS_SUCCESS) {
    return true;
  }
  for (int64_t i = 0; i < count; ++i) {
    cudnnBackendNumericalNote_t n = notes[i];
    if (n == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return false;
    if (type == CUDNN_DATA_FLOAT && !allow_tf32 &&
        (n == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || n == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS ||
         n == CUDNN_NUMERICAL_NOTE_FFT || n == CUDNN_NUMERICAL_NOTE_WINOGRAD ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_4x4 ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_6x6 ||
         n == CUDNN_NUMERICAL_NOTE_WINOGRAD_TILE_13x13)) {
      return false;
    }
  }
  return true;
}

// A scalar pointwise parameter, typed as the node's math precision.
void set_scalar(CudnnDescriptor& d, cudnnBackendAttributeName_t name, cudnnDataType_t compute,
                double v) {
  if (compute == CUDNN_DATA_DOUBLE) {
    d.set(name, CUDNN_TYPE_DOUBLE, 1, &v);
  } else {
    auto f = static_cast<float>(v);
    d.set(name, CUDNN_TYPE_FLOAT, 1, &f);
  }
}

// The pointwise descriptor of the activation (which cudnn_has_activation accepted).
CudnnDescriptor activation_descriptor(const ir::Activation& a, cudnnDataType_t compute) {
  using K = ir::ActivationKind;
  cudnnPointwiseMode_t mode = CUDNN_POINTWISE_RELU_FWD;
  switch (a.kind) {
    case K::kSigmoid:
      mode = CUDNN_POINTWISE_SIGMOID_FWD;
      break;
    case K::kTanh:
      mode = CUDNN_POINTWISE_TANH_FWD;
      break;
    case K::kGelu:
      mode = CUDNN_POINTWISE_GELU_FWD;
      break;
    case K::kGeluTanh:
      mode = CUDNN_POINTWISE_GELU_APPROX_TANH_FWD;
      break;
    case K::kElu:
      mode = CUDNN_POINTWISE_ELU_FWD;
      break;
    case K::kSilu:
      mode = CUDNN_POINTWISE_SWISH_FWD;
      break;
    default:
      break;  // the Relu family
  }
  CudnnDescriptor d(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  d.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode)
      .set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, compute);
  switch (a.kind) {
    case K::kRelu:
      break;  // cuDNN's defaults: lower clip 0, no upper clip, slope 0
    case K::kLeakyRelu:
      // x < lower ? lower + slope * (x - lower) : x, with the default lower clip 0.
      set_scalar(d, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP_SLOPE, compute, a.alpha);
      break;
    case K::kClip:
      set_scalar(d, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, compute, a.alpha);
      set_scalar(d, CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, compute, a.beta);
      break;
    case K::kElu:
      set_scalar(d, CUDNN_ATTR_POINTWISE_ELU_ALPHA, compute, a.alpha);
      break;
    case K::kSilu:
      set_scalar(d, CUDNN_ATTR_POINTWISE_SWISH_BETA, compute, 1.0);
      break;
    default:
      break;
  }
  d.finalize();
  return d;
}

}  // namespace

bool cudnn_has_activation(const ir::Activation& act) {
  using K = ir::ActivationKind;
  switch (act.kind) {
    case K::kRelu:
    case K::kLeakyRelu:
    case K::kClip:
    case K::kSigmoid:
    case K::kTanh:
    case K::kGelu:
    case K::kGeluTanh:
    case K::kElu:
    case K::kSilu:
      return true;
    default:
      return false;  // HardSwish, HardSigmoid: kiln's epilogue kernel
  }
}

ConvGraph build_conv_graph(cudnnHandle_t handle, const ConvGeometry& g, cudnnDataType_t type,
                           const GraphEpilogue& e) {
  cudnnDataType_t compute = type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  ConvGraph cg;
  cg.parts.reserve(32);  // references into it are held while building
  const CudnnDescriptor& x =
      cg.parts.emplace_back(make_tensor(kConvX, type, g.x_dims, g.x_strides, false));
  const CudnnDescriptor& w =
      cg.parts.emplace_back(make_tensor(kConvW, type, g.w_dims, g.w_strides, false));
  const CudnnDescriptor& y =
      cg.parts.emplace_back(make_tensor(kConvY, type, g.y_dims, g.y_strides, false));
  CudnnDescriptor& conv = cg.parts.emplace_back(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  conv.set_int(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, static_cast<int64_t>(g.spatial()))
      .set_data_type(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, compute)
      .set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode)
      .set_ints(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, g.pre_pads)
      .set_ints(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, g.post_pads)
      .set_ints(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, g.strides)
      .set_ints(CUDNN_ATTR_CONVOLUTION_DILATIONS, g.dilations);
  conv.finalize();

  // The steps after the convolution; the last one writes y, the others virtual tensors.
  struct Step {
    enum Kind { kBias, kResidual, kActivation } kind;
  };
  std::vector<Step> steps;
  if (e.bias) steps.push_back({Step::kBias});
  if (e.residual && e.residual_before_activation) steps.push_back({Step::kResidual});
  if (e.act.kind != ir::ActivationKind::kNone) steps.push_back({Step::kActivation});
  if (e.residual && !e.residual_before_activation) steps.push_back({Step::kResidual});

  int64_t next_uid = kFirstVirtualUid;
  auto virtual_tensor = [&]() -> const CudnnDescriptor& {
    return cg.parts.emplace_back(make_tensor(next_uid++, compute, g.y_dims, g.y_strides, true));
  };
  const CudnnDescriptor* current = steps.empty() ? &y : &virtual_tensor();
  CudnnDescriptor& op =
      cg.parts.emplace_back(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  op.set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x)
      .set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w)
      .set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *current)
      .set_descriptor(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
  if (type == CUDNN_DATA_DOUBLE) {
    double alpha = 1, beta = 0;
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_DOUBLE, 1, &alpha)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_DOUBLE, 1, &beta);
  } else {
    float alpha = 1, beta = 0;
    op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha)
        .set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
  }
  op.finalize();
  std::vector<const CudnnDescriptor*> ops{&op};

  for (size_t i = 0; i < steps.size(); ++i) {
    const CudnnDescriptor& out = i + 1 == steps.size() ? y : virtual_tensor();
    const CudnnDescriptor* operand = nullptr;
    const CudnnDescriptor* pw = nullptr;
    if (steps[i].kind == Step::kActivation) {
      pw = &cg.parts.emplace_back(activation_descriptor(e.act, compute));
    } else {
      operand =
          steps[i].kind == Step::kBias
              ? &cg.parts.emplace_back(
                    make_tensor(kConvBias, type, g.bias_dims, g.bias_strides, false))
              : &cg.parts.emplace_back(make_tensor(kConvZ, type, g.y_dims, g.y_strides, false));
      CudnnDescriptor& add = cg.parts.emplace_back(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
      cudnnPointwiseMode_t add_mode = CUDNN_POINTWISE_ADD;
      add.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &add_mode)
          .set_data_type(CUDNN_ATTR_POINTWISE_MATH_PREC, compute);
      add.finalize();
      pw = &add;
    }
    CudnnDescriptor& node = cg.parts.emplace_back(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    node.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, *pw)
        .set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, *current)
        .set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, out);
    if (operand) node.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *operand);
    node.finalize();
    ops.push_back(&node);
    current = &out;
  }
  cg.graph = CudnnDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  cg.graph.set_descriptors(CUDNN_ATTR_OPERATIONGRAPH_OPS, ops)
      .set_handle(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, handle);
  cg.graph.finalize();
  return cg;
}

int64_t plan_workspace(const CudnnDescriptor& plan) {
  int64_t bytes = 0, n = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                            CUDNN_TYPE_INT64, 1, &n, &bytes));
  return bytes;
}

std::string candidate_kind(const GraphEpilogue& fused) {
  const std::string prefix = cat(fused.bias ? "b" : "", fused.residual ? "r" : "",
                                 fused.act.kind != ir::ActivationKind::kNone ? "a" : "");
  // Names stay those of the plain and bias-fused convolution where the graph is one of those,
  // so timing caches written before fusion existed still apply.
  return prefix.empty() ? "conv" : prefix == "b" ? "fused" : "fused-" + prefix;
}

std::optional<CandidateName> parse_candidate_name(const std::string& name) {
  const size_t eng = name.find(".eng");
  const size_t dot = name.rfind('.');
  if (eng == std::string::npos || dot == std::string::npos || dot <= eng + 4) return std::nullopt;
  CandidateName c;
  c.kind = name.substr(0, eng);
  try {
    size_t used = 0;
    c.engine = std::stoll(name.substr(eng + 4, dot - eng - 4), &used);
    if (used != dot - eng - 4) return std::nullopt;
    c.ordinal = std::stoll(name.substr(dot + 1), &used);
    if (used != name.size() - dot - 1) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (c.engine < 0 || c.ordinal < 0) return std::nullopt;
  return c;
}

std::vector<ConvCandidate> finalized_conv_plans(cudnnHandle_t handle, const CudnnDescriptor& graph,
                                                cudnnBackendHeurMode_t mode, cudnnDataType_t type,
                                                bool allow_tf32, bool filtered,
                                                const GraphEpilogue& fused, size_t limit,
                                                const std::string* wanted) {
  std::vector<ConvCandidate> out;
  const std::string kind = candidate_kind(fused);
  std::optional<CandidateName> target;
  if (wanted) {
    target = parse_candidate_name(*wanted);
    if (!target || target->kind != kind) return out;
  }
  CudnnDescriptor heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  heur.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph)
      .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  if (heur.try_finalize() != CUDNN_STATUS_SUCCESS) return out;
  int64_t count = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr));
  auto configs = std::make_shared<std::vector<CudnnDescriptor>>();
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    configs->emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(configs->back().get());
  }
  int64_t returned = 0;
  KILN_CUDNN_CHECK(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                            CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned,
                                            raw.data()));
  std::map<int64_t, int> seen;  // configs of one engine, numbered so each name is unique
  for (int64_t i = 0; i < returned && out.size() < limit; ++i) {
    CudnnDescriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    cudnnBackendDescriptor_t engine_raw = engine.get();
    int64_t n = 0;
    if (cudnnBackendGetAttribute(raw[i], CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                 1, &n, &engine_raw) != CUDNN_STATUS_SUCCESS) {
      continue;
    }
    if (!engine_allowed(engine.get(), type, allow_tf32, filtered)) continue;
    int64_t index = -1;
    cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                             &index);
    if (target && index != target->engine) continue;  // cannot be the wanted one
    auto plan = std::make_shared<CudnnDescriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    if (cudnnBackendSetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE,
                                 1, &handle) != CUDNN_STATUS_SUCCESS ||
        cudnnBackendSetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                 &raw[i]) != CUDNN_STATUS_SUCCESS ||
        plan->try_finalize() != CUDNN_STATUS_SUCCESS) {
      continue;
    }
    ConvCandidate c;
    c.fused = fused;
    c.plan = std::move(plan);
    c.configs = configs;
    c.workspace = plan_workspace(*c.plan);
    const int ordinal = seen[index]++;
    if (target && ordinal != target->ordinal) continue;
    c.name = cat(kind, ".eng", index, ".", ordinal);
    out.push_back(std::move(c));
    if (target) break;
  }
  return out;
}

}  // namespace kiln::cuda
