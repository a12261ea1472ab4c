"""Reduced-precision builds end to end: each model-parity model (scripts/make_models.py) built
with --fp16 and --bf16 runs on the CPU backend (16-bit storage, FP32 arithmetic) and stays within
16-bit tolerance of its FP32 build; the plan says which layers were reduced, keeps sensitive
layers and the graph interface in FP32, runs Softmax/LayerNorm with 16-bit I/O when their
neighbours are reduced (FP32 math inside the kernel), and honours a precision constraint."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from test_parity import KILN, MODELS, ROOT, make_inputs

# Largest |reduced - fp32| relative to the output's largest magnitude. FP16 keeps 11 significant
# bits (unit roundoff 4.9e-4), BF16 8 (3.9e-3); errors grow over a few layers of rounding.
TOLERANCE = {"fp16": 1e-2, "bf16": 5e-2}
SENSITIVE_OPS = {"Exp", "RMSNormalization", "GroupNormalization", "InstanceNormalization"}
# Computed in FP32 inside the kernel: they follow their neighbours, so between reduced layers they
# read and write 16 bits with no Cast around them.
FP32_INSIDE_OPS = {"Softmax", "LayerNormalization"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_models.py"), str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def build(model, plan, *flags):
    proc = subprocess.run([KILN, "build", str(model), "-o", str(plan), *flags],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"kiln build failed:\n{proc.stdout}\n{proc.stderr}"
    return plan


def run(plan, feeds, work):
    out = work / (plan.stem + "_out")
    args = [KILN, "run", str(plan), "--output-dir", str(out)]
    for k, v in feeds.items():
        p = work / f"{k}.npy"
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"kiln run failed:\n{proc.stdout}\n{proc.stderr}"
    return {f[:-4]: np.load(out / f) for f in os.listdir(out)}


def inspect(plan):
    proc = subprocess.run([KILN, "inspect", str(plan), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_reduced_build_matches_fp32_build(name, precision, model_dir, tmp_path):
    model = model_dir / f"{name}.onnx"
    feeds = make_inputs(name, np.random.default_rng(7))
    reference = run(build(model, tmp_path / "fp32.plan"), feeds, tmp_path)
    plan = build(model, tmp_path / f"{precision}.plan", f"--{precision}")
    got = run(plan, feeds, tmp_path)

    info = inspect(plan)
    layers = info["layers"]
    reduced = [l for l in layers if l["precision"] == precision and l["op"] != "Cast"]
    matrix = [l for l in layers if l["op"] in ("Conv", "FusedConv", "MatMul", "FusedMatMul", "Gemm")]
    assert matrix and all(l["precision"] == precision for l in matrix), "matrix work is reduced"
    assert all(l["precision"] == "fp32" for l in layers if l["op"] in SENSITIVE_OPS)
    by_output = {o: l for l in layers for o in l["outputs"]}
    for l in layers:
        if l["op"] not in FP32_INSIDE_OPS:
            continue
        producer = by_output.get(l["inputs"][0])
        if producer is not None and producer["op"] != "Cast" and producer["precision"] == precision:
            assert l["precision"] == precision, f"{l['name']} reads {precision}, so it runs in it"
    casts = sum(l["op"] == "Cast" for l in layers) - sum(l["op"] == "Cast" for l in inspect(
        tmp_path / "fp32.plan")["layers"])
    for o in info["outputs"]:
        assert o["dtype"] == "float32", "outputs keep their declared type"

    for out_name, ref in reference.items():
        assert got[out_name].dtype == ref.dtype and got[out_name].shape == ref.shape
        err = float(np.max(np.abs(got[out_name].astype(np.float64) - ref)))
        rel = err / float(np.max(np.abs(ref)))
        print(f"{name} {precision} {out_name}: {len(reduced)} {precision} layers, {casts} "
              f"reformat layers; max abs error {err:.3e}, relative to max |output| {rel:.3e}")
        assert rel < TOLERANCE[precision]
        assert err > 0, "the reduced build really computed in 16 bits"


def test_constraint_keeps_a_layer_in_fp32(model_dir, tmp_path):
    model = model_dir / "resnet_tiny.onnx"
    # Conv_3 is the first convolution's ONNX node; after fusion its layer carries that origin.
    plan = build(model, tmp_path / "c.plan", "--fp16", "--precision-constraint", "Conv_3=fp32",
                 "--strict-types")
    layers = inspect(plan)["layers"]
    pinned = [l for l in layers if "Conv_3" in l["origins"]]
    assert pinned and all(l["precision"] == "fp32" for l in pinned)
    feeds = make_inputs("resnet_tiny", np.random.default_rng(3))
    reference = run(build(model, tmp_path / "fp32.plan"), feeds, tmp_path)
    got = run(plan, feeds, tmp_path)
    for k, ref in reference.items():
        assert np.max(np.abs(got[k] - ref)) / np.max(np.abs(ref)) < TOLERANCE["fp16"]
