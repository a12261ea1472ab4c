// Helpers to throw kiln::Error with a message built from parts.
#pragma once

#include <sstream>
#include <string>

#include "kiln/types.hpp"

namespace kiln {

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

template <typename... Parts>
[[noreturn]] void fail(ErrorCode code, const Parts&... parts) {
  throw Error(code, cat(parts...));
}

}  // namespace kiln
