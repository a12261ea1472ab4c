// A hand-written parser of the .npy header dict. It reads the text once, left to right, without
// recursion, so neither its time nor its stack grows with what a hostile header holds (the regex
// it replaces recursed once per character and overflowed the stack on a 30 KB header).
#include "npy_header.hpp"

#include <limits>

#include "kiln/error.hpp"
#include "quote.hpp"

namespace kiln::tools {
namespace {

struct NpyType {
  char kind;  // NumPy's type character: f float, i signed, u unsigned, b bool, V raw bytes
  char size;  // bytes per element, as the digit NumPy writes
  DataType dtype;
};

constexpr NpyType kTypes[] = {
    {'f', '4', DataType::kFloat32},
    {'f', '2', DataType::kFloat16},
    {'f', '8', DataType::kFloat64},
    {'i', '1', DataType::kInt8},
    {'u', '1', DataType::kUInt8},
    {'i', '2', DataType::kInt16},
    {'u', '2', DataType::kUInt16},
    {'i', '4', DataType::kInt32},
    {'u', '4', DataType::kUInt32},
    {'i', '8', DataType::kInt64},
    {'u', '8', DataType::kUInt64},
    {'b', '1', DataType::kBool},
    // NumPy has no bfloat16 or fp8: ml_dtypes saves them as 2- and 1-byte void types ('<V2',
    // '<V1'; a plain NumPy void array of that size says '|V2', '|V1').
    {'V', '2', DataType::kBFloat16},
    {'V', '1', DataType::kFloat8E4M3}};

// NumPy's limit on dimensions (NPY_MAXDIMS in NumPy 2).
constexpr size_t kMaxNpyDims = 64;

const NpyType* find_type(std::string_view descr) {
  if (descr.size() != 3 || std::string_view("<>|").find(descr[0]) == std::string_view::npos) {
    return nullptr;
  }
  for (const NpyType& t : kTypes) {
    if (t.kind == descr[1] && t.size == descr[2]) return &t;
  }
  return nullptr;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_word_char(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  NpyHeader parse() {
    NpyHeader h;
    skip_spaces();
    if (!take('{')) refuse("it is not a dict (it must start with '{')");
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_spaces();
    while (!at('}')) {
      std::string_view key = string_literal("a key");
      skip_spaces();
      if (!take(':')) refuse("expected ':' after the key ", quote(key));
      skip_spaces();
      if (key == "descr") {
        once(seen_descr, key);
        read_descr(h);
      } else if (key == "fortran_order") {
        once(seen_order, key);
        h.fortran_order = boolean(key);
      } else if (key == "shape") {
        once(seen_shape, key);
        h.shape = shape();
      } else {
        refuse("it has the key ", quote(key),
               "; a .npy header has only 'descr', 'fortran_order' and 'shape'");
      }
      skip_spaces();
      if (!take(',')) break;
      skip_spaces();
    }
    if (!take('}')) refuse("expected ',' or '}' after a value");
    if (!seen_descr) refuse("it has no 'descr'");
    if (!seen_order) refuse("it has no 'fortran_order'");
    if (!seen_shape) refuse("it has no 'shape'");
    // NumPy pads the header with spaces up to a newline that ends it.
    while (at(' ')) ++pos_;
    if (pos_ + 1 != text_.size() || text_[pos_] != '\n') {
      refuse("only padding spaces and a final newline may follow the dict");
    }
    return h;
  }

 private:
  template <typename... Parts>
  [[noreturn]] void refuse(const Parts&... parts) const {
    fail(ErrorCode::kInvalidArgument, "'", file_, "' has a bad .npy header: ", parts...,
         " (at header byte ", pos_, ")");
  }

  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool take(char c) {
    if (!at(c)) return false;
    ++pos_;
    return true;
  }
  void skip_spaces() {
    while (at(' ') || at('\t')) ++pos_;
  }
  void once(bool& seen, std::string_view key) {
    // Python keeps the last of repeated keys, a first-match reader the first: the same bytes would
    // mean two different arrays.
    if (seen) refuse("it gives ", quote(key), " twice");
    seen = true;
  }

  // The text from here to the next separator, for messages about a bad token.
  std::string_view token() const {
    size_t end = text_.find_first_of(",)} \t\n", pos_);
    return text_.substr(pos_, end == std::string_view::npos ? end : end - pos_);
  }

  // A Python string literal in single or double quotes, without escapes, in printable ASCII.
  std::string_view string_literal(const char* what) {
    if (!at('\'') && !at('"')) refuse("expected ", what, " in quotes, found ", quote(token()));
    char quote = text_[pos_++];
    size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '\\') refuse("a string holds an escape ('\\'), which NumPy never writes");
      if (c < 0x20 || c >= 0x7f) refuse("a string holds a control or non-ASCII byte");
      ++pos_;
    }
    if (pos_ == text_.size()) refuse("a string is not closed");
    return text_.substr(start, pos_++ - start);
  }

