// Cutting long quoted text in messages.
#include "quote.hpp"

#include <algorithm>
#include <cctype>

namespace kiln::tools {
namespace {

// The first `max_bytes` bytes of `text`, backed off to the start of a UTF-8 sequence, with control
// characters replaced.
std::string shown_part(std::string_view text, size_t max_bytes) {
  size_t n = std::min(text.size(), max_bytes);
  if (n < text.size()) {
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::string s(text.substr(0, n));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return s;
}

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// The next quote mark at or after `from`; an apostrophe between letters ("kiln's") is not one.
size_t find_quote(std::string_view text, size_t from) {
  for (size_t i = text.find('\'', from); i != std::string_view::npos; i = text.find('\'', i + 1)) {
    bool apostrophe =
        i > 0 && i + 1 < text.size() && is_alnum(text[i - 1]) && is_alnum(text[i + 1]);
    if (!apostrophe) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::string quote(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return "'" + shown_part(text, max_bytes) + "'";
  return "'" + shown_part(text, max_bytes) + "...' (" + std::to_string(text.size()) + " bytes)";
}

std::string shorten_quoted_parts(std::string_view message, size_t max_bytes) {
  std::string out;
  size_t pos = 0;
  while (pos < message.size()) {
    size_t open = find_quote(message, pos);
    size_t close = open == std::string_view::npos ? open : find_quote(message, open + 1);
    if (close == std::string_view::npos) break;
    out += message.substr(pos, open - pos);
    std::string_view inside = message.substr(open + 1, close - open - 1);
    out += inside.size() > max_bytes ? quote(inside, max_bytes) : "'" + std::string(inside) + "'";
    pos = close + 1;
  }
  out += message.substr(std::min(pos, message.size()));
  return out;
}

}  // namespace kiln::tools
