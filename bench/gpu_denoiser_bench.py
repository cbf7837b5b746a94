#!/usr/bin/env python3
"""One Wan2.1-1.3B-width denoiser call on a GPU: PyTorch eager (fp32, bf16 autocast)
against vdrt (Vulkan fp32 / fp16, OpenCL fp32) in one run on the same machine.

The model is models/tiny_wan.py's causal Wan DiT at the real width (dim 1536, 12 heads
of 128, FFN 8960, text 4096 x 512 tokens, latents 16x60x104 = 1560 tokens per frame, a
chunk of 3 frames) with N layers and random weights, exported with the TorchScript
exporter (opset 17) here, never committed. vdrt times it with bench/time_denoiser
(random inputs of the same shapes, the KV cache of `--past-frames` frames).

    python3 bench/gpu_denoiser_bench.py --layers 30 --past-frames 6 \
        --time-denoiser build/bench/time_denoiser --work /tmp/wan --json out.json \
        --configs vulkan:fp32,vulkan:fp16,opencl:fp32

Needs torch (CUDA), onnx; the vdrt side needs the devices named in --configs.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from tiny_wan import TinyWanConfig, TinyWanDenoiser, denoiser_input_names, denoiser_output_names  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_stats as pipeline_log  # noqa: E402


def wan_config(layers):
    return TinyWanConfig(latent_height=60, latent_width=104, dim=1536, num_heads=12, num_layers=layers,
                         ffn_dim=8960, text_dim=4096, text_len=512, freq_dim=256)


def make_args(cfg, past, device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width, generator=g)
    args = [x, torch.tensor([750.0]), torch.randn(1, cfg.text_len, cfg.text_dim, generator=g),
            torch.tensor(past // cfg.tokens_per_frame, dtype=torch.int64)]
    for _ in range(cfg.num_layers):
        args += [0.5 * torch.randn(1, past, cfg.num_heads, cfg.head_dim, generator=g) for _ in range(2)]
    return [a.to(device) for a in args]


def time_torch(model, args, runs, autocast):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ms = []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        for i in range(runs + 2):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(*args)
            torch.cuda.synchronize()
            if i >= 2:
                ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return ms[len(ms) // 2]


def export(model, cfg, past, path):
    args = tuple(make_args(cfg, past, "cpu"))
    names = denoiser_input_names(cfg)
    with torch.no_grad():
        torch.onnx.export(model, args, path, dynamo=False, opset_version=17, input_names=names,
                          output_names=denoiser_output_names(cfg),
                          dynamic_axes={n: {1: "past_len"} for n in names[4:]})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--past-frames", type=int, default=6)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--time-denoiser", default="build/bench/time_denoiser")
    ap.add_argument("--configs", default="vulkan:fp32,vulkan:fp16",
                    help="vdrt device:precision pairs to time, comma separated")
    ap.add_argument("--work", default="/tmp/vdrt_wan")
    ap.add_argument("--json", default="")
    ap.add_argument("--skip-torch", action="store_true")
    a = ap.parse_args()

    cfg = wan_config(a.layers)
    past = a.past_frames * cfg.tokens_per_frame
    result = {"layers": a.layers, "past_frames": a.past_frames, "tokens_per_chunk": cfg.tokens_per_chunk, "past": past}
    model = TinyWanDenoiser(cfg).float().eval()
    if not a.skip_torch and torch.cuda.is_available():
        gpu = model.to("cuda")
        args = make_args(cfg, past, "cuda")
        result["torch_gpu"] = torch.cuda.get_device_name()
        result["torch_fp32_ms"] = time_torch(gpu, args, a.runs, False)
        result["torch_bf16_autocast_ms"] = time_torch(gpu, args, a.runs, True)
        print(f"torch eager fp32 {result['torch_fp32_ms']:.2f} ms, bf16 autocast {result['torch_bf16_autocast_ms']:.2f} ms",
              flush=True)
        model = gpu.to("cpu")
        del gpu, args
        torch.cuda.empty_cache()
    os.makedirs(a.work, exist_ok=True)
    path = os.path.join(a.work, f"wan_width_{a.layers}l.onnx")
    t0 = time.perf_counter()
    export(model, cfg, past, path)
    result["export_s"] = time.perf_counter() - t0
    print(f"exported {path} in {result['export_s']:.1f} s", flush=True)
    del model
    for config in a.configs.split(","):
        device, prec = config.split(":")
        key = f"vdrt_{device}_{prec}"
        cmd = [a.time_denoiser, path, "--device", device, "--precision", prec, "--past", str(past),
               "--frame-offset", str(a.past_frames), "--runs", str(a.runs)]
        # time_denoiser turns VDRT_VULKAN_PIPELINE_STATS on: the statistics go into the JSON, not the log.
        p = subprocess.run(cmd, capture_output=True, text=True)
        pipelines: dict = {}
        for l in p.stderr.splitlines():
            pipeline_log.read_line(l, pipelines)
        if p.returncode != 0:
            print(p.stdout, p.stderr, flush=True)
            result[f"{key}_error"] = (p.stderr or p.stdout)[-2000:]
            continue
        line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
        r = json.loads(line)
        if pipelines:
            r["pipelines"] = pipelines
        result[key] = r
        print(f"vdrt {device} {prec}: {r['median_ms']:.2f} ms ({r['placement']}, copies {r['host_uploads']}+{r['cross_copies']})",
              flush=True)
    pipeline_log.print_hot([r.get("pipelines") for r in result.values() if isinstance(r, dict)])
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