  bool boolean(std::string_view key) {
    std::string_view word = token();
    size_t len = 0;
    while (len < word.size() && is_word_char(word[len])) ++len;
    word = word.substr(0, len);
    if (word != "True" && word != "False") {
      refuse(quote(key), " must be True or False, not ", quote(token()));
    }
    pos_ += word.size();
    return word == "True";
  }

  void read_descr(NpyHeader& h) {
    if (at('['))
      refuse("'descr' is a list of fields (a structured array); kiln reads plain arrays");
    size_t start = pos_;
    std::string_view descr = string_literal("the dtype");
    const NpyType* type = find_type(descr);
    if (!type) {
      fail(ErrorCode::kUnsupported, "'", file_, "' has dtype ", quote(descr),
           ", which kiln does not support; it reads float16/32/64, bool, (u)int8/16/32/64 and "
           "ml_dtypes' bfloat16 and float8_e4m3fn");
    }
    char order = descr[0];
    if (type->kind != 'V' && type->size == '1' && order != '|') {
      pos_ = start;
      refuse("dtype ", quote(descr), " has a byte order; NumPy writes one-byte types with '|'");
    }
    if (type->kind != 'V' && type->size != '1' && order == '|') {
      pos_ = start;
      refuse("dtype ", quote(descr), " has no byte order; NumPy writes '<", descr.substr(1),
             "' or '>", descr.substr(1), "'");
    }
    h.dtype = type->dtype;
    h.big_endian = order == '>' && type->size != '1';
  }

  // A dimension: a whole number in int64 written as Python writes it (no sign, no leading zero).
  int64_t dimension() {
    std::string_view text = token();
    size_t digits = 0;
    while (digits < text.size() && is_digit(text[digits])) ++digits;
    if (digits == 0 || digits != text.size()) {
      refuse("shape entry ", quote(text), " is not a whole number of 0 or more");
    }
    if (digits > 1 && text[0] == '0') refuse("shape entry ", quote(text), " has a leading zero");
    uint64_t value = 0;
    for (char c : text) {
      auto d = static_cast<uint64_t>(c - '0');
      if (value > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - d) / 10) {
        refuse("shape entry ", quote(text), " does not fit in 64 bits");
      }
      value = value * 10 + d;
    }
    pos_ += digits;
    return static_cast<int64_t>(value);
  }

  // A tuple of dimensions: "()", "(3,)", "(2, 3)" or "(2, 3,)".
  Shape shape() {
    if (!take('(')) refuse("'shape' must be a tuple such as (2, 3), not ", quote(token()));
    Shape s;
    bool trailing_comma = false;
    skip_spaces();
    while (!at(')')) {
      if (s.size() == kMaxNpyDims) refuse("'shape' has more than ", kMaxNpyDims, " dimensions");
      s.push_back(dimension());
      skip_spaces();
      trailing_comma = take(',');
      if (!trailing_comma) break;
      skip_spaces();
    }
    if (!take(')')) refuse("expected ',' or ')' in 'shape', found ", quote(token()));
    if (s.size() == 1 && !trailing_comma) {
      refuse("'shape' (", s[0], ") is a number, not a tuple; a 1-d shape is written (", s[0], ",)");
    }
    return s;
  }

  std::string_view text_;
  std::string_view file_;
  size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(std::string_view text, std::string_view file) {
  return HeaderParser(text, file).parse();
}

std::string npy_descr(DataType dtype) {
  for (const NpyType& t : kTypes) {
    if (t.dtype == dtype) return {t.size == '1' && t.kind != 'V' ? '|' : '<', t.kind, t.size};
  }
  fail(ErrorCode::kUnsupported, "no .npy dtype for ", to_string(dtype));
}

}  // namespace kiln::tools
