"""`kiln compare` end to end on the model-parity models (scripts/make_models.py): kiln's CPU
backend against ONNX Runtime output by output and tensor by tensor (--layerwise), and precision
bisection of an FP16 build held to a tolerance tighter than FP16 meets as built."""
import json
import subprocess

import numpy as np
import pytest

from test_parity import KILN, MODELS, make_inputs, model_dir  # noqa: F401 (a fixture)


def kiln_compare(model, feeds, work, *flags):
    args = [KILN, "compare", str(model), "--json", str(work / "result.json"), *flags]
    for k, v in feeds.items():
        p = work / f"{k}.npy"
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    proc = subprocess.run(args, capture_output=True, text=True)
    result = json.loads((work / "result.json").read_text()) if proc.returncode in (0, 1) and (
        work / "result.json").exists() else None
    return proc, result


@pytest.mark.parametrize("name", sorted(MODELS))
def test_kiln_cpu_matches_ort(name, model_dir, tmp_path):
    feeds = make_inputs(name, np.random.default_rng(11))
    proc, result = kiln_compare(model_dir / f"{name}.onnx", feeds, tmp_path)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert result["passed"] and result["reference"] == "ort"
    for o in result["outputs"]:
        assert o["passed"] and o["cosine_similarity"] > 0.99999


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layerwise_every_tensor_matches_ort(name, model_dir, tmp_path):
    feeds = make_inputs(name, np.random.default_rng(12))
    # Intermediate activations deep in the network carry FP32 summation-order noise of about 1e-5
    # at magnitudes near 10 (oneDNN and ONNX Runtime pick kernels by the CPU's vector ISA), so a
    # near-zero element can pass fp32's default 1e-5 atol and rtol together; 1e-4 still catches
    # any real divergence.
    proc, result = kiln_compare(model_dir / f"{name}.onnx", feeds, tmp_path, "--layerwise",
                                "--atol", "1e-4", "--rtol", "1e-4")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    layerwise = result["layerwise"]
    assert layerwise["first_failing"] is None
    assert len(layerwise["tensors"]) >= 10, "every intermediate tensor is compared"
    assert all(t["passed"] for t in layerwise["tensors"])
    assert not layerwise["not_compared"], "ORT returns every tensor kiln marks"


def test_bisect_precision_meets_a_tight_fp16_tolerance(model_dir, tmp_path):
    model = model_dir / "resnet_tiny.onnx"
    feeds = make_inputs("resnet_tiny", np.random.default_rng(13))
    tight = ["--fp16", "--atol", "1e-6", "--rtol", "1e-3"]
    proc, result = kiln_compare(model, feeds, tmp_path, *tight)
    assert proc.returncode == 1 and not result["passed"], "FP16 as built misses this tolerance"

    proc, result = kiln_compare(model, feeds, tmp_path, *tight, "--bisect-precision")
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bisect = result["bisect_precision"]
    assert bisect["found"] and bisect["fp32_layers"]
    assert bisect["builds"] <= 32
    constraints = []
    for layer in bisect["fp32_layers"]:
        constraints += ["--precision-constraint", f"{layer}=fp32"]
    proc, result = kiln_compare(model, feeds, tmp_path, *tight, *constraints)
    assert proc.returncode == 0, proc.stdout + proc.stderr
