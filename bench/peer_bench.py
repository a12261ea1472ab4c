#!/usr/bin/env python3
"""kiln against PyTorch on one GPU: for each model, batch size and precision, the median latency
and throughput of PyTorch eager (channels_last for CNNs), eager replayed through a CUDA graph,
torch.compile(mode="reduce-overhead") and `kiln bench --backend cuda --graph`, all timed with CUDA
events around one inference (warm-up first, synchronized each iteration, median of the timed
iterations), with kiln's speed-up over the best peer.

Usage: peer_bench.py [MODEL ...] --kiln PATH/TO/kiln [--batches 1 64] [--precisions fp16 tf32]
                     [--out-dir out] [--budget-s 450] [--warmup-s 0.2] [--measure-s 0.5]
Models come from bench/torch_models.py's registry (default: resnet50 mobilenet_v2 efficientnet_b0
vgg19 inception_v3 resnet152 vit_b_16 bert_base). ONNX models for kiln are exported first, once per
model and batch, in parallel CPU processes (bench/torch_models.py, exporter per bench/exporters.py). The suite
keeps to --budget-s: each row may use the remaining time over the remaining rows, and a peer
whose row budget is spent is reported as not run (kiln, the system under test, always runs, with
at least --kiln-timeout-s for its build and timing). Rows where a system cannot build or run keep
their reason in the table. Writes OUT_DIR/peer_bench.md and OUT_DIR/peer_bench.json.
"""
import argparse
import copy
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_table  # noqa: E402
from exporters import exporter_for  # noqa: E402
from peer_table import Cell, Row  # noqa: E402

DEFAULT_MODELS = ["resnet50", "mobilenet_v2", "efficientnet_b0", "vgg19", "inception_v3",
                  "resnet152", "vit_b_16", "bert_base"]
# Models whose activations are not images; the rest run channels_last in PyTorch.
NOT_CNN = {"vit_b_16", "swin_t", "bert_base", "gpt2", "hf_vit_base"}
HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT_SCRIPT = os.path.join(HERE, "torch_models.py")  # run as a subprocess, one per export


def first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


# ---- ONNX export (CPU, parallel processes) ----

def export_one(name, batch, work, timeout_s):
    """Exports one model at one batch with torch_models.py; returns (path, error)."""
    out_dir = os.path.join(work, f"b{batch}")
    os.makedirs(out_dir, exist_ok=True)
    cmd = [sys.executable, EXPORT_SCRIPT, out_dir, "--exporter",
           exporter_for(name), "--only", name, "--batch", str(batch)]
    env = dict(os.environ, OMP_NUM_THREADS="2", CUDA_VISIBLE_DEVICES="")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return None, f"ONNX export timed out after {timeout_s:.0f} s"
    for line in p.stdout.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("ok"):
            return rec["path"], ""
        return None, f"ONNX export failed: {rec.get('error', '')}"
    tail = (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1]
    return None, f"ONNX export failed: {tail[:200]}"


def export_all(models, batches, work, timeout_s, jobs):
    tasks = [(m, b) for m in models for b in batches]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(lambda t: export_one(t[0], t[1], work, timeout_s), tasks)
        return dict(zip(tasks, results))


# ---- PyTorch peers ----

def make_inputs(torch_models, name, batch):
    model, inputs = torch_models.MODELS[name]()
    inputs = {k: v.repeat(batch, *([1] * (v.dim() - 1))) for k, v in inputs.items()}
    return model, inputs


def to_row_setup(torch, model, inputs, name, precision, keyword_inputs):
    """The model and inputs on the GPU in the row's precision and layout, and the call to time."""
    model = copy.deepcopy(model).cuda().eval()
    inputs = {k: v.cuda() for k, v in inputs.items()}
    if precision == "fp16":
        model = model.half()
        inputs = {k: v.half() if v.is_floating_point() else v for k, v in inputs.items()}
    if name not in NOT_CNN:
        model = model.to(memory_format=torch.channels_last)
        inputs = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
                  for k, v in inputs.items()}
    if keyword_inputs:
        return model, inputs, lambda m: m(**inputs)  # Hugging Face forward() takes keywords
    args = tuple(inputs.values())
    return model, inputs, lambda m: m(*args)


