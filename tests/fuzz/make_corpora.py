#!/usr/bin/env python3
"""Writes the seed corpora and the regression inputs of kiln's fuzz targets (tests/fuzz):

  corpus/onnx_build    the shipped and generated models (scripts/make_models.py), the smallest ONNX
                       node test model of each op (onnx's node test generators, as
                       scripts/gen_onnx_node_tests.py writes them) and a model with external data
  corpus/plan_load     plans that `kiln build` makes from the generated models and from a spread
                       of those node test models
  corpus/npy_read      .npy files written by NumPy: every dtype, 0-d, empty, Fortran order,
                       format versions 1, 2 and 3
  corpus/shape_parse   --shape arguments
  regressions/TARGET   inputs that crashed kiln (issue 12) or probe the same limits; each file's
                       name says what it holds

Every corpus folder is rewritten; in regressions/ only the files written here are, so crash
reproducers added by hand stay. The output is the same on every run (fixed seeds).

Usage: make_corpora.py --kiln PATH_TO_KILN_TOOL [--out tests/fuzz]
"""
import argparse
import importlib.util
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAN_SCHEMA = os.path.join(REPO, "src", "plan", "plan_schema.fbs")
OPSET = 17
# Node test models above this are left out: the corpus is for variety, not size.
MAX_NODE_MODEL_BYTES = 8192
# Node test models whose plans seed corpus/plan_load: control flow, views, fusions, indexing.
PLAN_SEED_OPS = [
    "Add", "AveragePool", "BatchNormalization", "Cast", "Concat", "Conv", "ConvTranspose",
    "CumSum", "Einsum", "Expand", "Gather", "GatherElements", "Gemm", "If", "LayerNormalization",
    "Loop", "LSTM", "MatMul", "MaxPool", "Pad", "ReduceMean", "Relu", "Reshape", "Resize", "Scan",
    "ScatterND", "Slice", "Softmax", "Split", "Tile", "TopK", "Transpose", "Where",
]
TWO_62 = 1 << 62


# ---------------------------------------------------------------- output folders


def reset_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- ONNX models


def model(nodes, inputs, outputs, initializers=(), opset=OPSET):
    graph = helper.make_graph(nodes, "fuzz_seed", inputs, outputs, list(initializers))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m.SerializeToString()


def f32(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def symbolic(name, rank, dtype=TensorProto.FLOAT):
    """A graph output of known rank and unknown dims."""
    return helper.make_tensor_value_info(name, dtype, [f"{name}_d{i}" for i in range(rank)])


def i64_const(name, values):
    return helper.make_node("Constant", [], [name], name=name,
                            value=helper.make_tensor(name + "_value", TensorProto.INT64,
                                                     [len(values)], values))


def huge_tensor(name, dims, dtype=TensorProto.FLOAT):
    """A TensorProto claiming `dims` but holding a few bytes: raw data left to the caller."""
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    return t


def node_test_models():
    """The smallest node test model of each op, by name (the op set of onnx's node tests)."""
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    np.random.seed(0)  # some generators draw their inputs and constants unseeded
    import onnx.backend.test.case.node as node_cases

    smallest = {}
    for case in node_cases.collect_testcases():
        data = case.model.SerializeToString()
        if len(data) > MAX_NODE_MODEL_BYTES:
            continue
        for op in sorted({n.op_type for n in case.model.graph.node}):
            best = smallest.get(op)
            if best is None or (len(data), case.name) < (len(best[1]), best[0]):
                smallest[op] = (case.name, data)
    return {op: entry for op, entry in sorted(smallest.items())}


def generated_models():
    spec = importlib.util.spec_from_file_location("make_models", os.path.join(REPO, "scripts", "make_models.py"))
    make_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_models)
    return {name: make().SerializeToString() for name, make in make_models.MODELS.items()}


def external_data_model():
    """Add(x, w) with w in "weights.bin" (the file fuzz_onnx_build.cpp provides) at offset 64."""
    w = huge_tensor("w", [4])
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("offset", "64"), ("length", "16")):
        entry = w.external_data.add()
        entry.key, entry.value = key, value
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [f32("x", [4])],
                 [f32("y", [4])], [w])


