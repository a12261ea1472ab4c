// The tuner: cudaEvent timing on its own stream, and one timing cache per file per process, loaded
// on first use and written back after every newly timed layer.
#include "backends/cuda/tactic.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>

#include "backends/cuda/cuda_check.hpp"
#include "core/logging.hpp"
#include "ir/layer_tactic.hpp"
#include "kiln/kiln.hpp"

namespace kiln::cuda {
namespace {

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::mutex& caches_mutex() {
  static std::mutex m;
  return m;
}

// The process's timing caches by file path; a bad file is reported once and replaced.
std::shared_ptr<TimingCache> timing_cache_for(const std::string& path) {
  static std::map<std::string, std::shared_ptr<TimingCache>> caches;
  std::lock_guard lock(caches_mutex());
  auto& slot = caches[path];
  if (!slot) {
    slot = std::make_shared<TimingCache>();
    if (!path.empty()) {
      try {
        *slot = TimingCache::load(path);
      } catch (const Error& e) {
        log(Severity::kWarning, cat(e.what(), "; tuning without it and rewriting it"));
      }
    }
  }
  return slot;
}

}  // namespace

TacticTuner::TacticTuner(TuningOptions options, int device) : options_(std::move(options)) {
  cudaDeviceProp prop{};
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  key_suffix_ = cat("|", prop.name, " sm", prop.major, prop.minor, "|kiln ", version(), "|cudnn ",
                    cudnnGetVersion(), "|cublasLt ", cublasLtGetVersion());
  cache_ = timing_cache_for(options_.cache_path);
  if (options_.tune) {
    stream_ = make_nonblocking_stream();
    start_ = make_event();
    stop_ = make_event();
  }
}

TacticTuner::~TacticTuner() = default;

double TacticTuner::median_time_ms(size_t index,
                                   const std::function<void(size_t, cudaStream_t)>& launch) {
  for (int i = 0; i < kWarmupRuns; ++i) launch(index, stream_.get());
  KILN_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  std::vector<float> times;
  for (int i = 0; i < kTimedRuns; ++i) {
    KILN_CUDA_CHECK(cudaEventRecord(start_.get(), stream_.get()));
    launch(index, stream_.get());
    KILN_CUDA_CHECK(cudaEventRecord(stop_.get(), stream_.get()));
    KILN_CUDA_CHECK(cudaEventSynchronize(stop_.get()));
    float ms = 0;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, start_.get(), stop_.get()));
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::string TacticTuner::cached_tactic(const std::string& signature) const {
  auto hit = cache_->find(signature + key_suffix_);
  return hit ? hit->tactic : std::string();
}

size_t TacticTuner::choose_by_timing(const std::string& signature,
                                     const std::vector<std::string>& names,
                                     const std::function<void(size_t, cudaStream_t)>& launch) {
  if (names.empty()) fail(ErrorCode::kInternal, "no tactic candidates for ", signature);
  std::string key = signature + key_suffix_;
  if (auto hit = cache_->find(key)) {
    auto it = std::find(names.begin(), names.end(), hit->tactic);
    if (it != names.end()) return static_cast<size_t>(it - names.begin());
  }
  if (!options_.tune || names.size() == 1) return 0;
  size_t best = names.size();
  double best_ms = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < names.size(); ++i) {
    try {
      double ms = median_time_ms(i, launch);
      if (ms < best_ms) {
        best_ms = ms;
        best = i;
      }
    } catch (const Error& e) {
      log(Severity::kVerbose, cat("tactic ", names[i], " for ", signature, " failed: ", e.what()));
      // Leave the stream usable for the next candidate.
      cudaStreamSynchronize(stream_.get());
      cudaGetLastError();
    }
  }
  if (best == names.size()) {
    fail(ErrorCode::kUnsupported, "none of the ", names.size(), " tactics for ", signature,
         " could run");
  }
  cache_->put(key, TimingEntry{names[best], best_ms});
  if (!options_.cache_path.empty()) {
    try {
      std::lock_guard lock(caches_mutex());
      cache_->save(options_.cache_path);
    } catch (const Error& e) {
      log(Severity::kWarning, e.what());
    }
  }
  return best;
}

size_t TacticTuner::choose(const ir::Node& layer, const std::string& signature,
                           const std::vector<std::string>& names,
                           const std::vector<size_t>& workspace,
                           const std::function<void(size_t, cudaStream_t)>& launch) {
  // The candidates within the workspace limit, by their index among all.
  std::vector<size_t> fits;
  std::vector<std::string> fit_names;
  size_t smallest = std::numeric_limits<size_t>::max();
  for (size_t i = 0; i < names.size(); ++i) {
    size_t bytes = i < workspace.size() ? workspace[i] : 0;
    smallest = std::min(smallest, bytes);
    if (bytes <= options_.workspace_limit) {
      fits.push_back(i);
      fit_names.push_back(names[i]);
    }
  }
  if (fits.empty()) {
    fail(ErrorCode::kUnsupported, layer.describe(), ": every one of its ", names.size(),
         " tactics needs more workspace than the limit of ", options_.workspace_limit,
         " bytes (the smallest needs ", smallest, "); raise BuilderConfig::workspace_limit");
  }
  size_t chosen = 0;
  std::string recorded = ir::recorded_tactic(layer);
  auto it = std::find(fit_names.begin(), fit_names.end(), recorded);
  if (ir::pinned_tactic(layer) && it == fit_names.end()) {
    // Not kUnsupported: that would send the layer to the host fallback instead of failing.
    fail(ErrorCode::kInvalidArgument, layer.describe(), ": its pinned tactic '", recorded,
         "' does not apply here (", join_names(fit_names), " do)");
  }
  if (!recorded.empty() && it != fit_names.end()) {
    chosen = static_cast<size_t>(it - fit_names.begin());
  } else {
    chosen = choose_by_timing(signature, fit_names,
                              [&](size_t i, cudaStream_t stream) { launch(fits[i], stream); });
  }
  choices_[&layer] = fit_names[chosen];
  return fits[chosen];
}

TuningScratch::TuningScratch(const CudaKernelContext& ctx, size_t workspace_bytes)
    : workspace_(std::max<size_t>(workspace_bytes, 1)) {
  auto scratch = [&](const DeviceTensor& t) -> void* {
    owned_.emplace_back(std::max<size_t>(t.nbytes(), 1));
    // 0x3c in every byte is a small finite value in fp32, fp16 and bf16 alike.
    KILN_CUDA_CHECK(cudaMemset(owned_.back().get(), 0x3c, owned_.back().size()));
    return owned_.back().get();
  };
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const ir::Value* v = ctx.node.input(i);
    if (!v) {
      inputs_.push_back(nullptr);
    } else if (v->is_constant() && ctx.inputs[i].data) {
      inputs_.push_back(ctx.inputs[i].data);
    } else {
      inputs_.push_back(scratch(ctx.inputs[i]));
    }
  }
  for (const DeviceTensor& t : ctx.outputs) outputs_.push_back(scratch(t));
}

}  // namespace kiln::cuda
