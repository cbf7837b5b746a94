"""The latent autoencoder of the trained tiny model: 4x temporal, 8x spatial, 16 channels.

Latent frame j holds video frames 4j .. 4j+3 and nothing else, so the encoder is causal and a
chunk of 3 latent frames decodes into exactly its 12 frames, independently of other chunks:
what MODEL_CONTRACT.md's decoder does (called once per chunk, F' = 4F). Wan's VAE instead
encodes frame 0 alone and then groups of 4 (1 + 4k frames) with causal convolutions carrying
state across chunks, which the contract does not support yet.

Each latent frame is a 2-D image problem: the encoder stacks a group's 4 RGB frames as 12
channels and downsamples 64x64 -> 8x8 with strided convolutions; the decoder upsamples 8x8 ->
64x64 (nearest + conv) and writes 12 channels that are the group's 4 frames. The decoder is
what vdrt runs (decoder.onnx: latents [1, 3, 16, 8, 8] -> frames [1, 12, 3, 64, 64] in
[-1, 1]); it uses only Conv, GroupNorm, SiLU, Resize (nearest), Reshape, Transpose and Tanh.

Latents are standardised per channel (mean and std measured after training, kept as buffers
in both halves), so the denoiser sees roughly N(0, 1) latents, as Wan's do after its
latents_mean / latents_std.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

LATENT_CHANNELS = 16
TEMPORAL = 4
SPATIAL = 8


@dataclass(frozen=True)
class AutoencoderConfig:
    encoder_channels: tuple[int, ...] = (32, 48, 64, 96)
    decoder_channels: tuple[int, ...] = (96, 64, 48, 32)
    groups: int = 8


def _norm(c: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, c, eps=1e-6)


class ResBlock(nn.Module):
    def __init__(self, c: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(
            _norm(c, groups), nn.SiLU(), nn.Conv2d(c, c, 3, padding=1), _norm(c, groups), nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
        )

    def forward(self, x):
        return x + self.body(x)


class FrameGroupEncoder(nn.Module):
    """frames [B, 4F, 3, 64, 64] in [-1, 1] -> standardised latents [B, F, 16, 8, 8]."""

    def __init__(self, cfg: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        c0, c1, c2, c3 = cfg.encoder_channels
        g = cfg.groups
        self.net = nn.Sequential(
            nn.Conv2d(3 * TEMPORAL, c0, 3, padding=1), nn.SiLU(),
            nn.Conv2d(c0, c1, 3, stride=2, padding=1), _norm(c1, g), nn.SiLU(),  # 32x32
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), _norm(c2, g), nn.SiLU(),  # 16x16
            nn.Conv2d(c2, c3, 3, stride=2, padding=1),  # 8x8
            ResBlock(c3, g), _norm(c3, g), nn.SiLU(),
            nn.Conv2d(c3, LATENT_CHANNELS, 1),
        )
        self.register_buffer("latent_mean", torch.zeros(LATENT_CHANNELS, 1, 1))
        self.register_buffer("latent_std", torch.ones(LATENT_CHANNELS, 1, 1))

    def raw(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        groups = frames.reshape(b * (t // TEMPORAL), TEMPORAL * 3, *frames.shape[-2:])
        z = self.net(groups)
        return z.reshape(b, t // TEMPORAL, *z.shape[1:])

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return (self.raw(frames) - self.latent_mean) / self.latent_std


class FrameGroupDecoder(nn.Module):
    """standardised latents [B, F, 16, 8, 8] -> frames [B, 4F, 3, 64, 64] in [-1, 1]."""

    def __init__(self, cfg: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        c0, c1, c2, c3 = cfg.decoder_channels
        g = cfg.groups

        def up(cin, cout):
            conv = nn.Conv2d(cin, cout, 3, padding=1)
            return [nn.Upsample(scale_factor=2, mode="nearest"), conv, _norm(cout, g), nn.SiLU()]

        self.net = nn.Sequential(
            nn.Conv2d(LATENT_CHANNELS, c0, 3, padding=1),
            ResBlock(c0, g),
            *up(c0, c1),  # 16x16
            *up(c1, c2),  # 32x32
            *up(c2, c3),  # 64x64
            nn.Conv2d(c3, 3 * TEMPORAL, 3, padding=1),
        )
        self.register_buffer("latent_mean", torch.zeros(LATENT_CHANNELS, 1, 1))
        self.register_buffer("latent_std", torch.ones(LATENT_CHANNELS, 1, 1))

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        b, f = latents.shape[:2]
        x = latents.reshape(b * f, *latents.shape[2:]) * self.latent_std + self.latent_mean
        y = torch.tanh(self.net(x))  # [B*F, 4*3, 64, 64]
        return y.reshape(b, f * TEMPORAL, 3, *y.shape[-2:])


class Autoencoder(nn.Module):
    def __init__(self, cfg: AutoencoderConfig = AutoencoderConfig()):
        super().__init__()
        self.cfg = cfg
        self.encoder = FrameGroupEncoder(cfg)
        self.decoder = FrameGroupDecoder(cfg)

    @torch.no_grad()
    def set_latent_statistics(self, raw_latents: torch.Tensor) -> None:
        """Standardise with the per-channel mean/std of raw latents [..., 16, 8, 8]."""
        z = raw_latents.float().movedim(-3, 0).reshape(LATENT_CHANNELS, -1)
        mean, std = z.mean(1).view(-1, 1, 1), z.std(1).clamp(min=1e-4).view(-1, 1, 1)
        for half in (self.encoder, self.decoder):
            half.latent_mean.copy_(mean)
            half.latent_std.copy_(std)


@torch.no_grad()
def encode_for_training(encoder: FrameGroupEncoder, frames: torch.Tensor) -> torch.Tensor:
    """Standardised latents as the DiT trains on them: in bf16 autocast on CUDA (as the
    autoencoder trained), in float32 elsewhere."""
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=frames.is_cuda):
        return encoder(frames)


def reconstruction_loss(decoded: torch.Tensor, frames: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """L1 + MSE: L1 keeps edges and textures sharper than MSE alone. weight [..., H, W] (per pixel,
    broadcast over the colour channels): a weighted mean instead."""
    if weight is None:
        return F.l1_loss(decoded, frames) + F.mse_loss(decoded, frames)
    d = decoded - frames
    w = weight.unsqueeze(-3).expand_as(d)
    return (w * (d.abs() + d * d)).sum() / w.sum()
