// Text and JSON renderings of a `kiln bench` report.
#include "bench_report.hpp"

#include <cstdio>

#include "kiln/kiln.hpp"

namespace kiln::tools {
namespace {

using nlohmann::json;

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string ms(double v) {
  return fixed(v, 3) + " ms";
}

void print_latency(const std::string& indent, const LatencyStats& s, std::ostream& out) {
  out << indent << "min " << ms(s.min) << ", median " << ms(s.median) << ", mean " << ms(s.mean)
      << ", max " << ms(s.max) << "\n"
      << indent << "p90 " << ms(s.p90) << ", p95 " << ms(s.p95) << ", p99 " << ms(s.p99)
      << ", stddev " << ms(s.stddev) << "\n";
}

void print_phase(const PhaseResult& p, std::ostream& out) {
  out << p.what << ": " << p.iterations << " iterations";
  if (p.streams > 1) out << " over " << p.streams << " streams";
  out << " in " << fixed(p.wall_s, 3) << " s\n";
  print_latency("  ", p.latency_ms, out);
  out << "  throughput " << fixed(p.inferences_per_s, 1) << " inferences/s, "
      << fixed(p.items_per_s, 1) << " items/s\n";
}

std::string settings_text(const BenchReport& r) {
  std::string s = "warm-up " + fixed(r.rule.warmup_ms, 0) + " ms, then ";
  s += r.rule.iterations > 0 ? std::to_string(r.rule.iterations) + " iterations"
                             : fixed(r.rule.duration_s, 2) + " s";
  s += " per phase and stream; " + std::to_string(r.streams) +
       (r.streams == 1 ? " stream" : " streams");
  if (r.backend == "cuda") s += r.cuda_graph ? ", CUDA graph" : ", no CUDA graph";
  return s;
}

json stats_json(const LatencyStats& s) {
  return {{"count", s.count}, {"min", s.min}, {"median", s.median},
          {"mean", s.mean},   {"p90", s.p90}, {"p95", s.p95},
          {"p99", s.p99},     {"max", s.max}, {"stddev", s.stddev}};
}

json phase_json(const PhaseResult& p) {
  return {{"timing", p.what},
          {"iterations", p.iterations},
          {"streams", p.streams},
          {"wall_seconds", p.wall_s},
          {"latency_ms", stats_json(p.latency_ms)},
          {"throughput",
           {{"inferences_per_second", p.inferences_per_s}, {"items_per_second", p.items_per_s}}}};
}

double profile_total_ms(const LayerProfile& p) {
  double total = 0;
  for (const LayerTime& l : p.layers) total += l.total_ms;
  return total;
}

}  // namespace

PhaseResult make_phase(const std::string& what, const PhaseSamples& samples, int64_t batch) {
  PhaseResult p;
  p.what = what;
  p.iterations = samples.iterations;
  p.streams = samples.streams;
  p.wall_s = samples.wall_s;
  p.latency_ms = summarize(samples.latency_ms);
  if (samples.wall_s > 0) {
    p.inferences_per_s = static_cast<double>(samples.iterations) / samples.wall_s;
    p.items_per_s = p.inferences_per_s * static_cast<double>(batch);
  }
  return p;
}

void print_report(const BenchReport& r, std::ostream& out) {
  out << "model       " << r.model << " (" << (r.format == "plan" ? "plan" : "ONNX") << ", "
      << r.layers << " layers";
  if (r.build_s) out << ", built in " << fixed(*r.build_s, 3) << " s";
  if (r.load_s) out << ", loaded in " << fixed(*r.load_s * 1000, 3) << " ms";
  out << ")\n";
  std::string precision = "as built into the plan";
  if (r.tf32) {
    precision = *r.tf32 ? "fp32+tf32" : "fp32";
    if (r.fp16) precision += "+fp16";
    if (r.bf16) precision += "+bf16";
    precision += " allowed";
  }
  out << "backend     " << r.backend << " on " << r.device << ", precision " << precision << "\n";
  for (const InputInfo& in : r.inputs) {
    out << "input       " << in.name << ": " << to_string(in.dtype) << shape_to_string(in.shape)
        << "\n";
  }
  out << "batch       " << r.batch << " (" << r.batch_source << ")\n";
  out << "settings    " << settings_text(r) << "\n";
  out << "percentiles " << kPercentileMethod << "\n\n";
  if (r.gpu_compute) print_phase(*r.gpu_compute, out);
  if (r.host_enqueue_ms) {
    out << "host enqueue time (host clock around the enqueue() call alone):\n";
    print_latency("  ", *r.host_enqueue_ms, out);
  }
  print_phase(r.end_to_end, out);
  if (!r.profile) return;
  const LayerProfile& p = *r.profile;
  double total = profile_total_ms(p);
  double per_run = p.iterations > 0 ? total / static_cast<double>(p.iterations) : 0;
  out << "\nlayer profile: " << p.method << ", " << p.iterations << " iterations, " << ms(per_run)
      << " per inference\n";
  out << "     mean ms   share  layer (op)\n";
  for (const LayerTime& l : p.layers) {
    double mean = p.iterations > 0 ? l.total_ms / static_cast<double>(p.iterations) : 0;
    double share = total > 0 ? 100.0 * l.total_ms / total : 0;
    char line[64];
    std::snprintf(line, sizeof(line), "  %10.4f  %5.1f%%  ", mean, share);
    out << line << l.name << " (" << l.op << ")\n";
  }
}

json report_json(const BenchReport& r) {
  json inputs = json::array();
  for (const InputInfo& in : r.inputs) {
    inputs.push_back(
        {{"name", in.name}, {"dtype", std::string(to_string(in.dtype))}, {"shape", in.shape}});
  }
  json j = {
      {"kiln_version", std::string(version())},
      {"model", r.model},
      {"format", r.format},
      {"backend", r.backend},
      {"device", r.device},
      {"precision",
       {{"fp16", r.fp16}, {"bf16", r.bf16}, {"tf32", r.tf32 ? json(*r.tf32) : json(nullptr)}}},
      {"cuda_graph", r.cuda_graph},
      {"streams", r.streams},
      {"layers", r.layers},
      {"build_seconds", r.build_s ? json(*r.build_s) : json(nullptr)},
      {"load_seconds", r.load_s ? json(*r.load_s) : json(nullptr)},
      {"inputs", inputs},
      {"batch", r.batch},
      {"batch_source", r.batch_source},
      {"settings",
       {{"warmup_ms", r.rule.warmup_ms},
        {"iterations", r.rule.iterations > 0 ? json(r.rule.iterations) : json(nullptr)},
        {"duration_seconds", r.rule.iterations > 0 ? json(nullptr) : json(r.rule.duration_s)}}},
      {"percentile_method", kPercentileMethod},
      {"gpu_compute", r.gpu_compute ? phase_json(*r.gpu_compute) : json(nullptr)},
      {"host_enqueue_ms", r.host_enqueue_ms ? stats_json(*r.host_enqueue_ms) : json(nullptr)},
      {"end_to_end", phase_json(r.end_to_end)},
      {"profile", nullptr}};
  if (r.profile) {
    const LayerProfile& p = *r.profile;
    double total = profile_total_ms(p);
    double n = p.iterations > 0 ? static_cast<double>(p.iterations) : 1;
    json layers = json::array();
    for (const LayerTime& l : p.layers) {
      layers.push_back({{"name", l.name},
                        {"op", l.op},
                        {"mean_ms", l.total_ms / n},
                        {"share_percent", total > 0 ? 100.0 * l.total_ms / total : 0.0}});
    }
    j["profile"] = {{"method", p.method},
                    {"iterations", p.iterations},
                    {"mean_ms_per_inference", total / n},
                    {"layers", layers}};
  }
  return j;
}

}  // namespace kiln::tools