def nested_ifs_model(depth):
    """`depth` Ifs, each inside the previous one's then-branch, all on the graph input `c`."""
    def branch(level):
        if level == depth:
            return helper.make_graph([helper.make_node("Identity", ["x"], [f"y{level}"])],
                                     f"leaf{level}", [], [f32(f"y{level}", [2])])
        inner = helper.make_node("If", ["c"], [f"y{level}"], name=f"if{level}",
                                 then_branch=branch(level + 1), else_branch=leaf(level))
        return helper.make_graph([inner], f"branch{level}", [], [f32(f"y{level}", [2])])

    def leaf(level):
        return helper.make_graph([helper.make_node("Neg", ["x"], [f"n{level}"])], f"else{level}",
                                 [], [f32(f"n{level}", [2])])

    top = helper.make_node("If", ["c"], ["y"], name="if0", then_branch=branch(1),
                           else_branch=leaf(0))
    return model([top], [helper.make_tensor_value_info("c", TensorProto.BOOL, []), f32("x", [2])],
                 [f32("y", [2])])


def onnx_regressions():
    """Issue 12's crashes and their neighbours: element counts near and past 2^63, and ops whose
    output shape comes from data."""
    out = {}
    x = [f32("x", [1])]

    def y(rank):
        return [symbolic("y", rank)]

    for label, dims in (("2p62", [1 << 31, 1 << 31]), ("2p64_wraps_to_0", [1 << 32, 1 << 32]),
                        ("2p63_one_dim", [(1 << 63) - 1])):
        raw = huge_tensor("w", dims)
        raw.raw_data = b"\0" * 16
        out[f"initializer_{label}_elements_raw.onnx"] = model(
            [helper.make_node("Add", ["x", "w"], ["y"])], x, y(len(dims)), [raw])
        typed = huge_tensor("w", dims)
        typed.float_data.extend([1.0] * 4)
        out[f"initializer_{label}_elements_typed.onnx"] = model(
            [helper.make_node("Add", ["x", "w"], ["y"])], x, y(len(dims)), [typed])
        ext = huge_tensor("w", dims)
        ext.data_location = TensorProto.EXTERNAL
        entry = ext.external_data.add()
        entry.key, entry.value = "location", "weights.bin"
        out[f"initializer_{label}_elements_external.onnx"] = model(
            [helper.make_node("Add", ["x", "w"], ["y"])], x, y(len(dims)), [ext])

    const = huge_tensor("value", [1 << 31, 1 << 31])
    const.raw_data = b"\0" * 4
    out["constant_node_2p62_elements.onnx"] = model(
        [helper.make_node("Constant", [], ["c"], value=const),
         helper.make_node("Add", ["x", "c"], ["y"])], x, y(2))

    for label, shape in (("2p40x2p40", [1 << 40, 1 << 40]), ("2p62", [TWO_62]),
                         ("2p32x2p32", [1 << 32, 1 << 32]), ("negative", [-2, -3])):
        out[f"expand_to_{label}.onnx"] = model(
            [i64_const("shape", shape), helper.make_node("Expand", ["x", "shape"], ["y"])], x,
            y(len(shape)))
        out[f"constant_of_shape_{label}.onnx"] = model(
            [i64_const("shape", shape), helper.make_node("ConstantOfShape", ["shape"], ["y"])],
            [], y(len(shape)))
    for label, pads in (("2p62", [0, TWO_62]), ("2p62_both_sides", [TWO_62, TWO_62]),
                        ("negative_past_size", [0, -(1 << 40)])):
        out[f"pad_{label}.onnx"] = model(
            [i64_const("pads", pads), helper.make_node("Pad", ["x", "pads"], ["y"])], x, y(1))
    out["tile_2p62_repeats.onnx"] = model(
        [i64_const("repeats", [TWO_62]), helper.make_node("Tile", ["x", "repeats"], ["y"])], x, y(1))
    out["range_2p62_elements.onnx"] = model(
        [i64_const("start", [0]), i64_const("limit", [TWO_62]), i64_const("delta", [1]),
         helper.make_node("Squeeze", ["start"], ["s"]), helper.make_node("Squeeze", ["limit"], ["l"]),
         helper.make_node("Squeeze", ["delta"], ["d"]),
         helper.make_node("Range", ["s", "l", "d"], ["y"])], [],
        [symbolic("y", 1, TensorProto.INT64)])
    out["reshape_to_2p64_wraps_to_0.onnx"] = model(
        [i64_const("shape", [1 << 32, 1 << 32]), helper.make_node("Reshape", ["x", "shape"], ["y"])],
        x, y(2))
    out["nested_ifs_17.onnx"] = nested_ifs_model(17)
    return out


