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

That is the scheduler "flow-matching" (MODEL_CONTRACT.md, vdrt.scheduler). Under
"flow-matching-euler" the steps are Euler steps of the flow ODE and no noise but the initial
one is drawn:

        if k < K - 1: x = x + (sigma(t_{k+1}) - sigma(t_k)) * v
        else:         x0 = x - sigma(t_k) * v                    (the step to sigma = 0)

`denoise_chunk` is both loops; evaluate.py and train.py's export use it too.

sigma(t) = shift * s / (1 + (shift - 1) * s), s = t / 1000, shift = 5. The context is
models/tiny_wan/context.pb. The PyTorch modules run in float64 (weights are the float32
ones, widened); noise is drawn as float32 and widened. Writes, under
models/tiny_wan/rollout_reference/:

    chunk_{c}_latents.pb   float32 [1, 3, 16, 8, 8]    the chunk's final x0 (TensorProto "latents")
    chunk_{c}_frames.pb    float32 [1, 12, 3, 64, 64]  decoder(x0)          (TensorProto "frames")
    noise_check.pb         float32 [1, 3, 16, 8, 8]    noise(42, chunk=1, step=2) ("noise")

and under models/tiny_wan/rollout_reference_guided/ the latents of the same 3 chunks under
classifier-free guidance (scale 3, negative_context.pb written there; two KV caches), and
under models/tiny_wan/rollout_reference_euler/ the latents of the same 3 chunks under
"flow-matching-euler" with the 8 steps uniform_steps(8) = 1000, 875, ..., 125 (the C++ test
gives the ts17 denoiser that metadata; frames are not written: the decoder is the one above).

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
EULER_OUT_DIR = TINY_WAN_DIR / "rollout_reference_euler"
GUIDED_OUT_DIR = TINY_WAN_DIR / "rollout_reference_guided"
GUIDANCE = 3.0
NEGATIVE_SEED = 7

DENOISING_STEPS = (1000.0, 750.0, 500.0, 250.0)
SHIFT = 5.0
SCHEDULERS = ("flow-matching", "flow-matching-euler")  # vdrt.scheduler; the first is the default
EULER_REFERENCE_STEPS = 8
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


def uniform_steps(count: int) -> tuple[float, ...]:
    """`count` timesteps from 1000 down in equal steps of 1000 / count (the shift bends sigma)."""
    return tuple(1000.0 * (count - k) / count for k in range(count))


def denoise_chunk(flow_at, x, noise_at, steps=DENOISING_STEPS, scheduler: str = SCHEDULERS[0],
                  shift: float = SHIFT, scalar=float):
    """x0 of one chunk from its initial noise x, as vdrt's Rollout::next.

    flow_at(x, t) -> the model's flow at raw timestep t; noise_at(k) -> the fresh noise injected
    before step k >= 1 (flow-matching only). Works on numpy arrays and torch tensors alike;
    `scalar` casts the coefficients (a numpy dtype keeps float32 arithmetic in float32).
    """
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r} (schedulers: {', '.join(SCHEDULERS)})")
    for k, t in enumerate(steps):
        flow = flow_at(x, t)
        if k + 1 == len(steps):
            return x - scalar(sigma(t, shift)) * flow
        if scheduler == "flow-matching-euler":
            x = x + scalar(sigma(steps[k + 1], shift) - sigma(t, shift)) * flow
        else:
            x0 = x - scalar(sigma(t, shift)) * flow
            s_next = scalar(sigma(steps[k + 1], shift))
            x = (1 - s_next) * x0 + s_next * noise_at(k + 1)
    raise ValueError("no denoising steps")


def guided_flow(flows: list, guidance: float, scalar=float):
    """The flow a step uses: flows = [the prompt's] alone, or [the prompt's, the negative prompt's]
    under classifier-free guidance, f(negative) + guidance * (f(prompt) - f(negative))."""
    return flows[0] if len(flows) == 1 else flows[1] + scalar(guidance) * (flows[0] - flows[1])


