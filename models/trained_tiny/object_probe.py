"""Where the trained tiny model loses its objects: the autoencoder or the denoiser (issue 16 item 6).

    python models/trained_tiny/object_probe.py CHECKPOINT_DIR [CHECKPOINT_DIR ...] [--clips 16] [--png DIR]

For each checkpoint folder (autoencoder.pt, dit.pt as train.py writes them), on held-out clips
(dataset.heldout_clips, 48 frames each), scored separately on the objects' visible pixels and
on the background far from any object:

1. the autoencoder's round trip decode(encode(frames));
2. the denoiser's x0 prediction of chunk 1 from the true chunk 1 noised to sigma, with the true
   chunk 0 in the cache (one teacher-forced step: how much of an object the denoiser restores
   when the noisy input still holds it);
3. the rollout of chunks 1-3 given chunk 0 (evaluate.rollout, the exported sampler).

An object's visible pixels are where the frame changes when that object alone is taken out of
the clip (dataset.render with its obj_active cleared), so occlusion by the pillar or other
objects is accounted for. "Kept" is 1 - SSE(x, truth) / SSE(frame without the object, truth)
over those pixels: 1 when the object is drawn exactly, 0 when it might as well be absent. Its
texture alone is measured against a fill with the object's mean colour per frame ("flat").
"Detail near objects" is the high-pass energy (x minus its 5x5 mean) within 9 px of an object
against the truth's: textures and edges, wherever nearby the object is drawn. Objects and their
latent cells / tokens are counted by radius (dataset draws 5-12 px at object scale 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataset  # noqa: E402
from causal_training import timestep_of  # noqa: E402
from evaluate import configure_data, load_autoencoder, load_denoiser, load_sampling, rollout  # noqa: E402
from reference_rollout import SHIFT  # noqa: E402

FRAMES = 4 * dataset.FRAMES_PER_CHUNK  # chunk 0 given, chunks 1-3 scored
VISIBLE = 0.05  # change (of 2, the [-1, 1] range) that marks an object's pixel
SMALL = 8.0  # radius (px) splitting small from large objects
SIGMAS = (1.0, 0.9, 0.75, 0.5, 0.25)


def without_object(clips: dataset.Clips, k: int | None) -> dataset.Clips:
    """The clips with object k (None: every object) taken out."""
    active = clips.obj_active.clone()
    if k is None:
        active.zero_()
    else:
        active[..., k] = 0
    return dataclasses.replace(clips, obj_active=active)


class Scene:
    """Truth frames, per-object visible masks and the object-free frames of held-out clips."""

    def __init__(self, num_clips: int):
        self.clips = dataset.heldout_clips(num_clips)
        self.frames = dataset.clip_frames(self.clips, FRAMES)  # [N, T, 3, 64, 64]
        masks, alone = [], []
        for k in range(dataset.NUM_OBJECTS):
            other = dataset.clip_frames(without_object(self.clips, k), FRAMES)
            masks.append((self.frames - other).abs().amax(2) > VISIBLE)  # [N, T, 64, 64]
            alone.append(other)
        self.masks = torch.stack(masks, 2)  # [N, T, K, 64, 64]
        self.without = torch.stack(alone, 2)  # [N, T, K, 3, 64, 64]
        times = torch.arange(FRAMES, dtype=torch.float32).expand(num_clips, -1)
        self.radius = dataset.object_tracks(self.clips, times)["radius"]  # [N, T, K]
        self.any_object = self.masks.any(2)
        # Background: farther than 3 px from every visible object pixel.
        grown = F.max_pool2d(self.any_object.float().flatten(0, 1)[:, None], 7, 1, 3)[:, 0]
        self.background = grown.view_as(self.any_object) < 0.5
        # Around objects: within 9 px of one (room for an object drawn a few px off its track).
        near = F.max_pool2d(self.any_object.float().flatten(0, 1)[:, None], 19, 1, 9)[:, 0]
        self.near_object = near.view_as(self.any_object) > 0.5
        # Each object's mean colour over its visible pixels, per frame: the texture-free version.
        flat = self.frames.clone()
        for k in range(dataset.NUM_OBJECTS):
            m = self.masks[:, :, k, None]  # [N, T, 1, 64, 64]
            mean = (self.frames * m).sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True).clamp(min=1)
            flat = torch.where(m, mean.expand_as(flat), flat)
        self.flat = flat


def psnr_of(sse: float, count: float) -> float:
    """PSNR (dB) on the [0, 1] scale of a squared error summed on the [-1, 1] scale over `count` values."""
    return 10 * math.log10(1 / max(sse / 4 / max(count, 1), 1e-12))


def detail(x: torch.Tensor) -> torch.Tensor:
    """Squared high-pass (x minus its 5x5 mean), summed over colour: [N, t, 64, 64]. Edges and textures."""
    flat = x.flatten(0, 1)
    blur = F.avg_pool2d(flat, 5, 1, 2, count_include_pad=False)
    return ((flat - blur) ** 2).sum(1).view(*x.shape[:2], *x.shape[-2:])


def region_scores(scene: Scene, x: torch.Tensor, frames: slice) -> dict:
    """x [N, t, 3, 64, 64] against the truth's frames `frames`."""
    truth = scene.frames[:, frames]
    err = ((x - truth) ** 2).sum(2)  # [N, t, 64, 64]
    obj, bg = scene.any_object[:, frames], scene.background[:, frames]
    out = {
        "psnr_objects": psnr_of(err[obj].sum().item(), 3 * obj.sum().item()),
        "psnr_background": psnr_of(err[bg].sum().item(), 3 * bg.sum().item()),
    }
    # Detail near objects, wherever exactly they are drawn: high-pass energy against the truth's.
    near, mine, theirs = scene.near_object[:, frames], detail(x), detail(truth)
    out["detail_near_objects"] = mine[near].sum().item() / max(theirs[near].sum().item(), 1e-9)
    out["detail_background"] = mine[bg].sum().item() / max(theirs[bg].sum().item(), 1e-9)
    for name, chosen in (("small", lambda r: r < SMALL), ("large", lambda r: r >= SMALL), ("all", lambda r: r > 0)):
        sse = absent = flat = 0.0
        for k in range(dataset.NUM_OBJECTS):
            m = scene.masks[:, frames, k] & chosen(scene.radius[:, frames, k])[..., None, None]
            sse += err[m].sum().item()
            absent += ((scene.without[:, frames, k] - truth) ** 2).sum(2)[m].sum().item()
            flat += ((scene.flat[:, frames] - truth) ** 2).sum(2)[m].sum().item()
        out[f"kept_{name}"] = 1 - sse / absent if absent > 0 else float("nan")  # nan: no such object
        if name == "all":
            out["kept_flat_fill"] = 1 - flat / absent if absent > 0 else float("nan")
    return out


