"""Layout choice end to end on the CPU: a TF/Keras-style model (NHWC input through
Transpose(0,3,1,2) into its convolutions) built with the default layout runs its convolutions
channels-last with no Transpose left before them, and every layout matches ONNX Runtime."""
import json
import os
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KILN = os.environ.get("KILN_BIN", os.path.join(ROOT, "build", "kiln"))


def keras_style_model(path):
    rng = np.random.default_rng(3)

    def init(name, shape, scale=0.3):
        return numpy_helper.from_array(rng.uniform(-scale, scale, shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["x_nchw", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Mul", ["c2", "scale"], ["m2"]),
        helper.make_node("Add", ["m2", "p1"], ["a2"]),
        helper.make_node("Conv", ["a2", "w3", "b3"], ["c3"]),
        helper.make_node("Concat", ["c3", "a2"], ["cat"], axis=1),
        helper.make_node("GlobalAveragePool", ["cat"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "wf"], ["y"]),
    ]
    inits = [init("w1", (8, 3, 3, 3)), init("b1", (8,)), init("w2", (8, 1, 3, 3)),
             init("scale", (8, 1, 1)), init("w3", (16, 8, 1, 1)), init("b3", (16,)),
             init("wf", (24, 10))]
    graph = helper.make_graph(
        nodes, "keras_style",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16, 16, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def op_histogram(plan):
    out = subprocess.run([KILN, "inspect", str(plan), "--json"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)["op_histogram"]


def run_plan(plan, x, work):
    np.save(work / "x.npy", x)
    proc = subprocess.run([KILN, "run", str(plan), "--input", f"x={work / 'x.npy'}",
                           "--output-dir", str(work / "out")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return np.load(work / "out" / "y.npy")


@pytest.mark.parametrize("layout", ["auto", "nchw", "nhwc"])
def test_channels_last_source(layout, tmp_path):
    model = tmp_path / "keras_style.onnx"
    keras_style_model(model)
    plan = tmp_path / f"{layout}.plan"
    subprocess.run([KILN, "build", str(model), "-o", str(plan), "--layout", layout], check=True,
                   stdout=subprocess.DEVNULL)
    ops = op_histogram(plan)
    if layout == "nchw":
        assert ops.get("Transpose", 0) == 1, ops  # the model's own
    else:
        # The input Transpose cancelled against the region's entry; the exit into Flatten is a
        # [N, 1, 1, C] tensor, whose bytes need no moving: a Reshape.
        assert ops.get("Transpose", 0) == 0, ops
    x = np.random.default_rng(5).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    ref = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = run_plan(plan, x, tmp_path)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_default_layout_reads_the_input_directly(tmp_path):
    model = tmp_path / "keras_style.onnx"
    keras_style_model(model)
    plan = tmp_path / "auto.plan"
    subprocess.run([KILN, "build", str(model), "-o", str(plan)], check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run([KILN, "inspect", str(plan), "--json"], capture_output=True, text=True,
                         check=True).stdout
    layers = json.loads(out)["layers"]
    first = layers[0]
    assert first["op"] in ("Conv", "FusedConv"), [layer["op"] for layer in layers]
    assert first["inputs"][0] == "x"
    assert first["attributes"].get("channels_last") == "1", first["attributes"]
