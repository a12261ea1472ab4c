// The .npy reader and writer: what NumPy writes is read (versions, byte orders, Fortran order,
// 0-d and empty arrays), everything else is refused with a reason naming the file, and a path that
// is not a regular file is refused without blocking. npy_numpy_test.cpp checks against NumPy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/checked_size.hpp"
#include "kiln/kiln.hpp"
#include "npy.hpp"
#include "npy_header.hpp"
#include "unit/temp_dir_util.hpp"

namespace kiln::test {
namespace {

using tools::parse_npy;
using tools::read_npy;

// A .npy file of format `major`.0 whose header is `dict` padded as NumPy pads it, then `data`.
std::string npy_file(const std::string& dict, const std::string& data = "", int major = 1) {
  std::string prefix = std::string("\x93NUMPY", 6) + char(major) + '\0';
  size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  size_t total = prefix.size() + length_bytes + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  for (size_t i = 0; i < length_bytes; ++i) prefix += char((header.size() >> (8 * i)) & 0xff);
  return prefix + header + data;
}

std::span<const std::byte> as_bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

Tensor parse(const std::string& file) {
  return parse_npy(as_bytes(file), "t.npy");
}

// The message of the Error parsing `file` throws; empty (and a test failure) when it throws none.
std::string parse_error(const std::string& file) {
  try {
    parse(file);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << file;
  return "";
}

std::string bytes_of(const std::vector<int32_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(int32_t));
}

template <typename T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

TEST(Npy, WritesWhatNumPyWrites) {
  TempDir dir;
  Tensor t = Tensor::from_vector(DataType::kFloat32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  tools::write_npy(dir.file("a.npy"), t);
  std::vector<uint8_t> file = read_file(dir.file("a.npy"));
  std::string header(file.begin() + 10, file.begin() + 128);
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(header, dict + std::string(128 - 10 - dict.size() - 1, ' ') + "\n");
  EXPECT_EQ(file.size(), 128u + 24u);
}

TEST(Npy, EveryDtypeRoundTrips) {
  TempDir dir;
  for (DataType dtype : {DataType::kFloat32, DataType::kFloat16, DataType::kBFloat16,
                         DataType::kFloat8E4M3, DataType::kFloat64, DataType::kInt8,
                         DataType::kUInt8, DataType::kInt16, DataType::kUInt16, DataType::kInt32,
                         DataType::kUInt32, DataType::kInt64, DataType::kUInt64, DataType::kBool}) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{3}, Shape{2, 3}, Shape{2, 0, 4}}) {
      Tensor t(dtype, shape);
      auto* p = static_cast<uint8_t*>(t.raw());
      for (size_t i = 0; i < t.nbytes(); ++i) {
        p[i] = dtype == DataType::kBool ? i % 2 : static_cast<uint8_t>(i * 7 + 1);
      }
      std::string path = dir.file("t.npy");
      tools::write_npy(path, t);
      Tensor back = read_npy(path);
      ASSERT_EQ(back.dtype(), dtype) << to_string(dtype);
      ASSERT_EQ(back.shape(), shape) << to_string(dtype) << shape_to_string(shape);
      EXPECT_EQ(std::memcmp(back.raw(), t.raw(), t.nbytes()), 0) << to_string(dtype);
    }
  }
}

TEST(Npy, ReadsEveryLayoutNumPyWrites) {
  std::string data = bytes_of({1, 2, 3, 4, 5, 6});
  // Keys in any order, double quotes, no trailing comma, no spaces: all valid Python NumPy reads.
  for (const std::string& dict :
       {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
        "{'shape': (2, 3), 'fortran_order': False, 'descr': '<i4'}",
        "{\"descr\":\"<i4\",\"fortran_order\":False,\"shape\":(2,3,)}",
        "{ 'descr' : '<i4' ,\t'fortran_order' : False , 'shape' : ( 2 , 3 ) , }"}) {
    Tensor t = parse(npy_file(dict, data));
    EXPECT_EQ(t.dtype(), DataType::kInt32) << dict;
    EXPECT_EQ(t.shape(), (Shape{2, 3})) << dict;
    EXPECT_EQ(values<int32_t>(t), (std::vector<int32_t>{1, 2, 3, 4, 5, 6})) << dict;
  }
  for (int major : {1, 2, 3}) {
    Tensor t =
        parse(npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (6,), }", data, major));
    EXPECT_EQ(t.shape(), (Shape{6})) << major;
  }
}

TEST(Npy, ZeroDimensionalAndEmptyArrays) {
  Tensor scalar =
      parse(npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", bytes_of({42})));
  EXPECT_EQ(scalar.shape(), Shape{});
  EXPECT_EQ(values<int32_t>(scalar), std::vector<int32_t>{42});
  Tensor empty = parse(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 5), }"));
  EXPECT_EQ(empty.shape(), (Shape{0, 5}));
  EXPECT_EQ(empty.numel(), 0);
}

