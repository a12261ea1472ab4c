#!/usr/bin/env python3
"""Checks kiln's CPU backend on ONNX models exported from PyTorch (bench/torch_models.py): does
every op import, and do kiln's outputs match ONNX Runtime's on the same random inputs?

Usage: torch_coverage.py KILN_BINARY MODEL_DIR [--timeout S] [--backend cpu|cuda] [--no-tf32]
With --backend cuda, each model is built into a CUDA plan (static shapes, as exported; detection
models become split engines whose post-processing runs on the host) and run from it; the
comparison is still against ONNX Runtime on the CPU.
Prints one markdown table row per model and a summary; writes nothing else.
"""
import argparse
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

ort.set_default_logger_severity(3)  # errors only: shape warnings of detection models flood logs

NP_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8,
}


def sanitize(name):
    out = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return "_" + out if not out or out[0] == "." else out


def make_inputs(sess, rng):
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        dtype = NP_TYPES[i.type]
        if "mask" in i.name:
            feeds[i.name] = np.ones(shape, dtype)
        elif np.issubdtype(dtype, np.integer):
            feeds[i.name] = rng.integers(0, 1000, shape).astype(dtype)
        else:
            feeds[i.name] = rng.uniform(-1, 1, shape).astype(dtype)
    return feeds


def unsupported_ops(stderr):
    ops = sorted(set(re.findall(r"op [\w.]*::(\w+)", stderr)))
    return ", ".join(ops) if ops else stderr.strip().splitlines()[-1][:200]


def check(kiln, path, timeout, backend="cpu", build_flags=()):
    name = os.path.basename(path)[: -len(".onnx")]
    row = {"model": name, "nodes": "", "import": "", "max_abs": "", "max_rel": "", "cosine": "", "kiln_s": ""}
    try:
        row["nodes"] = str(len(onnx.load(path, load_external_data=False).graph.node))
    except Exception as e:  # noqa: BLE001
        row["import"] = f"unreadable: {e}"
        return row
    with tempfile.TemporaryDirectory() as work:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        feeds = make_inputs(sess, np.random.default_rng(0))
        reference = sess.run(None, feeds)
        target = path
        start = time.time()
        if backend != "cpu":
            target = os.path.join(work, "model.plan")
            try:
                build = subprocess.run([kiln, "build", path, "-o", target, "--backend", backend,
                                        *build_flags],
                                       capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                row["import"] = f"build timed out after {timeout}s"
                return row
            if build.returncode != 0:
                row["import"] = "BUILD FAIL: " + unsupported_ops(build.stderr)
                return row
        args = [kiln, "run", target, "--output-dir", os.path.join(work, "out")]
        for k, v in feeds.items():
            p = os.path.join(work, sanitize(k) + ".npy")
            np.save(p, v)
            args += ["--input", f"{k}={p}"]
        try:
            env = dict(os.environ, OMP_NUM_THREADS="2")
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            row["import"] = f"timed out after {timeout}s"
            return row
        row["kiln_s"] = f"{time.time() - start:.1f}"
        if proc.returncode != 0:
            row["import"] = "FAIL: " + unsupported_ops(proc.stderr)
            return row
        row["import"] = "ok"
        worst_abs = worst_rel = 0.0
        cos = 1.0
        for out, ref in zip(sess.get_outputs(), reference):
            got = np.load(os.path.join(work, "out", sanitize(out.name) + ".npy"))
            if got.shape != ref.shape:
                row["import"] = f"shape {got.shape} != {ref.shape} for {out.name}"
                return row
            g, r = got.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
            if g.size == 0:
                continue
            worst_abs = max(worst_abs, float(np.max(np.abs(g - r))))
            worst_rel = max(worst_rel, float(np.max(np.abs(g - r)) / (np.max(np.abs(r)) + 1e-12)))
            denom = np.linalg.norm(g) * np.linalg.norm(r)
            cos = min(cos, float(g @ r / denom) if denom > 0 else 1.0)
        row.update(max_abs=f"{worst_abs:.2e}", max_rel=f"{worst_rel:.2e}", cosine=f"{cos:.6f}")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kiln")
    ap.add_argument("model_dir")
    ap.add_argument("--timeout", type=int, default=240)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--backend", choices=["cpu", "cuda"], default="cpu")
    # Detection models sort and select boxes by score, which turns TF32's 1e-3 rounding of the
    # backbone into different boxes; --no-tf32 checks the GPU backend in full FP32.
    ap.add_argument("--no-tf32", action="store_true", help="GPU builds keep FP32 matrix work in FP32")
    args = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(args.model_dir, "*.onnx")))
    cols = ["model", "nodes", "import", "max_abs", "max_rel", "cosine", "kiln_s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    def guarded(p):
        try:
            return check(args.kiln, p, args.timeout, args.backend,
                         ["--no-tf32"] if args.no_tf32 else [])
        except Exception as e:  # noqa: BLE001  (ONNX Runtime itself may refuse a model)
            return {"model": os.path.basename(p), "import": f"reference failed: {str(e)[:150]}"}

    ok = 0
    # Each check spends its time in ONNX Runtime or a kiln process, so threads run them in parallel.
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for row in pool.map(guarded, paths):
            ok += row.get("import") == "ok"
            print("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |", flush=True)
    print(f"\n{ok} of {len(paths)} models import and run on the {args.backend} backend")
    return 0


if __name__ == "__main__":
    sys.exit(main())
