// kiln_conformance: runs every ONNX backend node test case in a folder through kiln (the CPU
// backend, or --backend cuda). --jobs worker processes run the cases, each many in turn, so a GPU
// worker sets up its CUDA context and libraries once; a crash or hang still fails that case alone.
// Prints pass/fail per op and the totals; fails when the pass rate over the supported cases is
// under --min-pass-rate, or when a case fails that known_failures.txt does not list.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "node_test_case.hpp"

namespace fs = std::filesystem;
using kiln::conformance::CaseResult;
using kiln::conformance::Outcome;

namespace {

constexpr int kCaseTimeoutSeconds = 60;

struct Options {
  std::string dir;
  kiln::Backend backend = kiln::Backend::kCpu;
  int jobs = 1;
  std::string filter;
  std::string known_failures;
  std::string report;
  double min_pass_rate = 0.0;
};

// A worker process: it runs the cases the parent sends, one after another, so the backend's
// set-up (a CUDA context, cuDNN and cuBLASLt handles) is paid once per worker, not once per case.
struct Worker {
  pid_t pid = -1;
  int to_worker = -1;    // the parent writes case indices here
  int from_worker = -1;  // the worker writes framed results here
  long running = -1;     // the index of the case it runs, or -1 when idle
  std::string inbox;     // result bytes read so far
};

// A result travels as this header, then the op's and the detail's bytes, so that the detail may
// hold any text (newlines included) and the parent knows when it has all of it.
struct FrameHeader {
  uint32_t outcome = 0;
  uint32_t op_size = 0;
  uint32_t detail_size = 0;
};

bool write_all(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// False at the end of input or on an error.
bool read_all(int fd, void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string encode(const CaseResult& r) {
  FrameHeader h{static_cast<uint32_t>(r.outcome), static_cast<uint32_t>(r.op.size()),
                static_cast<uint32_t>(r.detail.size())};
  std::string frame(reinterpret_cast<const char*>(&h), sizeof h);
  return frame + r.op + r.detail;
}

// Decodes the frame at the start of `inbox` into `r`; false while the frame is incomplete.
bool decode(const std::string& inbox, CaseResult& r) {
  FrameHeader h;
  if (inbox.size() < sizeof h) return false;
  std::memcpy(&h, inbox.data(), sizeof h);
  if (inbox.size() < sizeof h + h.op_size + h.detail_size) return false;
  r.outcome = static_cast<Outcome>(h.outcome);
  r.op = inbox.substr(sizeof h, h.op_size);
  r.detail = inbox.substr(sizeof h + h.op_size, h.detail_size);
  std::replace(r.detail.begin(), r.detail.end(), '\n', ' ');  // the report has a line per case
  return true;
}

CaseResult run_with_timeout(const std::string& case_dir, kiln::Backend backend) {
  // SIGALRM's default action ends the worker, which the parent reports as "timed out".
  alarm(kCaseTimeoutSeconds);
  CaseResult r;
  try {
    r = kiln::conformance::run_case(case_dir, backend);
  } catch (const std::exception& e) {
    r.outcome = Outcome::kFailed;
    r.detail = std::string("uncaught exception: ") + e.what();
  } catch (...) {
    r.outcome = Outcome::kFailed;
    r.detail = "uncaught exception";
  }
  alarm(0);
  return r;
}

// The worker's loop: runs each case index read from `in`, writes its result to `out`, and ends at
// the end of input.
[[noreturn]] void worker_main(int in, int out, const std::vector<std::string>& case_dirs,
                              kiln::Backend backend) {
  signal(SIGPIPE, SIG_DFL);  // the parent ignores it; a case runs as it would on its own
  uint32_t index = 0;
  while (read_all(in, &index, sizeof index)) {
    CaseResult r = run_with_timeout(case_dirs[index], backend);
    std::string frame = encode(r);
    if (!write_all(out, frame.data(), frame.size())) _exit(3);
    // A failing case may leave the process poisoned (a sticky CUDA error, a corrupted heap): end
    // this worker so that later cases get a fresh one.
    if (r.outcome == Outcome::kFailed) _exit(0);
  }
  _exit(0);
}

// Forks a worker; `others` are the live workers, whose pipe ends the new one must not hold (an
// extra holder of a write end hides the end of input from its reader).
Worker start_worker(const std::vector<std::string>& case_dirs, kiln::Backend backend,
                    const std::vector<Worker>& others) {
  Worker w;
  int cmd[2], res[2];
  if (pipe(cmd) != 0) return w;
  if (pipe(res) != 0) {
    close(cmd[0]);
    close(cmd[1]);
    return w;
  }
  pid_t pid = fork();
  if (pid == 0) {
    for (const Worker& o : others) {
      if (o.to_worker >= 0) close(o.to_worker);
      if (o.from_worker >= 0) close(o.from_worker);
    }
    close(cmd[1]);
    close(res[0]);
    worker_main(cmd[0], res[1], case_dirs, backend);
  }
  close(cmd[0]);
  close(res[1]);
  if (pid < 0) {
    close(cmd[1]);
    close(res[0]);
    return w;
  }
  w.pid = pid;
  w.to_worker = cmd[1];
  w.from_worker = res[0];
  return w;
}

// A failed result for a case that produced none, naming its op when the model can be read.
CaseResult failure(const std::string& case_dir, std::string detail) {
  CaseResult r;
  r.outcome = Outcome::kFailed;
  try {
    r.op = kiln::conformance::tested_op(case_dir);
  } catch (...) {
    r.op = "?";
  }
  r.detail = std::move(detail);
  return r;
}

// Why a worker ended, from its wait status, for the case it was running.
std::string death_detail(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return sig == SIGALRM ? "timed out" : "crashed (signal " + std::to_string(sig) + ")";
  }
  return "worker exited (status " + std::to_string(WEXITSTATUS(status)) + ") without a result";
}

using OnResult = std::function<void(size_t index, const CaseResult&)>;

// Runs the cases on `jobs` workers, replacing a worker that dies or fails a case.
class WorkerPool {
 public:
  WorkerPool(const std::vector<std::string>& case_dirs, int jobs, kiln::Backend backend,
             OnResult on_result)
      : case_dirs_(case_dirs),
        backend_(backend),
        on_result_(std::move(on_result)),
        results_(case_dirs.size()),
        workers_(std::min(case_dirs.size(), static_cast<size_t>(jobs))) {}

  std::vector<CaseResult> run() {
    signal(SIGPIPE, SIG_IGN);  // a dead worker shows as the end of its result pipe instead
    while (finished_ < case_dirs_.size()) {
      for (Worker& w : workers_) give_next_case(w);
      wait_and_read();
    }
    shut_down();
    return std::move(results_);
  }

 private:
  // Gives an idle worker the next case, starting the worker first if it is not running.
  void give_next_case(Worker& w) {
    while (w.running < 0 && next_ < case_dirs_.size()) {
      if (w.pid < 0) w = start_worker(case_dirs_, backend_, workers_);
      size_t index = next_++;
      if (w.pid < 0) {
        finish(index, failure(case_dirs_[index], "could not start a child process"));
        continue;
      }
      auto wire = static_cast<uint32_t>(index);
      write_all(w.to_worker, &wire, sizeof wire);  // on failure, the result pipe shows the death
      w.running = static_cast<long>(index);
    }
  }

  void wait_and_read() {
    std::vector<pollfd> fds;
    std::vector<Worker*> busy;
    for (Worker& w : workers_) {
      if (w.running < 0) continue;
      fds.push_back({w.from_worker, POLLIN, 0});
      busy.push_back(&w);
    }
    if (fds.empty()) return;
    if (poll(fds.data(), fds.size(), -1) < 0) return;  // EINTR: the caller polls again
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) read_from(*busy[k]);
    }
  }