# ---------------------------------------------------------------- plans


def xxh64(data, seed=0):
    """XXH64, as the plan checksum uses it (src/plan/checksum.cpp)."""
    p1, p2, p3, p4, p5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                          0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
    mask = (1 << 64) - 1

    def rotl(v, r):
        return ((v << r) | (v >> (64 - r))) & mask

    def round_(acc, lane):
        return (rotl((acc + lane * p2) & mask, 31) * p1) & mask

    def merge(acc, v):
        return (((acc ^ round_(0, v)) * p1) + p4) & mask

    n, i = len(data), 0
    if n >= 32:
        v = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed, (seed - p1) & mask]
        while i + 32 <= n:
            lanes = struct.unpack_from("<4Q", data, i)
            v = [round_(a, lane) for a, lane in zip(v, lanes)]
            i += 32
        acc = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & mask
        for lane in v:
            acc = merge(acc, lane)
    else:
        acc = (seed + p5) & mask
    acc = (acc + n) & mask
    while i + 8 <= n:
        acc = ((rotl(acc ^ round_(0, struct.unpack_from("<Q", data, i)[0]), 27) * p1) + p4) & mask
        i += 8
    if i + 4 <= n:
        acc = ((rotl(acc ^ (struct.unpack_from("<I", data, i)[0] * p1 & mask), 23) * p2) + p3) & mask
        i += 4
    while i < n:
        acc = (rotl(acc ^ (data[i] * p5 & mask), 11) * p1) & mask
        i += 1
    acc ^= acc >> 33
    acc = (acc * p2) & mask
    acc ^= acc >> 29
    acc = (acc * p3) & mask
    return acc ^ (acc >> 32)


HEADER = 128  # src/plan/plan_header.hpp: fields at 56 metadata offset, 64 size, 72 weights
# offset, 80 size, 88 file size, 120 checksum


def seal_plan(plan):
    plan = bytearray(plan)
    struct.pack_into("<Q", plan, 120, xxh64(bytes(plan[HEADER:]), xxh64(bytes(plan[:120]))))
    return bytes(plan)


def check_checksum(plan):
    if seal_plan(plan) != plan:
        sys.exit("make_corpora.py: the XXH64 here disagrees with kiln's plan checksum")


