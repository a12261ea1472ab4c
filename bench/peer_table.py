"""Result bookkeeping of bench/peer_bench.py, kept free of torch so it is testable anywhere: the
kiln command line and its JSON report, the per-row time budget, kiln's speed-up over the best
peer, and the markdown/JSON renderings of the results.
"""
import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

# Column order of the table; kiln is compared with the best of the others.
PEERS = ["eager", "eager_graph", "compile"]
SYSTEMS = PEERS + ["kiln"]
TITLES = {
    "eager": "PyTorch eager",
    "eager_graph": "eager + CUDA graph",
    "compile": 'torch.compile "reduce-overhead"',
    "kiln": "kiln",
}


@dataclass
class Cell:
    """One system on one row: a median latency, or why there is none."""

    median_ms: Optional[float] = None
    iterations: int = 0
    error: str = ""  # set when the system could not build or run the row
    extra: Dict[str, float] = field(default_factory=dict)  # e.g. kiln's end-to-end median

    @property
    def ok(self):
        return self.median_ms is not None and not self.error


@dataclass
class Row:
    model: str
    batch: int
    precision: str  # "fp16" or "tf32"
    cells: Dict[str, Cell] = field(default_factory=dict)

    def throughput(self, system):
        """Items per second at the median latency: batch / median."""
        c = self.cells.get(system)
        return self.batch * 1000.0 / c.median_ms if c and c.ok and c.median_ms > 0 else None

    def best_peer(self):
        """(system, median ms) of the fastest peer that ran, or None."""
        ran = [(self.cells[p].median_ms, p) for p in PEERS if p in self.cells and self.cells[p].ok]
        if not ran:
            return None
        ms, name = min(ran)
        return name, ms

    def kiln_speedup(self):
        """Best peer's median latency over kiln's: above 1 kiln is faster. None when either is
        missing."""
        best = self.best_peer()
        k = self.cells.get("kiln")
        if not best or best[1] <= 0 or not k or not k.ok or k.median_ms <= 0:
            return None
        return best[1] / k.median_ms


