// Quoting text taken from the user or a file (names, attribute values, header entries) in
// messages. Long text is cut and its full length said, so one hostile 100 KB value does not become
// a 100 KB error line; control characters are shown as '?' so a value cannot drive the terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::tools {

// Longest text, in bytes, `quote` shows in full: room for any real name, path or attribute value.
constexpr size_t kMaxQuotedBytes = 200;

// "'text'", or "'first kMaxQuotedBytes bytes...' (N bytes)" when the text is longer. Never
// cuts inside a UTF-8 sequence.
std::string quote(std::string_view text, size_t max_bytes = kMaxQuotedBytes);

// `message` with every quoted part ('...') longer than `max_bytes` cut as `quote` cuts it. For
// messages kiln did not build itself (the library's errors quote attribute values and names).
std::string shorten_quoted_parts(std::string_view message, size_t max_bytes = kMaxQuotedBytes);

}  // namespace kiln::tools
