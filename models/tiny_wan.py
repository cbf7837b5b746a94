"""Tiny test models for vdrt: a causal Wan2.1-style DiT denoiser and a conv video decoder.

TinyWanDenoiser follows Wan2.1's WanModel as adapted by Self-Forcing's CausalWanModel
(block structure, adaLN modulation, q/k RMSNorm, 3-D RoPE, text and time embeddings,
unpatchify), at toy sizes, with the KV cache made explicit as graph inputs/outputs the
way /work/shared/MODEL_CONTRACT.md wants it:

    (noisy_latents, timestep, context, frame_offset, past_key.0, past_value.0, ...)
        -> (flow, present_key.0, present_value.0, ...)

Attention of chunk frames is over [past keys ; this chunk's keys], unmasked (Self-Forcing
attends bidirectionally inside a chunk and to every cached frame).

TinyVideoDecoder is a stand-in for the Wan VAE decoder: Conv3d + GroupNorm + SiLU with
nearest / trilinear upsampling (x4 in time, x8 in space) and a tanh at the end.

The code is written the way Wan writes it (RMSNorm spelled out, attention through
F.scaled_dot_product_attention, reshapes from x.shape), so that the exporters produce the
node patterns they produce for the real model.

Both modules are deterministic functions of their config's seed. Parameters are drawn in
float32; the constant tables (RoPE and time-embedding frequencies) are built in float64 so
that `.double()` gives an exact float64 twin for the reference rollout and `.float()` the
model that is exported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TinyWanConfig:
    latent_channels: int = 16
    latent_height: int = 8
    latent_width: int = 8
    frames_per_chunk: int = 3
    patch_size: tuple[int, int, int] = (1, 2, 2)
    dim: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ffn_dim: int = 128
    text_dim: int = 32
    text_len: int = 8
    freq_dim: int = 32
    eps: float = 1e-6
    rope_theta: float = 10000.0
    seed: int = 0

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (frames, rows, cols) of one chunk after patch embedding."""
        pt, ph, pw = self.patch_size
        return (self.frames_per_chunk // pt, self.latent_height // ph, self.latent_width // pw)

    @property
    def tokens_per_frame(self) -> int:
        _, h, w = self.grid
        return h * w

    @property
    def tokens_per_chunk(self) -> int:
        f, h, w = self.grid
        return f * h * w

    @property
    def rope_dims(self) -> tuple[int, int, int]:
        """Head-dim split into (t, h, w) RoPE parts, as in Wan: d - 4*(d//6), 2*(d//6), 2*(d//6)."""
        d = self.head_dim
        return (d - 4 * (d // 6), 2 * (d // 6), 2 * (d // 6))


@dataclass(frozen=True)
class TinyDecoderConfig:
    latent_channels: int = 16
    channels: tuple[int, ...] = (32, 32, 16, 8)
    groups: int = 4
    temporal_upsample: int = 4
    spatial_upsample: int = 8
    seed: int = 1


# ---------------------------------------------------------------------------------------------
# Denoiser building blocks


def rope_inv_freq(dim: int, theta: float) -> torch.Tensor:
    """Wan's rope_params frequencies: theta^(-2i/dim), i < dim/2, in float64."""
    return 1.0 / torch.pow(theta, torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates adjacent pairs (x[2i], x[2i+1]) of the head dim by the angles behind cos/sin.

    x: [B, S, N, D]; cos, sin: [S, 1, D/2]. Equivalent to Wan's complex
    view_as_complex(x.reshape(..., D/2, 2)) * polar(1, angle), in real arithmetic.
    """
    b, s, n, d = x.shape
    pairs = x.reshape(b, s, n, d // 2, 2)
    x_re, x_im = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([x_re * cos - x_im * sin, x_re * sin + x_im * cos], dim=-1)
    return rotated.reshape(b, s, n, d)


class RMSNorm(nn.Module):
    """WanRMSNorm: over the last (full model) dim, with a weight."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Unmasked softmax(q k^T / sqrt(D)) v. q: [B, S, N, D]; k, v: [B, S_kv, N, D] -> [B, S, N, D]."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


class SelfAttention(nn.Module):
    """CausalWanSelfAttention with the KV cache as explicit inputs/outputs."""

    def __init__(self, cfg: TinyWanConfig):
        super().__init__()
        self.num_heads, self.head_dim = cfg.num_heads, cfg.head_dim
        self.q = nn.Linear(cfg.dim, cfg.dim)
        self.k = nn.Linear(cfg.dim, cfg.dim)
        self.v = nn.Linear(cfg.dim, cfg.dim)
        self.o = nn.Linear(cfg.dim, cfg.dim)
        self.norm_q = RMSNorm(cfg.dim, cfg.eps)
        self.norm_k = RMSNorm(cfg.dim, cfg.eps)

    def forward(self, x, cos, sin, past_key, past_value):
        b, s, n, d = *x.shape[:2], self.num_heads, self.head_dim
        q = apply_rope(self.norm_q(self.q(x)).view(b, s, n, d), cos, sin)
        k = apply_rope(self.norm_k(self.k(x)).view(b, s, n, d), cos, sin)
        v = self.v(x).view(b, s, n, d)
        keys = torch.cat([past_key, k], dim=1)
        values = torch.cat([past_value, v], dim=1)
        out = attention(q, keys, values)
        return self.o(out.flatten(2)), k, v


class CrossAttention(nn.Module):
    """WanT2VCrossAttention: queries from the video tokens, keys/values from the text."""

    def __init__(self, cfg: TinyWanConfig):
        super().__init__()
        self.num_heads, self.head_dim = cfg.num_heads, cfg.head_dim
        self.q = nn.Linear(cfg.dim, cfg.dim)
        self.k = nn.Linear(cfg.dim, cfg.dim)
        self.v = nn.Linear(cfg.dim, cfg.dim)
        self.o = nn.Linear(cfg.dim, cfg.dim)
        self.norm_q = RMSNorm(cfg.dim, cfg.eps)
        self.norm_k = RMSNorm(cfg.dim, cfg.eps)

    def forward(self, x, context):
        b, n, d = x.shape[0], self.num_heads, self.head_dim
        q = self.norm_q(self.q(x)).view(b, -1, n, d)
        k = self.norm_k(self.k(context)).view(b, -1, n, d)
        v = self.v(context).view(b, -1, n, d)
        out = attention(q, k, v)
        return self.o(out.flatten(2))


class DiTBlock(nn.Module):
    """WanAttentionBlock (t2v, cross_attn_norm=True)."""

    def __init__(self, cfg: TinyWanConfig):
        super().__init__()
        dim = cfg.dim
        self.norm1 = nn.LayerNorm(dim, cfg.eps, elementwise_affine=False)
        self.self_attn = SelfAttention(cfg)
        self.norm3 = nn.LayerNorm(dim, cfg.eps, elementwise_affine=True)
        self.cross_attn = CrossAttention(cfg)
        self.norm2 = nn.LayerNorm(dim, cfg.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(dim, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def forward(self, x, e0, context, cos, sin, past_key, past_value):
        shift_sa, scale_sa, gate_sa, shift_ffn, scale_ffn, gate_ffn = (self.modulation + e0).chunk(6, dim=1)
        y, key, value = self.self_attn(self.norm1(x) * (1 + scale_sa) + shift_sa, cos, sin, past_key, past_value)
        x = x + y * gate_sa
        x = x + self.cross_attn(self.norm3(x), context)
        y = self.ffn(self.norm2(x) * (1 + scale_ffn) + shift_ffn)
        x = x + y * gate_ffn
        return x, key, value


class Head(nn.Module):
    """Wan's output head: LayerNorm, 2-vector modulation from the time embedding, Linear."""

    def __init__(self, cfg: TinyWanConfig):
        super().__init__()
        out_dim = math.prod(cfg.patch_size) * cfg.latent_channels
        self.norm = nn.LayerNorm(cfg.dim, cfg.eps, elementwise_affine=False)
        self.head = nn.Linear(cfg.dim, out_dim)
        self.modulation = nn.Parameter(torch.randn(1, 2, cfg.dim) / cfg.dim**0.5)

    def forward(self, x, e):
        shift, scale = (self.modulation + e.unsqueeze(1)).chunk(2, dim=1)
        return self.head(self.norm(x) * (1 + scale) + shift)


class TinyWanDenoiser(nn.Module):
    def __init__(self, cfg: TinyWanConfig = TinyWanConfig()):
        super().__init__()
        self.cfg = cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self._build_layers(cfg)
            self._init_weights()
        self._build_tables(cfg)

    def _build_layers(self, cfg: TinyWanConfig):
        dim = cfg.dim

        self.patch_embedding = nn.Conv3d(cfg.latent_channels, dim, cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(
            nn.Linear(cfg.text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim)
        )
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.num_layers))
        self.head = Head(cfg)

    def _build_tables(self, cfg: TinyWanConfig):
        """Constant tables, in float64 (see the module docstring)."""
        half = cfg.freq_dim // 2
        self.register_buffer("time_freqs", torch.pow(10000.0, -torch.arange(half, dtype=torch.float64) / half))
        d_t, d_h, d_w = cfg.rope_dims
        _, h, w = cfg.grid
        self.register_buffer("rope_freqs_t", rope_inv_freq(d_t, cfg.rope_theta))
        angles_h = torch.outer(torch.arange(h, dtype=torch.float64), rope_inv_freq(d_h, cfg.rope_theta))
        angles_w = torch.outer(torch.arange(w, dtype=torch.float64), rope_inv_freq(d_w, cfg.rope_theta))
        angles_hw = torch.cat([angles_h[:, None, :].expand(h, w, -1), angles_w[None, :, :].expand(h, w, -1)], dim=-1)
        self.register_buffer("rope_angles_hw", angles_hw.reshape(h * w, -1))  # [tokens_per_frame, (d_h+d_w)/2]

    def _init_weights(self):
        """Variance-preserving normal init (std 1/sqrt(fan_in)); biases and norm weights jittered.

        Unlike Wan, nothing is zero-initialised (the head in particular), so every output is
        a non-trivial function of every input.
        """
        for name, p in self.named_parameters():
            if name.endswith("modulation"):
                continue  # keeps Wan's randn(1, k, dim) / sqrt(dim)
            if p.dim() >= 2:
                nn.init.normal_(p, std=1.0 / math.sqrt(p[0].numel()))
            elif ".norm" in name and name.endswith(".weight"):
                nn.init.normal_(p, mean=1.0, std=0.1)
            else:
                nn.init.normal_(p, std=0.1)
        with torch.no_grad():  # keep the adaLN shift/scale/gate values moderate
            self.time_projection[1].weight.mul_(0.5)

    def time_sinusoid(self, timestep: torch.Tensor) -> torch.Tensor:
        """Wan's sinusoidal_embedding_1d: [cos(t * f), sin(t * f)], f = 10000^(-i/half)."""
        angles = timestep[:, None] * self.time_freqs[None, :]
        return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)

    def rope_cos_sin(self, frame_offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin [S, 1, head_dim/2] of the chunk's tokens, frame positions frame_offset + f."""
        f, _, _ = self.cfg.grid
        hw = self.cfg.tokens_per_frame
        positions = (frame_offset + torch.arange(f, device=frame_offset.device)).to(self.rope_freqs_t.dtype)
        angles_t = positions[:, None] * self.rope_freqs_t[None, :]
        angles = torch.cat(
            [angles_t[:, None, :].expand(f, hw, -1), self.rope_angles_hw[None, :, :].expand(f, hw, -1)], dim=-1
        )
        angles = angles.reshape(f * hw, 1, -1)
        return torch.cos(angles), torch.sin(angles)

    def empty_cache(self, batch: int = 1, device=None, dtype=None) -> list[torch.Tensor]:
        """The past of a first chunk: (past_key.0, past_value.0, ...) with no frames, [B, 0, N, D]."""
        cfg = self.cfg
        return [torch.zeros(batch, 0, cfg.num_heads, cfg.head_dim, device=device, dtype=dtype)
                for _ in range(2 * cfg.num_layers)]

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, S, pt*ph*pw*C] -> [B, F, C, H, W] (Wan's einsum 'fhwpqrc->cfphqwr', frames first)."""
        cfg = self.cfg
        f, h, w = cfg.grid
        pt, ph, pw = cfg.patch_size
        c = cfg.latent_channels
        x = x.reshape(x.shape[0], f, h, w, pt, ph, pw, c)
        x = x.permute(0, 1, 4, 7, 2, 5, 3, 6)  # b f pt c h ph w pw
        return x.reshape(x.shape[0], f * pt, c, h * ph, w * pw)

    def forward(self, noisy_latents, timestep, context, frame_offset, *past):
        """past = (past_key.0, past_value.0, past_key.1, ...), each [B, T, N, D].

        Returns (flow, present_key.0, present_value.0, present_key.1, ...).
        """
        cfg = self.cfg
        x = self.patch_embedding(noisy_latents.permute(0, 2, 1, 3, 4))  # [B, dim, F, h, w]
        x = x.flatten(2).transpose(1, 2)  # [B, S, dim]

        e = self.time_embedding(self.time_sinusoid(timestep))  # [B, dim]
        e0 = self.time_projection(e).unflatten(1, (6, cfg.dim))  # [B, 6, dim]
        context = self.text_embedding(context)
        cos, sin = self.rope_cos_sin(frame_offset)

        presents = []
        for i, block in enumerate(self.blocks):
            x, key, value = block(x, e0, context, cos, sin, past[2 * i], past[2 * i + 1])
            presents += [key, value]
        flow = self.unpatchify(self.head(x, e))
        return (flow, *presents)


# ---------------------------------------------------------------------------------------------
# Decoder


class TinyVideoDecoder(nn.Module):
    """latents [B, F, 16, H, W] -> frames [B, 4F, 3, 8H, 8W] in [-1, 1].

    conv_in -> GN/SiLU/Conv -> up(2,2,2 nearest) -> Conv -> GN/SiLU -> up(2,2,2 trilinear)
    -> Conv -> GN/SiLU -> up(1,2,2 nearest) -> Conv -> GN/SiLU -> conv_out -> tanh.
    """

    def __init__(self, cfg: TinyDecoderConfig = TinyDecoderConfig()):
        super().__init__()
        self.cfg = cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self._build_layers(cfg)

    def _build_layers(self, cfg: TinyDecoderConfig):
        c0, c1, c2, c3 = cfg.channels

        def conv(cin, cout):
            return nn.Conv3d(cin, cout, kernel_size=3, padding=1)

        def norm_act(c):
            return [nn.GroupNorm(cfg.groups, c, eps=1e-6), nn.SiLU()]

        self.layers = nn.Sequential(
            conv(cfg.latent_channels, c0),
            *norm_act(c0),
            conv(c0, c1),
            nn.Upsample(scale_factor=(2, 2, 2), mode="nearest"),
            conv(c1, c1),
            *norm_act(c1),
            nn.Upsample(scale_factor=(2, 2, 2), mode="trilinear", align_corners=False),
            conv(c1, c2),
            *norm_act(c2),
            nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"),
            conv(c2, c3),
            *norm_act(c3),
            conv(c3, 3),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.normal_(m.weight, std=1.0 / math.sqrt(m.weight[0].numel()))
                nn.init.normal_(m.bias, std=0.1)
            elif isinstance(m, nn.GroupNorm):
                nn.init.normal_(m.weight, mean=1.0, std=0.1)
                nn.init.normal_(m.bias, std=0.1)

    def forward(self, latents):
        x = self.layers(latents.permute(0, 2, 1, 3, 4))  # [B, 3, 4F, 8H, 8W]
        return torch.tanh(x).permute(0, 2, 1, 3, 4)


# ---------------------------------------------------------------------------------------------
# Interface helpers shared by the export and reference scripts


def denoiser_input_names(cfg: TinyWanConfig) -> list[str]:
    names = ["noisy_latents", "timestep", "context", "frame_offset"]
    for i in range(cfg.num_layers):
        names += [f"past_key.{i}", f"past_value.{i}"]
    return names


def denoiser_output_names(cfg: TinyWanConfig) -> list[str]:
    names = ["flow"]
    for i in range(cfg.num_layers):
        names += [f"present_key.{i}", f"present_value.{i}"]
    return names


def build_denoiser(dtype: torch.dtype = torch.float32) -> TinyWanDenoiser:
    return TinyWanDenoiser(TinyWanConfig()).to(dtype).eval()


def build_decoder(dtype: torch.dtype = torch.float32) -> TinyVideoDecoder:
    return TinyVideoDecoder(TinyDecoderConfig()).to(dtype).eval()
