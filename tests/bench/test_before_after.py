"""bench/before_after.py's summary: each model's before and after figures are the medians of its
rounds, the ratio is after over before, and a model that failed keeps its reason."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import before_after  # noqa: E402


def test_medians_and_ratio_per_model():
    rows = {"resnet50": {"before": [2.0, 4.0, 3.0], "after": [1.5, 1.4, 1.6], "build_s": {}}}
    text = before_after.render(rows, 64, "fp16", 3)
    assert rows["resnet50"]["before_median_ms"] == 3.0
    assert rows["resnet50"]["after_median_ms"] == 1.5
    line = [l for l in text.splitlines() if l.startswith("| resnet50")][0]
    assert "| 3.000 | 1.500 | 0.500 |" in line
    assert "2.000/1.500; 4.000/1.400; 3.000/1.600" in line
    assert "batch 64, fp16" in text and "median of 3 alternating rounds" in text


def test_a_failed_model_keeps_its_reason_and_no_figures():
    rows = {"bert_base": {"before": [1.0], "after": [], "build_s": {},
                          "error": "kiln bench timed out"},
            "vit_b_16": {"before": [], "after": [], "build_s": {}}}
    text = before_after.render(rows, 64, "fp16", 2)
    assert "| bert_base | failed: kiln bench timed out |" in text
    assert "| vit_b_16 | failed: no rounds |" in text
    assert "before_median_ms" not in rows["bert_base"]