  // Reads what a busy worker sent: finishes its case on a whole result, or on its death.
  void read_from(Worker& w) {
    char buf[65536];
    ssize_t n = read(w.from_worker, buf, sizeof buf);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      size_t index = static_cast<size_t>(w.running);
      int status = 0;
      close_pipes(w);
      waitpid(w.pid, &status, 0);
      w = Worker{};
      finish(index, failure(case_dirs_[index], death_detail(status)));
      return;
    }
    w.inbox.append(buf, static_cast<size_t>(n));
    CaseResult r;
    if (!decode(w.inbox, r)) return;
    size_t index = static_cast<size_t>(w.running);
    w.running = -1;
    w.inbox.clear();
    if (r.outcome == Outcome::kFailed) retire(w);  // it exits on its own after a failure
    finish(index, std::move(r));
  }

  void finish(size_t index, CaseResult r) {
    on_result_(index, r);
    results_[index] = std::move(r);
    ++finished_;
  }

  static void close_pipes(Worker& w) {
    if (w.to_worker >= 0) close(w.to_worker);
    if (w.from_worker >= 0) close(w.from_worker);
  }

  // Lets a worker go without waiting for it: it is reaped at the end, so that its exit (a GPU
  // context's teardown) does not hold up the other workers.
  void retire(Worker& w) {
    close_pipes(w);
    exiting_.push_back(w.pid);
    w = Worker{};
  }

  void shut_down() {
    for (Worker& w : workers_) {
      if (w.pid >= 0) retire(w);  // the end of its input ends it
    }
    for (pid_t pid : exiting_) waitpid(pid, nullptr, 0);
  }

  const std::vector<std::string>& case_dirs_;
  kiln::Backend backend_;
  OnResult on_result_;
  std::vector<CaseResult> results_;
  std::vector<Worker> workers_;
  std::vector<pid_t> exiting_;
  size_t next_ = 0;
  size_t finished_ = 0;
};

