"""Writes nan_propagation_cases.inc: small ONNX models fed NaN, +Inf and -Inf at the first, a
middle and the last position of each reduction axis, pooling window and matrix row, with the
outputs ONNX Runtime (CPU) gives for them. nan_propagation_test.cpp runs every model through kiln
(CPU unfused and fused, CUDA) and expects those outputs, NaN for NaN and Inf for Inf.

Where ONNX Runtime drops a NaN, kiln keeps it: ONNX Runtime's vectorized max reductions and pools
keep or drop a NaN depending on its lane (ReduceMax keeps a NaN at position 0 or 2 of a row of 37
and drops it elsewhere; MaxPool may even give -FLT_MAX), its ArgMax/ArgMin see a NaN only in the
first position, and its Scatter max/min drop a NaN already in the data. For those ops the expected
output comes from a numpy reference in which a NaN is never dropped (numpy's maximum, max and
argmax: a NaN wins), which is what ONNX Runtime gives wherever its comparison sees the NaN, and
what its elementwise Max and Min always do. Each reference is first checked against ONNX Runtime
on the same inputs with the NaNs and infinities replaced by numbers.

Usage: python3 nan_propagation_cases.py  (rewrites the .inc next to this file)
"""
import base64
import os
import re

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

NAN, INF = np.float32(np.nan), np.float32(np.inf)
ort.set_default_logger_severity(3)
rng = np.random.default_rng(12)
CASES = []


def finite(*shape, scale=4.0):
    """Multiples of 1/8 in [-scale, scale): exact in float32 and short in the .inc file."""
    return (rng.integers(-8 * scale, 8 * scale, size=shape) / 8).astype(np.float32)


def specials_vector():
    """NaN, both infinities, signed zero, and numbers around every activation's breakpoints."""
    tail = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, -3.0, 6.0, -6.0, 0.125, -0.125,
            20.0, -20.0, 100.0, -100.0, 0.875, -0.875, 4.5, -4.5, 1.5, -1.5, 0.25, -0.25, 9.0,
            -9.0, 0.75, -0.75, 3.5, -3.5, 0.375]
    return np.array([NAN, INF, -INF] + tail, np.float32).reshape(4, 9)


def special_rows(length):
    """One row per (special value, position) pair: first, middle, last; then NaN next to +Inf,
    a row of -Inf only, and a row of numbers only."""
    rows = []
    for value in (NAN, INF, -INF):
        for pos in (0, length // 2, length - 1):
            r = finite(length)
            r[pos] = value
            rows.append(r)
    r = finite(length)
    r[1], r[length - 2] = INF, NAN
    rows.append(r)
    rows.append(np.full(length, -INF, np.float32))
    rows.append(finite(length))
    return np.stack(rows)


def special_planes(channels, h, w):
    """[1, channels, h, w]: channel 0 holds NaNs, 1 +Infs, 2 -Infs, 3 all three, the rest none; the
    specials sit at every position of a 2x2 window in turn (first, middle, last)."""
    x = finite(1, channels, h, w)
    values = [[NAN], [INF], [-INF], [NAN, INF, -INF]]
    for c in range(min(channels, 4)):
        k = 0
        for wy in range(0, h - 1, 2):
            for wx in range(0, w - 1, 2):
                dy, dx = divmod(k % 4, 2)
                x[0, c, wy + dy, wx + dx] = values[c][k % len(values[c])]
                k += 1
                if k % 3 == 2:  # leave some windows without specials
                    k += 1
                    break
    return x


def proto_type(a):
    return helper.np_dtype_to_tensor_dtype(a.dtype)


def make_model(nodes, inputs, consts, n_out, opset, outputs=None):
    ins = [helper.make_tensor_value_info(k, proto_type(v), list(v.shape)) for k, v in inputs.items()]
    inits = [numpy_helper.from_array(v, k) for k, v in consts.items()]
    outs = [onnx.ValueInfoProto(name=o) for o in (outputs or [f"y{i}" for i in range(n_out)])]
    g = helper.make_graph(nodes, "nan_case", ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def run_ort(model, inputs):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def numbers_only(inputs):
    """The inputs with NaN and the infinities replaced by numbers."""
    return {k: np.where(np.isfinite(v), v, np.float32(0.75)) if v.dtype == np.float32 else v
            for k, v in inputs.items()}


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return np.array_equal(a, b)
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True))


