"""How long bench/rollout_bench.py will take on the H200, before it starts: a cost model of one
denoiser call fitted to rollouts measured there (bench/rollout_bench.py --chunks 8, 30 layers,
2026-11-30, a build of commit 466c325 plus the working tree of that hour).

One call of a Wan2.1-1.3B-width layer over a chunk of 4680 query tokens costs
`a + b * kv_tokens` ms, kv_tokens = the cached tokens it attends to + the chunk's own
(chunks 2 and 8 of the rollouts: 9360 and 32760 kv tokens):

  PyTorch eager bf16:  73.6 and 108.4 ms a call (30 layers)  -> a = 1.99, b = 4.96e-5
  vdrt Vulkan fp16:    331 and 850 ms a call                  -> a = 4.1,  b = 7.4e-4
  vdrt + FP8 (fp8_w8a8): the same within 2% in that build     -> no extra term
  sparse layers: assumed to cost what dense attention costs per key they visit (fitted before
      their GPU kernels existed; RESULTS.md has the measured ones).

Fixed costs: PyTorch's first chunk +1.1 s (CUDA and cuBLAS start-up); vdrt's first chunk on a
fresh machine +30 s (the driver compiles every shader once; 2.2 s when its cache is warm);
loading 6.0 s for 30 layers, 13.1 s with FP8 (quantisation on the host); building the PyTorch
modules 12-15 s; the export (a fresh machine) 90 s. Other widths scale `a` with
dim^2 x query tokens and `b` with dim x query tokens. These plan the H200's minutes; they are
not results.
"""

from __future__ import annotations

WAN_DIM, WAN_TOKENS = 1536, 4680
TORCH_A, TORCH_B = 1.99, 4.96e-5
VDRT_A, VDRT_B = 4.1, 7.4e-4
FP8_A = 0.0
TORCH_FIRST_CHUNK_S = 1.1
VDRT_COLD_START_S = 30.0
LOAD_S_PER_LAYER = 6.0 / 30
FP8_QUANTIZE_S_PER_LAYER = (13.1 - 6.0) / 30
TORCH_BUILD_S_PER_LAYER = 15.0 / 30
EXPORT_S_PER_LAYER = 90.0 / 30

# What a sparse configuration attends to, as a fraction of what it could.
PBSA_WINDOW, PBSA_TOP = 6, 0.25
PBSA_MEMORY_TOKENS = 4096
HSA_FRAMES, HSA_BLOCK_KEEP = 4, 0.75
LIGHTFORCING_KEEP = 0.15


def kept_kv_tokens(method: str, cached_frames: int, chunk_tokens: int, tokens_per_frame: int) -> float:
    """Keys one sparse (or dense) attention call visits with `cached_frames` in its cache."""
    cached = cached_frames * tokens_per_frame
    if method == "dense":
        return cached + chunk_tokens
    if cached_frames == 0:
        return chunk_tokens  # chunk 0: nothing cached, dense
    if method == "pbsa":
        window = min(cached_frames, PBSA_WINDOW) * tokens_per_frame
        memory = min(PBSA_MEMORY_TOKENS, max(0, cached - window))
        return chunk_tokens + PBSA_TOP * window + memory
    if method == "hsa":
        return chunk_tokens + tokens_per_frame * (1 + HSA_BLOCK_KEEP * min(HSA_FRAMES, cached_frames - 1))
    if method == "lightforcing":
        return LIGHTFORCING_KEEP * (cached + chunk_tokens)
    raise ValueError(method)


def cached_frames_before(chunk: int, frames_per_chunk: int, window: int) -> int:
    """Frames a window:N cache holds when chunk `chunk` (0-based) starts; window 0 = unbounded."""
    seen = chunk * frames_per_chunk
    return min(seen, window) if window > 0 else seen


def estimate(runner: str, method: str, fp8: bool, cfg, chunks: int, window: int, calls_per_chunk: int = 5,
             cold: bool = False) -> float:
    """Seconds of a whole rollout on the H200, loading included; `cold`: vdrt's first run on a fresh machine."""
    query = cfg.tokens_per_chunk
    wide = cfg.dim / WAN_DIM
    scale_a = wide * wide * query / WAN_TOKENS
    scale_b = wide * query / WAN_TOKENS
    a, b = (TORCH_A, TORCH_B) if runner == "torch" else (VDRT_A + (FP8_A if fp8 else 0.0), VDRT_B)
    a, b = a * scale_a, b * scale_b
    ms = 0.0
    for c in range(chunks):
        frames = cached_frames_before(c, cfg.frames_per_chunk, window)
        keys = kept_kv_tokens(method, frames, query, cfg.tokens_per_frame)
        ms += calls_per_chunk * cfg.num_layers * (a + b * keys)
    if runner == "torch":
        fixed = TORCH_FIRST_CHUNK_S + cfg.num_layers * TORCH_BUILD_S_PER_LAYER * scale_a
    else:
        fixed = (VDRT_COLD_START_S if cold else 0.0) + cfg.num_layers * scale_a * (
            LOAD_S_PER_LAYER + (FP8_QUANTIZE_S_PER_LAYER if fp8 else 0.0))
    return ms / 1e3 + fixed


def export_seconds(cfg) -> float:
    wide = cfg.dim / WAN_DIM
    return cfg.num_layers * EXPORT_S_PER_LAYER * wide * wide