def time_cuda(torch, fn, warmup_s, measure_s, min_warmup=3, min_iters=10, max_iters=10000):
    """Per-iteration latency in ms from CUDA events around fn(), synchronized each iteration."""
    for _ in range(min_warmup):
        fn()
    torch.cuda.synchronize()
    end_warmup = time.perf_counter() + warmup_s
    while time.perf_counter() < end_warmup:
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    deadline = time.perf_counter() + measure_s
    while len(times) < min_iters or (time.perf_counter() < deadline and len(times) < max_iters):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def cell_from_times(times):
    return Cell(median_ms=peer_table.median(times), iterations=len(times))


def run_eager(torch, model, call, args):
    with torch.no_grad():
        return cell_from_times(time_cuda(torch, lambda: call(model), args.warmup_s, args.measure_s))


def run_eager_graph(torch, model, call, args):
    with torch.no_grad():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up off the default stream, as capture requires
            for _ in range(3):
                call(model)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            call(model)
        return cell_from_times(time_cuda(torch, graph.replay, args.warmup_s, args.measure_s))


def run_compile(torch, model, call, args):
    torch._dynamo.reset()  # every row compiles afresh; no recompilation limits across rows
    compiled = torch.compile(model, mode="reduce-overhead")

    def step():
        torch.compiler.cudagraph_mark_step_begin()
        call(compiled)

    with torch.no_grad():
        return cell_from_times(time_cuda(torch, step, args.warmup_s, args.measure_s))


# ---- kiln ----

def run_kiln(args, onnx_path, shapes, precision, timeout_s):
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        cmd = peer_table.kiln_command(args.kiln, onnx_path, shapes, precision,
                                      args.warmup_s * 1000, args.measure_s, report,
                                      os.path.join(args.work, "kiln_timing.cache"))
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return Cell(error=f"kiln bench timed out after {timeout_s:.0f} s (build and timing)")
        text = open(report).read() if p.returncode == 0 and os.path.exists(report) else ""
        return peer_table.kiln_cell(p.returncode, p.stderr, text)


# ---- the suite ----

def machine_info(torch, kiln):
    info = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "driver": "unknown", "kiln": "unknown"}
    try:
        info["driver"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader", "-i",
             str(torch.cuda.current_device())], capture_output=True, text=True,
            timeout=30).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        info["kiln"] = subprocess.run([kiln, "--version"], capture_output=True, text=True,
                                      timeout=30).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError) as e:
        info["kiln"] = f"not runnable ({first_line(e)})"
    return info


