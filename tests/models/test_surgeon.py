"""`kiln surgeon` on the parity models (scripts/make_models.py) and, where torch is installed, a
torchvision ResNet-18 exported with its BatchNorms unfolded: every written model passes
onnx.checker and ONNX Runtime gives the outputs the edit promises (the original ones for
sanitize, fold-bn and set-shape; an intermediate tensor of the original for extract, remove and
replace)."""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KILN = os.environ.get("KILN_BIN", os.path.join(ROOT, "build", "kiln"))
PARITY_MODELS = ["resnet_tiny", "mobilenet_tiny", "transformer_tiny"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("surgeon_models")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_models.py"), str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def surgeon(*args):
    proc = subprocess.run([KILN, "surgeon", *map(str, args)], capture_output=True, text=True)
    assert proc.returncode == 0, f"kiln surgeon {args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def feeds_for(path, batch=2):
    rng = np.random.default_rng(0)
    feeds = {}
    for i in onnx.load(str(path)).graph.input:
        t = i.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else batch for d in t.shape.dim]
        if t.elem_type == onnx.TensorProto.INT64:
            m = np.ones(shape, np.int64)
            m[..., shape[-1] // 2:] = 0 if len(shape) > 1 else 1
            feeds[i.name] = m
        else:
            feeds[i.name] = rng.uniform(-1, 1, shape).astype(np.float32)
    return feeds


def run_ort(path, feeds, outputs=None):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(outputs, {k: v for k, v in feeds.items() if k in names})


def with_output(path, tensor, out_path):
    """The original model with `tensor` as an extra output, for reference values."""
    m = onnx.load(str(path))
    m.graph.output.append(onnx.ValueInfoProto(name=tensor))
    onnx.save(m, str(out_path))
    return out_path


def check_same(original, edited, atol, feeds=None):
    onnx.checker.check_model(onnx.load(str(edited)), full_check=True)
    feeds = feeds or feeds_for(original)
    for ref, got in zip(run_ort(original, feeds), run_ort(edited, feeds)):
        np.testing.assert_allclose(got, ref, atol=atol, rtol=1e-4)


@pytest.mark.parametrize("name", PARITY_MODELS)
def test_inspect_finds_every_op_supported(model_dir, name):
    report = json.loads(surgeon("inspect", model_dir / f"{name}.onnx", "--json"))
    m = onnx.load(str(model_dir / f"{name}.onnx"))
    assert report["nodes"] == len(m.graph.node)
    assert report["unsupported_ops"] == []
    assert report["kiln_imports"] is True
    assert sum(report["op_histogram"].values()) == len(m.graph.node)


@pytest.mark.parametrize("name", PARITY_MODELS)
def test_sanitize_keeps_outputs(model_dir, tmp_path, name):
    src = model_dir / f"{name}.onnx"
    out = surgeon("sanitize", src, "-o", tmp_path / "s.onnx")
    assert "sanitize:" in out
    edited = onnx.load(str(tmp_path / "s.onnx"))
    assert len(edited.graph.value_info) > 0
    assert edited.opset_import == onnx.load(str(src)).opset_import
    check_same(src, tmp_path / "s.onnx", atol=1e-5)


@pytest.mark.parametrize("name", ["resnet_tiny", "mobilenet_tiny"])
def test_fold_bn_removes_every_batchnorm(model_dir, tmp_path, name):
    src = model_dir / f"{name}.onnx"
    n_bn = sum(n.op_type == "BatchNormalization" for n in onnx.load(str(src)).graph.node)
    out = surgeon("fold-bn", src, "-o", tmp_path / "f.onnx")
    assert f"fold-bn: {n_bn} BatchNormalization node(s) folded" in out
    folded = onnx.load(str(tmp_path / "f.onnx"))
    assert not any(n.op_type == "BatchNormalization" for n in folded.graph.node)
    check_same(src, tmp_path / "f.onnx", atol=1e-4)


@pytest.mark.parametrize("name", PARITY_MODELS)
def test_set_shape_static_batch(model_dir, tmp_path, name):
    src = model_dir / f"{name}.onnx"
    args = []
    for i in onnx.load(str(src)).graph.input:
        dims = [str(d.dim_value) if d.HasField("dim_value") else "2"
                for d in i.type.tensor_type.shape.dim]
        args += ["--shape", f"{i.name}={'x'.join(dims)}"]
    surgeon("set-shape", src, *args, "-o", tmp_path / "static.onnx")
    static = onnx.load(str(tmp_path / "static.onnx"))
    assert static.graph.output[0].type.tensor_type.shape.dim[0].dim_value == 2
    check_same(src, tmp_path / "static.onnx", atol=1e-5)


@pytest.mark.parametrize("name", PARITY_MODELS)
def test_extract_middle_tensor(model_dir, tmp_path, name):
    src = model_dir / f"{name}.onnx"
    m = onnx.load(str(src))
    middle = m.graph.node[len(m.graph.node) // 2].output[0]
    inputs = ",".join(i.name for i in m.graph.input)
    surgeon("extract", src, "--inputs", inputs, "--outputs", middle, "-o", tmp_path / "part.onnx")
    part = onnx.load(str(tmp_path / "part.onnx"))
    onnx.checker.check_model(part, full_check=True)
    assert len(part.graph.node) < len(m.graph.node)
    feeds = feeds_for(src)
    ref = run_ort(with_output(src, middle, tmp_path / "ref.onnx"), feeds, [middle])[0]
    np.testing.assert_allclose(run_ort(tmp_path / "part.onnx", feeds)[0], ref, atol=1e-6)



@pytest.mark.parametrize("name", ["resnet_tiny", "mobilenet_tiny"])
def test_extract_head_after_pooling(model_dir, tmp_path, name):
    """From the pooled features on: the classifier head as a model of its own."""
    src = model_dir / f"{name}.onnx"
    m = onnx.load(str(src))
    pooled = next(n for n in m.graph.node if n.op_type == "GlobalAveragePool").output[0]
    out = m.graph.output[0].name
    surgeon("extract", src, "--inputs", pooled, "--outputs", out, "-o", tmp_path / "head.onnx")
    head = onnx.load(str(tmp_path / "head.onnx"))
    onnx.checker.check_model(head, full_check=True)
    assert [i.name for i in head.graph.input] == [pooled]
    feeds = feeds_for(src)
    features = run_ort(with_output(src, pooled, tmp_path / "ref.onnx"), feeds, [pooled])[0]
    np.testing.assert_allclose(run_ort(tmp_path / "head.onnx", {pooled: features})[0],
                               run_ort(src, feeds)[0], atol=1e-5)


def test_extract_names_the_tensor_a_residual_needs(model_dir, tmp_path):
    """Cutting inside a residual block leaves the skip path needing the graph input."""
    src = model_dir / "resnet_tiny.onnx"
    m = onnx.load(str(src))
    middle = m.graph.node[len(m.graph.node) // 2].output[0]
    proc = subprocess.run([KILN, "surgeon", "extract", str(src), "--inputs", middle, "--outputs",
                           m.graph.output[0].name, "-o", str(tmp_path / "x.onnx")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "depends on 'input', which is a graph input not among --inputs" in proc.stderr


def test_remove_and_replace_softmax(model_dir, tmp_path):
    src = model_dir / "resnet_tiny.onnx"
    m = onnx.load(str(src))
    softmax = next(n for n in m.graph.node if n.op_type == "Softmax")
    logits = softmax.input[0]
    feeds = feeds_for(src)
    ref = run_ort(with_output(src, logits, tmp_path / "ref.onnx"), feeds, [logits])[0]
    surgeon("remove", src, "--op", "Softmax", "-o", tmp_path / "removed.onnx")
    surgeon("replace", src, "--op", "Softmax", "--with", "Identity", "-o", tmp_path / "repl.onnx")
    for edited in ["removed.onnx", "repl.onnx"]:
        e = onnx.load(str(tmp_path / edited))
        onnx.checker.check_model(e, full_check=True)
        assert e.graph.output[0].name == m.graph.output[0].name
        np.testing.assert_allclose(run_ort(tmp_path / edited, feeds)[0], ref, atol=1e-6)


def test_chain_of_edits_runs_on_kiln(model_dir, tmp_path):
    """fold-bn, then sanitize, then a static shape: kiln and ONNX Runtime still agree."""
    src = model_dir / "mobilenet_tiny.onnx"
    surgeon("fold-bn", src, "-o", tmp_path / "a.onnx")
    surgeon("sanitize", tmp_path / "a.onnx", "-o", tmp_path / "b.onnx")
    surgeon("set-shape", tmp_path / "b.onnx", "--shape", "input=2x3x32x32", "-o", tmp_path / "c.onnx")
    check_same(src, tmp_path / "c.onnx", atol=1e-4)
    feeds = feeds_for(src)
    np.save(tmp_path / "input.npy", feeds["input"])
    proc = subprocess.run([KILN, "run", str(tmp_path / "c.onnx"), "--input",
                           f"input={tmp_path / 'input.npy'}", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out_name = onnx.load(str(src)).graph.output[0].name
    np.testing.assert_allclose(np.load(tmp_path / "out" / f"{out_name}.npy"),
                               run_ort(src, feeds)[0], atol=1e-4)


def test_torchvision_resnet18_fold_bn_and_sanitize(tmp_path):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    src = tmp_path / "resnet18.onnx"
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(src), input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}}, dynamo=False,
                      training=torch.onnx.TrainingMode.EVAL, do_constant_folding=False)
    n_bn = sum(n.op_type == "BatchNormalization" for n in onnx.load(str(src)).graph.node)
    assert n_bn == 20
    out = surgeon("fold-bn", src, "-o", tmp_path / "folded.onnx")
    assert "fold-bn: 20 BatchNormalization node(s) folded" in out
    surgeon("sanitize", tmp_path / "folded.onnx", "-o", tmp_path / "clean.onnx")
    feeds = feeds_for(src)
    check_same(src, tmp_path / "folded.onnx", atol=1e-4, feeds=feeds)
    check_same(src, tmp_path / "clean.onnx", atol=1e-4, feeds=feeds)