def add(name, nodes, inputs, consts=None, opset=18, n_out=1, reference=None, why=None):
    """One case: `nodes` over runtime `inputs` and initializer `consts`, outputs y0..y{n-1}.
    `reference(inputs)` replaces ONNX Runtime's outputs where ONNX Runtime is inconsistent (see the
    module comment); it must agree with ONNX Runtime on the same inputs without NaN or Inf."""
    inputs = {k: np.array(v) for k, v in inputs.items()}  # a copy: later cases may edit theirs
    consts = consts or {}
    model = make_model(nodes, inputs, consts, n_out, opset)
    expected = run_ort(model, inputs)
    if reference is not None:
        clean = numbers_only(inputs)
        for r, o in zip(reference(clean), run_ort(model, clean)):
            assert same(r, o), f"{name}: the numpy reference disagrees with ONNX Runtime:\n{r}\n{o}"
        ours = reference(inputs)
        differs = [not same(r, o) for r, o in zip(ours, expected)]
        expected = [np.asarray(r, dtype=o.dtype) for r, o in zip(ours, expected)]
        why = why or "numpy (NaN-propagating) reference"
        if any(differs):
            why += "; ONNX Runtime differs here"
    CASES.append(dict(name=name, model=model.SerializeToString(), inputs=inputs,
                      expected=expected, note=why))


def node(op, inputs=("x",), outputs=("y0",), **attrs):
    return helper.make_node(op, list(inputs), list(outputs), **attrs)


def one(op, inputs, consts=None, opset=18, n_out=1, name=None, reference=None, why=None,
        order=None, **attrs):
    """A one-node case; the node's inputs are `order`, or the runtime inputs then the consts."""
    order = order or list(inputs) + list(consts or {})
    add(name or op, [node(op, order, [f"y{i}" for i in range(n_out)], **attrs)], inputs, consts,
        opset, n_out, reference, why)


# ---- numpy references for the ops whose ONNX Runtime NaN handling depends on position ----------

def np_reduce(fn, axis):
    return lambda inputs: [fn(inputs["x"], axis=axis, keepdims=True)]


def np_arg(fn, axis, last=False):
    """ArgMax/ArgMin (fn np.argmax/np.argmin: the first NaN wins), keepdims; `last` takes the
    last of equal values."""
    def ref(inputs):
        x = inputs["x"]
        if not last:
            return [np.expand_dims(fn(x, axis=axis), axis).astype(np.int64)]
        flipped = fn(np.flip(x, axis=axis), axis=axis)
        return [np.expand_dims(x.shape[axis] - 1 - flipped, axis).astype(np.int64)]
    return ref


def np_hardmax(axis):
    def ref(inputs):
        x = inputs["x"]
        hot = np.expand_dims(np.argmax(x, axis=axis), axis)
        pos = np.arange(x.shape[axis]).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
        return [(pos == hot).astype(np.float32)]
    return ref


def np_scatter(fn):
    """ScatterElements (axis 0) or ScatterND over a 1-D data with reduction fn (np.maximum keeps
    a NaN from either side)."""
    def ref(inputs):
        out = inputs["d"].copy()
        indices = SCATTER_INDICES.reshape(-1)
        for k, i in enumerate(indices):
            out[i] = fn(out[i], inputs["u"][k])
        return [out]
    return ref


