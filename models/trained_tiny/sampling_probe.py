"""Why samples from the prompt alone miss the data: the denoiser's error along the noise schedule.

    python models/trained_tiny/sampling_probe.py CHECKPOINT_DIR [--png DIR]   # ~1 min on 2 cores

On chunk 0 of held-out clips (no history, as the first chunk of `vdrt generate`), with the
checkpoint's sigma(t) (train.py --shift):

1. per timestep: MSE of the predicted x0 and of the predicted velocity (target eps - x0, whose
   variance is 2) against the truth, with the clip's class context and with a wrong one;
2. "return trips": the clip noised to t0 and integrated back to sigma 0 by 32 Euler steps
   uniform in t; the latent MSE to the clip says how much of what was still visible at t0 the
   sampler keeps (with --png: truth, autoencoder, then one row per t0, every 3rd frame);
3. diversity: pixel MSE between the decoded chunk 0 of 6 seeds of a prompt (the rollout of
   evaluate.py, which `vdrt generate` reproduces to 1 of 255), against that between 6 clips of
   the data set of the same class, and the frames' spatial std (contrast);
4. for a model trained with the null context (train.py --cfg-dropout): the first 3 chunks from
   the prompt alone at classifier-free guidance scales GUIDANCE, their contrast and fine detail
   (high-pass energy) against the data's (with --png: guided_samples.png, a row per class, seed
   and scale, every 4th frame of 36).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402
from causal_training import sigma_of, timestep_of  # noqa: E402
from evaluate import configure_data, load_autoencoder, load_denoiser, load_sampling, rollout  # noqa: E402
from object_probe import detail as high_pass  # noqa: E402
from object_probe import strip, write_png  # noqa: E402
from reference_rollout import SHIFT  # noqa: E402

# Timesteps of Wan's shift 5; a model of another shift is probed at the same sigmas.
TIMESTEPS = (1000.0, 750.0, 500.0, 250.0, 125.0, 62.5, 20.0)
RETURN_FROM = (300.0, 600.0, 850.0, 1000.0)
CLASSES = (0, 3, 5, 6)
SEEDS = 6
GUIDANCE = (1.0, 2.0, 3.0, 5.0)


def same_sigma(t: float, shift: float) -> float:
    """The timestep of a model trained with `shift` whose sigma is shift 5's at t."""
    return timestep_of(float(sigma_of(torch.tensor(t), SHIFT)), shift)


def errors_along_schedule(ae, denoiser, shift: float) -> None:
    clips = dataset.heldout_clips(16)
    contexts = dataset.context_table()
    latents = ae.encoder(dataset.clip_frames(clips, dataset.FRAMES_PER_CHUNK))
    eps = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    cache = denoiser.empty_cache(len(clips))
    spread = float(((latents - latents.mean(0)) ** 2).mean())
    print(f"chunk 0 of 16 held-out clips: latent variance about the clips' mean {spread:.3f}")
    for t in (same_sigma(t5, shift) for t5 in TIMESTEPS):
        sigma = float(sigma_of(torch.tensor(t), shift))
        x = (1 - sigma) * latents + sigma * eps
        row = []
        for name, cls in (("class", clips.cls), ("wrong class", (clips.cls + 4) % dataset.NUM_CLASSES)):
            v = denoiser(x, torch.full((len(clips),), t), contexts[cls], torch.tensor(0), *cache)[0]
            x0_mse = float(((x - sigma * v - latents) ** 2).mean())
            v_mse = float(((v - (eps - latents)) ** 2).mean())
            row.append(f"{name}: x0 {x0_mse:.4f}, velocity {v_mse:.4f}")
        print(f"  t {t:6.1f} (sigma {sigma:.3f})  " + "; ".join(row))


def return_trips(ae, denoiser, shift: float, png: Path | None) -> None:
    clips = dataset.heldout_clips(3)
    contexts = dataset.context_table()[clips.cls]
    frames = dataset.clip_frames(clips, dataset.FRAMES_PER_CHUNK)
    latents = ae.encoder(frames)
    eps = torch.randn(latents.shape, generator=torch.Generator().manual_seed(1))
    cache = denoiser.empty_cache(len(clips))
    decoded = [frames, ae.decoder(latents)]
    for t0 in (same_sigma(t5, shift) for t5 in RETURN_FROM):
        ts = np.linspace(t0, 0.0, 33)
        s0 = sigma_of(torch.tensor(t0), shift)
        x = (1 - s0) * latents + s0 * eps
        for a, b in itertools.pairwise(ts):
            sa, sb = float(sigma_of(torch.tensor(a), shift)), float(sigma_of(torch.tensor(b), shift))
            v = denoiser(x, torch.full((len(clips),), float(a)), contexts, torch.tensor(0), *cache)[0]
            x = x + (sb - sa) * v
        print(f"  from t {t0:6.1f} (sigma {float(s0):.2f}) back to 0 by 32 Euler steps: "
              f"latent MSE to the clip {float(((x - latents) ** 2).mean()):.3f}")
        decoded.append(ae.decoder(x))
    if png:
        png.mkdir(parents=True, exist_ok=True)
        rows = [d[i] for i in range(len(clips)) for d in decoded]
        write_png(png / "return_trips.png", strip(rows, list(range(0, dataset.FRAMES_PER_CHUNK, 3)), scale=2))
        print(f"  -> {png / 'return_trips.png'}")


