"""bench/merge_peer_bench.py: rows of split runs merged in order, later runs winning, ratios
recomputed, runs on different GPUs refused."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import merge_peer_bench  # noqa: E402
import peer_table  # noqa: E402
from peer_table import Cell, Row  # noqa: E402


def report(gpu, rows):
    out = []
    for model, kiln_ms, eager_ms in rows:
        r = Row(model, 1, "fp16")
        r.cells["kiln"] = Cell(median_ms=kiln_ms, iterations=10)
        r.cells["eager"] = Cell(median_ms=eager_ms, iterations=10)
        r.cells["compile"] = Cell(error="not run")
        out.append(r)
    return peer_table.to_json(out, {"gpu": gpu, "date": "d"}, {"warmup_s": 0.2, "measure_s": 0.5})


def test_merges_in_order_and_later_runs_win(tmp_path):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(report("H200", [("resnet50", 2.0, 4.0), ("vgg19", 5.0, 5.0)])))
    b.write_text(json.dumps(report("H200", [("vgg19", 2.5, 5.0), ("bert_base", 3.0, 1.5)])))
    merge_peer_bench.main([str(a), str(b), "--out-dir", str(tmp_path / "out")])
    merged = json.loads((tmp_path / "out" / "peer_bench.json").read_text())
    assert [r["model"] for r in merged["rows"]] == ["resnet50", "vgg19", "bert_base"]
    speedups = [r["kiln_speedup_vs_best_peer"] for r in merged["rows"]]
    assert speedups == pytest.approx([2.0, 2.0, 0.5])
    md = (tmp_path / "out" / "peer_bench.md").read_text()
    assert "| vgg19 | 1 | fp16 |" in md and "not run" in md


def test_refuses_runs_on_different_gpus(tmp_path):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(report("H200", [("resnet50", 2.0, 4.0)])))
    b.write_text(json.dumps(report("H100", [("vgg19", 2.5, 5.0)])))
    with pytest.raises(SystemExit) as e:
        merge_peer_bench.main([str(a), str(b), "--out-dir", str(tmp_path / "out")])
    assert "different GPUs" in str(e.value)
