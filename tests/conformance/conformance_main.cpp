// kiln_conformance: runs every ONNX backend node test case in a folder through kiln (the CPU
// backend, or --backend cuda). Each case runs in a child process (--jobs at a time), so a crash or
// hang fails that case alone. Prints pass/fail per op and the totals; fails when the pass rate over
// the supported cases is under --min-pass-rate, or when a case fails that known_failures.txt does
// not list.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
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

// One case running in a forked child, which writes its result into a pipe.
struct Running {
  pid_t pid = -1;
  int fd = -1;
  std::string case_dir;
  std::string message;  // read so far
};

// Forks a child running `case_dir` on `backend`; the parent keeps the pipe's read end.
Running start_case(const std::string& case_dir, kiln::Backend backend) {
  Running run;
  run.case_dir = case_dir;
  int fds[2];
  if (pipe(fds) != 0) return run;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(kCaseTimeoutSeconds);
    CaseResult r;
    try {
      r = kiln::conformance::run_case(case_dir, backend);
    } catch (const std::exception& e) {
      r.outcome = Outcome::kFailed;
      r.detail = std::string("uncaught exception: ") + e.what();
    }
    std::string msg = std::to_string(static_cast<int>(r.outcome)) + "\n" + r.op + "\n" + r.detail;
    if (write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return run;
  }
  run.pid = pid;
  run.fd = fds[0];
  return run;
}

// Reaps a child whose pipe reached its end and decodes its result.
CaseResult finish_case(Running& run) {
  if (run.fd >= 0) close(run.fd);
  int status = 0;
  if (run.pid > 0) waitpid(run.pid, &status, 0);
  CaseResult r;
  if (run.pid <= 0 || WIFSIGNALED(status) || run.message.empty()) {
    r.outcome = Outcome::kFailed;
    try {
      r.op = kiln::conformance::tested_op(run.case_dir);
    } catch (...) {
      r.op = "?";
    }
    int sig = run.pid > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    r.detail = run.pid <= 0     ? "could not start a child process"
               : sig == SIGALRM ? "timed out"
                                : "crashed (signal " + std::to_string(sig) + ")";
    return r;
  }
  const std::string& msg = run.message;
  size_t a = msg.find('\n'), b = msg.find('\n', a + 1);
  r.outcome = static_cast<Outcome>(std::stoi(msg.substr(0, a)));
  r.op = msg.substr(a + 1, b - a - 1);
  r.detail = msg.substr(b + 1);
  std::replace(r.detail.begin(), r.detail.end(), '\n', ' ');
  return r;
}

// Runs every case, up to `jobs` at a time, each in its own child process; results come back in
// the order of `case_dirs`.
std::vector<CaseResult> run_all(const std::vector<std::string>& case_dirs, int jobs,
                                kiln::Backend backend) {
  std::vector<CaseResult> results(case_dirs.size());
  std::vector<std::pair<size_t, Running>> running;
  size_t next = 0;
  while (next < case_dirs.size() || !running.empty()) {
    while (next < case_dirs.size() && static_cast<int>(running.size()) < jobs) {
      running.emplace_back(next, start_case(case_dirs[next], backend));
      ++next;
    }
    std::vector<pollfd> fds;
    for (const auto& [index, run] : running) fds.push_back({run.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    for (size_t k = running.size(); k-- > 0;) {
      Running& run = running[k].second;
      bool done = run.fd < 0;
      if (!done && (fds[k].revents & (POLLIN | POLLHUP | POLLERR))) {
        char buf[4096];
        ssize_t n = read(run.fd, buf, sizeof buf);
        if (n > 0) {
          run.message.append(buf, static_cast<size_t>(n));
        } else {
          done = true;  // end of pipe: the child wrote everything or died
        }
      }
      if (done) {
        results[running[k].first] = finish_case(run);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      }
    }
  }
  return results;
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
  std::vector<CaseResult> outcomes = run_all(case_dirs, opt.jobs, opt.backend);
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
    const char* label = r.outcome == Outcome::kPassed   ? "PASS"
                        : r.outcome == Outcome::kFailed ? "FAIL"
                                                        : "UNSUPPORTED";
    if (report) report << label << " " << name << " [" << r.op << "] " << r.detail << "\n";
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
