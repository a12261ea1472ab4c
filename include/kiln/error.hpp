// The error every kiln API throws, and the helpers that build one from parts of a message (used by
// kiln itself, by plugins and by applications that report errors the way kiln does).
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kiln {

enum class ErrorCode : uint8_t {
  kInvalidArgument,  // the caller passed something wrong (shape, name, option)
  kUnsupported,      // a valid request kiln cannot do (op, attribute value, dtype)
  kInvalidModel,     // a malformed or hostile model file
  kInvalidPlan,      // a corrupt, truncated, foreign or mismatched plan file
  kIo,               // a file could not be read or written
  kInternal,         // a bug in kiln
};

std::string_view to_string(ErrorCode c);

// The one exception type of the public API. what() is a complete, user-facing sentence naming
// what is wrong (file, node, op, tensor).
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// The parts written one after the other, as an ostream writes them: cat("input '", name, "'").
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// Throws Error(code) whose message is the parts, concatenated.
template <typename... Parts>
[[noreturn]] void fail(ErrorCode code, const Parts&... parts) {
  throw Error(code, cat(parts...));
}

}  // namespace kiln
