"""Teacher-forced flow-matching training of TinyWanDenoiser on whole sequences of chunks.

At inference (MODEL_CONTRACT.md, reference_rollout.py) chunk i is denoised in a few steps
(4 re-noising ones, or 16-32 Euler steps of the flow ODE) while attending to the KV cache, and the cache holds the keys/values of every earlier chunk's clean
x0 passed through the model at t = 0. Training reproduces exactly that in one forward over a
sequence of K chunks (the "teacher forcing" of CausVid / Self-Forcing's TF baseline):

    tokens = [clean chunk 0 .. K-1 at t = 0 ; noisy chunk 0 .. K-1 at t_0 .. t_{K-1}]
    clean chunk j attends to clean chunks <= j        (the cache-filling pass)
    noisy chunk i attends to clean chunks < i and to itself (a denoising step over the cache)

inside a chunk attention is bidirectional, as at inference. Each token carries its own
timestep (the modulation is per token instead of per call) and its chunk's absolute RoPE
frame positions, which may have gaps (a sample can skip the middle of a long clip, as a
window + sink cache or PBSA's memory does). The loss is the flow-matching MSE on the noisy
chunks: x_t = (1 - sigma) x0 + sigma eps, target v = eps - x0 (so x0 = x_t - sigma v, the
rollout's update; dx/dsigma = v, the Euler sampler's), sigma = shift * s / (1 + (shift - 1) s),
s = t / 1000, shift 5 (train.py --shift).

`sequence_forward` reuses the module's own layers; `check_matches_chunked` proves it equal to
the chunk-by-chunk forward with an explicit KV cache (the exported graph's forward).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_rollout import DENOISING_STEPS, SHIFT  # noqa: E402
from tiny_wan import TinyWanDenoiser, apply_rope  # noqa: E402


def sigma_of(t: torch.Tensor, shift: float = SHIFT) -> torch.Tensor:
    s = t / 1000.0
    return shift * s / (1.0 + (shift - 1.0) * s)


def timestep_of(sigma: float, shift: float = SHIFT) -> float:
    """The raw timestep t in [0, 1000] whose sigma_of is `sigma`."""
    return 1000.0 * (sigma / (shift - (shift - 1.0) * sigma))


def sample_timesteps(shape: tuple[int, ...], generator: torch.Generator, inference_fraction: float = 0.5,
                     inference_steps: tuple[float, ...] = DENOISING_STEPS):
    """Raw timesteps in [0, 1000] on the generator's device: a fraction from the rollout's own
    steps (the only ones it ever runs), the rest uniform."""
    dev = generator.device
    uniform = 1000.0 * torch.rand(shape, generator=generator, device=dev)
    pick_step = torch.randint(0, len(inference_steps), shape, generator=generator, device=dev)
    steps = torch.tensor(inference_steps, device=dev)[pick_step]
    pick = torch.rand(shape, generator=generator, device=dev) < inference_fraction
    return torch.where(pick, steps, uniform)


def chunk_causal_mask(chunks: int, tokens_per_chunk: int, device) -> torch.Tensor:
    """Boolean [2S, 2S] (True = may attend) over [clean chunks ; noisy chunks], S = chunks * tokens."""
    slot = torch.arange(chunks, device=device).repeat_interleave(tokens_per_chunk)
    clean_q, clean_k = slot[:, None], slot[None, :]
    clean_to_clean = clean_k <= clean_q
    noisy_to_clean = clean_k < clean_q
    noisy_to_noisy = clean_k == clean_q
    none = torch.zeros_like(clean_to_clean)
    return torch.cat(
        [torch.cat([clean_to_clean, none], 1), torch.cat([noisy_to_clean, noisy_to_noisy], 1)], 0
    )


def rope_tables(model: TinyWanDenoiser, frame_positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [B, S, 1, head_dim/2] for latent frames at positions [B, F] (tokens frame-major)."""
    hw = model.cfg.tokens_per_frame
    freqs_t = model.rope_freqs_t  # in the model's dtype, as the exported graph computes them
    angles_t = frame_positions.to(freqs_t.dtype)[..., None] * freqs_t  # [B, F, d_t/2]
    b, f = frame_positions.shape
    angles = torch.cat([angles_t[:, :, None, :].expand(b, f, hw, -1), model.rope_angles_hw.expand(b, f, hw, -1)], -1)
    angles = angles.reshape(b, f * hw, 1, -1)
    return angles.cos(), angles.sin()


