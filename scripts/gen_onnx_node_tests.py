#!/usr/bin/env python3
"""Writes the ONNX backend node test suite, which the `onnx` package ships as generator code,
to a folder in the standard layout: <out>/<case>/model.onnx and test_data_set_N/{input,output}_K.pb.

Usage: gen_onnx_node_tests.py OUT_DIR
"""
import os
import sys
import warnings

import numpy as np
from onnx import numpy_helper


def main() -> int:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    stamp = os.path.join(out, ".complete")
    import onnx

    if os.path.exists(stamp) and open(stamp).read() == onnx.__version__:
        return 0
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    import onnx.backend.test.case.node as node_cases

    count = 0
    for case in node_cases.collect_testcases():
        case_dir = os.path.join(out, case.name)
        os.makedirs(case_dir, exist_ok=True)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        with open(os.path.join(case_dir, "tolerance.txt"), "w") as f:
            f.write(f"{case.rtol} {case.atol}\n")
        for i, (inputs, outputs) in enumerate(case.data_sets):
            ds = os.path.join(case_dir, f"test_data_set_{i}")
            os.makedirs(ds, exist_ok=True)
            for kind, arrays, infos in (
                ("input", inputs, case.model.graph.input),
                ("output", outputs, case.model.graph.output),
            ):
                for j, arr in enumerate(arrays):
                    path = os.path.join(ds, f"{kind}_{j}.pb")
                    if not infos[j].type.HasField("tensor_type"):
                        open(path + ".nontensor", "w").close()
                        continue
                    if not isinstance(arr, np.ndarray) and hasattr(arr, "SerializeToString"):
                        data = arr.SerializeToString()
                    else:
                        try:
                            data = numpy_helper.from_array(np.asarray(arr), infos[j].name).SerializeToString()
                        except Exception:  # string tensors and other types kiln does not run
                            open(path + ".unsupported", "w").close()
                            continue
                    with open(path, "wb") as f:
                        f.write(data)
        count += 1
    with open(stamp, "w") as f:
        f.write(onnx.__version__)
    print(f"wrote {count} ONNX node test cases to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