def median(values):
    """The median of a non-empty list (the mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of no values")
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def kiln_command(kiln, onnx_path, shapes, precision, warmup_ms, duration_s, json_path,
                 timing_cache=None):
    """The `kiln bench` command for one row: CUDA, CUDA graph, static shapes, FP16 when asked
    (TF32 is the CUDA builder's default for FP32 matrix work); with `timing_cache`, the tuner's
    results are kept in that file, so a rerun of the row builds without timing again."""
    cmd = [kiln, "bench", onnx_path, "--backend", "cuda", "--graph"]
    for name, dims in shapes.items():
        cmd += ["--shape", f"{name}={'x'.join(str(d) for d in dims)}"]
    if precision == "fp16":
        cmd.append("--fp16")
    elif precision != "tf32":
        raise ValueError(f"unknown precision '{precision}'")
    cmd += ["--warmup-ms", f"{warmup_ms:g}", "--duration", f"{duration_s:g}", "--json", json_path]
    if timing_cache:
        cmd += ["--timing-cache", timing_cache]
    return cmd


def kiln_cell(returncode, stderr, report_text):
    """The kiln cell from a finished `kiln bench`: its GPU compute median on success, else the
    tool's own error line (or the exit code) as the reason."""
    if returncode != 0:
        lines = [l.strip() for l in (stderr or "").splitlines() if l.strip()]
        errors = [l for l in lines if "error" in l.lower()]
        reason = (errors or lines or [f"kiln bench exited with code {returncode}"])[-1]
        return Cell(error=reason.replace("kiln bench: error: ", ""))
    try:
        report = json.loads(report_text)
        compute = report["gpu_compute"]
        cell = Cell(median_ms=float(compute["latency_ms"]["median"]),
                    iterations=int(compute["iterations"]))
        cell.extra["end_to_end_median_ms"] = float(report["end_to_end"]["latency_ms"]["median"])
        if report.get("build_seconds") is not None:
            cell.extra["build_seconds"] = float(report["build_seconds"])
        return cell
    except (ValueError, KeyError, TypeError) as e:
        return Cell(error=f"unreadable kiln bench report: {type(e).__name__}: {e}")


class SuiteBudget:
    """Per-row time budgets that keep the suite near its total: each row may use the suite's
    remaining time divided by the rows still to run (a row that finishes early leaves more for
    the rest). A system starts only while its row's budget is not spent."""

    def __init__(self, total_s, rows, clock=time.monotonic):
        self.total_s = total_s
        self.rows_left = rows
        self.clock = clock
        self.start = clock()
        self.row_start = self.start
        self.row_budget = 0.0

    def begin_row(self):
        self.row_start = self.clock()
        remaining = self.total_s - (self.row_start - self.start)
        self.row_budget = max(0.0, remaining / max(1, self.rows_left))
        self.rows_left -= 1
        return self.row_budget

    def row_left(self):
        return self.row_budget - (self.clock() - self.row_start)

    def may_start(self):
        return self.row_left() > 0

    def skip_reason(self):
        return f"not run: this row's time budget ({self.row_budget:.0f} s) was spent"


def fmt_cell(row, system):
    c = row.cells.get(system)
    if c is None:
        return "not run"
    if not c.ok:
        return escape(c.error or "no result")
    items = row.throughput(system)
    return f"{c.median_ms:.3f} ms" + (f" ({items:,.0f}/s)" if items is not None else "")


def escape(text, limit=160):
    """Makes error text safe inside one markdown table cell."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(rows, machine, settings):
    """The results as markdown: a header naming the machine and the date, then one table row per
    (model, batch, precision), failures included with their reason."""
    lines = [
        "# kiln vs PyTorch",
        "",
        f"- date: {machine.get('date', '')}",
        f"- GPU: {machine.get('gpu', 'unknown')}, driver {machine.get('driver', 'unknown')}",
        f"- torch {machine.get('torch', 'unknown')} (CUDA {machine.get('cuda', 'unknown')}), "
        f"kiln {machine.get('kiln', 'unknown')}",
        f"- timing: CUDA events around one inference, synchronized each iteration; median of the "
        f"timed iterations after {settings.get('warmup_s', 0):g} s of warm-up, "
        f"{settings.get('measure_s', 0):g} s of timing per cell; throughput = batch / median",
        "- kiln: `kiln bench --backend cuda --graph` GPU compute time (enqueue on device buffers);"
        " PyTorch CNNs run channels_last",
        "- precision fp16: PyTorch runs `model.half()` on half inputs; kiln builds with `--fp16` "
        "(FP16 where it helps, sensitive layers FP32, FP32 inputs and outputs). tf32: FP32 with "
        "TF32 matrix math allowed in both",
        "- speed-up: best peer's median latency / kiln's (above 1: kiln is faster)",
        "",
        "| model | batch | precision | " + " | ".join(TITLES[s] for s in SYSTEMS)
        + " | kiln speed-up vs best peer |",
        "|---|---:|---|" + "---:|" * len(SYSTEMS) + "---:|",
    ]
    for r in rows:
        speedup = r.kiln_speedup()
        best = r.best_peer()
        ratio = f"{speedup:.2f}× (vs {TITLES[best[0]]})" if speedup is not None else "–"
        cells = " | ".join(fmt_cell(r, s) for s in SYSTEMS)
        lines.append(f"| {r.model} | {r.batch} | {r.precision} | {cells} | {ratio} |")
    speedups = [r.kiln_speedup() for r in rows if r.kiln_speedup() is not None]
    kiln_ran = sum(1 for r in rows if "kiln" in r.cells and r.cells["kiln"].ok)
    lines += ["", f"kiln ran {kiln_ran} of {len(rows)} rows."]
    if speedups:
        geo = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
        lines[-1] += (f" Geometric mean speed-up over the {len(speedups)} rows where kiln and a "
                      f"peer ran: {geo:.2f}×.")
    return "\n".join(lines) + "\n"


def to_json(rows, machine, settings):
    out = {"machine": machine, "settings": settings, "rows": []}
    for r in rows:
        d = {"model": r.model, "batch": r.batch, "precision": r.precision, "systems": {}}
        for s, c in r.cells.items():
            d["systems"][s] = dict(asdict(c), throughput_items_per_s=r.throughput(s))
        best = r.best_peer()
        d["best_peer"] = best[0] if best else None
        d["kiln_speedup_vs_best_peer"] = r.kiln_speedup()
        out["rows"].append(d)
    return out