def np_lrn(size, alpha=1e-4, beta=0.75, bias=1.0):
    """LRN over each channel's window alone (ONNX Runtime's running sums carry a NaN or an
    infinity into the later channels' windows too)."""
    def ref(inputs):
        x = inputs["x"].astype(np.float64)
        c = x.shape[1]
        sq = np.zeros_like(x)
        for ch in range(c):
            lo, hi = max(0, ch - (size - 1) // 2), min(c - 1, ch + size // 2)
            sq[:, ch] = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        with np.errstate(invalid="ignore"):  # inf / inf
            return [(x / (bias + alpha / size * sq) ** beta).astype(np.float32)]
    return ref


def window_views(x, kernel, strides, pads, fill):
    """[N, C, oh, ow, kh*kw] windows of a 2-D pooling, out-of-bounds taps = fill."""
    n, c, h, w = x.shape
    xp = np.full((n, c, h + pads[0] + pads[2], w + pads[1] + pads[3]), fill, np.float32)
    xp[:, :, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = x
    oh = (xp.shape[2] - kernel[0]) // strides[0] + 1
    ow = (xp.shape[3] - kernel[1]) // strides[1] + 1
    out = np.empty((n, c, oh, ow, kernel[0] * kernel[1]), np.float32)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * strides[0]:i * strides[0] + kernel[0],
                     j * strides[1]:j * strides[1] + kernel[1]]
            out[:, :, i, j] = win.reshape(n, c, -1)
    return out


def np_maxpool(kernel, strides, pads):
    def ref(inputs):
        return [window_views(inputs["x"], kernel, strides, pads, -INF).max(axis=-1)]
    return ref


def np_maxpool_with_indices(kernel, strides):
    """Values and flat indices (NCHW order): the first NaN of a window, else its first maximum."""
    def ref(inputs):
        x = inputs["x"]
        n, c, h, w = x.shape
        win = window_views(x, kernel, strides, [0, 0, 0, 0], -INF)
        oh, ow = win.shape[2], win.shape[3]
        values = win.max(axis=-1)
        nan = np.isnan(win)
        local = np.where(nan.any(axis=-1), nan.argmax(axis=-1), np.nanargmax(
            np.where(nan, -INF, win), axis=-1))
        ky, kx = np.divmod(local, kernel[1])
        iy = np.arange(oh)[:, None] * strides[0] + ky
        ix = np.arange(ow)[None, :] * strides[1] + kx
        plane = (np.arange(n)[:, None] * c + np.arange(c)[None, :])[:, :, None, None]
        return [values, (plane * h * w + iy * w + ix).astype(np.int64)]
    return ref


# ---- elementwise --------------------------------------------------------------------------------

U = specials_vector()
for op, opset, attrs in [
        ("Relu", 14, {}), ("LeakyRelu", 16, dict(alpha=0.1)), ("Sigmoid", 13, {}),
        ("Tanh", 13, {}), ("HardSigmoid", 13, dict(alpha=0.2, beta=0.5)), ("HardSwish", 14, {}),
        ("Elu", 13, dict(alpha=0.7)), ("Selu", 13, {}), ("Celu", 12, dict(alpha=1.5)),
        ("Softplus", 13, {}), ("Softsign", 13, {}), ("Mish", 18, {}),
        ("ThresholdedRelu", 10, dict(alpha=0.5)), ("Shrink", 9, dict(bias=0.5, lambd=1.0)),
        ("Abs", 13, {}), ("Neg", 13, {}), ("Sign", 13, {}), ("Exp", 13, {}), ("Log", 13, {}),
        ("Sqrt", 13, {}), ("Reciprocal", 13, {}), ("Floor", 13, {}), ("Ceil", 13, {}),
        ("Round", 11, {}), ("Sin", 7, {}), ("Cos", 7, {}), ("Tan", 7, {}), ("Asin", 7, {}),
        ("Acos", 7, {}), ("Atan", 7, {}), ("Sinh", 9, {}), ("Cosh", 9, {}), ("Asinh", 9, {}),
        ("Acosh", 9, {}), ("Atanh", 9, {}), ("Erf", 13, {}), ("IsNaN", 13, {}), ("IsInf", 10, {}),
        ("Identity", 16, {})]:
    one(op, {"x": U}, opset=opset, **attrs)
one("Gelu", {"x": U}, opset=20, name="Gelu erf")
one("Gelu", {"x": U}, opset=20, name="Gelu tanh", approximate="tanh")
one("IsInf", {"x": U}, opset=10, name="IsInf positive only", detect_negative=0)
one("Clip", {"x": U}, {"lo": np.float32(-0.5), "hi": np.float32(0.5)}, opset=13,
    name="Clip min max")
one("Clip", {"x": U}, {"lo": np.float32(0.0)}, opset=13, name="Clip min only")
one("Clip", {"x": U}, {"lo": np.float32(0.0), "hi": np.float32(6.0)}, opset=13, name="Clip 0 6")
one("PRelu", {"x": U}, {"slope": finite(9, scale=1)}, opset=16)
one("Cast", {"x": U}, opset=19, name="Cast to float16", to=TensorProto.FLOAT16)
one("Cast", {"x": U}, opset=19, name="Cast to double", to=TensorProto.DOUBLE)

# Every pair of {NaN, +Inf, -Inf, 1.5, -2, 0}.
pair = np.array([NAN, INF, -INF, 1.5, -2.0, 0.0], np.float32)
A = np.repeat(pair, 6).reshape(6, 6)
B = np.tile(pair, 6).reshape(6, 6)
for op in ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less",
           "Greater", "LessOrEqual", "GreaterOrEqual"]:
    one(op, {"a": A, "b": B}, opset=13)
one("Mod", {"a": A, "b": B}, opset=13, fmod=1)
one("PRelu", {"a": A, "b": B}, opset=16, name="PRelu runtime slope")
for op in ["Max", "Min", "Sum"]:
    one(op, {"a": A, "b": B, "c": A.T.copy()}, opset=13, name=f"{op} of three")
for op in ["Max", "Min", "Add"]:
    one(op, {"a": A, "b": pair.reshape(1, 6)}, opset=13, name=f"{op} broadcast row")
    one(op, {"a": pair.reshape(6, 1), "b": B}, opset=13, name=f"{op} broadcast column")
