"""The PyTorch eager reference of bench/rollout_bench.py: the rollout of MODEL_CONTRACT.md with the
KV cache policy `window:N,sink:S` of vdrt's KvCache, timed chunk by chunk.

Per chunk c (frame_offset 3c): noise, the denoising steps, the cache-filling pass at t = 0, the
cache update (append, then keep the first S frames and the most recent N - S), the decoder, and
the decoded frames copied to the host, as vdrt's rollout hands them over. Attention runs through
F.scaled_dot_product_attention (flash on a GPU in bf16). The noise comes from torch's generator on
the device (vdrt draws MODEL_CONTRACT's noise on the host): the figures are times, not videos.

Returns the fields of vdrt's rollout report (docs/cli_json.md, `vdrt generate --json`) that mean
the same thing here.
"""

from __future__ import annotations

import time

import torch

from reference_rollout import DENOISING_STEPS, SHIFT, sigma


def evict(t: torch.Tensor, tokens_per_frame: int, window: int, sink: int) -> torch.Tensor:
    """[B, T, H, D] -> the first `sink` frames and the most recent `window - sink` (KvCache::evict)."""
    frames = t.shape[1] // tokens_per_frame
    if window <= 0 or frames <= window:
        return t
    head = t[:, : sink * tokens_per_frame]
    tail = t[:, (frames - (window - sink)) * tokens_per_frame :]
    return torch.cat([head, tail], dim=1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(denoiser, decoder, context: torch.Tensor, chunks: int, window: int, sink: int, decode: bool = True,
        steps=DENOISING_STEPS, shift: float = SHIFT, seed: int = 0, on_chunk=None,
        stop_at: float | None = None) -> dict:
    """`window` 0: unbounded. Modules, context and dtype as the caller placed them. No chunk starts
    after `stop_at` (time.perf_counter); the report then covers the chunks done."""
    cfg = denoiser.cfg
    device, dtype = context.device, context.dtype
    heads, head_dim, tpf = cfg.num_heads, cfg.head_dim, cfg.tokens_per_frame
    shape = (1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    gen = torch.Generator(device=device).manual_seed(seed)
    cache = [torch.zeros(1, 0, heads, head_dim, device=device, dtype=dtype) for _ in range(2 * cfg.num_layers)]
    per_chunk, peak = [], 0
    with torch.no_grad():
        for c in range(chunks):
            if stop_at is not None and time.perf_counter() >= stop_at:
                break
            sync(device)
            t0 = time.perf_counter()
            offset = torch.tensor(c * cfg.frames_per_chunk, dtype=torch.int64, device=device)
            x = torch.randn(shape, generator=gen, device=device, dtype=dtype)
            for k, t in enumerate(steps):
                flow = denoiser(x, torch.tensor([t], device=device, dtype=dtype), context, offset, *cache)[0]
                x0 = x - sigma(t, shift) * flow
                if k + 1 < len(steps):
                    s = sigma(steps[k + 1], shift)
                    x = (1 - s) * x0 + s * torch.randn(shape, generator=gen, device=device, dtype=dtype)
            presents = denoiser(x0, torch.zeros(1, device=device, dtype=dtype), context, offset, *cache)[1:]
            cache = [torch.cat([old, new], dim=1) for old, new in zip(cache, presents, strict=True)]
            peak = max(peak, sum(t.nbytes for t in cache))  # as vdrt counts it: appended, not yet evicted
            cache = [evict(t, tpf, window, sink) for t in cache]
            frames = decoder(x0).cpu() if decode else None
            sync(device)
            seconds = time.perf_counter() - t0
            entry = {"index": c, "ms": seconds * 1e3, "cache_bytes": sum(t.nbytes for t in cache),
                     "cache_frames": cache[0].shape[1] // tpf, "video_frames": frames.shape[1] if decode else 0}
            per_chunk.append(entry)
            if on_chunk:
                on_chunk(entry)
    done = len(per_chunk)
    total = sum(e["ms"] for e in per_chunk) / 1e3
    latent_frames = done * cfg.frames_per_chunk
    video_frames = sum(e["video_frames"] for e in per_chunk)
    steady = total - per_chunk[0]["ms"] / 1e3 if done else 0.0
    rate = lambda frames, seconds: frames / seconds if seconds > 0 else None  # noqa: E731
    return {
        "cache": f"window:{window},sink:{sink}" if window > 0 else "unbounded",
        "steps": list(steps), "shift": shift, "frames_per_chunk": cfg.frames_per_chunk,
        "tokens_per_frame": tpf, "num_layers": cfg.num_layers, "denoiser_calls_per_chunk": len(steps) + 1,
        "decoded": decode, "chunks_requested": chunks, "chunks_done": done, "interrupted": done < chunks,
        "latent_frames": latent_frames, "video_frames": video_frames, "total_ms": total * 1e3,
        "latent_fps": rate(latent_frames, total), "video_fps": rate(video_frames, total) if decode else None,
        "steady_latent_fps": rate(latent_frames - cfg.frames_per_chunk, steady) if done > 1 else None,
        "peak_kv_cache_bytes": peak, "chunks": per_chunk,
    }
