"""Re-entry cases for bench/quality_bench.py (issue 16 item 4): held-out clips in which an object
leaves the frame for at least `gap` whole chunks and comes back, encoded by the trained
autoencoder so that vdrt can take them as a given start (VideoPipeline.generate(given_latents=)).

    python models/trained_tiny/reentry_cases.py CHECKPOINT_DIR [--out models/trained_tiny/reentry_cases.npz]

A case: clip i, object n, chunk c (c <= --max-chunk) such that n is in the frame (centre inside,
dataset.object_tracks) during chunk c, in none of chunks c-gap .. c-1, and in some earlier chunk of
the same shot (no cut inside chunks c-gap .. c). Stored (np.savez_compressed, NumPy only to read):
  case<k>_latents  float16 [1, 3c, 16, 8, 8]  the clip's chunks 0 .. c-1, encoded (the given start)
  case<k>_truth    uint8 [12, 64, 64, 3]      the clip's frames of chunk c (what comes next)
  case<k>_mask     bool [12, 64, 64]          the object in those frames (within its radius + 2 px)
  clips, objects, chunks, classes, gap        int arrays / scalar: where each case comes from
At most one case per clip; clips from dataset.heldout_clips. Needs torch and autoencoder.pt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # noqa: E402
from evaluate import configure_data, load_autoencoder  # noqa: E402

GAP = 5  # chunks (15 latent frames): beyond PBSA's 6-frame window and lightforcing_long's 13


def _clip(clips: dataset.Clips, i: int) -> dataset.Clips:
    return dataset.Clips(**{k: v[i : i + 1] for k, v in vars(clips).items()})


def find_reentry(clip: dataset.Clips, chunks: int, gap: int, max_chunk: int) -> tuple[int, int] | None:
    """(chunk, object) of the clip's first re-entry at chunk <= max_chunk, or None."""
    fpc = dataset.FRAMES_PER_CHUNK
    tracks = dataset.object_tracks(clip, torch.arange(chunks * fpc, dtype=torch.float32)[None])
    inside = tracks["in_frame"][0].reshape(chunks, fpc, -1).any(1).numpy()  # [chunks, N]
    frame_shot = tracks["shot"][0].reshape(chunks, fpc).numpy()
    shot = np.where((frame_shot == frame_shot[:, :1]).all(1), frame_shot[:, 0], -1)  # -1: a cut inside
    for c in range(gap + 1, min(chunks, max_chunk + 1)):
        same_shot = (shot[: c + 1] == shot[c]) & (shot[c] >= 0)
        for n in range(inside.shape[1]):
            away = not inside[c - gap : c, n].any() and same_shot[c - gap :].all()
            seen_before = inside[: c - gap, n][same_shot[: c - gap]].any()
            if inside[c, n] and away and seen_before:
                return c, n
    return None


def object_mask(clip: dataset.Clips, chunk: int, n: int) -> np.ndarray:
    """[12, 64, 64]: pixels within the object's radius + 2 px of its centre, per frame of the chunk."""
    fpc = dataset.FRAMES_PER_CHUNK
    times = torch.arange(chunk * fpc, (chunk + 1) * fpc, dtype=torch.float32)[None]
    t = dataset.object_tracks(clip, times)
    centre, radius = t["centre"][0, :, n], t["radius"][0, :, n]  # [12, 2] (x, y), [12]
    px = torch.arange(dataset.SIZE, dtype=torch.float32) + 0.5
    dx = px[None, None, :] - centre[:, 0, None, None]
    dy = px[None, :, None] - centre[:, 1, None, None]
    return ((dx**2 + dy**2).sqrt() <= radius[:, None, None] + 2).numpy()


@torch.no_grad()
def make_cases(folder: Path, num_clips: int, max_cases: int, max_chunk: int, gap: int) -> dict[str, np.ndarray]:
    ae = load_autoencoder(folder, torch.device("cpu"))
    configure_data(folder)
    clips = dataset.heldout_clips(num_clips)
    fpc = dataset.FRAMES_PER_CHUNK
    out: dict[str, np.ndarray] = {}
    meta = {"clips": [], "objects": [], "chunks": [], "classes": []}
    for i in range(num_clips):
        clip = _clip(clips, i)
        found = find_reentry(clip, max_chunk + 1, gap, max_chunk)
        if found is None:
            continue
        c, n = found
        mask = object_mask(clip, c, n)
        if mask.sum() < 100:  # barely inside: nothing to compare
            continue
        frames = dataset.clip_frames(clip, (c + 1) * fpc)  # [1, 12(c+1), 3, 64, 64]
        k = len(meta["clips"])
        out[f"case{k}_latents"] = ae.encoder(frames[:, : c * fpc]).numpy().astype(np.float16)
        out[f"case{k}_truth"] = dataset.to_uint8(frames[0, c * fpc :])
        out[f"case{k}_mask"] = mask
        for key, value in (("clips", i), ("objects", n), ("chunks", c), ("classes", int(clip.cls[0]))):
            meta[key].append(value)
        print(f"case {k}: held-out clip {i}, object {n} back at chunk {c} after {gap}+ chunks away, "
              f"class {int(clip.cls[0])}, {int(mask.sum())} object pixels", flush=True)
        if k + 1 == max_cases:
            break
    out.update({key: np.array(v, np.int64) for key, v in meta.items()})
    out["gap"] = np.array(gap, np.int64)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="checkpoint folder holding autoencoder.pt (train.py)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "reentry_cases.npz")
    parser.add_argument("--clips", type=int, default=64, help="held-out clips searched")
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--max-chunk", type=int, default=24, help="latest re-entry chunk (keeps the file small)")
    parser.add_argument("--gap", type=int, default=GAP)
    args = parser.parse_args()
    cases = make_cases(args.folder, args.clips, args.cases, args.max_chunk, args.gap)
    np.savez_compressed(args.out, **cases)
    print(f"{len(cases['clips'])} cases -> {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
