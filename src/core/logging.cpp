// Default sink writes warnings and errors to stderr.
#include "core/logging.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace kiln {
namespace {

std::mutex g_mutex;
void (*g_sink)(Severity, std::string_view, void*) = nullptr;
void* g_user = nullptr;
std::atomic<int> g_level{static_cast<int>(Severity::kWarning)};

const char* label(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
    case Severity::kVerbose:
      return "verbose";
  }
  return "";
}

}  // namespace

void set_log_sink(void (*sink)(Severity, std::string_view, void*), void* user) {
  std::lock_guard lock(g_mutex);
  g_sink = sink;
  g_user = user;
}

void set_log_level(Severity max_level) {
  g_level = static_cast<int>(max_level);
}

void log(Severity s, std::string_view message) {
  if (static_cast<int>(s) > g_level.load()) return;
  std::lock_guard lock(g_mutex);
  if (g_sink) {
    g_sink(s, message, g_user);
  } else {
    std::fprintf(stderr, "kiln %s: %.*s\n", label(s), static_cast<int>(message.size()),
                 message.data());
  }
}

}  // namespace kiln
