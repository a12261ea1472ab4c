// What a network or an engine holds, layer by layer (TensorRT's IEngineInspector): each layer's
// op, tensors, precision, layout, tactic, attributes and FLOPs, the size and cost of the whole,
// and an engine's activation memory plan. `kiln inspect` prints exactly this.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln {

// "[batch,3,224,224]": known dims as numbers, symbolic ones by name, other unknown ones "?";
// "[?]" when even the rank is unknown.
std::string shape_to_string(const TensorDesc& tensor);

// Whether `first_bytes` (a file's first 8 bytes or more) start like a kiln plan: how `kiln
// inspect` tells plans from ONNX models. Engine::load checks the rest.
bool looks_like_plan(std::string_view first_bytes);

// What running a layer of an engine with a memory plan does.
enum class LayerExecution : uint8_t {
  kKernel,           // launches its kernel
  kView,             // nothing: its output is a view of its input (a Reshape-like layer)
  kAssembledConcat,  // nothing: a Concat whose inputs were written into their slices of it
};

struct LayerInformation {
  std::string name;
  std::string op;
  std::string domain;                // "" for kiln's own ops (ONNX's default domain)
  std::vector<TensorDesc> inputs;    // name "" where an optional input is omitted
  std::vector<TensorDesc> outputs;   // name "" where an optional output is omitted
  std::vector<std::string> origins;  // the ONNX nodes the layer came from
  // What the builder chose: "fp32", "tf32", "fp16", "bf16" for float work, the element type
  // ("int64", "bool") for layers without; "" in a network not yet built.
  std::string precision;
  // For layers whose kernels care (convolutions, pooling, resizing, normalizations): "NHWC" where
  // the builder chose channels-last, "NCHW" otherwise; "" for other layers.
  std::string layout;
  std::string tactic;  // the implementation a GPU build chose and recorded; "" where none was
  std::map<std::string, std::string> attributes;  // values as text
  // FLOPs, with unknown dims of known-rank shapes taken as 1 (as GraphStatistics counts them);
  // nullopt where shapes are unknown or the op has no formula.
  std::optional<double> flops;
  LayerExecution execution = LayerExecution::kKernel;
  bool on_host = false;  // as LayerInfo::on_host
};

// Size and cost of the layers that are not on the host.
struct GraphStatistics {
  std::map<std::string, int64_t> op_histogram;  // layers per op
  // Elements of the distinct constant tensors layers read that hold weights (floats and 8-bit
  // integers; int32/int64/bool constants are shapes, axes and indices).
  int64_t parameters = 0;
  double flops = 0;                               // over the layers with a FLOP count
  std::vector<std::string> symbols_taken_as_one;  // symbolic dims counted as 1, sorted ("batch")
  std::vector<size_t> uncounted_layers;  // indexes into `layers` of layers without a FLOP count
};

// One activation (a layer output) in the arena.
struct ActivationPlacement {
  std::string name;
  uint64_t bytes = 0;
  std::optional<uint64_t> offset;  // in the arena; nullopt for a view, which has no bytes
  std::string view_of;             // a view of this tensor (its layer's input)
  std::string in_place_of;         // written over this input of its layer, which dies there
  // Written by its layer straight into its slice of this Concat output (`offset` is the slice's).
  std::string concat_into;
};

// Where an execution context keeps activations: one arena, offsets from tensor lifetimes.
struct MemoryPlanInformation {
  uint64_t arena_bytes = 0;        // the one activation allocation each execution context makes
  uint64_t lower_bound_bytes = 0;  // the most bytes alive at once: no arena can be smaller
  uint64_t total_bytes = 0;        // every activation allocated on its own, nothing reused
  std::map<std::string, Shape> input_shapes;    // the input shapes the plan is for
  std::vector<ActivationPlacement> tensors;     // every layer output, in layer order
  std::vector<std::string> eliminated_concats;  // outputs of kAssembledConcat layers, sorted
};

struct EngineInformation {
  std::string name;  // the network's name (an ONNX model's graph name)
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  std::vector<LayerInformation> layers;  // in execution order, host layers last
  GraphStatistics statistics;
  std::optional<MemoryPlanInformation> memory;  // engines with static activation shapes only
  // Engines whose last layers run on the host: why (the first tensor or layer whose shape depends
  // on the data); "" otherwise.
  std::string host_part_reason;
  // The inputs and outputs of the layers not on the host, which ExecutionContext::device_part()->
  // enqueue() binds: `inputs` and `outputs`, except for an engine with host layers.
  std::vector<TensorDesc> device_part_inputs;
  std::vector<TensorDesc> device_part_outputs;
};

EngineInformation inspect_engine(const Engine& engine);
// A network as parsed or defined, not built: no precision, tactic or memory plan.
EngineInformation inspect_network(const Network& network);

// The engine's layers as text, one per line, as `kiln build --verbose` prints them:
//   %y: float32[batch,16] = Relu(%x)  # from relu_1
// An engine with host layers: the layers before them.
std::string format_layers(const Engine& engine);

}  // namespace kiln
