#!/usr/bin/env python3
"""torch.matmul TFLOP/s at the Wan-1.3B layer shapes, for the same-run comparison with
bench/bench_gpu_gemm (bench/RESULTS.md). fp32 with TF32 off, bf16 and fp16.

    python3 bench/torch_gemm_reference.py 4680x1536x1536 4680x1536x8960 4680x8960x1536
"""
import sys

import torch


def time_ms(fn, runs=50):
    for _ in range(5):
        fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(runs):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / runs


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    shapes = sys.argv[1:] or ["4680x1536x1536", "4680x1536x8960", "4680x8960x1536"]
    for s in shapes:
        m, k, n = (int(x) for x in s.split("x"))
        for dtype in (torch.float32, torch.bfloat16, torch.float16):
            a = torch.randn(m, k, device="cuda", dtype=dtype)
            b = torch.randn(k, n, device="cuda", dtype=dtype)
            ms = time_ms(lambda: a @ b)
            print(f"torch.matmul {s:>16} {str(dtype).split('.')[-1]:>8} {ms:8.3f} ms {2 * m * k * n / ms / 1e9:8.1f} TFLOP/s")


if __name__ == "__main__":
    main()
