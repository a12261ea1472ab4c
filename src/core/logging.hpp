// Process-wide log sink used inside kiln; the public Logger plugs into it.
#pragma once

#include <string_view>

namespace kiln {

enum class Severity { kError = 0, kWarning = 1, kInfo = 2, kVerbose = 3 };

void set_log_sink(void (*sink)(Severity, std::string_view, void*), void* user);
void set_log_level(Severity max_level);
void log(Severity s, std::string_view message);

}  // namespace kiln
