// kiln_conformance: runs every ONNX backend node test case in a folder through kiln's CPU backend.
// Each case runs in a child process, so a crash or hang fails that case alone. Prints pass/fail per
// op and the totals; fails when the pass rate over the supported cases is under --min-pass-rate,
// or when a case fails that known_failures.txt does not list.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
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
  std::string filter;
  std::string known_failures;
  std::string report;
  double min_pass_rate = 0.0;
};

// Runs one case in a forked child and reads its result back through a pipe.
CaseResult run_isolated(const std::string& case_dir) {
  int fds[2];
  if (pipe(fds) != 0) return {Outcome::kFailed, "?", "pipe() failed"};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    alarm(kCaseTimeoutSeconds);
    CaseResult r;
    try {
      r = kiln::conformance::run_case(case_dir);
    } catch (const std::exception& e) {
      r.outcome = Outcome::kFailed;
      r.detail = std::string("uncaught exception: ") + e.what();
    }
    std::string msg = std::to_string(static_cast<int>(r.outcome)) + "\n" + r.op + "\n" + r.detail;
    if (write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CaseResult r;
  if (WIFSIGNALED(status) || msg.empty()) {
    r.outcome = Outcome::kFailed;
    try {
      r.op = kiln::conformance::tested_op(case_dir);
    } catch (...) {
      r.op = "?";
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    r.detail = sig == SIGALRM ? "timed out" : "crashed (signal " + std::to_string(sig) + ")";
    return r;
  }
  size_t a = msg.find('\n'), b = msg.find('\n', a + 1);
  r.outcome = static_cast<Outcome>(std::stoi(msg.substr(0, a)));
  r.op = msg.substr(a + 1, b - a - 1);
  r.detail = msg.substr(b + 1);
  std::replace(r.detail.begin(), r.detail.end(), '\n', ' ');
  return r;
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
               " [--min-pass-rate R] [--report FILE]\n";
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
    else if (a.rfind("--", 0) == 0)
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
  for (const auto& name : cases) {
    CaseResult r = run_isolated((fs::path(opt.dir) / name).string());
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
