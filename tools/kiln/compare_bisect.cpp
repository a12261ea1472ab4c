// Precision bisection: rank the reduced layers by the error they add, binary-search the shortest
// passing prefix of the ranking, then drop the layers that turn out not to be needed.
#include "compare_bisect.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_map>

#include "compare_report.hpp"
#include "kiln/error.hpp"

namespace kiln::tools {
namespace {

struct Evaluation {
  bool passed = false;
  std::vector<TensorComparison> outputs;
};

class Bisector {
 public:
  Bisector(const BisectRequest& r, std::ostream& log) : r_(r), log_(log) {}

  BisectResult run() {
    RunnerResult base = run_kiln(*r_.model, r_.tested.config, r_.inputs, {});
    ++result_.builds;
    Evaluation as_built = judge(base);
    log_ << "bisect: build 1, as built: " << summary(as_built) << "\n";
    result_.outputs = as_built.outputs;
    if (as_built.passed) {
      result_.already_passes = result_.found = result_.minimal = true;
      return std::move(result_);
    }
    std::string reduced(to_string(r_.tested.precision()));
    std::vector<const LayerInfo*> candidates;
    for (const LayerInfo& l : base.layers) {
      if (l.precision == reduced && l.op != "Cast") candidates.push_back(&l);
    }
    result_.reduced_layers = static_cast<int>(candidates.size());
    if (candidates.empty()) {
      result_.note = cat("no layer runs in ", reduced, ", so FP32 constraints cannot help");
      return std::move(result_);
    }
    rank(candidates, base.layers);
    return search();
  }

 private:
  // Builds with `names` pinned to FP32 and compares the outputs with the reference.
  Evaluation try_set(const std::vector<std::string>& names, const char* what) {
    BuilderConfig config = r_.tested.config;
    for (const std::string& n : names) config.layer_precisions[n] = Precision::kFloat32;
    Evaluation e = judge(run_kiln(*r_.model, config, r_.inputs, {}));
    ++result_.builds;
    log_ << "bisect: build " << result_.builds << ", " << what << " (" << names.size()
         << " in FP32): " << summary(e) << "\n";
    return e;
  }

  Evaluation judge(const RunnerResult& run) const {
    Evaluation e;
    e.passed = true;
    for (const TensorDesc& v : r_.model->network.outputs()) {
      auto a = run.tensors.find(v.name);
      auto ref = r_.reference.find(v.name);
      TensorComparison c = a == run.tensors.end() || ref == r_.reference.end()
                               ? missing_tensor(v.name, "missing from one runner")
                               : compare_tensors(v.name, a->second, ref->second, r_.tol);
      e.passed = e.passed && c.passed;
      e.outputs.push_back(std::move(c));
    }
    return e;
  }

  static std::string summary(const Evaluation& e) {
    double worst = 0;
    for (const TensorComparison& c : e.outputs) worst = std::max(worst, c.max_abs);
    for (const TensorComparison& c : e.outputs) {
      if (c.nonfinite_mismatch) worst = std::numeric_limits<double>::infinity();
    }
    return cat(e.passed ? "PASS" : "FAIL", ", max abs error ", format_error(worst));
  }

  // Measures each candidate's input and output error against an FP32 build (both builds return
  // those tensors where the imported graph has them) and sorts by the error each layer adds.
  void rank(const std::vector<const LayerInfo*>& candidates, const std::vector<LayerInfo>& layers) {
    std::unordered_map<std::string, const LayerInfo*> producer;
    for (const LayerInfo& l : layers) {
      for (const std::string& o : l.outputs) producer[o] = &l;
    }
    // Reformat casts are looked through to the tensor they convert.
    auto source = [&](std::string name) {
      for (int hops = 0; hops < 4; ++hops) {
        auto p = producer.find(name);
        if (p == producer.end() || p->second->op != "Cast" || p->second->inputs.empty()) break;
        name = p->second->inputs[0];
      }
      return name;
    };
    // The imported network's tensors that vary with the inputs (weights do not).
    const Network& network = r_.model->network;
    std::unordered_map<std::string, DataType> varying;
    for (const TensorDesc& t : network.tensors()) {
      if (!network.constant(t.name)) varying.emplace(t.name, t.dtype);
    }
    std::vector<ExtraTensor> extra;
    std::set<std::string> seen;
    auto measure = [&](const std::string& tensor) {
      std::string name = source(tensor);
      auto v = varying.find(name);
      if (v != varying.end() && is_floating(v->second) && seen.insert(name).second) {
        extra.push_back({name, v->second});
      }
    };
    for (const LayerInfo* l : candidates) {
      for (const std::string& o : l->outputs) measure(o);
      for (const std::string& i : l->inputs) measure(i);
    }
    BuilderConfig fp32 = r_.tested.config;
    fp32.fp16 = fp32.bf16 = fp32.tf32 = false;
    fp32.layer_precisions.clear();
    RunnerResult low = run_kiln(*r_.model, r_.tested.config, r_.inputs, extra);
    RunnerResult high = run_kiln(*r_.model, fp32, r_.inputs, extra);
    result_.builds += 2;
    log_ << "bisect: builds 2-3 measure " << extra.size()
         << " tensors of the reduced layers against an FP32 build\n";

    // A tensor's relative L2 error against FP32; -1 when the builds do not both have it.
    auto error_of = [&](const std::string& tensor) {
      std::string name = source(tensor);
      auto a = low.tensors.find(name);
      auto b = high.tensors.find(name);
      if (a == low.tensors.end() || b == high.tensors.end()) return -1.0;
      TensorComparison c = compare_tensors(name, a->second, b->second, r_.tol);
      return c.problem.empty() ? c.rel_l2 : -1.0;
    };
    for (const LayerInfo* l : candidates) {
      RankedLayer r{l->name, l->op};
      for (const std::string& o : l->outputs)
        r.output_error = std::max(r.output_error, error_of(o));
      if (r.output_error >= 0) {
        double in = 0;
        for (const std::string& i : l->inputs) in = std::max(in, error_of(i));
        r.added_error = std::isinf(r.output_error) && std::isinf(in) ? 0 : r.output_error - in;
      }
      result_.ranking.push_back(r);
    }
    // Unmeasured layers (their output exists only inside kiln) go last, in graph order.
    std::stable_sort(result_.ranking.begin(), result_.ranking.end(),
                     [](const RankedLayer& a, const RankedLayer& b) {
                       bool ma = a.output_error >= 0, mb = b.output_error >= 0;
                       if (ma != mb) return ma;
                       if (a.added_error != b.added_error) return a.added_error > b.added_error;
                       return a.output_error > b.output_error;
                     });
  }

