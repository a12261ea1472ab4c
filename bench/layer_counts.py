#!/usr/bin/env python3
"""Layer counts and activation memory of kiln engines, next to TensorRT's published layer counts.

Exports torchvision VGG19, Inception v3, ResNet-152 (TensorRT's published examples) and ResNet-50,
MobileNetV2, BERT-base (for the memory figures) to ONNX with bench/torch_models.py, each with its
own exporter (EXPORTER: BERT-base with dynamo, since the TorchScript exporter rejects its keyword
arguments in torch 2.11; the rest with TorchScript), builds each with `kiln build`, reads the plan
with `kiln inspect --json`, and prints one markdown table.

Usage:
  layer_counts.py --kiln build/kiln --work-dir /tmp/lc             # needs torch, torchvision,
                                                                    # transformers
  layer_counts.py --kiln build/kiln --onnx-dir DIR                  # every DIR/*.onnx, no torch
Options: --only NAME ..., --exporter {torchscript,dynamo} (one exporter for every model instead
of each model's own), --json FILE (the rows, for scripts).
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exporters import exporter_for  # noqa: E402

# TensorRT's published layer counts (ONNX/framework layers -> TensorRT layers after fusion).
TENSORRT = {
    "vgg19": (43, 27),
    "inception_v3": (309, 113),
    "resnet152": (670, 159),
}
TORCH_MODELS = ["vgg19", "inception_v3", "resnet152", "resnet50", "mobilenet_v2", "bert_base"]
# The exporter each model is measured with where --exporter does not choose one for all.
MIB = float(1 << 20)

CAPTION = (
    "ONNX nodes: nodes of the exported graph (Constant nodes included). kiln layers: layers of the "
    "built plan that launch work. In an engine with a memory plan (static shapes), Reshape, "
    "Flatten, Squeeze, Unsqueeze and Identity are views of their input, and a Concat whose inputs "
    "are written straight into their slices of its output (each input one contiguous range: every "
    "dim before the axis is 1) copies nothing; these launch nothing and are not counted; without "
    "a plan every layer counts. (all) counts every layer of the plan. TensorRT: published counts, framework layers -> engine layers. Arena: the one "
    "activation allocation per execution context; sum: every activation allocated on its own; "
    "lower bound: the most activation bytes alive at one layer, which no arena can beat. "
    "MiB = 2^20 bytes. Graph inputs are the caller's and are not in the arena; graph outputs are.")


def onnx_node_count(path):
    import onnx

    model = onnx.load(path, load_external_data=False)
    return len(model.graph.node)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"{os.path.basename(cmd[0])} {cmd[1]} failed: {last[:300]}")
    return p.stdout


def measure(name, onnx_path, kiln, work_dir, shapes=()):
    row = {"model": name, "onnx": onnx_path, "error": ""}
    try:
        row["onnx_nodes"] = onnx_node_count(onnx_path)
        plan = os.path.join(work_dir, name + ".plan")
        cmd = [kiln, "build", onnx_path, "-o", plan]
        for s in shapes:
            cmd += ["--shape", s]
        start = time.time()
        run(cmd)
        row["build_seconds"] = round(time.time() - start, 2)
        info = json.loads(run([kiln, "inspect", plan, "--json"]))
        row["layers"] = len(info["layers"])
        row["layers_launching_work"] = info.get("layers_launching_work", len(info["layers"]))
        mem = info.get("memory")
        if mem:
            row["arena_bytes"] = mem["arena_bytes"]
            row["total_bytes"] = mem["total_bytes"]
            row["lower_bound_bytes"] = mem["lower_bound_bytes"]
            row["eliminated_concats"] = len(mem.get("eliminated_concats", []))
    except Exception as e:  # one model's failure is a row of the table, not the end of the run
        row["error"] = f"{type(e).__name__}: {e}"
    return row




def export_torch_models(names, forced_exporter, work_dir):
    """{name: (exporter, path or the exception the export raised)}."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch
    import torch_models

    paths = {}
    for name in names:
        exporter = exporter_for(name, forced_exporter)
        torch.manual_seed(0)  # each model's weights the same whichever models run before it
        try:
            paths[name] = (exporter, torch_models.export(name, exporter, work_dir, 1))
        except Exception as e:
            paths[name] = (exporter, e)
    return paths


def fmt_mib(row, key):
    if key not in row:
        return "-"
    v = row[key] / MIB
    return f"{v:.1f}" if v >= 10 else f"{v:.3f}"


def table(rows):
    lines = [
        "| model | exporter | ONNX nodes | kiln layers | kiln layers (all) | Concats eliminated | "
        "TensorRT (published) | arena MiB | sum MiB | lower bound MiB | arena / lower bound |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        trt = TENSORRT.get(r["model"])
        trt_text = f"{trt[0]} -> {trt[1]}" if trt else "-"
        exporter = r.get("exporter", "-")
        if r.get("error") and "layers" not in r:
            lines.append(f"| {r['model']} | {exporter} | {r.get('onnx_nodes', '-')} | "
                         f"error: {r['error']} | | | {trt_text} | | | | |")
            continue
        ratio = "-"
        if r.get("lower_bound_bytes"):
            ratio = f"{r['arena_bytes'] / r['lower_bound_bytes']:.3f}"
        lines.append(
            f"| {r['model']} | {exporter} | {r['onnx_nodes']} | {r['layers_launching_work']} | "
            f"{r['layers']} | {r.get('eliminated_concats', '-')} | "
            f"{trt_text} | {fmt_mib(r, 'arena_bytes')} | {fmt_mib(r, 'total_bytes')} | "
            f"{fmt_mib(r, 'lower_bound_bytes')} | {ratio} |")
    return "\n".join(lines) + "\n\n" + CAPTION + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", default=os.environ.get("KILN_BIN", "build/kiln"), help="kiln binary")
    ap.add_argument("--work-dir", default="layer_counts_work", help="exports and plans go here")
    ap.add_argument("--onnx-dir", help="measure every *.onnx here instead of exporting with torch")
    ap.add_argument("--only", nargs="*", help="model names (file stems with --onnx-dir)")
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"],
                    help="export every model with this exporter (default: each model's own, "
                    "see EXPORTER)")
    ap.add_argument("--shape", action="append", default=[],
                    help="NAME=1x3x224x224, passed to kiln build (repeatable)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    kiln = os.path.abspath(args.kiln)

    rows = []
    if args.onnx_dir:
        files = sorted(f for f in os.listdir(args.onnx_dir) if f.endswith(".onnx"))
        for f in files:
            name = f[:-len(".onnx")]
            if args.only and name not in args.only:
                continue
            rows.append(measure(name, os.path.join(args.onnx_dir, f), kiln, args.work_dir, args.shape))
    else:
        names = args.only or TORCH_MODELS
        for name, (exporter, path) in export_torch_models(names, args.exporter, args.work_dir).items():
            if isinstance(path, Exception):
                rows.append({"model": name, "exporter": exporter,
                             "error": f"export failed: {type(path).__name__}: {path}"})
            else:
                row = measure(name, path, kiln, args.work_dir, args.shape)
                row["exporter"] = exporter
                rows.append(row)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