# Scatter with reduction: data and updates each hold the specials; index 3 is hit twice.
SCATTER_INDICES = np.array([0, 1, 2, 3, 4, 5, 3, 6], np.int64)
scatter_data = np.array([NAN, 1, 2, NAN, INF, -INF, 0.5], np.float32)
scatter_updates = np.array([1, NAN, INF, 5, NAN, NAN, -2, -INF], np.float32)
for reduction, fn in [("max", np.maximum), ("min", np.minimum), ("add", None), ("mul", None)]:
    for op, indices in [("ScatterElements", SCATTER_INDICES),
                        ("ScatterND", SCATTER_INDICES.reshape(-1, 1))]:
        one(op, {"d": scatter_data, "u": scatter_updates}, {"i": indices}, opset=18,
            name=f"{op} {reduction}", order=["d", "i", "u"], reduction=reduction,
            reference=np_scatter(fn) if fn else None)
one("Where", {"c": (np.arange(36).reshape(6, 6) % 3 == 0), "a": A, "b": B}, opset=16)

# ---- reductions, arg reductions, softmax, TopK, CumSum ------------------------------------------

for length in (7, 40):
    R = special_rows(length)
    cols = np.ascontiguousarray(R.T)
    for op in ["ReduceMax", "ReduceMin", "ReduceSum", "ReduceMean", "ReduceProd", "ReduceL1",
               "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "ReduceLogSum"]:
        for axis, x in ((1, R), (0, cols)):
            ref = {"ReduceMax": np_reduce(np.max, axis), "ReduceMin": np_reduce(np.min, axis)}
            one(op, {"x": x}, {"axes": np.array([axis], np.int64)}, opset=18,
                name=f"{op} {length} axis {axis}", reference=ref.get(op))
    for op, fn in [("ArgMax", np.argmax), ("ArgMin", np.argmin)]:
        for axis, x in ((1, R), (0, cols)):
            one(op, {"x": x}, opset=13, name=f"{op} {length} axis {axis}", axis=axis,
                reference=np_arg(fn, axis))
            one(op, {"x": x}, opset=13, name=f"{op} {length} axis {axis} last", axis=axis,
                select_last_index=1, reference=np_arg(fn, axis, last=True))
    for op in ["Softmax", "LogSoftmax"]:
        for axis, x in ((1, R), (0, cols)):
            one(op, {"x": x}, opset=13, name=f"{op} {length} axis {axis}", axis=axis)
    for axis, x in ((1, R), (0, cols)):
        one("Hardmax", {"x": x}, opset=13, name=f"Hardmax {length} axis {axis}", axis=axis,
            reference=np_hardmax(axis))
    one("Softmax", {"x": R.reshape(3, 4, length)}, opset=11, name=f"Softmax {length} opset 11",
        axis=1)
    for largest in (1, 0):
        one("TopK", {"x": R}, {"k": np.array([3], np.int64)}, opset=11, n_out=2,
            name=f"TopK {length} largest {largest}", largest=largest)
        one("TopK", {"x": cols}, {"k": np.array([3], np.int64)}, opset=11, n_out=2,
            name=f"TopK {length} axis 0 largest {largest}", axis=0, largest=largest)
    one("CumSum", {"x": R}, {"axis": np.array(1, np.int64)}, opset=14, name=f"CumSum {length}")

# ---- pooling ------------------------------------------------------------------------------------

P = special_planes(5, 8, 8)
one("MaxPool", {"x": P}, opset=12, name="MaxPool 2x2 stride 2", kernel_shape=[2, 2],
    strides=[2, 2], reference=np_maxpool([2, 2], [2, 2], [0, 0, 0, 0]))
one("MaxPool", {"x": P}, opset=12, name="MaxPool 3x3 pad 1", kernel_shape=[3, 3],
    pads=[1, 1, 1, 1], reference=np_maxpool([3, 3], [1, 1], [1, 1, 1, 1]))
one("MaxPool", {"x": P}, opset=12, n_out=2, name="MaxPool 2x2 with indices",
    kernel_shape=[2, 2], strides=[2, 2], reference=np_maxpool_with_indices([2, 2], [2, 2]))
one("GlobalMaxPool", {"x": P}, opset=13,
    reference=lambda i: [i["x"].max(axis=(2, 3), keepdims=True)])
one("MaxPool", {"x": P.reshape(1, 5, 64)}, opset=12, name="MaxPool 1d", kernel_shape=[4],
    strides=[4], reference=lambda i: [i["x"].reshape(1, 5, 16, 4).max(axis=-1)])
for include_pad in (0, 1):
    one("AveragePool", {"x": P}, opset=19, name=f"AveragePool 3x3 pad 1 include {include_pad}",
        kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=include_pad)
one("AveragePool", {"x": P}, opset=19, name="AveragePool 2x2", kernel_shape=[2, 2],
    strides=[2, 2])
one("LpPool", {"x": P}, opset=18, kernel_shape=[2, 2], strides=[2, 2], p=2)
one("GlobalAveragePool", {"x": P}, opset=13)
one("GlobalLpPool", {"x": P}, opset=13, p=2)

# ---- normalization ------------------------------------------------------------------------------

N = special_rows(12).reshape(12, 3, 4)  # each row's specials in its own batch item
one("BatchNormalization", {"x": N}, {"s": finite(3, scale=1), "b": finite(3), "m": finite(3),
                                      "v": np.array([0.5, 1.0, 2.0], np.float32)}, opset=15)
one("InstanceNormalization", {"x": N}, {"s": finite(3, scale=1), "b": finite(3)}, opset=13)
one("LayerNormalization", {"x": special_rows(12)}, {"s": finite(12, scale=1), "b": finite(12)},
    opset=17)
one("LayerNormalization", {"x": N}, {"s": finite(3, 4, scale=1), "b": finite(3, 4)}, opset=17,
    name="LayerNormalization axis 1", axis=1)
one("GroupNormalization", {"x": N.reshape(12, 6, 2)}, {"s": finite(6, scale=1),
                                                       "b": finite(6)}, opset=21, num_groups=3)
one("LpNormalization", {"x": special_rows(12)}, opset=13, axis=-1, p=2)
one("LpNormalization", {"x": special_rows(12)}, opset=13, name="LpNormalization p1", axis=-1, p=1)
one("MeanVarianceNormalization", {"x": N.reshape(12, 3, 2, 2)}, opset=13)
one("LRN", {"x": N.reshape(12, 3, 2, 2)}, opset=13, size=3, reference=np_lrn(3),
    why="numpy reference: each channel's window alone")

# ---- matrix products with bias, activation and residual (fused into epilogues when optimized) ---

X = special_planes(3, 6, 6)
W = finite(4, 3, 3, 3, scale=1)
bias = finite(4)
conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
one("Conv", {"x": X}, {"w": W, "b": bias}, opset=11, **conv)
for act, attrs in [("Relu", {}), ("LeakyRelu", dict(alpha=0.1)), ("Sigmoid", {}), ("Tanh", {}),
                   ("HardSigmoid", {}), ("HardSwish", {}), ("Elu", {}), ("Gelu", {})]:
    add(f"Conv + {act}", [node("Conv", ["x", "w", "b"], ["c"], **conv),
                          node(act, ["c"], ["y0"], **attrs)],
        {"x": X}, {"w": W, "b": bias}, opset=20)
add("Conv + Clip 0 6", [node("Conv", ["x", "w", "b"], ["c"], **conv),
                        node("Clip", ["c", "lo", "hi"], ["y0"])],
    {"x": X}, {"w": W, "b": bias, "lo": np.float32(0), "hi": np.float32(6)}, opset=13)
add("Conv + Clip min only", [node("Conv", ["x", "w", "b"], ["c"], **conv),
                            node("Clip", ["c", "lo"], ["y0"])],
    {"x": X}, {"w": W, "b": bias, "lo": np.float32(0)}, opset=13)
add("Conv + SiLU", [node("Conv", ["x", "w", "b"], ["c"], **conv), node("Sigmoid", ["c"], ["s"]),
                    node("Mul", ["c", "s"], ["y0"])], {"x": X}, {"w": W, "b": bias}, opset=13)
R4 = special_planes(4, 6, 6)
R4[0, :, 5, 5] = np.array([NAN, INF, -INF, 1], np.float32)
add("Conv + residual + Relu", [node("Conv", ["x", "w", "b"], ["c"], **conv),
                               node("Add", ["c", "r"], ["s"]), node("Relu", ["s"], ["y0"])],
    {"x": X, "r": R4}, {"w": W, "b": bias}, opset=13)
add("Conv clean + NaN residual + Relu", [node("Conv", ["x", "w", "b"], ["c"], **conv),
                                         node("Add", ["r", "c"], ["s"]),
                                         node("Relu", ["s"], ["y0"])],
    {"x": finite(1, 3, 6, 6), "r": R4}, {"w": W, "b": bias}, opset=13)
add("Conv + BatchNormalization + Relu", [
    node("Conv", ["x", "w", "b"], ["c"], **conv),
    node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"]), node("Relu", ["n"], ["y0"])],
    {"x": X}, {"w": W, "b": bias, "s": finite(4, scale=1), "bb": finite(4), "m": finite(4),
               "v": np.array([0.5, 1, 2, 4], np.float32)}, opset=15)


def conv_ref(x):
    """ONNX Runtime's Conv of the cases above (its max pool is the part it gets wrong)."""
    return run_ort(make_model([node("Conv", ["x", "w", "b"], ["y0"], **conv)], {"x": x},
                              {"w": W, "b": bias}, 1, 11), {"x": x})[0]


add("Conv + Relu + MaxPool", [node("Conv", ["x", "w", "b"], ["c"], **conv),
                              node("Relu", ["c"], ["r"]),
                              node("MaxPool", ["r"], ["y0"], kernel_shape=[2, 2], strides=[2, 2])],
    {"x": X}, {"w": W, "b": bias}, opset=13,
    reference=lambda i: [window_views(np.maximum(conv_ref(i["x"]), 0), [2, 2], [2, 2],
                                      [0, 0, 0, 0], -INF).max(axis=-1)])
add("Depthwise Conv + Relu", [node("Conv", ["x", "w", "b"], ["c"], group=3, **conv),
                              node("Relu", ["c"], ["y0"])],
    {"x": X}, {"w": finite(3, 1, 3, 3, scale=1), "b": finite(3)}, opset=13)
add("Pointwise Conv + Relu", [node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[1, 1]),
                              node("Relu", ["c"], ["y0"])],
    {"x": X}, {"w": finite(4, 3, 1, 1, scale=1), "b": finite(4)}, opset=13)
add("ConvTranspose + Relu", [node("ConvTranspose", ["x", "w", "b"], ["c"], kernel_shape=[2, 2],
                                  strides=[2, 2]), node("Relu", ["c"], ["y0"])],
    {"x": X}, {"w": finite(3, 4, 2, 2, scale=1), "b": finite(4)}, opset=13)

M = special_rows(16)  # [12, 16]
Wm = finite(16, 8, scale=1)
add("MatMul", [node("MatMul", ["x", "w"], ["y0"])], {"x": M}, {"w": Wm}, opset=13)
add("MatMul + Add + Relu", [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]),
                            node("Relu", ["a"], ["y0"])],
    {"x": M}, {"w": Wm, "b": finite(8)}, opset=13)
