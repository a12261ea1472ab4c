"""End-to-end parity: kiln's CPU outputs against ONNX Runtime's on small real-architecture models
(built by scripts/make_models.py), run both from the ONNX file and from a saved plan."""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KILN = os.environ.get("KILN_BIN", os.path.join(ROOT, "build", "kiln"))

# float32 end to end: differences come only from summation order and transcendental functions.
RTOL = 1e-4
ATOL = 1e-4

MODELS = {
    "resnet_tiny": {"input": ("float32", (2, 3, 32, 32))},
    "mobilenet_tiny": {"input": ("float32", (2, 3, 32, 32))},
    "transformer_tiny": {"input": ("float32", (2, 8, 32)), "mask": ("int64", (2, 8))},
}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_models.py"), str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def make_inputs(name, rng):
    feeds = {}
    for tensor, (dtype, shape) in MODELS[name].items():
        if tensor == "mask":
            m = np.ones(shape, np.int64)
            m[1, shape[1] // 2:] = 0  # second sequence is padded
            feeds[tensor] = m
        else:
            feeds[tensor] = rng.uniform(-1, 1, shape).astype(dtype)
    return feeds


def run_kiln(model_path, feeds, work):
    args = [KILN, "run", str(model_path), "--output-dir", str(work / "out")]
    for k, v in feeds.items():
        p = work / f"{k}.npy"
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, f"kiln run failed:\n{proc.stdout}\n{proc.stderr}"
    return work / "out"


def compare(name, reference, kiln_out_dir, output_names):
    for out_name, ref in zip(output_names, reference):
        got = np.load(kiln_out_dir / f"{out_name}.npy")
        assert got.shape == ref.shape, f"{out_name}: shape {got.shape}, expected {ref.shape}"
        abs_err = float(np.max(np.abs(got - ref)))
        rel_err = float(np.max(np.abs(got - ref) / (np.abs(ref) + 1e-6)))
        print(f"{name} {out_name}: max abs error {abs_err:.3e}, max rel error {rel_err:.3e}")
        np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", sorted(MODELS))
# "plan" is built without shapes (its memory plan takes the batch as 1, so these batch-2 runs
# allocate activations one by one); "planned" is built for the inputs' shapes and runs in its arena;
# "nhwc" is built with every convolution region channels-last (--layout nhwc).
@pytest.mark.parametrize("source", ["onnx", "plan", "planned", "nhwc"])
def test_matches_onnxruntime(name, source, model_dir, tmp_path):
    model = model_dir / f"{name}.onnx"
    rng = np.random.default_rng(7)
    feeds = make_inputs(name, rng)
    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    reference = sess.run(None, feeds)
    output_names = [o.name for o in sess.get_outputs()]
    if source in ("plan", "planned", "nhwc"):
        plan = tmp_path / f"{name}.plan"
        args = []
        if source == "planned":
            for k, v in feeds.items():
                args += ["--shape", f"{k}={'x'.join(str(d) for d in v.shape)}"]
        if source == "nhwc":
            args += ["--layout", "nhwc"]
        subprocess.run([KILN, "build", str(model), "-o", str(plan)] + args, check=True,
                       stdout=subprocess.DEVNULL)
        model = plan
    out_dir = run_kiln(model, feeds, tmp_path)
    compare(f"{name} ({source})", reference, out_dir, output_names)
