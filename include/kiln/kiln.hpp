// kiln public API: parse a network, build an engine for a target, save/load it as a plan, run it.
// The vocabulary is TensorRT's: Builder, BuilderConfig, Network, Engine, ExecutionContext.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "kiln/tensor.hpp"
#include "kiln/types.hpp"

namespace kiln {

std::string_view version();  // "MAJOR.MINOR.PATCH"

enum class Backend : uint8_t { kCpu = 1, kCuda = 2 };
std::string_view to_string(Backend b);
// Whether this kiln build has the backend's kernels (the CUDA backend is built only where the CUDA
// toolkit was found), and whether engines for it can run on this machine (CUDA needs a GPU).
bool backend_built(Backend b);
bool backend_available(Backend b);

// Memory layout of the activations around convolutions. kAuto lets the backend choose: CUDA runs
// every convolution channels-last (NHWC, what tensor-core kernels read); the CPU keeps NCHW except
// where channels-last removes transposes (a model fed channels-last input).
enum class Layout : uint8_t { kAuto = 0, kNchw = 1, kNhwc = 2 };
std::string_view to_string(Layout l);  // "auto", "nchw", "nhwc"
// Parses those names (any case); nullopt for anything else.
std::optional<Layout> parse_layout(std::string_view name);

enum class LogSeverity { kError = 0, kWarning = 1, kInfo = 2, kVerbose = 3 };

// Receives kiln's diagnostics. The default writes warnings and errors to stderr.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogSeverity severity, std::string_view message) = 0;
};
// Routes every kiln message at or below `max_severity` to `logger` (nullptr: back to stderr).
void set_logger(Logger* logger, LogSeverity max_severity = LogSeverity::kWarning);

// A layer attribute: int, float, string, a list of one of those, or a tensor.
using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                                    std::vector<float>, std::vector<std::string>, Tensor>;
using LayerAttributes = std::map<std::string, AttributeValue>;

struct TensorDesc;

// A network description: a graph of layers with named inputs and outputs. Made by parsing ONNX,
// or defined layer by layer: add inputs and constants, add layers reading them, mark outputs.
// Layers use kiln's op names with the semantics of the newest ONNX opset (e.g. Reshape takes its
// shape as input 1, Clip its bounds as inputs 1 and 2). Each layer is checked as it is added:
// its inputs must exist and type/shape inference must accept it, or Error(kInvalidArgument)
// names the layer, and the network is left as it was.
class Network {
 public:
  Network();  // empty, to be defined layer by layer
  ~Network();
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;

  // A graph input; a dim of -1 is fixed only at run time. Returns `name`.
  std::string add_input(const std::string& name, DataType dtype, const std::vector<int64_t>& dims);
  // A constant tensor (a weight); the network keeps its own copy. Returns `name`.
  std::string add_constant(const std::string& name, const Tensor& value);
  // A layer running `op` on tensors named by `inputs` ("" for an omitted optional input).
  // `name` defaults to "<op>_<n>"; `num_outputs` 0 means the op's fewest. Returns the output
  // names: the layer's name for a single output, "<name>_<k>" otherwise.
  std::vector<std::string> add_layer(const std::string& op, const std::vector<std::string>& inputs,
                                     const LayerAttributes& attributes = {},
                                     const std::string& name = "", int num_outputs = 0);
  // Makes a tensor a network output, in the order of the calls.
  void mark_output(const std::string& name);
  // A tensor's dtype and shape as inference knows them (dims -1 where known only at run time).
  TensorDesc describe(const std::string& name) const;
  // The inputs and outputs, in order, and every tensor (inputs, constants, layer outputs) in the
  // order they were made, each as describe() gives it.
  std::vector<TensorDesc> inputs() const;
  std::vector<TensorDesc> outputs() const;
  std::vector<TensorDesc> tensors() const;
  // The data of a constant tensor (a weight, or one simplify_network() folded); nullopt for a
  // tensor that is not constant or not in the network.
  std::optional<Tensor> constant(const std::string& name) const;
  // Gives the named inputs these shapes (-1 for a dimension fixed only at run time) and infers
  // every layer's shapes again, so what follows from the inputs becomes static (TensorRT's
  // ITensor::setDimensions). Throws Error(kInvalidArgument) naming an unknown input or the layer
  // the new shapes do not fit, and leaves the network as it was.
  void set_input_shapes(const std::map<std::string, Shape>& shapes);
  // A deep copy (constant data shared: constants never change), e.g. to mark more outputs on.
  Network clone() const;