def edit_plan_metadata(plan, edit, work):
    """Decodes a plan's metadata to JSON with flatc, applies `edit` to it, and reassembles and
    seals the plan around the re-encoded metadata."""
    import json

    meta_off, meta_size, weights_off, weights_size = struct.unpack_from("<4Q", plan, 56)
    meta_bin = os.path.join(work, "meta.bin")
    write(meta_bin, plan[meta_off:meta_off + meta_size])
    subprocess.run(["flatc", "--json", "--strict-json", "--raw-binary", "-o", work, PLAN_SCHEMA,
                    "--", meta_bin], check=True)
    meta_json = os.path.join(work, "meta.json")
    with open(meta_json) as f:
        meta = json.load(f)
    edit(meta)
    with open(meta_json, "w") as f:
        json.dump(meta, f)
    subprocess.run(["flatc", "--binary", "-o", work, PLAN_SCHEMA, meta_json], check=True)
    with open(meta_bin, "rb") as f:
        new_meta = f.read()
    new_weights_off = -(-(HEADER + len(new_meta)) // 4096) * 4096
    out = bytearray(plan[:HEADER]) + new_meta
    out += b"\0" * (new_weights_off - len(out))
    out += plan[weights_off:weights_off + weights_size]
    struct.pack_into("<Q", out, 64, len(new_meta))
    struct.pack_into("<Q", out, 72, new_weights_off)
    struct.pack_into("<Q", out, 88, len(out))
    return seal_plan(bytes(out))


def build_plan(kiln, model_path, plan_path):
    r = subprocess.run([kiln, "build", model_path, "-o", plan_path], capture_output=True, text=True)
    return r.returncode == 0


def one_weight_models():
    """Models of one layer with one weight, whose kernels read the weight in different ways."""
    rng = np.random.default_rng(1)

    def weight(shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), "w")

    return {
        "add": model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [f32("x", [4])],
                     [f32("y", [4])], [weight([4])]),
        "matmul": model([helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")],
                        [f32("x", [2, 4])], [f32("y", [2, 3])], [weight([4, 3])]),
        "gemm": model([helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm", transB=1)],
                      [f32("x", [2, 4])], [f32("y", [2, 3])], [weight([3, 4])]),
        "conv": model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                      [f32("x", [1, 2, 5, 5])], [f32("y", [1, 3, 3, 3])], [weight([3, 2, 3, 3])]),
    }


def plan_regressions(kiln, work):
    """Plans whose constants disagree with their values (issue 12), edited from real plans."""
    out = {}

    def largest_constant(meta):
        def elements(c):
            return int(np.prod(c["data"].get("shape", [])))
        return max(meta["constants"], key=elements)

    def constant_value(meta):
        return meta["values"][largest_constant(meta).get("value", 0)]  # flatc leaves out defaults

    def value_larger_than_data(meta):
        # The value says 4x the elements in each dim; its constant's data is unchanged.
        value = constant_value(meta)
        value["dims"] = [{"value": 4 * d.get("value", -1)} for d in value.get("dims", [])]

    def data_smaller_than_value(meta):
        # The constant's data holds one element (consistently, in 4 bytes); the value is unchanged.
        data = largest_constant(meta)["data"]
        data["shape"], data["size"] = [1], 4

    def value_scalar(meta):
        constant_value(meta)["dims"] = []

    def value_rank_differs(meta):
        constant_value(meta)["dims"] = [{"value": 2}, {"value": 2}, {"value": 1024}]

    def data_claims_2p62_elements(meta):
        largest_constant(meta)["data"]["shape"] = [TWO_62]

    edits = {"value_larger_than_data": value_larger_than_data,
             "data_smaller_than_value": data_smaller_than_value}
    for name, data in one_weight_models().items():
        src, plan_path = os.path.join(work, name + ".onnx"), os.path.join(work, name + ".plan")
        write(src, data)
        if not build_plan(kiln, src, plan_path):
            sys.exit(f"make_corpora.py: kiln build failed on the one-{name} model")
        with open(plan_path, "rb") as f:
            plan = f.read()
        check_checksum(plan)
        chosen = dict(edits)
        if name == "add":
            chosen.update(value_scalar=value_scalar, value_rank_differs=value_rank_differs,
                          data_claims_2p62_elements=data_claims_2p62_elements)
        for label, edit in chosen.items():
            out[f"{name}_constant_{label}.plan"] = edit_plan_metadata(plan, edit, work)

    nested_path = os.path.join(work, "nested_ifs_17.onnx")
    write(nested_path, nested_ifs_model(17))
    nested_plan = os.path.join(work, "nested_ifs_17.plan")
    if build_plan(kiln, nested_path, nested_plan):
        with open(nested_plan, "rb") as f:
            out["nested_ifs_17.plan"] = f.read()
    else:
        print("note: kiln build refuses 17 nested Ifs; no plan regression for them", file=sys.stderr)
    return out