TEST(Npy, BigEndianDataIsSwapped) {
  std::string be("\x00\x00\x01\x02\xff\xff\xff\xfe", 8);
  Tensor t = parse(npy_file("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be));
  EXPECT_EQ(values<int32_t>(t), (std::vector<int32_t>{0x0102, -2}));
  std::string half("\x3c\x00", 2);  // 1.0 in big-endian float16
  Tensor h = parse(npy_file("{'descr': '>f2', 'fortran_order': False, 'shape': (1,), }", half));
  EXPECT_EQ(h.data<uint16_t>()[0], 0x3c00);
}

TEST(Npy, FortranOrderIsTransposedIntoRowMajor) {
  // The 2x3 array [[1, 2, 3], [4, 5, 6]] stored column by column.
  Tensor t = parse(npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }",
                            bytes_of({1, 4, 2, 5, 3, 6})));
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int32_t>(t), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  // 2x3x2: element [i][j][k] is stored at i + 2j + 6k and holds 100i + 10j + k.
  std::vector<int32_t> column_major(12);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) column_major[size_t(i + 2 * j + 6 * k)] = 100 * i + 10 * j + k;
  Tensor c = parse(npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 2), }",
                            bytes_of(column_major)));
  EXPECT_EQ(values<int32_t>(c),
            (std::vector<int32_t>{0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121}));
}

TEST(Npy, BoolBytesBecomeZeroOrOne) {
  Tensor t = parse(npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                            std::string("\x00\x02\xff", 3)));
  const auto* p = static_cast<const uint8_t*>(t.raw());
  EXPECT_EQ(std::vector<uint8_t>(p, p + 3), (std::vector<uint8_t>{0, 1, 1}));
}

struct BadHeader {
  std::string dict;
  std::string reason;
};

TEST(Npy, MalformedHeadersAreRefusedWithAReason) {
  const std::string f4 = "'descr': '<f4', 'fortran_order': False";
  std::string ones_65;
  for (int i = 0; i < 65; ++i) ones_65 += "1, ";
  const BadHeader cases[] = {
      // Python keeps the last of repeated keys; a first-match reader the first.
      {"{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (1,), }",
       "gives 'descr' twice"},
      {"{'shape': (1,), 'shape': (1,), " + f4 + "}", "gives 'shape' twice"},
      // A descr inside another key's string is not the descr.
      {"{'fortran_order': False, 'shape': (1,), 'x': \"'descr': '<f4'\"}", "the key 'x'"},
      {"{" + f4 + ", 'shape': (1,), 'extra': 1}", "the key 'extra'"},
      {"[('descr', '<f4')]", "it is not a dict"},
      {"{'descr': '<f4', 'fortran_order': True_, 'shape': (1,)}", "not 'True_'"},
      {"{'descr': '<f4', 'fortran_order': 1, 'shape': (1,)}", "must be True or False, not '1'"},
      {"{'descr': '<f4', 'fortran_order': 'False', 'shape': (1,)}", "must be True or False"},
      {"{" + f4 + ", 'shape': (1.5,)}", "shape entry '1.5' is not a whole number"},
      {"{" + f4 + ", 'shape': (4abc,)}", "shape entry '4abc' is not a whole number"},
      {"{" + f4 + ", 'shape': (-1,)}", "shape entry '-1' is not a whole number"},
      {"{" + f4 + ", 'shape': (0x10,)}", "shape entry '0x10'"},
      {"{" + f4 + ", 'shape': (01,)}", "leading zero"},
      {"{" + f4 + ", 'shape': (True,)}", "shape entry 'True'"},
      {"{" + f4 + ", 'shape': (9223372036854775808,)}", "does not fit in 64 bits"},
      {"{" + f4 + ", 'shape': (3)}", "is a number, not a tuple"},
      {"{" + f4 + ", 'shape': [3]}", "must be a tuple"},
      {"{" + f4 + ", 'shape': (1,,)}", "shape entry ''"},
      {"{" + f4 + ", 'shape': (1, 2}", "expected ',' or ')'"},
      {"{'descr': '<f4', 'fortran_order': False}", "it has no 'shape'"},
      {"{'descr': '<f4', 'shape': (1,)}", "it has no 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (1,)}", "it has no 'descr'"},
      {"{}", "it has no 'descr'"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", "expected ':' after the key"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "only padding spaces"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}'"},
      {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (1,)}", "an escape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected ',' or '}'"},
      // The string runs into the header's final newline.
      {"{'descr': '<f4", "a string holds a control or non-ASCII byte"},
      {"{'descr': '<f\xc3\xa9', 'fortran_order': False, 'shape': (1,)}", "non-ASCII"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "structured array"},
      {"{'descr': '<i1', 'fortran_order': False, 'shape': (1,)}", "one-byte types with '|'"},
      {"{'descr': '|f4', 'fortran_order': False, 'shape': (1,)}", "has no byte order"},
      {"{" + f4 + ", 'shape': (" + ones_65 + ")}", "more than 64 dimensions"},
  };
  for (const BadHeader& c : cases) {
    std::string message = parse_error(npy_file(c.dict, std::string(4, '\0')));
    EXPECT_NE(message.find("'t.npy'"), std::string::npos) << message;
    EXPECT_NE(message.find(c.reason), std::string::npos) << c.dict << "\n" << message;
  }
}

