"""Re-entry recall for bench/quality_bench.py: an object that left the frame long enough to leave
every preset's local window comes back; is it drawn as dense attention draws it, and as it was?

A rollout from the prompt alone has no ground truth to say where an object re-enters (and the
trained tiny model draws no distinct objects from the prompt alone), so the cases are held-out
procedural clips (models/trained_tiny/reentry_cases.py, which needs torch, writes them once;
reading them needs NumPy only): the clip's chunks 0 .. c-1 encoded are given
(VideoPipeline.generate(given_latents=): cached as generated chunks, through each preset's own
cache policy), and chunk c, in which an object absent for >= 5 chunks (15 latent frames) comes back,
is generated. Scored on chunk c's decoded frames, within the object's disc (its track from
dataset.object_tracks, radius + 2 px), on the [0, 1] scale:
  object PSNR vs dense   the preset against dense attention with the full cache (same seed)
  object PSNR vs truth   against the clip's own frames: for dense, what remembering can give;
                         a preset that forgot the object scores lower than dense here
  rest PSNR vs dense     the other pixels of the frame (the control), and vs truth
The no-memory baseline: the last given frame held still (object pixels then show what was there
before the object came back).
Squared errors are pooled over the cases before taking the PSNR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Case:
    latents: np.ndarray  # float32 [1, 3c, C, h, w], the given chunks 0 .. c-1
    truth: np.ndarray    # float32 [12, 3, H, W] in [-1, 1], chunk c of the clip
    mask: np.ndarray     # bool [12, H, W], the re-entering object
    cls: int
    chunk: int


def load_cases(path: Path) -> list[Case]:
    d = np.load(path)
    return [Case(latents=d[f"case{k}_latents"].astype(np.float32),
                 truth=d[f"case{k}_truth"].transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1,
                 mask=d[f"case{k}_mask"], cls=int(d["classes"][k]), chunk=int(d["chunks"][k]))
            for k in range(len(d["clips"]))]


def continue_case(pipe, case: Case, seed: int, context) -> tuple[np.ndarray, np.ndarray]:
    """Chunk `case.chunk`'s decoded frames [12, 3, H, W] after the given chunks, and the last given
    frame (decoded) held for 12 frames: the no-memory baseline. Clamped to [-1, 1]."""
    it = pipe.generate(frames=(case.chunk + 1) * pipe.frames_per_chunk, seed=seed, prompt_embeds=context,
                       given_latents=case.latents, output="float")
    *_, given_last, last = it
    return np.clip(last, -1, 1), np.repeat(np.clip(given_last[-1:], -1, 1), len(last), 0)


def _sq(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> tuple[float, int]:
    """Sum of squared differences on the [0, 1] scale over the pixels `where` [F, H, W] (all 3 channels)."""
    d = ((a - b) / 2) ** 2  # [F, 3, H, W]
    return float(d.transpose(1, 0, 2, 3)[:, where].sum()), int(where.sum()) * 3


def score(frames: list[np.ndarray], dense: list[np.ndarray], cases: list[Case]) -> dict:
    """frames, dense: chunk c of each case for this configuration and for dense."""
    sums = {k: [0.0, 0] for k in ("object_vs_dense", "object_vs_truth", "rest_vs_dense", "rest_vs_truth")}
    for f, d, case in zip(frames, dense, cases, strict=True):
        for key, (a, b, where) in {"object_vs_dense": (f, d, case.mask), "object_vs_truth": (f, case.truth, case.mask),
                                   "rest_vs_dense": (f, d, ~case.mask),
                                   "rest_vs_truth": (f, case.truth, ~case.mask)}.items():
            s, n = _sq(a, b, where)
            sums[key][0] += s
            sums[key][1] += n
    out = {f"{k}_psnr_db": 10 * np.log10(1 / max(s / n, 1e-12)) if n else None for k, (s, n) in sums.items()}
    out["cases"] = len(cases)
    return out
