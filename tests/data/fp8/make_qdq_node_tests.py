"""Generates ONNX's own QuantizeLinear/DequantizeLinear node tests (float8,
blocked, int16, ... from the installed onnx package, which the system's
libonnx-testdata predates) into a folder, for the conformance suite:

    python tests/data/fp8/make_qdq_node_tests.py /tmp/qdq_node_tests
    VDRT_ONNX_NODE_TESTS=/tmp/qdq_node_tests/node build/tests/vdrt_conformance_tests

Nothing is committed: the data is the onnx package's to generate.
"""
import argparse
import sys

import onnx.backend.test.case.node as node_cases
import onnx.backend.test.cmd_tools as cmd_tools


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/qdq_node_tests"
    every = node_cases.collect_testcases

    class OnlyQdq:  # stands in for the model-test collector cmd_tools reads
        @staticmethod
        def collect_testcases():
            return [c for c in every(None) if "quantizelinear" in c.name and "dynamic" not in c.name]

    cmd_tools.model_test = OnlyQdq
    cmd_tools.generate_data(argparse.Namespace(output=out, op_type=None))
    print("wrote", out + "/node")


if __name__ == "__main__":
    main()
