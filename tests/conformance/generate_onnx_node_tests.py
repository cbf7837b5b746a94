#!/usr/bin/env python3
"""Writes the ONNX backend node tests of the installed `onnx` wheel (which
ships their generators, not their data) in the test_data_set layout that
vdrt's conformance suite reads:

    python3 tests/conformance/generate_onnx_node_tests.py OUT_DIR [--ops Attention,RMSNormalization]
    VDRT_ONNX_NODE_TESTS=OUT_DIR build/tests/vdrt_conformance_tests

Only tensor-typed cases are written (sequence/optional/map cases are skipped:
vdrt does not support those types).
"""
import argparse
import os
import shutil

import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node


def tensor_only(model):
    return all(v.type.HasField("tensor_type") for v in list(model.graph.input) + list(model.graph.output))


def write_case(case, out_dir):
    folder = os.path.join(out_dir, case.name)
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        data_dir = os.path.join(folder, f"test_data_set_{i}")
        os.makedirs(data_dir)
        for kind, values, infos in (("input", inputs, case.model.graph.input),
                                    ("output", outputs, case.model.graph.output)):
            for j, value in enumerate(values):
                proto = value if isinstance(value, onnx.TensorProto) else numpy_helper.from_array(value, infos[j].name)
                with open(os.path.join(data_dir, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--ops", default="", help="comma-separated op types to keep (default: all)")
    args = ap.parse_args()
    keep = {o for o in args.ops.split(",") if o}
    written = skipped = 0
    for case in node.collect_testcases(None):
        ops = {n.op_type for n in case.model.graph.node}
        if keep and not (ops & keep):
            continue
        if not case.data_sets or not tensor_only(case.model):
            skipped += 1
            continue
        write_case(case, args.out_dir)
        written += 1
    print(f"onnx {onnx.__version__}: wrote {written} node tests to {args.out_dir}, skipped {skipped} non-tensor cases")


if __name__ == "__main__":
    main()