add("MatMul + Add + Gelu", [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]),
                            node("Gelu", ["a"], ["y0"])],
    {"x": M}, {"w": Wm, "b": finite(8)}, opset=20)
Mr = special_rows(8)
add("MatMul + Add + residual", [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]),
                                node("Add", ["a", "r"], ["y0"])],
    {"x": finite(12, 16), "r": Mr}, {"w": Wm, "b": finite(8)}, opset=13)
add("MatMul runtime weights", [node("MatMul", ["x", "w"], ["y0"])],
    {"x": M.reshape(3, 4, 16), "w": special_rows(16)[:, :16].T.copy()[:, :8]}, opset=13)
add("Gemm + Relu", [node("Gemm", ["x", "w", "b"], ["g"], transB=1), node("Relu", ["g"], ["y0"])],
    {"x": M}, {"w": finite(8, 16, scale=1), "b": finite(8)}, opset=13)
add("Gemm alpha beta", [node("Gemm", ["x", "w", "c"], ["y0"], alpha=0.5, beta=2.0)],
    {"x": M, "c": Mr}, {"w": Wm}, opset=13)
add("Einsum", [node("Einsum", ["x", "w"], ["y0"], equation="ij,jk->ik")], {"x": M}, {"w": Wm},
    opset=12)

# ---- fused elementwise chains and recognized patterns ------------------------------------------

