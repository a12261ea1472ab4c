// Runs a fuzz target without libFuzzer, for CI: each file given (folders are walked) is passed
// once to LLVMFuzzerTestOneInput in a forked child, so a sanitizer report or a crash on one input
// is recorded and the rest still run. Prints each failure and a "N passed, M failed" summary;
// exits non-zero if any input failed. KILN_FUZZ_TIMEOUT (seconds, default 120) bounds one input.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional in a target, as with libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);
// LeakSanitizer's check, present in ASan builds; it normally runs at exit(), which the child skips.
extern "C" __attribute__((weak)) int __lsan_do_recoverable_leak_check();

namespace {

namespace fs = std::filesystem;

// The child's exit code when LeakSanitizer found a leak (sanitizer reports otherwise abort).
constexpr int kLeakedExitCode = 3;

std::vector<fs::path> input_files(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.push_back(arg);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The child's fate as one phrase, or "" if it returned normally.
std::string failure(int status) {
  if (WIFEXITED(status)) {
    if (WEXITSTATUS(status) == kLeakedExitCode) return "memory leaked";
    return WEXITSTATUS(status) == 0 ? "" : "exit code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status));
  }
  return "stopped";
}

// Runs one input in a child process; returns what went wrong, or "".
std::string replay(const fs::path& file, unsigned timeout_s) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot read the file";
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  fflush(stdout);
  fflush(stderr);
  pid_t child = fork();
  if (child < 0) return std::string("fork failed: ") + strerror(errno);
  if (child == 0) {
    alarm(timeout_s);
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    bool leaked = __lsan_do_recoverable_leak_check && __lsan_do_recoverable_leak_check() != 0;
    fflush(stdout);
    fflush(stderr);
    _exit(leaked ? kLeakedExitCode
                 : 0);  // not exit(): the parent's atexit clean-up must run once, in the parent
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return "lost the child process";
  return failure(status);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  const char* timeout_env = getenv("KILN_FUZZ_TIMEOUT");
  unsigned timeout_s = timeout_env ? static_cast<unsigned>(atoi(timeout_env)) : 120;
  std::vector<fs::path> files = input_files(argc, argv);
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int passed = 0, failed = 0;
  for (const fs::path& file : files) {
    std::string why = replay(file, timeout_s);
    if (why.empty()) {
      ++passed;
    } else {
      ++failed;
      printf("FAILED %s: %s\n", file.c_str(), why.c_str());
    }
  }
  printf("%s: %d passed, %d failed\n", fs::path(argv[0]).filename().c_str(), passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