TEST(Npy, UnsupportedDtypesSaySo) {
  for (const std::string& descr : {"<c8", "|O", "<U3", "float32", "<M8[ns]"}) {
    try {
      parse(npy_file("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1,)}", "x"));
      ADD_FAILURE() << descr;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("'" + descr + "', which kiln does not support"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Npy, PreambleAndSizesAreChecked) {
  std::string good =
      npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", bytes_of({1, 2}));
  EXPECT_NE(parse_error("not a npy file at all").find("bad magic"), std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, 9)).find("bad magic"), std::string::npos);
  std::string v4 = good;
  v4[6] = 4;
  EXPECT_NE(parse_error(v4).find("version 4.0; kiln reads 1.0, 2.0 and 3.0"), std::string::npos);
  std::string v11 = good;
  v11[7] = 1;
  EXPECT_NE(parse_error(v11).find("version 1.1"), std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, 70)).find("ends inside its .npy header"), std::string::npos);
  EXPECT_NE(parse_error(good + "xx").find("holds 10 bytes of data; shape [2] of int32 needs 8"),
            std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, good.size() - 1)).find("holds 7 bytes"), std::string::npos);
  // No final newline: the header's last byte is a space.
  std::string no_newline = good;
  no_newline[127] = ' ';
  EXPECT_NE(parse_error(no_newline).find("final newline"), std::string::npos);
  // A shape of 2^62 elements is a size error, not a wrapped product.
  std::string huge =
      npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }", "x");
  EXPECT_NE(parse_error(huge).find("tensor size limit"), std::string::npos) << parse_error(huge);
  std::string overflow = npy_file(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "x");
  EXPECT_NE(parse_error(overflow).find("more elements than fit in 64 bits"), std::string::npos);
}

TEST(Npy, LongHeadersAreRefusedWithoutRecursion) {
  // 30 KB used to overflow the stack in the regex the parser replaced.
  std::string long_dict =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), " + std::string(30000, ' ') + "}";
  EXPECT_NE(parse_error(npy_file(long_dict, "abcd", 2)).find("kiln reads headers of at most 10000"),
            std::string::npos);
  // The parser itself takes any length in one pass: a 1 MB string value, a deep nesting.
  auto header_error = [](const std::string& text) -> std::string {
    try {
      tools::parse_npy_header(text, "h.npy");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  std::string megabyte = header_error("{'descr': '" + std::string(1 << 20, 'f') + "'}\n");
  EXPECT_LT(megabyte.size(), 1000u) << "the message quotes the 1 MB dtype in full";
  EXPECT_NE(megabyte.find("(1048576 bytes), which kiln does not support"), std::string::npos);
  std::string nested = header_error(
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + std::string(100000, '(') + "}\n");
  EXPECT_NE(nested.find("is not a whole number"), std::string::npos) << nested;
  EXPECT_LT(nested.size(), 1000u);
  EXPECT_NE(header_error("{'descr': '<f4").find("a string is not closed"), std::string::npos);
}

TEST(Npy, OnlyRegularFilesAreRead) {
  TempDir dir;
  auto read_error = [](const std::string& path) -> std::string {
    try {
      read_npy(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(read_error(dir.path().string()).find("is a directory, not a .npy file"),
            std::string::npos);
  // A FIFO with no writer would block an ordinary open forever.
  std::string fifo = dir.file("pipe.npy");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(read_error(fifo).find("is a FIFO (named pipe), not a .npy file"), std::string::npos);
  EXPECT_NE(read_error(dir.file("missing.npy")).find("cannot open"), std::string::npos);
  write_file(dir.file("short.npy"), npy_file("{'descr': '<i4', 'fortran_order': False, "
                                             "'shape': (3,), }",
                                             bytes_of({1, 2})));
  EXPECT_NE(read_error(dir.file("short.npy")).find("holds 8 bytes of data"), std::string::npos);
}

}  // namespace
}  // namespace kiln::test
