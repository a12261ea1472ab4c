"""bench/peer_table.py without torch or a GPU: the kiln command line, reading kiln's JSON report
and its failures, the speed-up over the best peer, the per-row budget, and the markdown table
keeping every row with its reason."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import peer_table  # noqa: E402
from peer_table import Cell, Row  # noqa: E402


def kiln_report(compute_median=2.0, e2e_median=3.5):
    return json.dumps({
        "gpu_compute": {"iterations": 250, "latency_ms": {"median": compute_median}},
        "end_to_end": {"latency_ms": {"median": e2e_median}},
        "build_seconds": 4.25,
    })


def test_median():
    assert peer_table.median([3, 1, 2]) == 2
    assert peer_table.median([4, 1, 3, 2]) == 2.5
    with pytest.raises(ValueError):
        peer_table.median([])


def test_kiln_command_fp16_and_tf32():
    cmd = peer_table.kiln_command("/k/kiln", "m.onnx", {"x": [64, 3, 224, 224]}, "fp16", 200, 0.5,
                                  "r.json")
    assert cmd[:6] == ["/k/kiln", "bench", "m.onnx", "--backend", "cuda", "--graph"]
    assert "--fp16" in cmd
    assert cmd[cmd.index("--shape") + 1] == "x=64x3x224x224"
    assert cmd[cmd.index("--json") + 1] == "r.json"
    assert cmd[cmd.index("--duration") + 1] == "0.5"
    assert cmd[cmd.index("--warmup-ms") + 1] == "200"
    tf32 = peer_table.kiln_command("kiln", "m.onnx", {"input_ids": [1, 128], "attention_mask": [1, 128]},
                                   "tf32", 200, 0.5, "r.json")
    assert "--fp16" not in tf32
    assert [tf32[i + 1] for i, a in enumerate(tf32) if a == "--shape"] == [
        "input_ids=1x128", "attention_mask=1x128"]
    assert "--timing-cache" not in tf32
    cached = peer_table.kiln_command("kiln", "m.onnx", {}, "fp16", 200, 0.5, "r.json", "/w/t.cache")
    assert cached[cached.index("--timing-cache") + 1] == "/w/t.cache"
    with pytest.raises(ValueError):
        peer_table.kiln_command("kiln", "m.onnx", {}, "int8", 200, 0.5, "r.json")


def test_kiln_cell_reads_the_report():
    c = peer_table.kiln_cell(0, "", kiln_report(2.0, 3.5))
    assert c.ok and c.median_ms == 2.0 and c.iterations == 250
    assert c.extra == {"end_to_end_median_ms": 3.5, "build_seconds": 4.25}


def test_kiln_cell_keeps_the_reason_of_a_failure():
    err = ("[warning] something\nkiln bench: error: 2 layer(s) have no CUDA kernel:\n"
           "  - 'nms' (NonMaxSuppression)\n")
    c = peer_table.kiln_cell(1, err, "")
    assert not c.ok
    assert c.error == "2 layer(s) have no CUDA kernel:"
    assert "code -11" in peer_table.kiln_cell(-11, "", "").error
    assert "unreadable" in peer_table.kiln_cell(0, "", "{not json").error
    assert "unreadable" in peer_table.kiln_cell(0, "", json.dumps({"gpu_compute": None})).error


def test_speedup_is_best_peer_over_kiln():
    r = Row("resnet50", 64, "fp16", {
        "eager": Cell(median_ms=10.0), "eager_graph": Cell(median_ms=8.0),
        "compile": Cell(error="not run: this row's time budget (12 s) was spent"),
        "kiln": Cell(median_ms=4.0)})
    assert r.best_peer() == ("eager_graph", 8.0)
    assert r.kiln_speedup() == pytest.approx(2.0)
    assert r.throughput("kiln") == pytest.approx(64 * 1000 / 4.0)
    assert r.throughput("compile") is None
    r.cells["kiln"] = Cell(error="no CUDA kernel")
    assert r.kiln_speedup() is None
    none_ran = Row("bert_base", 1, "tf32", {"eager": Cell(error="OOM"), "kiln": Cell(median_ms=1.0)})
    assert none_ran.best_peer() is None and none_ran.kiln_speedup() is None


def test_budget_shares_the_remaining_time_over_the_remaining_rows():
    now = [0.0]
    b = peer_table.SuiteBudget(100, 4, clock=lambda: now[0])
    now[0] = 20  # exports took 20 s
    assert b.begin_row() == pytest.approx(20)  # 80 s left over 4 rows
    now[0] = 25
    assert b.may_start() and b.row_left() == pytest.approx(15)
    now[0] = 45
    assert not b.may_start()
    assert "20 s" in b.skip_reason()
    assert b.begin_row() == pytest.approx(55 / 3)
    now[0] = 200  # overran: later rows get nothing, but still begin
    assert b.begin_row() == 0 and not b.may_start()


def test_markdown_keeps_failed_rows_with_their_reason():
    rows = [
        Row("resnet50", 1, "fp16", {"eager": Cell(median_ms=2.0), "eager_graph": Cell(median_ms=1.0),
                                    "compile": Cell(median_ms=1.5), "kiln": Cell(median_ms=0.5)}),
        Row("bert_base", 64, "tf32", {"eager": Cell(median_ms=20.0),
                                      "eager_graph": Cell(error="RuntimeError: capture | failed"),
                                      "kiln": Cell(error="3 layer(s) have no CUDA kernel:")}),
    ]
    machine = {"date": "2025-01-01T00:00:00+00:00", "gpu": "NVIDIA H100 80GB HBM3",
               "driver": "550.54", "torch": "2.5.1", "cuda": "12.4", "kiln": "0.1.0"}
    md = peer_table.markdown(rows, machine, {"warmup_s": 0.2, "measure_s": 0.5})
    lines = md.splitlines()
    assert "NVIDIA H100 80GB HBM3, driver 550.54" in md and "torch 2.5.1" in md
    assert "2025-01-01" in md
    table = [l for l in lines if l.startswith("| ")]
    assert len(table) == 3  # header and both rows
    assert table[1].startswith("| resnet50 | 1 | fp16 | 2.000 ms (500/s) | 1.000 ms (1,000/s) |")
    assert table[1].endswith("| 0.500 ms (2,000/s) | 2.00× (vs eager + CUDA graph) |")
    assert "3 layer(s) have no CUDA kernel:" in table[2]
    assert "capture \\| failed" in table[2]  # a pipe in a reason cannot split the cell
    assert "| not run |" in table[2]  # compile has no cell at all
    assert table[2].endswith("| – |")
    assert all(l.count(" | ") == table[0].count(" | ") for l in table[1:])
    assert "kiln ran 1 of 2 rows. Geometric mean speed-up over the 1 rows" in md
    assert "2.00×." in md


def test_a_zero_latency_cell_has_no_throughput_but_still_renders():
    r = Row("tiny", 1, "fp16", {"eager": Cell(median_ms=0.0), "kiln": Cell(median_ms=0.5)})
    assert r.throughput("eager") is None
    assert r.kiln_speedup() is None  # no ratio against a zero
    assert "| 0.000 ms |" in peer_table.markdown([r], {}, {})


def test_json_has_every_system_and_the_ratio():
    r = Row("vgg19", 64, "fp16", {"eager": Cell(median_ms=30.0), "kiln": Cell(median_ms=10.0)})
    j = json.loads(json.dumps(peer_table.to_json([r], {"gpu": "x"}, {"measure_s": 0.5})))
    row = j["rows"][0]
    assert row["best_peer"] == "eager"
    assert row["kiln_speedup_vs_best_peer"] == pytest.approx(3.0)
    assert row["systems"]["kiln"]["throughput_items_per_s"] == pytest.approx(6400)
    assert row["systems"]["eager"]["error"] == ""
