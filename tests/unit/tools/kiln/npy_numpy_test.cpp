// The .npy reader against NumPy itself: a Python script saves arrays of every dtype kiln supports
// in every layout NumPy writes (format versions 1.0/2.0/3.0, both byte orders, C and Fortran
// order, 0-d, empty, non-contiguous views) with the bytes kiln must read, and files NumPy writes
// that kiln must refuse; then NumPy loads what kiln writes. Needs a Python with NumPy: $PYTHON or
// python3 (CI: scripts/test.sh sets PYTHON to the project's virtual environment); skipped without.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"
#include "kiln/kiln.hpp"
#include "npy.hpp"
#include "unit/temp_dir_util.hpp"

namespace kiln::test {
namespace {

// argv: MODE DIR. "write": saves DIR/<case>.npy, DIR/<case>.raw (the values in C order,
// little-endian: what kiln must hold) and DIR/cases.json. "check": loads every DIR/kiln_<dtype>.npy
// and compares it with DIR/kiln_<dtype>.raw.
const char* const kScript = R"PY(
import json, os, sys
import numpy as np

mode, out = sys.argv[1], sys.argv[2]
try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None

# NumPy dtype -> kiln's name for it.
dtypes = {"f2": "float16", "f4": "float32", "f8": "float64", "i1": "int8", "u1": "uint8",
          "i2": "int16", "u2": "uint16", "i4": "int32", "u4": "uint32", "i8": "int64",
          "u8": "uint64", "?": "bool"}
if ml_dtypes is not None:
    dtypes[ml_dtypes.bfloat16] = "bfloat16"
    dtypes[ml_dtypes.float8_e4m3fn] = "float8e4m3"

def values(dtype, shape):
    n = int(np.prod(shape))
    a = (np.arange(n) * 37 + 11) % 251
    if np.dtype(dtype) == np.bool_:
        return (a % 3 == 0).reshape(shape)
    if np.dtype(dtype).kind in "iu":
        return (a - (100 if np.dtype(dtype).kind == "i" else 0)).astype(dtype).reshape(shape)
    return ((a - 125) / 8).astype(np.float32).astype(dtype).reshape(shape)

if mode == "check":
    for name in os.listdir(out):
        if name.startswith("kiln_") and name.endswith(".npy"):
            a = np.load(os.path.join(out, name))
            raw = open(os.path.join(out, name[:-4] + ".raw"), "rb").read()
            assert a.flags.c_contiguous and a.tobytes() == raw, name
            print("numpy read", name, a.dtype, a.shape)
    sys.exit(0)

cases = []
def save(name, a, kiln_name, version=None):
    path = os.path.join(out, name + ".npy")
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    c = np.ascontiguousarray(a)
    if c.dtype.byteorder == ">":
        c = c.astype(c.dtype.newbyteorder("<"))
    with open(os.path.join(out, name + ".raw"), "wb") as f:
        f.write(c.tobytes())
    with open(path, "rb") as f:
        header = f.read(128).split(b"\n")[0][10:].decode("latin1", "replace")
    cases.append({"name": name, "dtype": kiln_name, "shape": list(a.shape), "header": header})

for key, kiln_name in dtypes.items():
    dt = np.dtype(key)
    for shape in [(), (0,), (5,), (2, 3), (2, 0, 3), (3, 4, 5), (1, 1, 7, 2)]:
        a = values(dt, shape)
        tag = f"{kiln_name}_{'x'.join(map(str, shape)) or 'scalar'}"
        save(tag, a, kiln_name)
        if len(shape) >= 2:
            save(tag + "_fortran", np.asfortranarray(a), kiln_name)
            save(tag + "_transposed_view", a.T, kiln_name)
            save(tag + "_strided_view", a[..., ::2], kiln_name)
        if dt.itemsize > 1 and dt.kind != "V":
            big = a.astype(dt.newbyteorder(">"))
            save(tag + "_big_endian", big, kiln_name)
            if len(shape) >= 2:
                save(tag + "_big_endian_fortran", np.asfortranarray(big), kiln_name)
    for version in [(1, 0), (2, 0), (3, 0)]:
        save(f"{kiln_name}_version{version[0]}", values(dt, (4, 3)), kiln_name, version)

# Files NumPy writes that kiln refuses, and a part of the reason.
refused = [("complex64", np.zeros(3, np.complex64), "which kiln does not support"),
           ("unicode", np.array(["ab", "c"]), "which kiln does not support"),
           ("structured", np.zeros(2, [("a", "<f4"), ("b", "<i4")]), "structured array")]
for name, a, reason in refused:
    np.save(os.path.join(out, "refused_" + name + ".npy"), a)
    cases.append({"name": "refused_" + name, "refused": reason})
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump({"numpy": np.__version__, "ml_dtypes": ml_dtypes is not None, "cases": cases}, f)
)PY";

// A Python with NumPy, or empty.
std::string find_python() {
  for (const char* candidate : {static_cast<const char*>(std::getenv("PYTHON")), "python3"}) {
    if (!candidate) continue;
    std::string python = candidate;
    if (std::system(("'" + python + "' -c 'import numpy' >/dev/null 2>&1").c_str()) == 0) {
      return python;
    }
  }
  return "";
}

int run_script(const std::string& python, const TempDir& dir, const std::string& mode) {
  std::string script = dir.file("npy_cases.py");
  std::ofstream(script) << kScript;
  std::string command = "'" + python + "' '" + script + "' " + mode + " '" + dir.file("cases") +
                        "' >'" + dir.file("log.txt") + "' 2>&1";
  return std::system(command.c_str());
}

std::string text_of(const std::string& path) {
  std::vector<uint8_t> bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

class NpyNumPy : public ::testing::Test {
 protected:
  void SetUp() override {
    python_ = find_python();
    if (python_.empty()) GTEST_SKIP() << "no Python with NumPy ($PYTHON or python3)";
    std::filesystem::create_directories(dir_.file("cases"));
  }
  TempDir dir_;
  std::string python_;
};

TEST_F(NpyNumPy, ReadsEveryArrayNumPySavesAsNumPyDoes) {
  ASSERT_EQ(run_script(python_, dir_, "write"), 0) << text_of(dir_.file("log.txt"));
  nlohmann::json manifest = nlohmann::json::parse(text_of(dir_.file("cases/cases.json")));
  int read = 0, refused = 0;
  bool fortran = false, big_endian = false, versions = false;
  for (const auto& c : manifest["cases"]) {
    std::string name = c["name"];
    std::string path = dir_.file("cases/" + name + ".npy");
    if (c.contains("refused")) {
      try {
        tools::read_npy(path);
        ADD_FAILURE() << name << " was read";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(c["refused"].get<std::string>()), std::string::npos)
            << name << ": " << e.what();
        ++refused;
      }
      continue;
    }
    SCOPED_TRACE(name + " " + c["header"].get<std::string>());
    Tensor t = tools::read_npy(path);
    EXPECT_EQ(to_string(t.dtype()), c["dtype"].get<std::string>());
    EXPECT_EQ(t.shape(), c["shape"].get<Shape>());
    std::vector<uint8_t> raw = read_file(dir_.file("cases/" + name + ".raw"));
    ASSERT_EQ(t.nbytes(), raw.size());
    EXPECT_TRUE(raw.empty() || std::memcmp(t.raw(), raw.data(), raw.size()) == 0);
    std::string header = c["header"];
    fortran |= header.find("'fortran_order': True") != std::string::npos;
    big_endian |= header.find("'>") != std::string::npos;
    versions |= name.ends_with("_version3");
    ++read;
  }
  // The script really produced every kind of file the test is about.
  EXPECT_GE(read, 300);
  EXPECT_EQ(refused, 3);
  EXPECT_TRUE(fortran && big_endian && versions);
  if (!manifest["ml_dtypes"].get<bool>())
    std::cout << "note: no ml_dtypes; bfloat16/fp8 untested\n";
}

TEST_F(NpyNumPy, NumPyLoadsWhatKilnWrites) {
  int written = 0;
  for (DataType dtype :
       {DataType::kFloat32, DataType::kFloat16, DataType::kFloat64, DataType::kInt8,
        DataType::kUInt8, DataType::kInt16, DataType::kUInt16, DataType::kInt32, DataType::kUInt32,
        DataType::kInt64, DataType::kUInt64, DataType::kBool}) {
    int index = 0;
    for (const Shape& shape : {Shape{}, Shape{4}, Shape{2, 3}, Shape{0, 2}}) {
      Tensor t(dtype, shape);
      auto* p = static_cast<uint8_t*>(t.raw());
      for (size_t i = 0; i < t.nbytes(); ++i) {
        p[i] = dtype == DataType::kBool ? i % 2 : static_cast<uint8_t>(i * 13 + 5);
      }
      std::string stem = cat("cases/kiln_", to_string(dtype), "_", index++);
      tools::write_npy(dir_.file(stem + ".npy"), t);
      write_file(dir_.file(stem + ".raw"), std::vector<uint8_t>(p, p + t.nbytes()));
      ++written;
    }
  }
  ASSERT_EQ(run_script(python_, dir_, "check"), 0) << text_of(dir_.file("log.txt"));
  std::string log = text_of(dir_.file("log.txt"));
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), written) << log;
}

}  // namespace
}  // namespace kiln::test
