// Model opening for `kiln bench`.
#include "bench_model.hpp"

#include <chrono>
#include <sstream>

#include "kiln/error.hpp"

namespace kiln::tools {

using Clock = std::chrono::steady_clock;

BenchModel open_bench_model(const std::string& path, const BuilderConfig& config,
                            std::optional<Backend> backend_requested, bool cuda_graph,
                            const RunInputOptions& input_opts, std::ostream& notes) {
  BenchModel m;
  m.format = detect_model_format(path);
  std::ostringstream input_log;  // the report lists the inputs itself
  if (m.format == ModelFormat::kPlan) {
    if (config.fp16 || config.bf16 || !config.tf32 || config.layout != Layout::kAuto) {
      fail(ErrorCode::kInvalidArgument,
           "--fp16, --bf16, --no-tf32 and --layout choose how an ONNX model is built; '", path,
           "' is a plan, already built");
    }
    auto load_start = Clock::now();
    m.engine = Engine::load(path);
    m.load_s = std::chrono::duration<double>(Clock::now() - load_start).count();
    if (backend_requested && *backend_requested != m.engine->backend()) {
      fail(ErrorCode::kInvalidArgument, "'", path, "' is a plan for the ",
           to_string(m.engine->backend()), " backend, not ", to_string(*backend_requested),
           "; build the ONNX model for ", to_string(*backend_requested), " instead");
    }
    if (cuda_graph && m.engine->backend() != Backend::kCuda) {
      fail(ErrorCode::kInvalidArgument, "--graph replays CUDA graphs; '", path,
           "' is a plan for the ", to_string(m.engine->backend()), " backend");
    }
    m.inputs = prepare_inputs(m.engine->inputs(), input_opts, input_log, notes);
    return m;
  }
  auto start = Clock::now();
  Network network = parse_onnx_file(path);
  m.inputs = prepare_inputs(network.inputs(), input_opts, input_log, notes);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : m.inputs) shapes.emplace(name, t.shape());
  network.set_input_shapes(shapes);  // every shape that follows from the inputs becomes static
  BuilderConfig built_for = config;
  built_for.input_shapes = shapes;  // activation memory planned for exactly these
  m.engine = build_engine(network, built_for);
  m.build_s = std::chrono::duration<double>(Clock::now() - start).count();
  return m;
}

}  // namespace kiln::tools