def _embed_frames(model: TinyWanDenoiser, latents: torch.Tensor) -> torch.Tensor:
    """[B, F, C, H, W] -> tokens [B, F * tokens_per_frame, dim] (the patch embedding is per frame)."""
    x = model.patch_embedding(latents.permute(0, 2, 1, 3, 4))
    return x.flatten(2).transpose(1, 2)


def _block_forward(block, x, e0, context, cos, sin, mask):
    """DiTBlock.forward with per-token modulation e0 [B, S, 6, dim] and a self-attention mask."""
    shift_sa, scale_sa, gate_sa, shift_ffn, scale_ffn, gate_ffn = (block.modulation[:, None] + e0).unbind(2)
    attn = block.self_attn
    b, s, n, d = *x.shape[:2], attn.num_heads, attn.head_dim
    h = block.norm1(x) * (1 + scale_sa) + shift_sa
    q = apply_rope(attn.norm_q(attn.q(h)).view(b, s, n, d), cos, sin)
    k = apply_rope(attn.norm_k(attn.k(h)).view(b, s, n, d), cos, sin)
    v = attn.v(h).view(b, s, n, d)
    y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
    x = x + attn.o(y.transpose(1, 2).flatten(2)) * gate_sa
    x = x + block.cross_attn(block.norm3(x), context)
    y = block.ffn(block.norm2(x) * (1 + scale_ffn) + shift_ffn)
    return x + y * gate_ffn


def sequence_forward(
    model: TinyWanDenoiser,
    clean: torch.Tensor,
    noisy: torch.Tensor,
    timesteps: torch.Tensor,
    context: torch.Tensor,
    chunk_positions: torch.Tensor,
) -> torch.Tensor:
    """Flow of every noisy chunk, each over the clean chunks before it.

    clean, noisy: [B, K * F, C, H, W] (F latent frames per chunk); timesteps: [B, K] raw t of
    each noisy chunk; context: [B, L, D_text]; chunk_positions: [B, K] frame_offset of each
    chunk (its first latent frame's absolute index). Returns flow [B, K * F, C, H, W].
    """
    cfg = model.cfg
    b, kf = clean.shape[:2]
    f = cfg.frames_per_chunk
    k = kf // f
    tpc = cfg.tokens_per_chunk
    x = torch.cat([_embed_frames(model, clean), _embed_frames(model, noisy)], 1)  # [B, 2S, dim]

    t_slots = torch.cat([torch.zeros_like(timesteps), timesteps], 1)  # [B, 2K]
    e = model.time_embedding(model.time_sinusoid(t_slots.flatten().to(model.time_freqs.dtype)).to(x.dtype))
    e0 = model.time_projection(e).unflatten(1, (6, cfg.dim)).view(b, 2 * k, 6, cfg.dim)
    e0 = e0.repeat_interleave(tpc, 1)  # [B, 2S, 6, dim]
    context = model.text_embedding(context)

    frame_positions = (chunk_positions[..., None] + torch.arange(f, device=clean.device)).flatten(1)  # [B, K*F]
    cos, sin = rope_tables(model, frame_positions)
    cos, sin = torch.cat([cos, cos], 1), torch.cat([sin, sin], 1)
    mask = chunk_causal_mask(k, tpc, clean.device)

    for block in model.blocks:
        x = _block_forward(block, x, e0, context, cos, sin, mask)

    x_noisy = x[:, k * tpc :]
    e_noisy = e.view(b, 2 * k, cfg.dim)[:, k:].repeat_interleave(tpc, 1)  # [B, S, dim]
    head = model.head
    shift, scale = (head.modulation[:, None] + e_noisy[:, :, None, :]).unbind(2)
    out = head.head(head.norm(x_noisy) * (1 + scale) + shift)  # [B, S, patch * C]
    flow = model.unpatchify(out.reshape(b * k, tpc, -1))  # [B*K, F, C, H, W]
    return flow.reshape(b, kf, *flow.shape[2:])