# ---------------------------------------------------------------- .npy files


def npy_bytes(array, version=None, fortran=False):
    f = io.BytesIO()
    if fortran:
        array = np.asfortranarray(array)
    np.lib.format.write_array(f, array, version=version, allow_pickle=False)
    return f.getvalue()


def raw_npy(header, data=b"", version=1):
    """A .npy with `header` (a dict literal as text) taken as is: for headers NumPy won't write."""
    header = header.encode("latin1") + b"\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(header)) + header + data


def npy_corpus():
    rng = np.random.default_rng(0)
    out = {}
    dtypes = ["<f4", "<f2", "<f8", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1",
              # NumPy writes these, kiln refuses them
              ">f4", "<c8", "<U3", "<M8[s]"]
    for dt in dtypes:
        values = rng.integers(0, 4, size=(2, 3)).astype(dt)
        out[f"dtype_{dt.strip('<>|').replace('[', '_').replace(']', '')}_{'be' if dt[0] == '>' else 'le'}.npy"] = npy_bytes(values)
    out["bfloat16_as_void2.npy"] = npy_bytes(np.zeros(3, dtype="V2"))
    out["fp8_as_void1.npy"] = npy_bytes(np.zeros(3, dtype="V1"))
    out["zero_d.npy"] = npy_bytes(np.array(1.5, dtype=np.float32))
    out["empty_0.npy"] = npy_bytes(np.zeros((0,), dtype=np.float32))
    out["empty_2x0x3.npy"] = npy_bytes(np.zeros((2, 0, 3), dtype=np.int64))
    out["fortran_order.npy"] = npy_bytes(np.arange(6, dtype=np.float32).reshape(2, 3), fortran=True)
    out["rank5.npy"] = npy_bytes(np.ones((1, 2, 1, 2, 1), dtype=np.float32))
    image = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    for version in ((1, 0), (2, 0), (3, 0)):
        out[f"version_{version[0]}.npy"] = npy_bytes(image, version=version)
    out["structured.npy"] = npy_bytes(np.zeros(2, dtype=[("a", "<i4"), ("b", "<f4")]))
    out["version_3_utf8_field.npy"] = npy_bytes(np.zeros(2, dtype=[("\u00e9", "<i4")]), version=(3, 0))
    return out


def npy_regressions():
    out = {}
    long_descr = "<" + "f" * 30000
    out["header_30kb_descr.npy"] = raw_npy(
        "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }" % long_descr, b"\0" * 4, 2)
    out["header_30kb_spaces.npy"] = raw_npy(
        "{'descr':" + " " * 30000 + "'<f4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 4, 2)
    out["header_30kb_shape.npy"] = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 10000 + "), }", b"\0" * 4, 2)
    out["duplicate_descr.npy"] = raw_npy(
        "{'descr': '<f8', 'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", b"\0" * 2)
    out["duplicate_shape.npy"] = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (1000000,), }", b"\0" * 8)
    out["shape_4abc.npy"] = raw_npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4abc,), }", b"\0" * 16)
    for label, shape, descr in (("2p61_f8_bytes_wrap_to_0", "(2305843009213693952,)", "<f8"),
                                ("2p62_f4_bytes_wrap_to_0", "(4611686018427387904,)", "<f4"),
                                ("2p32x2p32_elements_wrap_to_0", "(4294967296, 4294967296)", "|u1"),
                                ("negative_dims_product_positive", "(-2, -2)", "|u1"),
                                ("dim_past_int64", "(99999999999999999999,)", "|u1")):
        out[f"shape_{label}.npy"] = raw_npy(
            "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape),
            b"\0" * 4 if "negative" in label else b"")
    out["header_length_past_file.npy"] = b"\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'"
    out["version_2_header_length_4g.npy"] = b"\x93NUMPY\x02\x00\xff\xff\xff\xff{}"
    out["unknown_version.npy"] = b"\x93NUMPY\x07\x00\x10\x00" + b" " * 16
    out["truncated_data.npy"] = npy_bytes(np.zeros(16, dtype=np.float32))[:-5]
    return out


