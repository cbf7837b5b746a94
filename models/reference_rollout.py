"""Float64 PyTorch reference of the Self-Forcing rollout (MODEL_CONTRACT.md) on the tiny models.

    python models/reference_rollout.py

For chunk c = 0, 1, 2 (frame_offset = 3c), with the noise of vdrt_noise.py (seed 42):

    x = noise(seed, c, 0)
    for k, t_k in enumerate(1000, 750, 500, 250):
        v  = denoiser(x, t_k, context, 3c, cache)
        x0 = x - sigma(t_k) * v
        if k < 3: x = (1 - sigma(t_{k+1})) * x0 + sigma(t_{k+1}) * noise(seed, c, k + 1)
    cache += present K/V of denoiser(x0, 0, context, 3c, cache)     (unbounded cache)
    frames = decoder(x0)

sigma(t) = shift * s / (1 + (shift - 1) * s), s = t / 1000, shift = 5. The context is
models/tiny_wan/context.pb. The PyTorch modules run in float64 (weights are the float32
ones, widened); noise is drawn as float32 and widened. Writes, under
models/tiny_wan/rollout_reference/:

    chunk_{c}_latents.pb   float32 [1, 3, 16, 8, 8]    the chunk's final x0 (TensorProto "latents")
    chunk_{c}_frames.pb    float32 [1, 12, 3, 64, 64]  decoder(x0)          (TensorProto "frames")
    noise_check.pb         float32 [1, 3, 16, 8, 8]    noise(42, chunk=1, step=2) ("noise")

`rollout` is written over numpy callables so that export_all.py can run the very same loop
on the exported ONNX models (float32) and compare.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from tiny_wan import TinyWanConfig, build_decoder, build_denoiser
from vdrt_noise import gaussian_noise

MODELS_DIR = Path(__file__).resolve().parent
TINY_WAN_DIR = MODELS_DIR / "tiny_wan"
CONTEXT_PATH = TINY_WAN_DIR / "context.pb"
OUT_DIR = TINY_WAN_DIR / "rollout_reference"

DENOISING_STEPS = (1000.0, 750.0, 500.0, 250.0)
SHIFT = 5.0
SEED = 42
NUM_CHUNKS = 3
TINY_WAN = TinyWanConfig()

# Models as numpy functions returning their outputs as a list:
#   denoiser(noisy_latents, timestep, context, frame_offset, *past) -> [flow, *presents]
#   decoder(latents) -> [frames]
ModelFn = Callable[..., list[np.ndarray]]


def sigma(t: float, shift: float = SHIFT) -> float:
    s = t / 1000.0
    return shift * s / (1.0 + (shift - 1.0) * s)


def rollout(
    denoiser: ModelFn,
    decoder: ModelFn,
    context: np.ndarray,
    dtype: type = np.float64,
    num_chunks: int = NUM_CHUNKS,
    seed: int = SEED,
    steps: tuple[float, ...] = DENOISING_STEPS,
    cfg: TinyWanConfig = TINY_WAN,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yields (chunk, x0, frames) per chunk; all arithmetic in `dtype`."""
    latent_shape = (1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    context = context.astype(dtype)
    cache = [np.zeros((1, 0, cfg.num_heads, cfg.head_dim), dtype) for _ in range(2 * cfg.num_layers)]

    def noise(chunk: int, step: int) -> np.ndarray:
        return gaussian_noise(seed, chunk, step, latent_shape).astype(dtype)

    for chunk in range(num_chunks):
        frame_offset = np.array(chunk * cfg.frames_per_chunk, dtype=np.int64)
        x = noise(chunk, 0)
        for k, t in enumerate(steps):
            flow = denoiser(x, np.array([t], dtype), context, frame_offset, *cache)[0]
            x0 = x - dtype(sigma(t)) * flow
            if k + 1 < len(steps):
                s_next = dtype(sigma(steps[k + 1]))
                x = (1 - s_next) * x0 + s_next * noise(chunk, k + 1)
        presents = denoiser(x0, np.array([0.0], dtype), context, frame_offset, *cache)[1:]
        cache = [np.concatenate([c, p], axis=1) for c, p in zip(cache, presents, strict=True)]
        yield chunk, x0, decoder(x0)[0]


def torch_callable(module: torch.nn.Module) -> ModelFn:
    """Wraps a module as a numpy -> numpy function (outputs always a list)."""

    def run(*arrays: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            outputs = module(*(torch.from_numpy(np.asarray(a)) for a in arrays))
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return [o.numpy() for o in outputs]

    return run


def save_tensor(array: np.ndarray, name: str, path: Path) -> None:
    path.write_bytes(numpy_helper.from_array(array, name).SerializeToString())


def load_tensor(path: Path) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(str(path)))


def main(out_dir: Path = OUT_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = TINY_WAN
    denoiser = torch_callable(build_denoiser(torch.float64))
    decoder = torch_callable(build_decoder(torch.float64))
    context = load_tensor(CONTEXT_PATH)

    for chunk, x0, frames in rollout(denoiser, decoder, context, np.float64):
        save_tensor(x0.astype(np.float32), "latents", out_dir / f"chunk_{chunk}_latents.pb")
        save_tensor(frames.astype(np.float32), "frames", out_dir / f"chunk_{chunk}_frames.pb")
        print(f"chunk {chunk}: x0 std {x0.std():.4f}, frames in [{frames.min():+.4f}, {frames.max():+.4f}]")

    latent_shape = (1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    save_tensor(gaussian_noise(SEED, 1, 2, latent_shape), "noise", out_dir / "noise_check.pb")
    (out_dir / "README.md").write_text(
        "Float64 PyTorch reference of the Self-Forcing rollout on the tiny Wan models\n"
        f"(seed {SEED}, {NUM_CHUNKS} chunks, steps {','.join(f'{t:g}' for t in DENOISING_STEPS)}, "
        f"shift {SHIFT:g}, unbounded cache, context ../context.pb).\n"
        "Regenerate with: python models/reference_rollout.py (also run by models/export_all.py).\n"
        "chunk_K_latents.pb: final x0 of chunk K, float32 [1,3,16,8,8]; chunk_K_frames.pb: decoder(x0),\n"
        "float32 [1,12,3,64,64]; noise_check.pb: vdrt_noise.gaussian_noise(42, chunk=1, step=2, [1,3,16,8,8]).\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    main(parser.parse_args().out)