  std::vector<std::string> prefix(size_t k) const {
    std::vector<std::string> names;
    for (size_t i = 0; i < k; ++i) names.push_back(result_.ranking[i].name);
    return names;
  }

  bool budget_left() const { return result_.builds < r_.max_builds; }

  BisectResult search() {
    size_t n = result_.ranking.size();
    if (!budget_left()) {
      result_.note = cat("--max-builds ", r_.max_builds, " leaves no build for the search");
      return std::move(result_);
    }
    Evaluation all = try_set(prefix(n), "every reduced layer");
    if (!all.passed) {
      result_.outputs = all.outputs;
      result_.note = cat("even with all ", n,
                         " reduced layers in FP32 the outputs miss the tolerance: the difference "
                         "does not come from reduced precision (compare without --fp16/--bf16, "
                         "or with --layerwise)");
      return std::move(result_);
    }
    // lo fails (the build as it is: no layer pinned), hi passes.
    size_t lo = 0, hi = n;
    Evaluation best = all;
    while (hi - lo > 1 && budget_left()) {
      size_t mid = lo + (hi - lo) / 2;
      Evaluation e = try_set(prefix(mid), cat("the first ", mid, " of the ranking").c_str());
      if (e.passed) {
        hi = mid;
        best = std::move(e);
      } else {
        lo = mid;
      }
    }
    std::vector<std::string> set = prefix(hi);
    // Drop layers that are not needed, least suspicious first. The last one of the prefix is
    // needed when the search converged (the prefix without it failed).
    bool converged = hi - lo == 1;
    size_t start = converged && !set.empty() ? set.size() - 1 : set.size();
    bool complete = true;
    for (size_t i = start; i-- > 0;) {
      if (!budget_left()) {
        complete = false;
        break;
      }
      std::vector<std::string> without = set;
      without.erase(without.begin() + static_cast<std::ptrdiff_t>(i));
      Evaluation e = try_set(without, cat("without '", set[i], "'").c_str());
      if (e.passed) {
        set = std::move(without);
        best = std::move(e);
      }
    }
    result_.found = true;
    result_.minimal = converged && complete;
    if (!result_.minimal) {
      result_.note =
          cat("--max-builds ", r_.max_builds,
              " ran out before every layer was tried; the set may be larger than needed");
    }
    result_.fp32_layers = set;
    result_.outputs = best.outputs;
    return std::move(result_);
  }

  const BisectRequest& r_;
  std::ostream& log_;
  BisectResult result_;
};

std::string shell_word(const std::string& s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string("_./:=+-,@").find(c) != std::string::npos;
  });
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

BisectResult bisect_precision(const BisectRequest& request, std::ostream& log) {
  if (!request.model || !request.tested.is_kiln() ||
      !(request.tested.config.fp16 || request.tested.config.bf16)) {
    fail(ErrorCode::kInvalidArgument,
         "--bisect-precision needs a kiln runner built with --fp16 or --bf16 as the first runner");
  }
  return Bisector(request, log).run();
}

std::string reproduce_build_command(const std::string& model, const RunnerSpec& tested,
                                    const std::vector<std::string>& fp32_layers) {
  std::string s = "kiln build " + shell_word(model);
  if (tested.kind == RunnerKind::kKilnCuda) s += " --backend cuda";
  if (tested.config.fp16) s += " --fp16";
  if (tested.config.bf16) s += " --bf16";
  if (tested.kind == RunnerKind::kKilnCuda && !tested.config.tf32) s += " --no-tf32";
  std::map<std::string, Precision> constraints = tested.config.layer_precisions;
  for (const std::string& l : fp32_layers) constraints[l] = Precision::kFloat32;
  for (const auto& [name, p] : constraints) {
    s += " --precision-constraint " + shell_word(cat(name, "=", to_string(p)));
  }
  return s;
}

}  // namespace kiln::tools
