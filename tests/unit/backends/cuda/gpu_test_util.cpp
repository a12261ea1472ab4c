// One-node graphs built twice (CPU and CUDA engines) and compared element by element.
#include "unit/backends/cuda/gpu_test_util.hpp"

#include <cmath>
#include <map>
#include <random>

#include "backends/cpu/dispatch.hpp"
#include "core/error.hpp"
#include "ir/op_registry.hpp"
#include "kiln/kiln.hpp"
#include "runtime/engine_impl.hpp"

namespace kiln::test {
namespace {

Tensor make_input(const GpuInput& in, std::mt19937_64& rng) {
  Tensor t(in.dtype, in.shape);
  std::uniform_real_distribution<double> dist(in.low, in.high);
  cpu::visit_dtype(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double v = in.values.empty() ? dist(rng) : in.values.at(static_cast<size_t>(i));
      if constexpr (std::is_same_v<T, bool>) {
        p[i] = in.values.empty() ? v > 0 : v != 0;
      } else if constexpr (std::is_integral_v<T>) {
        p[i] = static_cast<T>(in.values.empty() ? std::floor(v) : v);
      } else {
        p[i] = static_cast<T>(static_cast<cpu::compute_t<T>>(v));
      }
    }
    for (const auto& [i, v] : in.specials) p[i] = static_cast<T>(static_cast<cpu::compute_t<T>>(v));
  });
  return t;
}

double at(const Tensor& t, int64_t i) {
  return cpu::visit_dtype(t.dtype(), [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(cpu::load(t.data<T>()[i]));
  });
}

std::vector<Tensor> run(const GpuCase& c, const std::vector<Tensor>& values, Backend backend) {
  auto g = std::make_unique<ir::Graph>();
  std::vector<ir::Value*> ins;
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    std::string name = "in" + std::to_string(i);
    if (c.inputs[i].omitted) {
      ins.push_back(nullptr);
    } else if (c.inputs[i].constant) {
      ins.push_back(g->add_constant(name, values[i]));
    } else {
      ir::Value* v = g->add_value(name, values[i].dtype(), ir::to_sym_shape(values[i].shape()));
      g->inputs().push_back(v);
      feeds[name] = values[i];
      ins.push_back(v);
    }
  }
  std::vector<ir::Value*> outs;
  for (size_t i = 0; i < c.num_outputs; ++i) {
    outs.push_back(g->add_value("out" + std::to_string(i)));
    g->outputs().push_back(outs.back());
  }
  ir::Node* n = g->add_node(c.op, "layer", ins, outs);
  for (const auto& [k, v] : c.attrs.all()) n->attrs.set(k, v);
  ir::infer_graph(*g);
  auto impl = std::make_unique<Network::Impl>();
  impl->graph = std::move(g);
  Network net(std::move(impl));
  BuilderConfig config;
  config.backend = backend;
  config.optimization_level = 0;  // test the op itself, not what folding makes of it
  config.tf32 = c.tf32;           // without it FP32 layers compare with the CPU at FP32 tolerance
  if (backend == Backend::kCuda && !c.tactic.empty()) config.tactics[c.op] = c.tactic;
  return build_engine(net, config)->create_execution_context()->execute(feeds);
}

}  // namespace

bool gpu_available() {
  return backend_available(Backend::kCuda);
}

std::string compare_cuda_with_cpu(const GpuCase& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Tensor> values;
  for (const GpuInput& in : c.inputs) values.push_back(make_input(in, rng));
  std::vector<Tensor> expected, actual;
  try {
    expected = run(c, values, Backend::kCpu);
  } catch (const Error& e) {
    return cat("CPU reference failed: ", e.what());
  }
  try {
    actual = run(c, values, Backend::kCuda);
  } catch (const Error& e) {
    return cat("CUDA failed: ", e.what());
  }
  for (size_t o = 0; o < expected.size(); ++o) {
    const Tensor& e = expected[o];
    const Tensor& a = actual.at(o);
    if (e.dtype() != a.dtype() || e.shape() != a.shape()) {
      return cat("output ", o, ": CUDA gives ", to_string(a.dtype()), shape_to_string(a.shape()),
                 ", CPU ", to_string(e.dtype()), shape_to_string(e.shape()));
    }
    bool exact = !is_floating(e.dtype());
    for (int64_t i = 0; i < e.numel(); ++i) {
      double x = at(e, i), y = at(a, i);
      bool ok = (std::isnan(x) && std::isnan(y)) || x == y ||
                (!exact && std::fabs(x - y) <= c.atol + c.rtol * std::fabs(x));
      if (!ok) return cat("output ", o, " element ", i, ": CUDA ", y, ", CPU ", x);
    }
  }
  return "";
}

}  // namespace kiln::test
