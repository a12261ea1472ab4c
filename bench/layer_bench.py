#!/usr/bin/env python3
"""Single layers of the transformer and CNN suites at their real shapes, kiln against PyTorch, on
one GPU: where a model's time goes layer by layer is only actionable next to what the layer
could cost. Each case is a one-layer ONNX model in FP16 (so kiln adds no casts) timed with
`kiln bench --backend cuda --fp16 --graph`, and the same computation in PyTorch (eager, replayed
through a CUDA graph, CUDA events, median). The bytes each layer must move and its FLOPs give
the achieved bandwidth and rate.

Usage: layer_bench.py --kiln PATH/TO/kiln [--only NAME ...] [--out-dir out] [--work DIR]
Writes OUT_DIR/layer_bench.md and OUT_DIR/layer_bench.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F16 = TensorProto.FLOAT16


def vi(name, shape):
    return helper.make_tensor_value_info(name, F16, shape)


def weight(name, shape, rng):
    return numpy_helper.from_array((rng.standard_normal(shape) * 0.02).astype(np.float16), name)


def model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "layer", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


# ---- cases: (name, ONNX model, torch function factory, bytes moved, FLOPs) ----

def layer_norm(rows, cols):
    def onnx_model(rng):
        return model([helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1,
                                       epsilon=1e-5)],
                     [vi("x", [rows, cols])], [vi("y", [rows, cols])],
                     [weight("g", [cols], rng), weight("b", [cols], rng)])

    def torch_fn(torch):
        x = torch.randn(rows, cols, device="cuda", dtype=torch.half)
        ln = torch.nn.LayerNorm(cols).cuda().half()
        return lambda: ln(x)

    return f"LayerNorm {rows}x{cols}", onnx_model, torch_fn, 4 * rows * cols, 0


def softmax(rows, cols):
    def onnx_model(rng):
        return model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)],
                     [vi("x", [rows, cols])], [vi("y", [rows, cols])])

    def torch_fn(torch):
        x = torch.randn(rows, cols, device="cuda", dtype=torch.half)
        return lambda: torch.softmax(x, -1)

    return f"Softmax {rows}x{cols}", onnx_model, torch_fn, 4 * rows * cols, 0


def matmul(m, k, n, gelu=False, residual=False):
    def onnx_model(rng):
        nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]),
                 helper.make_node("Add", ["mm", "bias"], ["z" if (gelu or residual) else "y"])]
        inputs = [vi("x", [m, k])]
        inits = [weight("w", [k, n], rng), weight("bias", [n], rng)]
        if gelu:  # the erf form PyTorch exports: 0.5 * z * (1 + erf(z / sqrt(2)))
            inits += [numpy_helper.from_array(np.array(v, np.float16), nm) for nm, v in
                      (("sqrt2", 1.4142135), ("one", 1.0), ("half", 0.5))]
            nodes += [helper.make_node("Div", ["z", "sqrt2"], ["d"]),
                      helper.make_node("Erf", ["d"], ["e"]),
                      helper.make_node("Add", ["e", "one"], ["e1"]),
                      helper.make_node("Mul", ["z", "e1"], ["p"]),
                      helper.make_node("Mul", ["p", "half"], ["y"])]
        if residual:
            inputs.append(vi("r", [m, n]))
            nodes.append(helper.make_node("Add", ["z", "r"], ["y"]))
        return model(nodes, inputs, [vi("y", [m, n])], inits)

    def torch_fn(torch):
        x = torch.randn(m, k, device="cuda", dtype=torch.half)
        lin = torch.nn.Linear(k, n).cuda().half()
        r = torch.randn(m, n, device="cuda", dtype=torch.half)
        if gelu:
            return lambda: torch.nn.functional.gelu(lin(x))
        if residual:
            return lambda: lin(x) + r
        return lambda: lin(x)

    tag = " +GELU(erf)" if gelu else (" +residual" if residual else "")
    moved = 2 * (m * k + k * n + m * n * (2 if residual else 1))
    return f"MatMul {m}x{k}x{n} +bias{tag}", onnx_model, torch_fn, moved, 2 * m * k * n


def attention(batch, heads, seq, dim):
    """The exported pattern: scores = Q K^T * scale, softmax, times V ([B, H, S, D] each)."""
    shape = [batch, heads, seq, dim]

    def onnx_model(rng):
        scale = numpy_helper.from_array(np.array(dim ** -0.5, np.float16), "scale")
        nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
                 helper.make_node("MatMul", ["q", "kt"], ["s"]),
                 helper.make_node("Mul", ["s", "scale"], ["ss"]),
                 helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
                 helper.make_node("MatMul", ["p", "v"], ["y"])]
        return model(nodes, [vi("q", shape), vi("k", shape), vi("v", shape)], [vi("y", shape)],
                     [scale])

    def torch_fn(torch):
        q, k, v = (torch.randn(*shape, device="cuda", dtype=torch.half) for _ in range(3))
        return lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v)

    flops = 4 * batch * heads * seq * seq * dim
    return (f"Attention {batch}x{heads}x{seq}x{dim}", onnx_model, torch_fn,
            8 * batch * heads * seq * dim, flops)


def transpose(shape, perm):
    out = [shape[p] for p in perm]

    def onnx_model(rng):
        return model([helper.make_node("Transpose", ["x"], ["y"], perm=perm)],
                     [vi("x", shape)], [vi("y", out)])

    def torch_fn(torch):
        x = torch.randn(*shape, device="cuda", dtype=torch.half)
        return lambda: x.permute(*perm).contiguous()

    n = int(np.prod(shape))
    return f"Transpose {'x'.join(map(str, shape))} {perm}", onnx_model, torch_fn, 4 * n, 0


CASES = [
    layer_norm(8192, 768),  # BERT-base, batch 64, sequence 128
    layer_norm(12608, 768),  # ViT-B/16, batch 64
    softmax(64 * 12 * 128, 128),
    matmul(8192, 768, 3072, gelu=True),
    matmul(8192, 3072, 768, residual=True),
    matmul(8192, 768, 2304),
    attention(64, 12, 128, 64),
    attention(64, 12, 197, 64),
    attention(1, 12, 128, 64),
    transpose([64, 128, 12, 64], [0, 2, 1, 3]),
]


def time_torch(torch, fn, iters=200):
    with torch.no_grad():
        for _ in range(5):
            fn()
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(iters):
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        return float(np.median(times))


def time_kiln(kiln, path, work):
    report = os.path.join(work, os.path.basename(path) + ".json")
    p = subprocess.run([kiln, "bench", path, "--backend", "cuda", "--fp16", "--graph",
                        "--duration", "0.3", "--warmup-ms", "100", "--json", report],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ["failed"])[-1][:200]
    return json.load(open(report))["gpu_compute"]["latency_ms"]["median"], ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", nargs="*", help="cases whose name starts with one of these")
    ap.add_argument("--out-dir", default="out")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "kiln_layer_bench"))
    args = ap.parse_args()
    import torch
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for i, (name, onnx_model, torch_fn, moved, flops) in enumerate(CASES):
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        path = os.path.join(args.work, f"case{i}.onnx")
        onnx.save(onnx_model(rng), path)
        kiln_ms, error = time_kiln(args.kiln, path, args.work)
        try:
            torch_ms = time_torch(torch, torch_fn(torch))
        except Exception as e:  # a peer failure is a cell, not a crash
            torch_ms, error = None, error or f"torch: {e}"[:200]
        rows.append({"case": name, "kiln_ms": kiln_ms, "torch_ms": torch_ms, "bytes": moved,
                     "flops": flops, "error": error, "file": path})
        print(json.dumps(rows[-1]), flush=True)
    lines = ["| layer | kiln ms | PyTorch (graph) ms | kiln/torch speed-up | kiln GB/s | kiln TFLOP/s |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        k, t = r["kiln_ms"], r["torch_ms"]
        fmt = lambda v, f: f.format(v) if v else "-"  # noqa: E731
        lines.append(f"| {r['case']} | {fmt(k, '{:.4f}')} | {fmt(t, '{:.4f}')} | "
                     f"{fmt(t / k if k and t else None, '{:.2f}x')} | "
                     f"{fmt(r['bytes'] / k / 1e6 if k else None, '{:.0f}')} | "
                     f"{fmt(r['flops'] / k / 1e9 if k and r['flops'] else None, '{:.0f}')} |"
                     + (f" {r['error']}" if r["error"] else ""))
    md = "\n".join(lines) + "\n"
    open(os.path.join(args.out_dir, "layer_bench.md"), "w").write(md)
    json.dump(rows, open(os.path.join(args.out_dir, "layer_bench.json"), "w"), indent=1)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
