#!/usr/bin/env python3
"""kiln's build time on the GPU, cold (empty timing cache: every layer's tactics are timed) and
warm (the timing cache from the cold build: nothing is timed), and the time to load the plan.

Usage: build_time.py [MODEL ...] --kiln PATH/TO/kiln [--batch 1] [--precision fp16|tf32]
                     [--work DIR] [--out-dir out]
ONNX models come from bench/torch_models.py (exported as peer_bench.py does, reused from --work
when already there). Writes OUT_DIR/build_time.md and OUT_DIR/build_time.json.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--precision", choices=["fp16", "tf32"], default="fp16")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "kiln_peer_bench"))
    ap.add_argument("--out-dir", default="out")
    ap.add_argument("--timeout-s", type=float, default=300)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
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
    lines = [f"| model | build, cold timing cache | build, warm timing cache | plan load | plan size |",
             "|---|---:|---:|---:|---:|"]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} | | | |")
        else:
            lines.append(f"| {name} | {r['cold_s']:.2f} s | {r['warm_s']:.2f} s | "
                         f"{r['load_s'] * 1000:.0f} ms | {r['plan_mib']:.1f} MiB |")
    header = (f"kiln build --backend cuda{' --fp16' if args.precision == 'fp16' else ''}, batch "
              f"{args.batch}: wall time of the whole command (import, passes, tuning, save); plan "
              "load = Engine::load in `kiln bench PLAN`.\n\n")
    open(os.path.join(args.out_dir, "build_time.md"), "w").write(header + "\n".join(lines) + "\n")
    json.dump(rows, open(os.path.join(args.out_dir, "build_time.json"), "w"), indent=1)
    print(header + "\n".join(lines))


if __name__ == "__main__":
    main()