def diversity(ae, denoiser, sampling) -> None:
    contexts = dataset.context_table()
    gen = torch.Generator().manual_seed(3)
    for cls in CLASSES:
        samples = [ae.decoder(next(rollout(denoiser, contexts[cls : cls + 1], 1, seed, sampling))[1])[0]
                   for seed in range(SEEDS)]
        data = dataset.clip_frames(dataset.sample_clips(SEEDS, gen, classes=torch.full((SEEDS,), cls)),
                                   dataset.FRAMES_PER_CHUNK)
        print(f"  class {cls}: between seeds {pairwise_mse(samples):.4f} (data {pairwise_mse(list(data)):.4f}), "
              f"contrast {contrast(samples):.3f} (data {contrast(list(data)):.3f})")


def guided_samples(ae, denoiser, sampling, png: Path | None) -> None:
    contexts = dataset.context_table()
    gen = torch.Generator().manual_seed(3)
    rows = []
    for cls in CLASSES:
        data = dataset.clip_frames(dataset.sample_clips(2, gen, classes=torch.full((2,), cls)), 36)
        line = [f"  class {cls}: data contrast {contrast(list(data)):.3f}, detail {detail(list(data)):.4f};"]
        for g in GUIDANCE:
            guided = dataclasses.replace(sampling, guidance=g)
            videos = [ae.decoder(torch.cat([x0 for _, x0 in rollout(denoiser, contexts[cls : cls + 1], 3, seed,
                                                                    guided)], 1))[0] for seed in range(2)]
            line.append(f"g {g:g}: {contrast(videos):.3f}, {detail(videos):.4f}")
            rows += videos
        print(" ".join(line))
    if png:
        png.mkdir(parents=True, exist_ok=True)
        write_png(png / "guided_samples.png", strip(rows, list(range(0, 36, 4)), scale=2))
        print(f"  rows: class {', '.join(map(str, CLASSES))} x guidance {', '.join(f'{g:g}' for g in GUIDANCE)} "
              f"x seeds 0, 1 -> {png / 'guided_samples.png'}")


def detail(videos: list[torch.Tensor]) -> float:
    """object_probe's high-pass energy (x minus its 5x5 mean) of the frames, per pixel: edges, stripes."""
    return float(high_pass(torch.stack(videos).clamp(-1, 1)).mean())


def pairwise_mse(videos: list[torch.Tensor]) -> float:
    clamp = [v.clamp(-1, 1) for v in videos]
    return float(np.mean([float(((a - b) ** 2).mean()) for a, b in itertools.combinations(clamp, 2)]))


def contrast(videos: list[torch.Tensor]) -> float:
    """Spatial std per frame and channel, averaged."""
    return float(np.mean([float(v.clamp(-1, 1).std(dim=(-2, -1)).mean()) for v in videos]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="checkpoint folder (autoencoder.pt, dit.pt, pipeline/)")
    p.add_argument("--png", type=Path, help="write the return trips as return_trips.png here")
    args = p.parse_args()
    torch.set_grad_enabled(False)
    configure_data(args.folder)  # the held-out clips of the data the checkpoint was trained on
    ae, denoiser = load_autoencoder(args.folder, "cpu"), load_denoiser(args.folder, "cpu")
    sampling = load_sampling(args.folder)
    print(f"{args.folder}: {sampling.describe()}")
    errors_along_schedule(ae, denoiser, sampling.shift)
    return_trips(ae, denoiser, sampling.shift, args.png)
    print(f"chunk 0 from the prompt alone, {SEEDS} seeds, decoded, pixel MSE:")
    diversity(ae, denoiser, sampling)
    dit_args = torch.load(args.folder / "dit.pt", map_location="cpu", weights_only=False)["args"]
    if float(dit_args.get("cfg_dropout") or 0) > 0:
        print("chunks 0-2 from the prompt alone, 2 seeds, with classifier-free guidance: contrast, detail")
        guided_samples(ae, denoiser, sampling, args.png)


if __name__ == "__main__":
    main()
