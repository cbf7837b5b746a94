"""The models of bench/rollout_bench.py, built and exported as a vdrt pipeline folder.

The denoiser is models/tiny_wan.py's causal Wan DiT at a given size (Wan2.1-1.3B width by
default) with seeded random weights; the decoder is a stand-in that costs next to nothing (a
1x1 convolution to 4 x 3 x 8 x 8 channels, shuffled into 4x the frames and 8x the rows and
columns, tanh): the benchmark measures the denoiser, and the stand-in only has to be the same
function in vdrt and in PyTorch. The folder (MODEL_CONTRACT.md) is generated, never committed:

    <work>/<name>/denoiser.onnx (+ one external-data file per weight above 2 GB)
                  decoder.onnx, context.pb, pipeline.toml, export.json

export.json is written last and names the sizes: a folder whose export.json matches is reused,
anything else is exported again (a fresh machine, another size).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models"))
from export_all import denoiser_metadata  # noqa: E402  (the contract's metadata, as the committed exports carry it)
from reference_rollout import DENOISING_STEPS, SHIFT  # noqa: E402
from tiny_wan import TinyWanConfig, TinyWanDenoiser, denoiser_input_names, denoiser_output_names  # noqa: E402

TEMPORAL_UPSAMPLE = 4  # Wan's VAE: 4x the frames, 8x the rows and columns
SPATIAL_UPSAMPLE = 8
DECODER_SEED = 1
CONTEXT_SEED = 7
OPSET = 17


def wan_config(layers: int = 30) -> TinyWanConfig:
    """Wan2.1-1.3B width: dim 1536, 12 heads of 128, FFN 8960, text 4096 x 512, latents 16x60x104."""
    return TinyWanConfig(latent_height=60, latent_width=104, dim=1536, num_heads=12, num_layers=layers,
                         ffn_dim=8960, text_dim=4096, text_len=512, freq_dim=256)


class StandInDecoder(nn.Module):
    """latents [B, F, C, H, W] -> frames [B, 4F, 3, 8H, 8W] in [-1, 1]: 1x1 conv, shuffle, tanh.

    Frames go to the batch axis first, so that the shuffle is a transpose of five axes after
    merging ([BF*4*3, 8, 8, H, W] -> [BF*4*3, H, 8, W, 8]): vdrt's GPU copies take at most six.
    """

    def __init__(self, latent_channels: int = 16, seed: int = DECODER_SEED):
        super().__init__()
        t, s = TEMPORAL_UPSAMPLE, SPATIAL_UPSAMPLE
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.proj = nn.Conv2d(latent_channels, t * 3 * s * s, kernel_size=1)
            nn.init.normal_(self.proj.weight, std=1.0 / math.sqrt(latent_channels))
            nn.init.normal_(self.proj.bias, std=0.1)

    def forward(self, latents):
        b, f, c, h, w = latents.shape
        t, s = TEMPORAL_UPSAMPLE, SPATIAL_UPSAMPLE
        x = self.proj(latents.reshape(b * f, c, h, w))  # [BF, t*3*s*s, H, W]
        x = x.reshape(b * f * t * 3, s, s, h, w).permute(0, 3, 1, 4, 2)  # [BF*t*3, H, s, W, s]
        return torch.tanh(x.reshape(b, f * t, 3, h * s, w * s))


def build_models(cfg: TinyWanConfig) -> tuple[TinyWanDenoiser, StandInDecoder]:
    return TinyWanDenoiser(cfg).float().eval(), StandInDecoder(cfg.latent_channels).float().eval()


def make_context(cfg: TinyWanConfig) -> np.ndarray:
    return np.random.default_rng(CONTEXT_SEED).standard_normal((1, cfg.text_len, cfg.text_dim), np.float32)


def folder_name(cfg: TinyWanConfig) -> str:
    return (f"wan_l{cfg.num_layers}_d{cfg.dim}_h{cfg.num_heads}_f{cfg.ffn_dim}_t{cfg.text_dim}x{cfg.text_len}"
            f"_{cfg.latent_height}x{cfg.latent_width}_s{cfg.seed}")


def stamp(cfg: TinyWanConfig) -> dict:
    """What export.json must say for a folder to be reused."""
    return {"config": asdict(cfg), "decoder": {"temporal": TEMPORAL_UPSAMPLE, "spatial": SPATIAL_UPSAMPLE,
                                               "seed": DECODER_SEED}, "context_seed": CONTEXT_SEED, "opset": OPSET,
            "steps": list(DENOISING_STEPS), "shift": SHIFT, "format": 2}


def cached_export(work: Path, cfg: TinyWanConfig) -> Path | None:
    folder = work / folder_name(cfg)
    try:
        done = json.loads((folder / "export.json").read_text())
    except (OSError, ValueError):
        return None
    return folder if done.get("stamp") == json.loads(json.dumps(stamp(cfg))) else None  # tuples read back as lists


def decoder_metadata() -> dict[str, str]:
    return {"vdrt.kind": "video-decoder", "vdrt.temporal_upsample": str(TEMPORAL_UPSAMPLE),
            "vdrt.spatial_upsample": str(SPATIAL_UPSAMPLE)}


def add_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Adds metadata to an exported file in place; external weights are neither read nor rewritten."""
    model = onnx.load(str(path), load_external_data=False)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def trace_args(cfg: TinyWanConfig, device: str) -> tuple:
    """Sample inputs of the trace: a past of one frame (the past length is a symbolic dim)."""
    g = torch.Generator().manual_seed(0)
    past = cfg.tokens_per_frame
    args = [torch.randn(1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width, generator=g),
            torch.tensor([500.0]), torch.randn(1, cfg.text_len, cfg.text_dim, generator=g),
            torch.tensor(1, dtype=torch.int64)]
    args += [0.5 * torch.randn(1, past, cfg.num_heads, cfg.head_dim, generator=g) for _ in range(2 * cfg.num_layers)]
    return tuple(a.to(device) for a in args)