Q = specials_vector()
add("Pointwise Mul Add Relu", [node("Mul", ["x", "two"], ["m"]), node("Add", ["m", "b"], ["a"]),
                               node("Relu", ["a"], ["y0"])],
    {"x": Q, "b": Q[::-1].copy()}, {"two": np.float32(2)}, opset=14)
add("Pointwise Max Min clamp", [node("Min", ["x", "hi"], ["m"]), node("Max", ["m", "lo"], ["y0"])],
    {"x": Q}, {"hi": np.float32(3), "lo": np.float32(-3)}, opset=13)
add("Pointwise Sub Clip", [node("Sub", ["x", "b"], ["s"]), node("Clip", ["s", "lo", "hi"], ["y0"])],
    {"x": Q, "b": Q.T.reshape(4, 9).copy()}, {"lo": np.float32(0), "hi": np.float32(6)}, opset=13)
add("Pointwise Add Clip max only", [node("Add", ["x", "b"], ["s"]),
                                    node("Clip", ["s", "", "hi"], ["y0"])],
    {"x": Q, "b": Q.T.reshape(4, 9).copy()}, {"hi": np.float32(6)}, opset=13)
add("Pointwise SiLU", [node("Sigmoid", ["x"], ["s"]), node("Mul", ["x", "s"], ["y0"])],
    {"x": Q}, opset=13)
