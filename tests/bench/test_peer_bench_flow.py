"""bench/peer_bench.py end to end without PyTorch or a GPU: a stand-in `torch` (timed CUDA events
that report fixed times), a stand-in model registry and exporter, and a stand-in `kiln` executable
that writes a kiln bench JSON report or fails like kiln does. Checks the suite's loop: every row
kept, failures with their reason, the kiln command and its report read, the files written."""
import contextlib
import json
import os
import stat
import sys
import types

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench")
sys.path.insert(0, BENCH)


class FakeTensor:
    def __init__(self, shape, floating=True):
        self.shape = tuple(shape)
        self.floating = floating

    def dim(self):
        return len(self.shape)

    def repeat(self, *reps):
        return FakeTensor([d * r for d, r in zip(self.shape, reps)], self.floating)

    def cuda(self):
        return self

    def half(self):
        return self

    def is_floating_point(self):
        return self.floating

    def contiguous(self, memory_format=None):
        return self


class FakeModel:
    def __init__(self, latency_ms, fail_graph=False):
        self.latency_ms = latency_ms
        self.fail_graph = fail_graph

    def cuda(self):
        return self

    def eval(self):
        return self

    def half(self):
        return self

    def to(self, memory_format=None):
        return self

    def __call__(self, *args, **kwargs):
        FAKE_CLOCK["next_ms"] = self.latency_ms
        if self.fail_graph and FAKE_CLOCK["capturing"]:
            raise RuntimeError("operation not permitted when stream is capturing")
        return args


FAKE_CLOCK = {"next_ms": 0.0, "capturing": False}


def make_fake_torch():
    torch = types.ModuleType("torch")
    torch.__version__ = "9.9.9-fake"
    torch.version = types.SimpleNamespace(cuda="99.0")
    torch.channels_last = "channels_last"
    torch.manual_seed = lambda s: None
    torch.no_grad = contextlib.nullcontext
    torch.backends = types.SimpleNamespace(
        cudnn=types.SimpleNamespace(benchmark=False, allow_tf32=False),
        cuda=types.SimpleNamespace(matmul=types.SimpleNamespace(allow_tf32=False)))

    class Event:
        def __init__(self, enable_timing=False):
            self.t = 0.0

        def record(self):
            FAKE_CLOCK["now"] += FAKE_CLOCK["next_ms"]  # the work queued since the last record
            FAKE_CLOCK["next_ms"] = 0.0
            self.t = FAKE_CLOCK["now"]

        def synchronize(self):
            pass

        def elapsed_time(self, other):
            return other.t - self.t

    class Stream:
        def wait_stream(self, other):
            pass

    class CUDAGraph:
        def replay(self):
            FAKE_CLOCK["next_ms"] = FAKE_CLOCK["graph_ms"]

    @contextlib.contextmanager
    def graph(g):
        FAKE_CLOCK["capturing"] = True
        FAKE_CLOCK["graph_ms"] = 0.0
        try:
            yield
            FAKE_CLOCK["graph_ms"] = FAKE_CLOCK["next_ms"] * 0.5  # replay halves the time
        finally:
            FAKE_CLOCK["capturing"] = False

    torch.cuda = types.SimpleNamespace(
        is_available=lambda: True, get_device_name=lambda: "Fake GPU 80GB",
        current_device=lambda: 0, synchronize=lambda: None, empty_cache=lambda: None,
        Event=Event, Stream=Stream, stream=lambda s: contextlib.nullcontext(),
        current_stream=lambda: Stream(), CUDAGraph=CUDAGraph, graph=graph)
    torch._dynamo = types.SimpleNamespace(reset=lambda: None)
    torch.compiler = types.SimpleNamespace(cudagraph_mark_step_begin=lambda: None)

    def compile(model, mode=None):
        assert mode == "reduce-overhead"
        return FakeModel(model.latency_ms * 0.4)

    torch.compile = compile
    return torch


def make_fake_registry():
    reg = types.ModuleType("torch_models")

    def cnn():
        return FakeModel(2.0), {"x": FakeTensor([1, 3, 8, 8])}

    def no_graph():
        return FakeModel(3.0, fail_graph=True), {"input_ids": FakeTensor([1, 16], False)}

    def broken():
        raise ValueError("weights missing")

    reg.MODELS = {"cnn": cnn, "no_graph": no_graph, "broken": broken, "nokernel": cnn,
                  "detector": cnn}
    reg.DETECTION = {"detector"}
    reg.HUGGINGFACE = {"no_graph"}
    return reg


FAKE_EXPORTER = r'''
import json, os, sys
out_dir, name, batch = sys.argv[1], sys.argv[sys.argv.index("--only") + 1], sys.argv[-1]
path = os.path.join(out_dir, name + ".torchscript.onnx")
open(path, "w").write("onnx " + batch)
print(json.dumps({"name": name, "ok": True, "path": path, "error": ""}))
'''

FAKE_KILN = r'''#!/usr/bin/env python3
import json, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("0.1.0"); sys.exit(0)
log = open(sys.argv[0] + ".calls", "a"); log.write(json.dumps(args) + "\n"); log.close()
if "nokernel" in args[1]:
    sys.stderr.write("kiln bench: error: 1 layer(s) have no CUDA kernel:\n  - node 'n' (Foo)\n")
    sys.exit(1)
ms = 0.5 if "--fp16" in args else 1.0
report = {"gpu_compute": {"iterations": 100, "latency_ms": {"median": ms}},
          "end_to_end": {"latency_ms": {"median": ms + 0.25}}, "build_seconds": 0.1}
json.dump(report, open(args[args.index("--json") + 1], "w"))
'''


@pytest.fixture
def suite(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", make_fake_torch())
    monkeypatch.setitem(sys.modules, "torch_models", make_fake_registry())
    import peer_bench
    exporter = tmp_path / "fake_exporter.py"
    exporter.write_text(FAKE_EXPORTER)
    monkeypatch.setattr(peer_bench, "EXPORT_SCRIPT", str(exporter))
    kiln = tmp_path / "kiln"
    kiln.write_text(FAKE_KILN)
    kiln.chmod(kiln.stat().st_mode | stat.S_IEXEC)
    FAKE_CLOCK.update(next_ms=0.0, capturing=False, now=0.0)
    return peer_bench, str(kiln), tmp_path


def run_suite(peer_bench, kiln, tmp_path, models, extra=()):
    out = tmp_path / "out"
    peer_bench.main(list(models) + ["--kiln", kiln, "--out-dir", str(out), "--work",
                                    str(tmp_path / "work"), "--warmup-s", "0", "--measure-s",
                                    "0.01", "--batches", "1", "4", *extra])
    return json.loads((out / "peer_bench.json").read_text()), (out / "peer_bench.md").read_text()


def test_every_row_is_kept_with_results_or_reasons(suite):
    peer_bench, kiln, tmp = suite
    result, md = run_suite(peer_bench, kiln, tmp, ["cnn", "no_graph", "broken", "nokernel"])
    rows = {(r["model"], r["batch"], r["precision"]): r for r in result["rows"]}
    assert len(rows) == 4 * 2 * 2
    cnn = rows[("cnn", 4, "fp16")]["systems"]
    assert cnn["eager"]["median_ms"] == pytest.approx(2.0)
    assert cnn["eager_graph"]["median_ms"] == pytest.approx(1.0)
    assert cnn["compile"]["median_ms"] == pytest.approx(0.8)
    assert cnn["kiln"]["median_ms"] == pytest.approx(0.5)  # fp16 reached kiln as --fp16
    assert cnn["kiln"]["extra"]["end_to_end_median_ms"] == pytest.approx(0.75)
    assert rows[("cnn", 4, "fp16")]["kiln_speedup_vs_best_peer"] == pytest.approx(1.6)
    assert rows[("cnn", 4, "tf32")]["systems"]["kiln"]["median_ms"] == pytest.approx(1.0)
    ng = rows[("no_graph", 1, "tf32")]["systems"]
    assert "stream is capturing" in ng["eager_graph"]["error"]
    assert ng["eager"]["median_ms"] == pytest.approx(3.0)  # the failure did not spoil the row
    assert "weights missing" in rows[("broken", 1, "fp16")]["systems"]["kiln"]["error"]
    nk = rows[("nokernel", 4, "tf32")]
    assert nk["systems"]["kiln"]["error"] == "1 layer(s) have no CUDA kernel:"
    assert nk["kiln_speedup_vs_best_peer"] is None
    assert "| nokernel | 4 | tf32 |" in md and "1 layer(s) have no CUDA kernel:" in md
    assert "Fake GPU 80GB" in md and "torch 9.9.9-fake" in md
    assert result["machine"]["kiln"] == "0.1.0"
    calls = [json.loads(l) for l in open(kiln + ".calls")]
    shapes = sorted({c[c.index("--shape") + 1] for c in calls})
    assert shapes == ["input_ids=1x16", "input_ids=4x16", "x=1x3x8x8", "x=4x3x8x8"]
    assert all(c[0] == "bench" and "--graph" in c and "cuda" in c for c in calls)


def test_a_spent_budget_skips_systems_but_keeps_rows(suite):
    peer_bench, kiln, tmp = suite
    result, md = run_suite(peer_bench, kiln, tmp, ["cnn"], ["--budget-s", "0"])
    assert len(result["rows"]) == 4
    for row in result["rows"]:
        for system in ("eager", "eager_graph", "compile"):
            assert "time budget" in row["systems"][system]["error"]
        assert row["systems"]["kiln"]["median_ms"] is not None  # kiln, the subject, always runs
    assert "not run: this row's time budget (0 s) was spent" in md


def test_refuses_unknown_and_detection_models(suite):
    peer_bench, kiln, tmp = suite
    with pytest.raises(SystemExit):
        peer_bench.parse_args(["nosuchnet", "--kiln", kiln])
    with pytest.raises(SystemExit):
        peer_bench.parse_args(["detector", "--kiln", kiln])