def onnx_export(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str],
                dynamic: list[str]) -> None:
    """TorchScript exporter, opset 17 (the spelling bench/gpu_denoiser_bench.py measured). A model
    over 2 GB gets its weights as external files beside `path`."""
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=OPSET, input_names=inputs,
                          output_names=outputs, dynamic_axes={n: {1: "past_len"} for n in dynamic})


def export_pipeline(work: Path, cfg: TinyWanConfig, denoiser: TinyWanDenoiser, decoder: StandInDecoder,
                    trace_device: str = "cpu") -> tuple[Path, dict]:
    """Exports into <work>/<folder_name>; returns the folder and the seconds each step took.

    `trace_device` runs the trace's one forward call there (the call is the slow part of an
    export on a CPU: a Wan-width layer is ~0.4 TFLOP at 4680 tokens); the weights are written
    from wherever the module lives.
    """
    folder = work / folder_name(cfg)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    times = {}
    t0 = time.perf_counter()
    names = denoiser_input_names(cfg)
    denoiser.to(trace_device)
    onnx_export(denoiser, trace_args(cfg, trace_device), folder / "denoiser.onnx", names,
                denoiser_output_names(cfg), names[4:])
    add_metadata(folder / "denoiser.onnx", denoiser_metadata(cfg))
    times["denoiser_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    latents = torch.zeros(1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    onnx_export(decoder.to("cpu"), (latents,), folder / "decoder.onnx", ["latents"], ["frames"], [])
    add_metadata(folder / "decoder.onnx", decoder_metadata())
    (folder / "context.pb").write_bytes(numpy_helper.from_array(make_context(cfg), "context").SerializeToString())
    (folder / "pipeline.toml").write_text('# bench/rollout_export.py: generated, random weights\n'
                                          'denoiser = "denoiser.onnx"\ndecoder = "decoder.onnx"\n'
                                          'context = "context.pb"\n')
    times["decoder_s"] = time.perf_counter() - t0
    times["bytes"] = sum(f.stat().st_size for f in folder.iterdir())
    (folder / "export.json").write_text(json.dumps({"stamp": stamp(cfg), "times": times}, indent=1))
    return folder, times


def free_disk_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize
