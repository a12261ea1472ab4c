// Pointwise on the GPU. prepare() collapses the output dims (and each input's broadcast strides)
// to as few as possible, generates the layer's CUDA source and compiles it with NVRTC for this
// device (pointwise_compiler.cpp caches it per process); where that fails it uploads the program
// for the interpreter kernel instead. enqueue() launches one kernel either way.
//
// The tactic "interpret" (`kiln build --tactic Pointwise=interpret`) pins the interpreter (for
// tests and to rule out code generation when debugging a model).
#include <cstdlib>
#include <cstring>

#include "backends/cuda/cuda_check.hpp"
#include "backends/cuda/cuda_kernel.hpp"
#include "backends/cuda/device_buffer.hpp"
#include "backends/cuda/families.hpp"
#include "backends/cuda/pointwise_codegen.hpp"
#include "backends/cuda/pointwise_compiler.hpp"
#include "backends/cuda/pointwise_interpreter.hpp"
#include "backends/cuda/pointwise_prebuilt.hpp"
#include "core/logging.hpp"
#include "ir/layer_tactic.hpp"
#include "ir/pointwise_program.hpp"

namespace kiln::cuda {
namespace {

constexpr int kThreads = 256;

// The two ways to run a Pointwise layer: the kernel generated for its program (NVRTC), or the
// interpreter of its program, which the generated kernel falls back to.
constexpr const char* kCompiledTactic = "compiled";
constexpr const char* kInterpretTactic = "interpret";

// Whether the layer's pinned tactic (BuilderConfig::tactics) asks for the interpreter.
bool interpreter_pinned(const CudaKernelContext& ctx) {
  std::optional<std::string> pinned = ir::pinned_tactic(ctx.node);
  if (!pinned) return false;
  if (*pinned != kCompiledTactic && *pinned != kInterpretTactic) {
    // Not kUnsupported: that would send the layer to the host fallback instead of failing.
    ctx.fail(ErrorCode::kInvalidArgument, "its pinned tactic is '", *pinned, "'; it takes '",
             kCompiledTactic, "' or '", kInterpretTactic, "'");
  }
  return *pinned == kInterpretTactic;
}

// Fills dims/strides of `args`: the output shape without unit dims, neighbours merged where every
// input stays evenly strided across them.
void plan_broadcast(const CudaKernelContext& ctx, const Shape& out, PointwiseArgs& args) {
  const size_t n_in = ctx.inputs.size();
  const size_t rank = out.size();
  std::vector<std::vector<int64_t>> strides(n_in, std::vector<int64_t>(rank, 0));
  for (size_t k = 0; k < n_in; ++k) {
    const Shape& s = ctx.inputs[k].shape;
    if (s.size() > rank)
      ctx.fail(ErrorCode::kInternal, "input ", k, " has a higher rank than the output");
    int64_t stride = 1;
    for (size_t j = s.size(); j-- > 0;) {
      size_t d = j + rank - s.size();
      strides[k][d] = s[j] == 1 ? 0 : stride;
      stride *= s[j];
    }
  }
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> merged(n_in);
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    bool mergeable = !dims.empty();
    for (size_t k = 0; k < n_in && mergeable; ++k)
      mergeable = merged[k].back() == strides[k][d] * out[d];
    if (mergeable) {
      dims.back() *= out[d];
      for (size_t k = 0; k < n_in; ++k) merged[k].back() = strides[k][d];
      continue;
    }
    dims.push_back(out[d]);
    for (size_t k = 0; k < n_in; ++k) merged[k].push_back(strides[k][d]);
  }
  if (dims.empty()) {
    dims.push_back(1);
    for (auto& m : merged) m.push_back(0);
  }
  if (dims.size() > static_cast<size_t>(kPointwiseMaxRank)) {
    ctx.fail(ErrorCode::kUnsupported, "the broadcast over ", shape_to_string(out), " needs ",
             dims.size(), " dims; the CUDA Pointwise kernel takes ", kPointwiseMaxRank);
  }
  std::memset(&args, 0, sizeof args);
  args.rank = static_cast<int>(dims.size());
  args.total = shape_numel(out);
  for (size_t d = 0; d < dims.size(); ++d) {
    args.dims[d] = dims[d];
    for (size_t k = 0; k < n_in; ++k) args.strides[k][d] = merged[k][d];
  }
}

class PointwiseKernel final : public CudaKernel {
 public:
  explicit PointwiseKernel(const ir::Node& node)
      : program_(ir::PointwiseProgram::load(node.attrs, static_cast<int64_t>(node.inputs.size()),
                                            static_cast<int64_t>(node.outputs.size()),
                                            node.describe())) {}