def rollout(
    denoiser: ModelFn,
    decoder: ModelFn,
    context: np.ndarray,
    dtype: type = np.float64,
    num_chunks: int = NUM_CHUNKS,
    seed: int = SEED,
    steps: tuple[float, ...] = DENOISING_STEPS,
    cfg: TinyWanConfig = TINY_WAN,
    scheduler: str = SCHEDULERS[0],
    shift: float = SHIFT,
    guidance: float = 1.0,
    negative_context: np.ndarray | None = None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yields (chunk, x0, frames) per chunk; all arithmetic in `dtype`.

    guidance != 1: classifier-free guidance, flow = f(negative) + guidance * (f(context) - f(negative)),
    each context with its own KV cache, both filled from the guided x0 (vdrt's Rollout).
    """
    latent_shape = (1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    contexts = [context.astype(dtype)]
    if guidance != 1.0:
        if negative_context is None:
            raise ValueError("guidance needs a negative_context")
        contexts.append(negative_context.astype(dtype))
    caches = [[np.zeros((1, 0, cfg.num_heads, cfg.head_dim), dtype) for _ in range(2 * cfg.num_layers)]
              for _ in contexts]

    def noise(chunk: int, step: int) -> np.ndarray:
        return gaussian_noise(seed, chunk, step, latent_shape).astype(dtype)

    for chunk in range(num_chunks):
        frame_offset = np.array(chunk * cfg.frames_per_chunk, dtype=np.int64)

        def flow_at(x, t):
            flows = [denoiser(x, np.array([t], dtype), c, frame_offset, *cache)[0]  # noqa: B023
                     for c, cache in zip(contexts, caches, strict=True)]
            return guided_flow(flows, guidance, dtype)

        x0 = denoise_chunk(
            flow_at,
            noise(chunk, 0),
            lambda k: noise(chunk, k),  # noqa: B023 - called inside this iteration
            steps, scheduler, shift, dtype,
        )
        for i, (c, cache) in enumerate(zip(contexts, caches, strict=True)):
            presents = denoiser(x0, np.array([0.0], dtype), c, frame_offset, *cache)[1:]
            caches[i] = [np.concatenate([k, p], axis=1) for k, p in zip(cache, presents, strict=True)]
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


def write_latents_reference(out_dir: Path, label: str, readme: str, **rollout_args) -> None:
    """The 3 chunks' latents of the float64 rollout with `rollout_args`, and the folder's README."""
    out_dir.mkdir(parents=True, exist_ok=True)
    denoiser = torch_callable(build_denoiser(torch.float64))
    identity = lambda x: [x]  # noqa: E731 - the frames are the default reference's decoder
    context = load_tensor(CONTEXT_PATH)
    for chunk, x0, _ in rollout(denoiser, identity, context, np.float64, **rollout_args):
        save_tensor(x0.astype(np.float32), "latents", out_dir / f"chunk_{chunk}_latents.pb")
        print(f"{label} chunk {chunk}: x0 std {x0.std():.4f}")
    (out_dir / "README.md").write_text(readme + "chunk_K_latents.pb: final x0 of chunk K, float32 [1,3,16,8,8].\n")


def write_euler_reference(out_dir: Path = EULER_OUT_DIR) -> None:
    """The 3 chunks' latents under flow-matching-euler, EULER_REFERENCE_STEPS steps (float64)."""
    steps = uniform_steps(EULER_REFERENCE_STEPS)
    write_latents_reference(
        out_dir, "euler",
        "Float64 PyTorch reference of the rollout on the tiny Wan denoiser (ts17 weights) under the\n"
        f"scheduler flow-matching-euler (seed {SEED}, {NUM_CHUNKS} chunks, steps {','.join(f'{t:g}' for t in steps)},\n"
        f"shift {SHIFT:g}, unbounded cache, context ../context.pb). tests/runtime/rollout_test.cpp gives the\n"
        "ts17 denoiser that metadata and compares. Regenerate with: python models/reference_rollout.py.\n",
        steps=steps, scheduler="flow-matching-euler",
    )


def write_guided_reference(out_dir: Path = GUIDED_OUT_DIR) -> None:
    """The 3 chunks' latents under classifier-free guidance (scale GUIDANCE, a seeded negative context)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shape = load_tensor(CONTEXT_PATH).shape
    negative = (0.5 * np.random.default_rng(NEGATIVE_SEED).standard_normal(shape)).astype(np.float32)
    save_tensor(negative, "negative_context", out_dir / "negative_context.pb")
    write_latents_reference(
        out_dir, "guided",
        "Float64 PyTorch reference of the rollout on the tiny Wan denoiser (ts17 weights) under classifier-free\n"
        f"guidance {GUIDANCE:g} (seed {SEED}, {NUM_CHUNKS} chunks, steps {','.join(f'{t:g}' for t in DENOISING_STEPS)}, "
        f"shift {SHIFT:g},\nunbounded caches, context ../context.pb, negative_context.pb = 0.5 N(0, 1) of seed "
        f"{NEGATIVE_SEED}).\nflow = f(negative) + {GUIDANCE:g} (f(context) - f(negative)), one KV cache per context, both "
        "filled from the guided x0.\nRegenerate with: python models/reference_rollout.py. tests/runtime/guided_rollout_test.cpp compares.\n",
        guidance=GUIDANCE, negative_context=negative,
    )


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
    parser.add_argument("--euler-out", type=Path, default=EULER_OUT_DIR, help="output folder of the Euler reference")
    parser.add_argument("--guided-out", type=Path, default=GUIDED_OUT_DIR,
                        help="output folder of the classifier-free guidance reference")
    args = parser.parse_args()
    main(args.out)
    write_euler_reference(args.euler_out)
    write_guided_reference(args.guided_out)