def draw_training_noise(
    latents: torch.Tensor,
    frames_per_chunk: int,
    generator: torch.Generator,
    history_noise: float = 0.0,
    inference_steps: tuple[float, ...] = DENOISING_STEPS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(t [B, K], eps, clean history) for latents [B, K*F, C, H, W], drawn from `generator`.

    The generator lives on the latents' device (drawing on the CPU would cost a GPU run more
    than the model does). history_noise > 0 corrupts the clean history with sigma ~
    U(0, history_noise) per chunk (still labelled t = 0), so the model learns to live with its
    own imperfect x0 in the cache.
    """
    b, kf = latents.shape[:2]
    k = kf // frames_per_chunk
    dev = latents.device
    t = sample_timesteps((b, k), generator, inference_steps=inference_steps)
    eps = torch.randn(latents.shape, generator=generator, device=dev)
    clean = latents
    if history_noise > 0:
        h_sigma = history_noise * torch.rand((b, k), generator=generator, device=dev)
        h_sigma = h_sigma.repeat_interleave(frames_per_chunk, 1)[..., None, None, None]
        clean = (1 - h_sigma) * latents + h_sigma * torch.randn(latents.shape, generator=generator, device=dev)
    return t, eps, clean


def flow_matching_loss_given_noise(
    model: TinyWanDenoiser,
    latents: torch.Tensor,
    clean: torch.Tensor,
    eps: torch.Tensor,
    t: torch.Tensor,
    context: torch.Tensor,
    chunk_positions: torch.Tensor,
    shift: float = SHIFT,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss with its randomness given: free of generators, so torch.compile takes it whole.
    weight (broadcast to the latents): a weighted mean of the squared error instead."""
    sigma = sigma_of(t, shift).repeat_interleave(model.cfg.frames_per_chunk, 1)[..., None, None, None]
    noisy = (1 - sigma) * latents + sigma * eps
    flow = sequence_forward(model, clean, noisy, t, context, chunk_positions)
    if weight is None:
        return F.mse_loss(flow.float(), (eps - latents).float())
    w = weight.float().expand_as(flow)
    return (w * (flow.float() - (eps - latents).float()).square()).sum() / w.sum()


def flow_matching_loss(
    model: TinyWanDenoiser,
    latents: torch.Tensor,
    context: torch.Tensor,
    chunk_positions: torch.Tensor,
    generator: torch.Generator,
    history_noise: float = 0.0,
    inference_steps: tuple[float, ...] = DENOISING_STEPS,
) -> torch.Tensor:
    """MSE between the predicted and true flow on every chunk of latents [B, K*F, C, H, W]
    (draw_training_noise, then flow_matching_loss_given_noise)."""
    t, eps, clean = draw_training_noise(latents, model.cfg.frames_per_chunk, generator, history_noise,
                                        inference_steps)
    return flow_matching_loss_given_noise(model, latents, clean, eps, t, context, chunk_positions)


@torch.no_grad()
def check_matches_chunked(model: TinyWanDenoiser, seed: int = 0, positions=(0, 7, 8, 9)) -> float:
    """Max |sequence_forward - chunk-by-chunk forward with the KV cache| on random inputs.

    The chunked side is the exported forward: each noisy chunk at its t over the cache, then
    the clean chunk at t = 0 appends its present K/V. Positions with a gap test the RoPE.
    """
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    p = next(model.parameters())
    dev, dtype = p.device, p.dtype
    k = len(positions)
    shape = (1, k * cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    clean, noisy = (torch.randn(shape, generator=g).to(dev, dtype) for _ in range(2))
    t = (1000.0 * torch.rand(1, k, generator=g)).to(dev, dtype)
    context = torch.randn(1, cfg.text_len, cfg.text_dim, generator=g).to(dev, dtype)
    pos = torch.tensor([positions], device=dev)
    seq = sequence_forward(model, clean, noisy, t, context, pos)

    cache = model.empty_cache(device=dev, dtype=dtype)
    worst = 0.0
    f = cfg.frames_per_chunk
    for i in range(k):
        sl = slice(i * f, (i + 1) * f)
        offset = torch.tensor(positions[i], device=dev)
        flow = model(noisy[:, sl], t[:, i], context, offset, *cache)[0]
        worst = max(worst, (flow - seq[:, sl]).abs().max().item())
        presents = model(clean[:, sl], torch.zeros(1, device=dev, dtype=dtype), context, offset, *cache)[1:]
        cache = [torch.cat([c, p], 1) for c, p in zip(cache, presents, strict=True)]
    return worst
