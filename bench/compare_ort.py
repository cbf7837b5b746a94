#!/usr/bin/env python3
"""Times one denoiser call of a model on vdrt (CPU) and on ONNX Runtime (CPU)
in the same run, same machine, same thread count, and prints the ratio.

    python3 bench/compare_ort.py models/tiny_wan/ts17/denoiser.onnx \
        models/tiny_wan/ts17/denoiser/test_data_set_1 --threads 2 --runs 50

Needs `pip install onnx onnxruntime numpy` and a built build/tools/vdrt.
"""
import argparse
import glob
import os
import re
import statistics
import subprocess
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def load_inputs(folder):
    feeds = {}
    for path in sorted(glob.glob(os.path.join(folder, "input_*.pb")),
                       key=lambda p: int(re.findall(r"(\d+)\.pb$", p)[0])):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        feeds[t.name] = numpy_helper.to_array(t)
    return feeds


def time_ort(model, feeds, threads, runs, warmup):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def time_vdrt(vdrt, model, folder, threads, runs, warmup):
    out = subprocess.run([vdrt, "bench", model, "--inputs", folder, "--threads", str(threads),
                          "--runs", str(runs), "--warmup", str(warmup)],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"median_ms\s+([0-9.]+)", out).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("inputs", help="test_data_set folder with input_K.pb")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--vdrt", default="build/tools/vdrt")
    args = ap.parse_args()
    feeds = load_inputs(args.inputs)
    ort_ms = time_ort(args.model, feeds, args.threads, args.runs, args.warmup)
    vdrt_ms = time_vdrt(args.vdrt, args.model, args.inputs, args.threads, args.runs, args.warmup)
    print(f"model {args.model}  inputs {args.inputs}  threads {args.threads}  runs {args.runs}")
    print(f"onnxruntime {ort.__version__} CPU  median {ort_ms:.3f} ms")
    print(f"vdrt CPU               median {vdrt_ms:.3f} ms")
    print(f"ratio vdrt/ort         {vdrt_ms / ort_ms:.2f}x")


if __name__ == "__main__":
    main()
