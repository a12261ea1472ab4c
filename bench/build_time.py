#!/usr/bin/env python3
"""kiln's build time on the GPU, cold (empty timing cache: every layer's tactics are timed) and
warm (the timing cache from the cold build: nothing is timed), and the time to load the plan;
beside it the peer's figure: torch.compile(mode="reduce-overhead") of the same model, cold (empty
Inductor and Triton caches) and warm (the caches of the cold run, in a new process).

Usage: build_time.py [MODEL ...] --kiln PATH/TO/kiln [--batch 1] [--precision fp16|tf32]
                     [--work DIR] [--out-dir out] [--torch-budget-s 300]
ONNX models come from bench/torch_models.py (exported as peer_bench.py does, reused from --work
when already there). torch.compile's time runs from the compile call until the third call has
finished (the first compiles, the next record the CUDA graph), in a child process per run; the
peer runs after every kiln row, within --torch-budget-s (0: not at all). Writes
OUT_DIR/build_time.md and OUT_DIR/build_time.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_bench import DEFAULT_MODELS, export_one  # noqa: E402


def timed(cmd, timeout_s):
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    elapsed = time.perf_counter() - start
    if p.returncode != 0:
        lines = (p.stderr or "").strip().splitlines() or [f"exit code {p.returncode}"]
        raise RuntimeError(lines[-1][:200])
    return elapsed


def measure(kiln, onnx_path, precision, work, timeout_s):
    base = os.path.join(work, os.path.basename(onnx_path).replace(".onnx", f".{precision}"))
    cache, plan = base + ".timing_cache", base + ".plan"
    if os.path.exists(cache):
        os.remove(cache)
    build = [kiln, "build", onnx_path, "--backend", "cuda", "-o", plan, "--timing-cache", cache]
    if precision == "fp16":
        build.append("--fp16")
    row = {"cold_s": timed(build, timeout_s), "warm_s": timed(build, timeout_s)}
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "r.json")
        timed([kiln, "bench", plan, "--iterations", "5", "--warmup-ms", "0", "--json", report],
              timeout_s)
        row["load_s"] = json.load(open(report))["load_seconds"]
    row["plan_mib"] = os.path.getsize(plan) / (1 << 20)
    return row


def torch_compile_child(name, batch, precision):
    """In a child process: compiles the model and prints the seconds until its third call."""
    import torch
    import torch_models
    from peer_bench import make_inputs, to_row_setup
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    model, inputs = make_inputs(torch_models, name, batch)
    model, _, call = to_row_setup(torch, model, inputs, name, precision,
                                  name in torch_models.HUGGINGFACE)
    torch.cuda.synchronize()
    start = time.perf_counter()
    compiled = torch.compile(model, mode="reduce-overhead")
    with torch.no_grad():
        for _ in range(3):
            torch.compiler.cudagraph_mark_step_begin()
            call(compiled)
    torch.cuda.synchronize()
    print(json.dumps({"seconds": time.perf_counter() - start}))


def torch_compile_row(name, args, timeout_s):
    """torch.compile's cold and warm seconds for one model, each in a fresh process."""
    cache = tempfile.mkdtemp(prefix=f"inductor_{name}_", dir=args.work)
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=os.path.join(cache, "inductor"),
               TRITON_CACHE_DIR=os.path.join(cache, "triton"))
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-compile-child", name,
           "--batch", str(args.batch), "--precision", args.precision, "--kiln", args.kiln]
    row = {}
    for key in ("cold_s", "warm_s"):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
        lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
        if p.returncode != 0 or not lines:
            tail = (p.stderr or "").strip().splitlines() or [f"exit code {p.returncode}"]
            raise RuntimeError(tail[-1][:200])
        row[key] = json.loads(lines[-1])["seconds"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--precision", choices=["fp16", "tf32"], default="fp16")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "kiln_peer_bench"))
    ap.add_argument("--out-dir", default="out")
    ap.add_argument("--timeout-s", type=float, default=300)
    ap.add_argument("--torch-budget-s", type=float, default=300,
                    help="time for the torch.compile peer over all models (0: not run)")
    ap.add_argument("--torch-compile-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_compile_child:
        torch_compile_child(args.torch_compile_child, args.batch, args.precision)
        return
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    rows = {}
    for name in args.models:
        path = os.path.join(args.work, f"b{args.batch}")
        found = [f for f in os.listdir(path) if f.startswith(name + ".") and f.endswith(".onnx")] \
            if os.path.isdir(path) else []
        onnx_path, error = (os.path.join(path, found[0]), "") if found else \
            export_one(name, args.batch, args.work, 240)
        try:
            if not onnx_path:
                raise RuntimeError(error)
            rows[name] = measure(args.kiln, onnx_path, args.precision, args.work, args.timeout_s)
        except (RuntimeError, subprocess.TimeoutExpired, OSError, KeyError, ValueError) as e:
            rows[name] = {"error": str(e)}
        print(name, rows[name], flush=True)
    deadline = time.monotonic() + args.torch_budget_s
    for name in args.models:
        left = deadline - time.monotonic()
        if left <= 30:
            rows[name]["torch"] = {"error": "not run: --torch-budget-s spent"}
            continue
        try:
            rows[name]["torch"] = torch_compile_row(name, args, left)
        except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
            rows[name]["torch"] = {"error": str(e)[:200]}
        print(name, "torch.compile", rows[name]["torch"], flush=True)
    lines = ["| model | build, cold timing cache | build, warm timing cache | plan load | plan size "
             "| torch.compile cold | torch.compile warm |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        t = r.get("torch", {})
        peer = (f"{t['cold_s']:.1f} s | {t['warm_s']:.1f} s" if "cold_s" in t else
                f"{t.get('error', 'not run')} |")
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} | | | | {peer} |")
        else:
            lines.append(f"| {name} | {r['cold_s']:.2f} s | {r['warm_s']:.2f} s | "
                         f"{r['load_s'] * 1000:.0f} ms | {r['plan_mib']:.1f} MiB | {peer} |")
    header = (f"kiln build --backend cuda{' --fp16' if args.precision == 'fp16' else ''}, batch "
              f"{args.batch}: wall time of the whole command (import, passes, tuning, save); plan "
              "load = Engine::load in `kiln bench PLAN`; torch.compile(mode=\"reduce-overhead\"): "
              "compile call to the end of the third call, in a fresh process, cold (empty Inductor "
              "and Triton caches) and warm (the cold run's caches).\n\n")
    open(os.path.join(args.out_dir, "build_time.md"), "w").write(header + "\n".join(lines) + "\n")
    json.dump(rows, open(os.path.join(args.out_dir, "build_time.json"), "w"), indent=1)
    print(header + "\n".join(lines))


if __name__ == "__main__":
    main()