def coverage(scene: Scene) -> dict:
    """Latent cells (8x8 px) and patch-2 tokens (16x16 px) an object's visible pixels touch, per frame."""
    rows = {}
    m = scene.masks.float()  # [N, T, K, 64, 64]
    pixels = m.sum((-2, -1))
    for name, size in (("cells", 8), ("tokens_patch2", 16)):
        share = F.avg_pool2d(m.flatten(0, 2)[:, None], size)[:, 0].view(*m.shape[:3], -1)  # [N, T, K, cells]
        touched, half = (share > 0).sum(-1).float(), (share >= 0.5).sum(-1).float()
        for label, chosen in (("small", scene.radius < SMALL), ("large", scene.radius >= SMALL)):
            seen = chosen & (pixels >= 20)
            rows[f"{name}_{label}"] = (touched[seen].mean().item(), half[seen].mean().item())
    for label, chosen in (("small", scene.radius < SMALL), ("large", scene.radius >= SMALL)):
        seen = chosen & (pixels >= 20)
        rows[f"pixels_{label}"] = pixels[seen].mean().item()
    return rows


@torch.no_grad()
def teacher_forced_x0(ae, denoiser, scene: Scene, sigma: float, seed: int = 0, shift: float = SHIFT) -> torch.Tensor:
    """Decoded x0 of chunk 1 from the true chunk 1 noised to sigma, true chunk 0 in the cache."""
    cfg = denoiser.cfg
    f = cfg.frames_per_chunk
    contexts = dataset.context_table()[scene.clips.cls]
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(len(scene.clips)):
        latents = ae.encoder(scene.frames[i : i + 1, : 2 * dataset.FRAMES_PER_CHUNK])  # [1, 6, 16, 8, 8]
        ctx = contexts[i : i + 1]
        presents = denoiser(latents[:, :f], torch.zeros(1), ctx, torch.tensor(0), *denoiser.empty_cache())[1:]
        clean = latents[:, f:]
        noisy = (1 - sigma) * clean + sigma * torch.randn(clean.shape, generator=g)
        flow = denoiser(noisy, torch.tensor([timestep_of(sigma, shift)]), ctx, torch.tensor(f), *presents)[0]
        out.append(ae.decoder(noisy - sigma * flow)[0])
    return torch.stack(out)


@torch.no_grad()
def rollouts(ae, denoiser, sampling, scene: Scene) -> torch.Tensor:
    contexts = dataset.context_table()[scene.clips.cls]
    out = []
    for i in range(len(scene.clips)):
        latents = ae.encoder(scene.frames[i : i + 1])
        x0 = torch.cat([z for _, z in rollout(denoiser, contexts[i : i + 1], 4, i, sampling, given=latents[:, :3])], 1)
        out.append(ae.decoder(x0)[0])
    return torch.stack(out)  # [N, 36, 3, 64, 64]


