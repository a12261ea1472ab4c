// NaN, +Inf and -Inf through every op family, against ONNX Runtime: the small models of
// nan_propagation_cases.inc (written by nan_propagation_cases.py with ONNX Runtime's outputs) run
// on the CPU unfused (optimization level 0) and fused (the default pipeline: Conv+Relu epilogues,
// Pointwise chains, recognized Gelu/LayerNorm/attention), and on CUDA where a device is present.
// A NaN must come out where ONNX Runtime gives NaN, an infinity where it gives that infinity, and
// the numbers elsewhere within float tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/cpu/dispatch.hpp"
#include "kiln/kiln.hpp"

namespace kiln::test {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct NanTensor {
  DataType dtype;
  Shape shape;
  std::vector<double> values;
};

struct NanCase {
  const char* name;
  const char* note;  // where the expectation is not ONNX Runtime's own output, why
  const char* model_base64;
  std::vector<std::pair<std::string, int>> inputs;  // graph input name, index in kNanTensors
  std::vector<int> outputs;                         // expected outputs, indices in kNanTensors
};

#include "unit/backends/nan_propagation_cases.inc"

std::string decode_base64(std::string_view text) {
  static const std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) continue;  // '=' padding
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

Tensor to_tensor(const NanTensor& t) {
  Tensor out(t.dtype, t.shape);
  cpu::visit_dtype(t.dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = cpu::compute_t<T>;
    for (size_t i = 0; i < t.values.size(); ++i) {
      out.data<T>()[i] = cpu::store<T>(static_cast<C>(t.values[i]));
    }
  });
  return out;
}

double value_at(const Tensor& t, int64_t i) {
  return cpu::visit_dtype(t.dtype(), [&](auto tag) -> double {
    using T = decltype(tag);
    return static_cast<double>(cpu::load(t.data<T>()[i]));
  });
}

struct Tolerance {
  double rtol = 1e-4, atol = 1e-5;
  // Expected numbers larger than this are not compared: an FP16 build overflows them.
  double largest = std::numeric_limits<double>::infinity();
};

// NaN where NaN is expected, the same infinity where an infinity is, numbers within tolerance.
bool matches(double e, double a, const Tolerance& tol) {
  if (std::isnan(e)) return std::isnan(a);
  if (std::isinf(e)) return a == e;
  return std::fabs(e) > tol.largest || std::fabs(a - e) <= tol.atol + tol.rtol * std::fabs(e);
}

// Empty when every element of `actual` matches `expected`; otherwise how many differ and the
// first of them.
std::string compare(const NanTensor& expected, const Tensor& actual, Tolerance tol) {
  if (actual.dtype() != expected.dtype) {
    return "dtype " + std::string(to_string(actual.dtype())) + ", expected " +
           std::string(to_string(expected.dtype));
  }
  if (actual.shape() != expected.shape) {
    return "shape " + shape_to_string(actual.shape()) + ", expected " +
           shape_to_string(expected.shape);
  }
  std::ostringstream out;
  int bad = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    double e = expected.values[static_cast<size_t>(i)], a = value_at(actual, i);
    if (!matches(e, a, tol) && bad++ < 4)
      out << " [" << i << "] " << a << " (expected " << e << ")";
  }
  if (bad == 0) return "";
  return std::to_string(bad) + " of " + std::to_string(actual.numel()) + " differ:" + out.str();
}

// Builds each case with `config` and runs it; every case that differs from ONNX Runtime is a
// failure naming the case and output.
void run_cases(const BuilderConfig& base, Tolerance tol = {}) {
  int failures = 0;
  for (const NanCase& c : kNanCases) {
    BuilderConfig config = base;
    std::map<std::string, Tensor> feeds;
    for (const auto& [name, index] : c.inputs) {
      feeds[name] = to_tensor(kNanTensors[index]);
      config.input_shapes[name] = kNanTensors[index].shape;
    }
    std::vector<Tensor> outputs;
    try {
      Network net = parse_onnx_bytes(decode_base64(c.model_base64), c.name);
      outputs = build_engine(net, config)->create_execution_context()->execute(feeds);
    } catch (const Error& e) {
      ADD_FAILURE() << c.name << ": " << e.what();
      ++failures;
      continue;
    }
    for (size_t i = 0; i < c.outputs.size(); ++i) {
      std::string diff = compare(kNanTensors[c.outputs[i]], outputs.at(i), tol);
      if (!diff.empty()) {
        ADD_FAILURE() << c.name << " output " << i << ": " << diff
                      << (*c.note ? std::string(" (") + c.note + ")" : "");
        ++failures;
      }
    }
  }
  std::cout << std::size(kNanCases) - static_cast<size_t>(failures) << " of "
            << std::size(kNanCases) << " cases match\n";
}

TEST(NanPropagation, CpuUnfusedMatchesOnnxRuntime) {
  BuilderConfig config;
  config.optimization_level = 0;
  run_cases(config);
}

TEST(NanPropagation, CpuFusedMatchesOnnxRuntime) {
  run_cases(BuilderConfig{});
}

TEST(NanPropagationGpu, CudaMatchesOnnxRuntime) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.tf32 = false;
  config.optimization_level = 2;  // every pass, each layer's first tactic
  run_cases(config);
}

// FP16 layers (the CUDA kernels' half paths, cuDNN's and cuBLASLt's FP16 epilogues) keep every
// NaN and infinity too; numbers match loosely, and those beyond FP16's range are not compared.
TEST(NanPropagationGpu, CudaFp16KeepsNaNAndInf) {
  if (!backend_available(Backend::kCuda)) GTEST_SKIP() << "no CUDA device";
  BuilderConfig config;
  config.backend = Backend::kCuda;
  config.fp16 = true;
  config.optimization_level = 2;
  run_cases(config, Tolerance{3e-2, 3e-2, 6e4});
}

}  // namespace
}  // namespace kiln::test