  size_t prepare(const CudaKernelContext& ctx) override {
    if (ctx.inputs.size() > static_cast<size_t>(kPointwiseMaxInputs) ||
        ctx.outputs.size() > static_cast<size_t>(kPointwiseMaxOutputs)) {
      ctx.fail(ErrorCode::kUnsupported, "the CUDA Pointwise kernel takes up to ",
               kPointwiseMaxInputs, " inputs and ", kPointwiseMaxOutputs,
               " outputs; this layer has ", ctx.inputs.size(), " and ", ctx.outputs.size());
    }
    dtype_ = ctx.outputs.at(0).dtype;
    plan_broadcast(ctx, ctx.outputs.at(0).shape, args_);
    if (args_.total == 0) return 0;
    std::string compile_error;
    if (!interpreter_pinned(ctx)) {
      try {
        const int arch = ctx.libs ? ctx.libs->compute_capability : 90;
        const std::string source = pointwise_cuda_source(program_, dtype_);
        // The kernel the builder compiled into the plan, where it was built for this GPU.
        if (std::optional<std::vector<char>> cubin =
                stored_pointwise_cubin(ctx.node, source, arch)) {
          compiled_ = load_pointwise_cubin(source, arch, std::move(*cubin));
        } else {
          compiled_ = compile_pointwise(source, arch, ctx.node.describe());
        }
        return 0;
      } catch (const Error& e) {
        compile_error = e.what();
      }
      log(Severity::kWarning, cat(ctx.node.describe(), ": running the Pointwise interpreter, as ",
                                  "the generated kernel failed: ", compile_error));
    }
    upload_program(ctx);
    return 0;
  }

  void enqueue(const CudaKernelContext& ctx) override {
    if (args_.total == 0) return;
    PointwiseArgs args = args_;
    for (size_t k = 0; k < ctx.inputs.size(); ++k) args.in[k] = ctx.inputs[k].data;
    for (size_t k = 0; k < ctx.outputs.size(); ++k) args.out[k] = ctx.outputs[k].data;
    if (compiled_) {
      int64_t blocks = std::min<int64_t>((args.total + kThreads - 1) / kThreads, int64_t{1} << 20);
      void* params[] = {&args};
      KILN_CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(compiled_->kernel),
                                       dim3(static_cast<unsigned>(blocks)), dim3(kThreads), params,
                                       0, ctx.stream));
      return;
    }
    launch_pointwise_interpreter(
        args, dtype_, static_cast<const DeviceInstruction*>(code_.get()),
        static_cast<int>(program_.code.size()), static_cast<const float*>(constants_.get()),
        static_cast<int>(program_.num_inputs), static_cast<const int32_t*>(outputs_.get()),
        static_cast<int>(program_.outputs.size()), ctx.stream);
  }

 private:
  void upload_program(const CudaKernelContext& ctx) {
    if (program_.num_registers() > kInterpreterMaxRegisters) {
      ctx.fail(ErrorCode::kUnsupported, "the Pointwise program uses ", program_.num_registers(),
               " registers; the CUDA interpreter holds ", kInterpreterMaxRegisters,
               " (and the generated kernel could not be built)");
    }
    std::vector<DeviceInstruction> code;
    for (const ir::PointwiseInstruction& ins : program_.code) {
      code.push_back({static_cast<int32_t>(ins.op), static_cast<int32_t>(ins.a),
                      static_cast<int32_t>(ins.b), static_cast<int32_t>(ins.c)});
    }
    std::vector<int32_t> outputs(program_.outputs.begin(), program_.outputs.end());
    auto upload = [](DeviceBuffer& buf, const void* data, size_t bytes) {
      buf = DeviceBuffer(std::max<size_t>(bytes, 1));
      if (bytes) KILN_CUDA_CHECK(cudaMemcpy(buf.get(), data, bytes, cudaMemcpyHostToDevice));
    };
    upload(code_, code.data(), code.size() * sizeof(DeviceInstruction));
    upload(constants_, program_.constants.data(), program_.constants.size() * sizeof(float));
    upload(outputs_, outputs.data(), outputs.size() * sizeof(int32_t));
  }

  ir::PointwiseProgram program_;
  DataType dtype_ = DataType::kFloat32;
  PointwiseArgs args_{};
  std::shared_ptr<const CompiledPointwise> compiled_;
  DeviceBuffer code_, constants_, outputs_;  // the interpreter's copy of the program
};

}  // namespace

void register_elementwise_pointwise_kernels(CudaKernelRegistry& r) {
  r.add("Pointwise", [](const ir::Node& node) -> std::unique_ptr<CudaKernel> {
    return std::make_unique<PointwiseKernel>(node);
  });
}

}  // namespace kiln::cuda