def write_png(path: Path, rgb: np.ndarray) -> None:
    """uint8 [H, W, 3] -> PNG."""
    raw = b"".join(b"\x00" + row.tobytes() for row in rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", rgb.shape[1], rgb.shape[0], 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                     + chunk(b"IEND", b""))


def strip(rows: list[torch.Tensor], frames: list[int], scale: int = 3) -> np.ndarray:
    """Rows of [T, 3, 64, 64] frames side by side at the given frame indices, scaled up."""
    image = np.concatenate([np.concatenate([dataset.to_uint8(r[t]) for t in frames], 1) for r in rows], 0)
    return image.repeat(scale, 0).repeat(scale, 1)


def fmt(scores: dict) -> str:
    return (f"PSNR objects {scores['psnr_objects']:5.2f} dB, background {scores['psnr_background']:5.2f} dB; "
            f"kept small {scores['kept_small']:5.2f}, large {scores['kept_large']:5.2f}, "
            f"all {scores['kept_all']:5.2f}; "
            f"detail near objects {scores['detail_near_objects']:4.2f}, background {scores['detail_background']:4.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--png", type=Path, help="write truth / reconstruction / rollout strips here")
    p.add_argument("--no-rollout", action="store_true")
    p.add_argument("--no-denoiser", action="store_true", help="the autoencoder alone")
    p.add_argument("--object-scale", type=float,
                   help="held-out clips with objects this much larger (dataset.set_object_scale); "
                        "default: the first checkpoint's")
    p.add_argument("--palette", choices=dataset.PALETTES, help="held-out clips coloured so; default: the first checkpoint's")
    args = p.parse_args()
    configure_data(args.folders[0], args.object_scale, args.palette)
    torch.manual_seed(0)
    scene = Scene(args.clips)
    later = slice(dataset.FRAMES_PER_CHUNK, FRAMES)
    covered = scene.any_object.float().mean().item()
    data = dataset.settings()
    print(f"{args.clips} held-out clips x {FRAMES} frames, object scale {data['object_scale']:g}, "
          f"palette {data['palette']}; "
          f"objects cover {covered:.1%} of the pixels")
    for key, value in coverage(scene).items():
        print(f"  {key}: " + (f"{value:.0f} px" if key.startswith("pixels") else
                              f"touches {value[0]:.1f}, >= half covered {value[1]:.1f}"))
    flat = region_scores(scene, scene.flat[:, later], later)
    print(f"  objects filled with their mean colour (texture lost, shape kept): kept {flat['kept_all']:.2f}")
    for folder in args.folders:
        ae, denoiser, sampling = load_autoencoder(folder, "cpu"), load_denoiser(folder, "cpu"), load_sampling(folder)
        print(f"{folder} (patch {denoiser.cfg.patch_size[1]}, {sampling.describe()})")
        with torch.no_grad():
            recon = torch.cat([ae.decoder(ae.encoder(scene.frames[i : i + 1])) for i in range(args.clips)])
        print(f"  autoencoder, frames 12-47:  {fmt(region_scores(scene, recon[:, later], later))}")
        first = slice(dataset.FRAMES_PER_CHUNK, 2 * dataset.FRAMES_PER_CHUNK)
        print(f"  autoencoder, chunk 1:       {fmt(region_scores(scene, recon[:, first], first))}")
        if args.no_denoiser:
            continue
        for sigma in SIGMAS:
            x0 = teacher_forced_x0(ae, denoiser, scene, sigma, shift=sampling.shift)
            print(f"  x0 of chunk 1 at sigma {sigma:4.2f}: {fmt(region_scores(scene, x0, first))}")
        repeat = scene.frames[:, dataset.FRAMES_PER_CHUNK - 1 : dataset.FRAMES_PER_CHUNK].expand_as(recon[:, later])
        if args.no_rollout:
            continue
        generated = rollouts(ae, denoiser, sampling, scene)
        for c in range(3):
            sl = slice((c + 1) * dataset.FRAMES_PER_CHUNK, (c + 2) * dataset.FRAMES_PER_CHUNK)
            local = slice(c * dataset.FRAMES_PER_CHUNK, (c + 1) * dataset.FRAMES_PER_CHUNK)
            print(f"  rollout chunk {c + 1}:            {fmt(region_scores(scene, generated[:, local], sl))}")
            print(f"  last given frame, chunk {c + 1}:  {fmt(region_scores(scene, repeat[:, local], sl))}")
        if args.png:
            args.png.mkdir(parents=True, exist_ok=True)
            x0 = teacher_forced_x0(ae, denoiser, scene, 0.5, shift=sampling.shift)
            for i in range(min(args.clips, 8)):
                rows = [scene.frames[i], recon[i],
                        torch.cat([scene.frames[i, :12], x0[i], torch.zeros(24, *x0.shape[2:])]),
                        torch.cat([scene.frames[i, :12], generated[i]])]
                name = args.png / f"{folder.name}_clip{i}.png"
                write_png(name, strip(rows, [0, 6, 11, 12, 15, 18, 23, 29, 35, 41, 47]))
            print(f"  strips (rows: truth, reconstruction, x0 at sigma 0.5 for chunk 1, rollout) -> {args.png}")


if __name__ == "__main__":
    main()