  struct Impl;
  Impl& impl() { return *impl_; }
  const Impl& impl() const { return *impl_; }
  explicit Network(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses an ONNX model file (external-data weights are read next to it). Throws Error naming the
// file on malformed input, and one Error listing every unsupported node.
Network parse_onnx_file(const std::string& path);
Network parse_onnx_bytes(std::string_view bytes, const std::string& name = "<memory>");
// Whether the ONNX parser imports nodes of this op type of the default domain (TensorRT's
// IParser::supportsOperator).
bool supports_onnx_op(std::string_view op_type);

// The precision a layer computes in. TF32 is FP32 storage with TF32 matrix math on GPUs; FP16 and
// BF16 layers store their values and weights in that type and accumulate in FP32.
enum class Precision : uint8_t { kFloat32, kTf32, kFloat16, kBFloat16 };
std::string_view to_string(Precision p);  // "fp32", "tf32", "fp16", "bf16"
// Parses those names (any case); nullopt for anything else.
std::optional<Precision> parse_precision(std::string_view name);

// Where a GPU build's auto-tuning is: `done` of `total` layers prepared (their tactics timed),
// `layer` the one being prepared (empty once all are), seconds since tuning began.
struct BuildProgress {
  size_t done = 0;
  size_t total = 0;
  std::string layer;
  double elapsed_s = 0;
};

struct BuilderConfig {
  Backend backend = Backend::kCpu;
  bool tf32 = true;   // allow TF32 for FP32 matrix work (MatMul, Gemm, Conv, attention) on GPUs
  bool fp16 = false;  // allow FP16 layers (preferred over BF16 when both are allowed)
  bool bf16 = false;  // allow BF16 layers
  // Per-layer precision, keyed by layer name or by the name of an ONNX node the layer came from.
  // A constraint wins over the flags and over kiln's choice of which layers stay FP32.
  std::map<std::string, Precision> layer_precisions;
  // Constraints must hold exactly: a constraint that names no layer or asks for a precision the
  // layer cannot run in fails the build (otherwise it is a warning and the layer keeps FP32).
  bool strict_types = false;
  Layout layout = Layout::kAuto;  // kNchw / kNhwc force one layout for every convolution
  // 0: no graph optimization; 1-2: every pass, each GPU layer takes its first applicable tactic;
  // 3: also times each layer's tactics on this machine's GPU and records the fastest (CUDA).
  int optimization_level = 3;
  size_t workspace_limit = size_t{1} << 30;
  std::string timing_cache_path;
  // Passes left out of the build pipeline, by name (`kiln build --verbose` lists the passes that
  // ran, stage by stage). A name that is no pass of this build, or a step the build cannot do
  // without (the layout and precision stages), fails the build.
  std::set<std::string> disabled_passes;
  // Tactics pinned by layer name, by the name of an ONNX node a layer came from, or by op
  // ("ScaledDotProductAttention" -> "gemm"): those layers run that tactic and are not timed; the
  // plan records the pin. A key that matches no layer fails the build; a tactic that does not
  // apply to a layer fails when the layer is prepared on the GPU (at build time where there is
  // one), naming the layer and the tactics that apply.
  std::map<std::string, std::string> tactics;
  // Optimization-profile shapes by input name: the shapes the activation memory is planned for.
  // An input left out is planned with each unknown dimension taken as 1. An execution context
  // uses the planned arena for runs whose input shapes equal these; other shapes still run, with
  // activations allocated one by one.
  std::map<std::string, Shape> input_shapes;
  // Called on the building thread before each layer is tuned and once when all are (GPU builds
  // on a machine with a GPU; `kiln build` draws a progress bar with it on a terminal). Must not
  // throw.
  std::function<void(const BuildProgress&)> progress;
};

struct TensorDesc {
  std::string name;
  DataType dtype = DataType::kFloat32;
  std::vector<int64_t> dims;           // -1 for a dimension fixed only at run time
  std::vector<std::string> dim_names;  // symbolic names of those dimensions ("" if none)
  bool rank_known = true;              // false: even the rank is unknown (dims is empty)
};

// One executed layer, as `kiln inspect` lists it.
struct LayerInfo {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<std::string> origins;  // ONNX nodes the layer came from
  std::string precision;  // what the builder chose: "fp32", "tf32", "fp16", "bf16", "int64"...
  std::map<std::string, std::string> attributes;
  // GPU engines whose later layers have data-dependent shapes (detection post-processing): this
  // layer runs on the host, by the CPU backend, after the GPU layers.
  bool on_host = false;
};

class ExecutionContext;
class Profiler;

// An optimized network for one target. Immutable and shareable: weights are held once and every
// execution context reads them.
class Engine {
 public:
  ~Engine();

  // Loads a plan file. Refuses (Error kInvalidPlan) a corrupt, truncated or foreign file, or one
  // written by another kiln version or for another target, saying which.
  static std::unique_ptr<Engine> load(const std::string& path);
  static std::unique_ptr<Engine> deserialize(std::string_view bytes);
  void save(const std::string& path) const;
  std::vector<uint8_t> serialize() const;

  Backend backend() const;
  const std::vector<TensorDesc>& inputs() const;
  const std::vector<TensorDesc>& outputs() const;
  std::vector<LayerInfo> layers() const;
  std::unique_ptr<ExecutionContext> create_execution_context() const;

  struct Impl;
  explicit Engine(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

std::unique_ptr<Engine> build_engine(const Network& network, const BuilderConfig& config);

// The TensorRT-style entry point: parse a network, then build it into an engine or a plan.
class Builder {
 public:
  // Routes kiln's diagnostics to `logger` (nullptr keeps the current sink).
  explicit Builder(Logger* logger = nullptr, LogSeverity max_severity = LogSeverity::kWarning);

  Network parse_onnx_file(const std::string& path) const { return kiln::parse_onnx_file(path); }
  std::unique_ptr<Engine> build(const Network& network, const BuilderConfig& config) const {
    return build_engine(network, config);
  }
  // Builds and serializes in one step: the bytes of a plan file.
  std::vector<uint8_t> build_serialized(const Network& network, const BuilderConfig& config) const {
    return build_engine(network, config)->serialize();
  }
};

// Per-run state (activations, kernel scratch). One context per concurrent run.
class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  // Runs the engine on host tensors, given by input name; returns the outputs in the order of
  // Engine::outputs(). Throws Error naming the tensor on a missing, unknown or mis-shaped input.
  virtual std::vector<Tensor> execute(const std::map<std::string, Tensor>& inputs) = 0;

  // GPU engines: launches the whole engine on `stream` (a cudaStream_t) with no allocation, host
  // synchronisation or host-device copy. `device_bindings` maps every input and output name to
  // device memory of the engine's static shape. CPU contexts throw Error(kUnsupported).
  virtual void enqueue(const std::map<std::string, void*>& device_bindings, void* stream);

  // GPU engines: capture enqueue() into a CUDA graph on first use and replay it afterwards, which
  // removes per-layer launch overhead. Off by default.
  virtual void set_cuda_graph(bool enabled);

  // While set, every run reports each layer's time to `profiler` (kiln/profiler.hpp) when it has
  // finished; nullptr stops that. GPU contexts then launch without their CUDA graph and enqueue()
  // waits for the stream, so profiled runs are slower than others.
  virtual void set_profiler(Profiler* profiler) = 0;

  // The context whose enqueue() launches the engine's GPU layers: this one, except for an engine
  // whose last layers run on the host (LayerInfo::on_host), whose own enqueue() refuses; there it
  // is the context of the layers before the host ones, binding the tensors that
  // EngineInformation::device_part_inputs/outputs name (kiln/inspector.hpp), and nullptr when
  // every layer runs on the host.
  virtual ExecutionContext* device_part() { return this; }
};

}  // namespace kiln