def parse_args(argv=None):
    import torch_models
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=DEFAULT_MODELS,
                    help="models of bench/torch_models.py (default: %(default)s)")
    ap.add_argument("--kiln", required=True, help="the kiln executable")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    ap.add_argument("--precisions", nargs="+", choices=["fp16", "tf32"], default=["fp16", "tf32"])
    ap.add_argument("--out-dir", default="out")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "kiln_peer_bench"),
                    help="where the ONNX exports go")
    ap.add_argument("--budget-s", type=float, default=450, help="time for the whole suite")
    ap.add_argument("--warmup-s", type=float, default=0.2, help="warm-up per cell")
    ap.add_argument("--measure-s", type=float, default=0.5, help="timed seconds per cell")
    ap.add_argument("--export-jobs", type=int, default=8)
    ap.add_argument("--export-timeout-s", type=float, default=240)
    ap.add_argument("--kiln-timeout-s", type=float, default=120,
                    help="the least time kiln bench gets for one row (build included)")
    args = ap.parse_args(argv)
    unknown = [m for m in args.models if m not in torch_models.MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(torch_models.MODELS)}")
    lists = [m for m in args.models if m in torch_models.DETECTION]
    if lists:
        ap.error(f"{', '.join(lists)}: detection models take lists of images; not benchmarked here")
    if any(b < 1 for b in args.batches):
        ap.error("batch sizes must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch
    import torch_models
    warnings.simplefilter("ignore")
    if not torch.cuda.is_available():
        sys.exit("peer_bench.py: no CUDA device")
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    os.makedirs(args.out_dir, exist_ok=True)
    rows_total = len(args.models) * len(args.batches) * len(args.precisions)
    budget = peer_table.SuiteBudget(args.budget_s, rows_total)
    machine = machine_info(torch, args.kiln)
    settings = {k: getattr(args, k) for k in ("batches", "precisions", "budget_s", "warmup_s",
                                               "measure_s")}
    settings["models"] = args.models

    print(f"exporting {len(args.models) * len(args.batches)} ONNX models...", flush=True)
    exports = export_all(args.models, args.batches, args.work, args.export_timeout_s,
                         args.export_jobs)
    print(f"exports done after {time.monotonic() - budget.start:.0f} s", flush=True)

    rows = []
    md = ""
    for name in args.models:
        try:
            base_model, base_inputs = make_inputs(torch_models, name, 1)
        except Exception as e:  # a model that cannot be made is a row result, not a crash
            base_model, base_inputs, make_error = None, None, first_line(e)
        for batch in args.batches:
            for precision in args.precisions:
                budget.begin_row()
                row = Row(name, batch, precision)
                rows.append(row)
                if base_model is None:
                    for s in peer_table.SYSTEMS:
                        row.cells[s] = Cell(error=f"model could not be made: {make_error}")
                    continue
                inputs = {k: v.repeat(batch, *([1] * (v.dim() - 1)))
                          for k, v in base_inputs.items()}
                torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
                torch.backends.cudnn.allow_tf32 = precision == "tf32"
                try:
                    model, _, call = to_row_setup(torch, base_model, inputs, name, precision,
                                                   name in torch_models.HUGGINGFACE)
                except Exception as e:
                    model, call, setup_error = None, None, first_line(e)
                for system, fn in (("eager", run_eager), ("eager_graph", run_eager_graph)):
                    if model is None:
                        row.cells[system] = Cell(error=f"setup failed: {setup_error}")
                    elif not budget.may_start():
                        row.cells[system] = Cell(error=budget.skip_reason())
                    else:
                        row.cells[system] = guarded(torch, fn, model, call, args)
                # The peers first: kiln (the system under test) always runs, and its build (with
                # auto-tuning) must not eat the row's budget before torch.compile is timed.
                if model is None:
                    row.cells["compile"] = Cell(error=f"setup failed: {setup_error}")
                elif not budget.may_start():
                    row.cells["compile"] = Cell(error=budget.skip_reason())
                else:
                    row.cells["compile"] = guarded(torch, run_compile, model, call, args)
                path, export_error = exports[(name, batch)]
                if path is None:
                    row.cells["kiln"] = Cell(error=export_error)
                else:
                    shapes = {k: list(v.shape) for k, v in inputs.items()}
                    timeout = max(args.kiln_timeout_s, budget.row_left())
                    row.cells["kiln"] = run_kiln(args, path, shapes, precision, timeout)
                del model, call
                torch.cuda.empty_cache()
                print(json.dumps(peer_table.to_json([row], machine, settings)["rows"][0]),
                      flush=True)
                md = write_results(rows, machine, settings, args.out_dir)  # a kill keeps these

    print(md)
    print(f"suite took {time.monotonic() - budget.start:.0f} s", flush=True)


def write_results(rows, machine, settings, out_dir):
    """Writes the rows so far to OUT_DIR/peer_bench.{md,json}; returns the markdown."""
    md = peer_table.markdown(rows, machine, settings)
    with open(os.path.join(out_dir, "peer_bench.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out_dir, "peer_bench.json"), "w") as f:
        json.dump(peer_table.to_json(rows, machine, settings), f, indent=2)
    return md


def guarded(torch, fn, model, call, args):
    """Runs one peer; an exception becomes the cell's reason, and the device is left usable."""
    try:
        return fn(torch, model, call, args)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        try:
            torch.cuda.synchronize()
        except Exception:
            pass
        return Cell(error=first_line(e))


if __name__ == "__main__":
    main()