// Runs every case on `jobs` worker processes; calls `on_result` as each case finishes, and returns
// the results in the order of `case_dirs`.
std::vector<CaseResult> run_all(const std::vector<std::string>& case_dirs, int jobs,
                                kiln::Backend backend, OnResult on_result) {
  return WorkerPool(case_dirs, jobs, backend, std::move(on_result)).run();
}

const char* label(Outcome outcome) {
  return outcome == Outcome::kPassed   ? "PASS"
         : outcome == Outcome::kFailed ? "FAIL"
                                       : "UNSUPPORTED";
}

void write_report_line(std::ostream& out, const std::string& name, const CaseResult& r) {
  out << label(r.outcome) << " " << name << " [" << r.op << "] " << r.detail << "\n";
}

std::map<std::string, std::string> read_known_failures(const std::string& path) {
  std::map<std::string, std::string> out;
  if (path.empty()) return out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find_first_of(" \t");
    out[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  return out;
}

int usage() {
  std::cerr << "usage: kiln_conformance NODE_TEST_DIR [--filter SUBSTRING] [--known-failures FILE]"
               " [--min-pass-rate R] [--report FILE] [--backend cpu|cuda] [--jobs N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--filter")
      opt.filter = next();
    else if (a == "--known-failures")
      opt.known_failures = next();
    else if (a == "--report")
      opt.report = next();
    else if (a == "--min-pass-rate")
      opt.min_pass_rate = std::stod(next());
    else if (a == "--backend") {
      std::string b = next();
      if (b != "cpu" && b != "cuda") return usage();
      opt.backend = b == "cuda" ? kiln::Backend::kCuda : kiln::Backend::kCpu;
    } else if (a == "--jobs") {
      opt.jobs = std::max(1, std::atoi(next().c_str()));
    } else if (a.rfind("--", 0) == 0)
      return usage();
    else
      opt.dir = a;
  }
  if (opt.dir.empty() || !fs::is_directory(opt.dir)) return usage();

  std::vector<std::string> cases;
  for (const auto& e : fs::directory_iterator(opt.dir)) {
    std::string name = e.path().filename().string();
    if (fs::exists(e.path() / "model.onnx") && name.find(opt.filter) != std::string::npos) {
      cases.push_back(name);
    }
  }
  std::sort(cases.begin(), cases.end());
  auto known = read_known_failures(opt.known_failures);

  struct OpTally {
    int passed = 0, failed = 0, unsupported = 0;
  };
  std::map<std::string, OpTally> per_op;
  std::vector<std::pair<std::string, CaseResult>> results;
  std::vector<std::string> case_dirs;
  for (const auto& name : cases) case_dirs.push_back((fs::path(opt.dir) / name).string());
  // Each case's line goes to the report as soon as it is known, so that a run killed by a timeout
  // still leaves its progress; the report is rewritten in case order at the end.
  std::ofstream progress;
  if (!opt.report.empty()) progress.open(opt.report);
  size_t done = 0, failed_so_far = 0;
  auto on_result = [&](size_t index, const CaseResult& r) {
    if (progress) {
      write_report_line(progress, cases[index], r);
      progress.flush();
    }
    failed_so_far += r.outcome == Outcome::kFailed;
    if (++done % 100 == 0) {
      std::fprintf(stderr, "conformance: %zu/%zu cases done, %zu failed\n", done, cases.size(),
                   failed_so_far);
    }
  };
  std::vector<CaseResult> outcomes = run_all(case_dirs, opt.jobs, opt.backend, on_result);
  progress.close();
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string& name = cases[i];
    const CaseResult& r = outcomes[i];
    OpTally& t = per_op[r.op];
    (r.outcome == Outcome::kPassed   ? t.passed
     : r.outcome == Outcome::kFailed ? t.failed
                                     : t.unsupported)++;
    results.emplace_back(name, r);
  }

  int passed = 0, failed = 0, unsupported = 0;
  std::vector<std::string> regressions, stale;
  std::cout << "ONNX node test conformance, per op (passed/run, unsupported cases skipped):\n";
  for (const auto& [op, t] : per_op) {
    passed += t.passed;
    failed += t.failed;
    unsupported += t.unsupported;
    if (t.passed + t.failed == 0) continue;
    std::printf("  %-28s %3d/%-3d %s\n", op.c_str(), t.passed, t.passed + t.failed,
                t.failed ? "FAIL" : "ok");
  }
  std::ofstream report;
  if (!opt.report.empty()) report.open(opt.report);
  for (const auto& [name, r] : results) {
    if (report) write_report_line(report, name, r);
    if (r.outcome == Outcome::kFailed && !known.count(name))
      regressions.push_back(name + ": " + r.detail);
    if (r.outcome == Outcome::kPassed && known.count(name)) stale.push_back(name);
  }
  int run = passed + failed;
  double rate = run ? static_cast<double>(passed) / run : 0.0;
  std::printf("\n%zu cases: %d supported and run, %d unsupported (skipped)\n", cases.size(), run,
              unsupported);
  std::printf("pass rate over supported cases: %.1f%% (%d of %d)\n", 100.0 * rate, passed, run);
  for (const auto& s : stale)
    std::printf("note: %s passes now; remove it from known failures\n", s.c_str());
  for (const auto& s : regressions) std::printf("unexpected failure: %s\n", s.c_str());
  std::printf("conformance: %d passed, %d failed, %d skipped\n", passed, failed, unsupported);
  bool ok = regressions.empty() && rate >= opt.min_pass_rate;
  if (rate < opt.min_pass_rate) {
    std::printf("FAILED: pass rate %.1f%% is under the required %.1f%%\n", 100.0 * rate,
                100.0 * opt.min_pass_rate);
  }
  return ok ? 0 : 1;
}