add("Pointwise HardSwish pattern", [node("Add", ["x", "three"], ["a"]),
                                    node("Clip", ["a", "zero", "six"], ["c"]),
                                    node("Mul", ["x", "c"], ["m"]),
                                    node("Div", ["m", "six"], ["y0"])],
    {"x": Q}, {"three": np.float32(3), "zero": np.float32(0), "six": np.float32(6)}, opset=13)
add("Pointwise Where leaky", [node("Greater", ["x", "zero"], ["g"]),
                              node("Mul", ["x", "k"], ["m"]), node("Where", ["g", "x", "m"], ["y0"])],
    {"x": Q}, {"zero": np.float32(0), "k": np.float32(0.1)}, opset=16)
add("Pointwise Exp Log Sqrt", [node("Abs", ["x"], ["a"]), node("Sqrt", ["a"], ["s"]),
                               node("Exp", ["x"], ["e"]), node("Add", ["s", "e"], ["t"]),
                               node("Log", ["t"], ["y0"])], {"x": Q}, opset=13)
add("Pointwise Max of chain", [node("Tanh", ["x"], ["t"]), node("Neg", ["b"], ["n"]),
                               node("Max", ["t", "n"], ["m"]), node("Min", ["m", "x"], ["y0"])],
    {"x": Q, "b": Q[:, ::-1].copy()}, opset=13)
add("Gelu pattern", [node("Div", ["x", "sqrt2"], ["d"]), node("Erf", ["d"], ["e"]),
                     node("Add", ["e", "one"], ["a"]), node("Mul", ["x", "a"], ["m"]),
                     node("Mul", ["m", "half"], ["y0"])],
    {"x": Q}, {"sqrt2": np.float32(np.sqrt(2)), "one": np.float32(1), "half": np.float32(0.5)},
    opset=13)
LN = special_rows(12)
add("LayerNorm pattern", [
    node("ReduceMean", ["x"], ["mu"], axes=[-1]), node("Sub", ["x", "mu"], ["d"]),
    node("Pow", ["d", "two"], ["p"]), node("ReduceMean", ["p"], ["var"], axes=[-1]),
    node("Add", ["var", "eps"], ["ve"]), node("Sqrt", ["ve"], ["sd"]), node("Div", ["d", "sd"], ["n"]),
    node("Mul", ["n", "s"], ["ns"]), node("Add", ["ns", "b"], ["y0"])],
    {"x": LN}, {"two": np.float32(2), "eps": np.float32(1e-5), "s": finite(12, scale=1),
                "b": finite(12)}, opset=13)
add("Softmax pattern", [node("ReduceMax", ["x"], ["m"], axes=[-1]), node("Sub", ["x", "m"], ["d"]),
                        node("Exp", ["d"], ["e"]), node("ReduceSum", ["e", "ax"], ["s"]),
                        node("Div", ["e", "s"], ["y0"])],
    {"x": special_rows(7)}, {"ax": np.array([-1], np.int64)}, opset=13)
# Attention: Q, K, V [1, 2, 12, 16] with the specials in Q's rows; a mask row of -inf only.
Qa = special_rows(16).reshape(1, 1, 12, 16).repeat(2, axis=1)
Ka = finite(1, 2, 12, 16, scale=1)
Va = finite(1, 2, 12, 16, scale=1)
mask = np.zeros((12, 12), np.float32)
mask[3, :] = -INF
mask[5, 2] = NAN
add("Attention pattern", [node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
                          node("MatMul", ["q", "kt"], ["s"]), node("Mul", ["s", "scale"], ["ss"]),
                          node("Add", ["ss", "mask"], ["sm"]), node("Softmax", ["sm"], ["p"], axis=-1),
                          node("MatMul", ["p", "v"], ["y0"])],
    {"q": Qa, "k": Ka, "v": Va, "mask": mask}, {"scale": np.float32(0.25)}, opset=13)
add("Attention pattern clean Q", [node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
                                  node("MatMul", ["q", "kt"], ["s"]),
                                  node("Mul", ["s", "scale"], ["ss"]),
                                  node("Softmax", ["ss"], ["p"], axis=-1),
                                  node("MatMul", ["p", "v"], ["y0"])],
    {"q": finite(1, 2, 12, 16, scale=1), "k": Ka, "v": Qa.copy()}, {"scale": np.float32(0.25)},
    opset=13)

# ---- data movement and resampling ---------------------------------------------------------------

I4 = special_planes(4, 4, 4)
one("Transpose", {"x": I4}, opset=13, perm=[0, 2, 3, 1])
one("Concat", {"a": I4, "b": I4[:, ::-1].copy()}, opset=13, axis=1)
one("Gather", {"x": special_rows(7)}, {"i": np.array([11, 0, 3, 9], np.int64)}, opset=13, axis=0)
one("Pad", {"x": I4}, {"p": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "v": NAN}, opset=18,
    name="Pad with NaN")