# ---------------------------------------------------------------- --shape arguments


SHAPE_SEEDS = {
    "nchw.txt": "input=1x3x224x224",
    "commas.txt": "input=1,3,224,224",
    "scalar.txt": "x=",
    "zero_dim.txt": "x=0x4",
    "name_with_equals.txt": "a=b=2x2",
    "symbolic.txt": "input=Nx3x224x224",
    "unknown_dims.txt": "input=?x3x?x?",
    "names_with_x.txt": "tokens=batch,max_seq_x,768",
    "underscore_name.txt": "x=_n1x8",
}
SHAPE_REGRESSIONS = {
    "dim_4abc.txt": "x=4abc",
    "dim_20_digits.txt": "x=99999999999999999999",
    "dims_18_digits_product_overflows.txt": "x=999999999999999999x999999999999999999",
    "trailing_separator.txt": "x=1x",
    "leading_separator.txt": "x=,1",
    "no_name.txt": "=1x2",
    "no_equals.txt": "1x3x224x224",
    "only_separators.txt": "x=x,x",
    "negative_dim.txt": "x=-1x3",
    "nul_inside.txt": "x=1\0x2",
    "plus_sign.txt": "x=+1x2",
}


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", required=True, help="kiln tool binary (builds the plan seeds)")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fuzz"))
    args = ap.parse_args()
    kiln = os.path.abspath(args.kiln)
    corpus = os.path.join(args.out, "corpus")
    regressions = os.path.join(args.out, "regressions")

    with tempfile.TemporaryDirectory() as work:
        # ONNX models.
        reset_dir(os.path.join(corpus, "onnx_build"))
        models = {f"model_{name}.onnx": data for name, data in generated_models().items()}
        with open(os.path.join(REPO, "models", "resnet_tiny.onnx"), "rb") as f:
            shipped = f.read()
        if shipped != models.get("model_resnet_tiny.onnx"):
            models["shipped_resnet_tiny.onnx"] = shipped
        models["external_data_weights_bin.onnx"] = external_data_model()
        node_models = node_test_models()
        for op, (case, data) in node_models.items():
            models[f"node_{op}_{case}.onnx"] = data
        for name, data in models.items():
            write(os.path.join(corpus, "onnx_build", name), data)
        for name, data in onnx_regressions().items():
            write(os.path.join(regressions, "onnx_build", name), data)

        # Plans from a spread of those models.
        reset_dir(os.path.join(corpus, "plan_load"))
        sources = {name[:-5]: data for name, data in models.items() if name.startswith("model_")}
        for op in PLAN_SEED_OPS:
            if op in node_models:
                sources[f"node_{op}"] = node_models[op][1]
        built = 0
        for name, data in sources.items():
            src = os.path.join(work, name + ".onnx")
            write(src, data)
            plan = os.path.join(corpus, "plan_load", name + ".plan")
            if build_plan(kiln, src, plan):
                built += 1
            else:
                print(f"note: kiln build refuses {name}; no plan seed from it", file=sys.stderr)
        for name, data in plan_regressions(kiln, work).items():
            write(os.path.join(regressions, "plan_load", name), data)

    reset_dir(os.path.join(corpus, "npy_read"))
    for name, data in npy_corpus().items():
        write(os.path.join(corpus, "npy_read", name), data)
    for name, data in npy_regressions().items():
        write(os.path.join(regressions, "npy_read", name), data)

    reset_dir(os.path.join(corpus, "shape_parse"))
    for name, text in SHAPE_SEEDS.items():
        write(os.path.join(corpus, "shape_parse", name), text.encode())
    for name, text in SHAPE_REGRESSIONS.items():
        write(os.path.join(regressions, "shape_parse", name), text.encode())
    print(f"wrote {len(models)} ONNX seeds, {built} plan seeds and the .npy and --shape seeds "
          f"under {args.out}")


if __name__ == "__main__":
    main()
