#!/usr/bin/env python3
"""Merges the peer_bench.json files of several bench/peer_bench.py runs (the suite split across
device calls, e.g. one call per model, so that each fits one call's time limit) into one table.

Usage: merge_peer_bench.py RUN.json [RUN.json ...] --out-dir DIR
Rows keep their order across the files; a (model, batch, precision) row that appears in several
files is taken from the last one. The machine and settings shown are the first file's; runs on
different GPUs are refused, since their ratios do not compare. Writes DIR/peer_bench.md and
DIR/peer_bench.json.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_table  # noqa: E402
from peer_table import Cell, Row  # noqa: E402

CELL_FIELDS = ("median_ms", "iterations", "error", "extra")


def rows_from(report):
    rows = []
    for d in report.get("rows", []):
        row = Row(d["model"], int(d["batch"]), d["precision"])
        for system, cell in d.get("systems", {}).items():
            row.cells[system] = Cell(**{k: cell[k] for k in CELL_FIELDS if k in cell})
        rows.append(row)
    return rows


def merge(reports):
    if not reports:
        raise ValueError("no reports to merge")
    gpus = {r.get("machine", {}).get("gpu", "unknown") for r in reports}
    if len(gpus) > 1:
        raise ValueError(f"the runs were on different GPUs ({', '.join(sorted(gpus))}); "
                         "their ratios do not compare")
    by_key, order = {}, []
    for report in reports:
        for row in rows_from(report):
            key = (row.model, row.batch, row.precision)
            if key not in by_key:
                order.append(key)
            by_key[key] = row
    return [by_key[k] for k in order], reports[0].get("machine", {}), reports[0].get("settings", {})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args(argv)
    reports = []
    for path in args.reports:
        with open(path) as f:
            reports.append(json.load(f))
    try:
        rows, machine, settings = merge(reports)
    except ValueError as e:
        sys.exit(f"merge_peer_bench.py: {e}")
    os.makedirs(args.out_dir, exist_ok=True)
    md = peer_table.markdown(rows, machine, settings)
    with open(os.path.join(args.out_dir, "peer_bench.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out_dir, "peer_bench.json"), "w") as f:
        json.dump(peer_table.to_json(rows, machine, settings), f, indent=2)
    print(md)


if __name__ == "__main__":
    main()