one("Pad", {"x": I4}, {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)}, opset=18,
    name="Pad reflect", mode="reflect")
one("Tile", {"x": I4}, {"r": np.array([1, 1, 2, 1], np.int64)}, opset=13)
one("Resize", {"x": I4}, {"roi": np.zeros(0, np.float32),
                          "sc": np.array([1, 1, 2, 2], np.float32)}, opset=19,
    name="Resize nearest", mode="nearest")
one("Resize", {"x": I4}, {"roi": np.zeros(0, np.float32),
                          "sc": np.array([1, 1, 2, 2], np.float32)}, opset=19,
    name="Resize linear", mode="linear")
one("Resize", {"x": I4}, {"roi": np.zeros(0, np.float32),
                          "sc": np.array([1, 1, 1.5, 1.5], np.float32)}, opset=19,
    name="Resize cubic", mode="cubic")
one("DepthToSpace", {"x": I4}, opset=13, blocksize=2)
dq = np.arange(37, dtype=np.float32) / 10
dq[[0, 20, 36]] = NAN
one("DynamicQuantizeLinear", {"x": dq}, opset=11, n_out=3, name="DynamicQuantizeLinear NaN")
dq = dq.copy()
dq[20] = INF
one("DynamicQuantizeLinear", {"x": dq}, opset=11, n_out=3, name="DynamicQuantizeLinear Inf")
one("QuantizeLinear", {"x": U}, {"s": np.float32(0.05), "z": np.uint8(128)}, opset=19)
one("QuantizeLinear", {"x": U}, {"s": np.float32(0.05), "z": np.int8(0)}, opset=19,
    name="QuantizeLinear int8")


# ---- the .inc file ------------------------------------------------------------------------------

def c_number(v):
    if np.isnan(v):
        return "kNaN"
    if np.isinf(v):
        return "kInf" if v > 0 else "-kInf"
    if v == 0:
        return "-0.0" if np.signbit(v) else "0"
    if float(v) == int(v) and abs(v) < 1e9:
        return str(int(v))
    return repr(np.float32(v)).removeprefix("np.float32(").removesuffix(")")  # shortest exact


DTYPES = {np.dtype(np.float32): "kFloat32", np.dtype(np.float16): "kFloat16",
          np.dtype(np.float64): "kFloat64", np.dtype(np.int64): "kInt64",
          np.dtype(np.bool_): "kBool", np.dtype(np.uint8): "kUInt8", np.dtype(np.int8): "kInt8"}


def write_inc(path):
    tensors = {}
    lines = []

    def tensor_id(a):
        body = ", ".join(c_number(v) for v in np.asarray(a).astype(np.float64).ravel())
        key = (DTYPES[np.asarray(a).dtype], tuple(np.shape(a)), body)
        if key not in tensors:
            tensors[key] = len(tensors)
        return tensors[key]

    cases = []
    for c in CASES:
        ins = [(k, tensor_id(v)) for k, v in c["inputs"].items()]
        outs = [tensor_id(v) for v in c["expected"]]
        model = base64.b64encode(c["model"]).decode()
        chunks = [model[i:i + 92] for i in range(0, len(model), 92)]
        cases.append((c["name"], c["note"], chunks, ins, outs))
    out = [f"// Generated by nan_propagation_cases.py with onnxruntime {ort.__version__}: do not edit.",
           "// Tensors are listed once and named by index; models are serialized ONNX in base64.", ""]
    out.append("const NanTensor kNanTensors[] = {")
    for (dtype, shape, body), _ in sorted(tensors.items(), key=lambda kv: kv[1]):
        shape_s = ", ".join(str(d) for d in shape)
        out.append(f"    {{DataType::{dtype}, {{{shape_s}}}, {{{body}}}}},")
    out.append("};")
    out.append("")
    out.append("const NanCase kNanCases[] = {")
    for name, note, chunks, ins, outs in cases:
        out.append(f"    {{\"{name}\",")
        out.append(f"     \"{note or ''}\",")
        for ch in chunks[:-1]:
            out.append(f"     \"{ch}\"")
        out.append(f"     \"{chunks[-1]}\",")
        ins_s = ", ".join(f"{{\"{k}\", {t}}}" for k, t in ins)
        outs_s = ", ".join(str(t) for t in outs)
        out.append(f"     {{{ins_s}}},")
        out.append(f"     {{{outs_s}}}}},")
    out.append("};")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"{len(CASES)} cases, {len(tensors)} tensors -> {path}")


if __name__ == "__main__":
    write_inc(os.path.join(os.path.dirname(os.path.abspath(__file__)), "nan_propagation_cases.inc"))
