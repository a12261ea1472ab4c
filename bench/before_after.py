#!/usr/bin/env python3
"""Two kiln builds on the same models in one run: a change's speed before and after.

Usage: before_after.py --before PATH/TO/kiln --after PATH/TO/kiln [MODEL ...] [--batch 64]
                       [--precision fp16|tf32] [--rounds 3] [--work DIR] [--out-dir out]
                       [--export-only]
Models come from bench/torch_models.py (default: resnet50 bert_base vit_b_16), exported once and
given to both binaries. Each binary first builds each model with an empty timing cache of its
own (the tuning run, not timed); then the rounds alternate before, after, before, after... so
that clock and thermal drift fall on both alike. A round is `kiln bench --backend cuda --graph`
(peer_bench.py's kiln cell) with the binary's warm timing cache, so both time the plan their own
tuning chose. The figure per binary is the median over rounds of each round's GPU compute median.
Writes OUT_DIR/before_after.md and OUT_DIR/before_after.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_table  # noqa: E402
from peer_bench import export_one  # noqa: E402


def exported(name, batch, work):
    """(path, error) of the model's ONNX export in work, exporting it unless it is there."""
    folder = os.path.join(work, f"b{batch}")
    found = sorted(f for f in os.listdir(folder) if f.startswith(name + ".") and
                   f.endswith(".onnx")) if os.path.isdir(folder) else []
    return (os.path.join(folder, found[0]), "") if found else export_one(name, batch, work, 300)


def bench_once(kiln, onnx_path, precision, cache, args):
    """One `kiln bench` of the model; returns (median ms, build s) or raises with kiln's reason."""
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = peer_table.kiln_command(kiln, onnx_path, {}, precision, args.warmup_ms,
                                      args.measure_s, report, cache)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout_s)
        text = open(report).read() if p.returncode == 0 and os.path.exists(report) else ""
        cell = peer_table.kiln_cell(p.returncode, p.stderr, text)
        if cell.error:
            raise RuntimeError(cell.error)
        return cell.median_ms, cell.extra.get("build_seconds")


def render(rows, batch, precision, rounds):
    """The markdown table of the rows; fills each complete row's before/after medians."""
    lines = ["| model | before (ms) | after (ms) | after / before | rounds |",
             "|---|---:|---:|---:|---|"]
    for name, row in rows.items():
        if row.get("error") or not row["before"] or not row["after"]:
            lines.append(f"| {name} | failed: {row.get('error', 'no rounds')} | | | |")
            continue
        b, a = statistics.median(row["before"]), statistics.median(row["after"])
        row["before_median_ms"], row["after_median_ms"] = b, a
        pairs = "; ".join(f"{x:.3f}/{y:.3f}" for x, y in zip(row["before"], row["after"]))
        lines.append(f"| {name} | {b:.3f} | {a:.3f} | {a / b:.3f} | {pairs} |")
    header = (f"kiln before and after, batch {batch}, {precision}, `kiln bench --backend cuda "
              f"--graph` GPU compute median per round, median of {rounds} alternating rounds "
              "(each binary with its own warm timing cache).\n\n")
    return header + "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=["resnet50", "bert_base", "vit_b_16"])
    ap.add_argument("--before", required=True, help="the kiln executable before the change")
    ap.add_argument("--after", required=True, help="the kiln executable after the change")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--precision", choices=["fp16", "tf32"], default="fp16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup-ms", type=float, default=200)
    ap.add_argument("--measure-s", type=float, default=1.0)
    ap.add_argument("--timeout-s", type=float, default=240)
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "kiln_before_after"))
    ap.add_argument("--out-dir", default="out")
    ap.add_argument("--export-only", action="store_true",
                    help="only export the models into --work (a later run reuses them)")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        exports = dict(zip(args.models, pool.map(
            lambda m: exported(m, args.batch, args.work), args.models)))
    if args.export_only:
        print({m: e[1] or "exported" for m, e in exports.items()})
        return
    binaries = {"before": args.before, "after": args.after}
    rows = {}
    for name in args.models:
        path, error = exports[name]
        row = rows[name] = {"before": [], "after": [], "build_s": {}}
        if not path:
            row["error"] = error
            print(name, error, flush=True)
            continue
        try:
            for which, kiln in binaries.items():  # the tuning builds, not timed
                cache = os.path.join(args.work, f"{name}.{which}.timing_cache")
                if os.path.exists(cache):
                    os.remove(cache)
                _, row["build_s"][which] = bench_once(kiln, path, args.precision, cache, args)
            for _ in range(args.rounds):
                for which, kiln in binaries.items():
                    cache = os.path.join(args.work, f"{name}.{which}.timing_cache")
                    row[which].append(bench_once(kiln, path, args.precision, cache, args)[0])
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
            row["error"] = str(e)[:300]
        print(name, row, flush=True)

    text = render(rows, args.batch, args.precision, args.rounds)
    open(os.path.join(args.out_dir, "before_after.md"), "w").write(text)
    json.dump(rows, open(os.path.join(args.out_dir, "before_after.json"), "w"), indent=1)
    print(text)


if __name__ == "__main__":
    main()
