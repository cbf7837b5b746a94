"""Procedural video clips for the trained tiny model: textured shapes over a panning background.

Nothing is downloaded or stored: a clip is a pure function of a few numbers per shot, drawn on
the CPU from a seeded torch.Generator, and frames are rendered analytically at any time t (on
whatever device the parameters are moved to). So the same seed gives the same pixels on a CPU
and on a GPU, up to float rounding, and a training sample can take chunks from anywhere in a
one-minute clip without rendering the frames in between.

A clip (64x64 px, 16 fps, values in [-1, 1]) is a sequence of shots separated by hard cuts
(every 6-20 s); each shot has
- a background texture of the clip's class style (gratings or blobs) seen by a camera that
  pans at constant velocity (or stands still);
- up to 3 objects of the class's shape (disc, box, triangle, ring), each with a striped or
  checkered texture in two colours, moving at constant velocity and spinning; they bounce
  inside a stage 14 px larger than the frame on every side, so they leave the frame and
  re-enter it;
- depth order: objects 0 and 1, then a textured pillar fixed to the background (in half of
  the shots), then object 2, so objects pass behind the pillar and behind each other.

The class (NUM_CLASSES = 4 shapes x 2 background styles) is the clip's prompt: its text
context is a fixed N(0, 1) tensor [1, TEXT_LEN, TEXT_DIM] per class (class_context). With the
"class" palette (set_palette) the class also fixes the objects' two colours, so that the prompt
says what the objects look like and not only their outline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

SIZE = 64
FPS = 16
FRAMES_PER_LATENT = 4  # the autoencoder's temporal compression
LATENTS_PER_CHUNK = 3  # TinyWanConfig.frames_per_chunk
FRAMES_PER_CHUNK = FRAMES_PER_LATENT * LATENTS_PER_CHUNK
MINUTE_CHUNKS = 60 * FPS // FRAMES_PER_CHUNK  # 80 chunks of 12 frames

SHAPES = ("disc", "box", "triangle", "ring")
SHAPE_PLURALS = ("discs", "boxes", "triangles", "rings")
STYLES = ("gratings", "blobs")
NUM_CLASSES = len(SHAPES) * len(STYLES)
TEXT_LEN, TEXT_DIM = 8, 32
CONTEXT_SEED = 1000  # class k's context: numpy default_rng(CONTEXT_SEED + k)

NUM_OBJECTS = 3
MAX_SHOTS = 8
OBJECT_RADIUS = (5.0, 12.0)  # px, drawn uniformly, at object scale 1
STAGE_MARGIN = 14.0  # px beyond every edge of the frame, at object scale 1
HELDOUT_SEED = 1_000_003  # held-out clips; training streams use small seeds


# Two colours per class for the "class" palette (RGB in [-1, 1]): vivid, unlike the muted
# backgrounds (base within +-0.5, texture +-0.3), so that objects stand out.
CLASS_PALETTES = (
    ((0.9, -0.8, -0.8), (0.9, 0.9, -0.7)),  # red / yellow
    ((-0.8, -0.5, 0.95), (0.95, 0.95, 0.95)),  # blue / white
    ((-0.7, 0.85, -0.7), (0.9, -0.7, 0.85)),  # green / magenta
    ((0.95, 0.2, -0.9), (-0.9, -0.9, 0.1)),  # orange / navy
    ((-0.8, 0.85, 0.9), (-0.95, -0.95, -0.95)),  # cyan / black
    ((0.95, 0.1, 0.5), (-0.8, -0.2, -0.8)),  # pink / dark green
    ((0.9, 0.9, -0.8), (-0.1, -0.8, 0.7)),  # yellow / purple
    ((0.95, 0.95, 0.95), (0.8, -0.9, -0.6)),  # white / red
)
CLASS_PALETTE_NAMES = ("red and yellow", "blue and white", "green and magenta", "orange and navy", "cyan and black",
                       "pink and dark green", "yellow and purple", "white and red")
PALETTE_JITTER = 0.15
PALETTES = ("shot", "class")

_object_scale = 1.0
_palette = "shot"


def set_palette(name: str) -> None:
    """How objects are coloured from now on (train.py --palette): "shot" (the default) two random
    colours per object and shot, the class saying only the shape; "class" the class's two colours
    (CLASS_PALETTES, +-PALETTE_JITTER per object). Both draw the same random numbers, so a seed
    gives the same clips in either but for the objects' colours."""
    global _palette
    if name not in PALETTES:
        raise ValueError(f"palette must be one of {PALETTES}, got {name!r}")
    _palette = name


def configure(settings: dict) -> None:
    """The data settings a checkpoint was trained on (its arguments: object_scale, palette; absent:
    the defaults of before the option existed)."""
    set_object_scale(float(settings.get("object_scale") or 1.0))
    set_palette(settings.get("palette") or "shot")


def settings() -> dict:
    """The settings in force (configure's keys)."""
    return {"object_scale": _object_scale, "palette": _palette}


def set_object_scale(scale: float) -> None:
    """Draws and renders objects `scale` times as large from now on (train.py --object-scale; 1: the default).

    Their textures scale with them (stripes are counted across the shape) and so does the stage's
    margin, so that the largest object still leaves the frame entirely. At 1 every clip is the
    same as before the option existed. The latents of an 8x8 grid (8 px a cell, 16 px a patch-2
    token) carry the default objects (5-12 px radius) only as blurred blobs: object_probe.py.
    """
    global _object_scale
    if not scale > 0:
        raise ValueError(f"object scale must be positive, got {scale}")
    _object_scale = float(scale)


def stage_margin() -> float:
    return STAGE_MARGIN * _object_scale


def class_name(k: int) -> str:
    """What class k's clips show, as a prompt would say it (with the palette in force)."""
    colours = f"{CLASS_PALETTE_NAMES[k]} " if _palette == "class" else ""
    return f"{colours}{SHAPE_PLURALS[k % len(SHAPES)]} over {STYLES[k // len(SHAPES)]}"


def class_context(k: int) -> np.ndarray:
    """The fixed text context of class k, float32 [1, TEXT_LEN, TEXT_DIM]."""
    return np.random.default_rng(CONTEXT_SEED + k).standard_normal((1, TEXT_LEN, TEXT_DIM), np.float32)


def null_context() -> np.ndarray:
    """The prompt of no class, float32 [1, TEXT_LEN, TEXT_DIM] of zeros: what train.py --cfg-dropout
    trains on and classifier-free guidance subtracts (the exported contexts/null.pb)."""
    return np.zeros((1, TEXT_LEN, TEXT_DIM), np.float32)


def context_table() -> torch.Tensor:
    """[NUM_CLASSES, TEXT_LEN, TEXT_DIM]: row k is class_context(k)."""
    return torch.from_numpy(np.concatenate([class_context(k) for k in range(NUM_CLASSES)]))


@dataclass
class Clips:
    """Parameters of a batch of clips; per-shot tensors are [B, MAX_SHOTS, ...]."""

    cls: torch.Tensor  # [B] int64
    shot_start: torch.Tensor  # [B, S] first frame of each shot (shot 0 starts at 0)
    cam0: torch.Tensor  # [B, S, 2] camera position (world px) at the shot's start
    cam_vel: torch.Tensor  # [B, S, 2] px per frame
    bg_colour: torch.Tensor  # [B, S, 3, 3] base, first and second term's colour (RGB)
    bg_freq: torch.Tensor  # [B, S, 2] cycles per px of the two texture terms
    bg_dir: torch.Tensor  # [B, S, 2] their orientation (rad)
    bg_phase: torch.Tensor  # [B, S, 2, 2]
    obj_active: torch.Tensor  # [B, S, N] 0/1
    obj_radius: torch.Tensor  # [B, S, N] px
    obj_pos0: torch.Tensor  # [B, S, N, 2] stage coordinates at the shot's start
    obj_vel: torch.Tensor  # [B, S, N, 2] px per frame
    obj_angle0: torch.Tensor  # [B, S, N]
    obj_spin: torch.Tensor  # [B, S, N] rad per frame
    obj_colours: torch.Tensor  # [B, S, N, 2, 3]
    obj_checker: torch.Tensor  # [B, S, N] 0 stripes, 1 checker
    obj_stripes: torch.Tensor  # [B, S, N] stripes across the shape
    pillar_on: torch.Tensor  # [B, S] 0/1
    pillar_x: torch.Tensor  # [B, S] world x of its centre
    pillar_width: torch.Tensor  # [B, S]
    pillar_colours: torch.Tensor  # [B, S, 2, 3]

    def to(self, device) -> Clips:
        return Clips(**{k: v.to(device) for k, v in vars(self).items()})

    def select(self, rows: slice) -> Clips:
        return Clips(**{k: v[rows] for k, v in vars(self).items()})

    def __len__(self) -> int:
        return self.cls.shape[0]


def sample_clips(num: int, generator: torch.Generator, classes: torch.Tensor | None = None) -> Clips:
    """Draws the parameters of `num` clips on the CPU (deterministic for a seeded generator)."""
    g = generator

    def u(*shape):
        return torch.rand(*shape, generator=g)

    s, n = MAX_SHOTS, NUM_OBJECTS
    cls = torch.randint(0, NUM_CLASSES, (num,), generator=g) if classes is None else classes.to(torch.int64)
    shot_len = 96.0 + 224.0 * u(num, s)  # 6-20 s at 16 fps
    shot_start = torch.cumsum(shot_len, 1) - shot_len
    speed = (0.3 + 1.2 * u(num, s)) * (u(num, s) > 0.35)
    heading = 2 * math.pi * u(num, s)
    obj_speed = 0.4 + 1.8 * u(num, s, n)
    obj_heading = 2 * math.pi * u(num, s, n)
    active = (u(num, s, n) < torch.tensor([1.0, 0.75, 0.5])).float()
    return Clips(
        cls=cls,
        shot_start=shot_start.floor(),
        cam0=1000.0 * u(num, s, 2),
        cam_vel=speed[..., None] * torch.stack([heading.cos(), heading.sin()], -1),
        bg_colour=torch.cat([1.0 * u(num, s, 1, 3) - 0.5, 1.2 * u(num, s, 2, 3) - 0.6], 2),
        bg_freq=1 / 64 + (1 / 20 - 1 / 64) * u(num, s, 2),
        bg_dir=math.pi * u(num, s, 2),
        bg_phase=2 * math.pi * u(num, s, 2, 2),
        obj_active=active,
        obj_radius=_object_scale * (OBJECT_RADIUS[0] + (OBJECT_RADIUS[1] - OBJECT_RADIUS[0]) * u(num, s, n)),
        obj_pos0=-stage_margin() + (SIZE + 2 * stage_margin()) * u(num, s, n, 2),
        obj_vel=obj_speed[..., None] * torch.stack([obj_heading.cos(), obj_heading.sin()], -1),
        obj_angle0=2 * math.pi * u(num, s, n),
        obj_spin=0.12 * (2 * u(num, s, n) - 1),
        obj_colours=_object_colours(cls, u(num, s, n, 2, 3)),
        obj_checker=(u(num, s, n) < 0.5).float(),
        obj_stripes=1.5 + 2.0 * u(num, s, n),
        pillar_on=(u(num, s) < 0.5).float(),
        pillar_x=1000.0 * u(num, s),
        pillar_width=5.0 + 5.0 * u(num, s),
        pillar_colours=2 * u(num, s, 2, 3) - 1,
    )


def _object_colours(cls: torch.Tensor, draw: torch.Tensor) -> torch.Tensor:
    """[B, S, N, 2, 3] from uniform draws of that shape: the draws themselves (palette "shot") or
    the class's colours moved by them (palette "class")."""
    if _palette == "shot":
        return 2 * draw - 1
    base = torch.tensor(CLASS_PALETTES, dtype=draw.dtype)[cls]  # [B, 2, 3]
    return (base[:, None, None] + PALETTE_JITTER * (2 * draw - 1)).clamp(-1, 1)


def _bounce(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """x reflected into [lo, hi] (a triangle wave): the path of a point bouncing off both ends."""
    span = hi - lo
    return lo + span - ((x - lo).remainder(2 * span) - span).abs()


def _shape_distance(shape: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Signed distance (in radii, < 0 inside) of the point (u, v) of a shape's own frame."""
    rho = torch.sqrt(u * u + v * v)
    disc = rho - 1.0
    box = torch.maximum(u.abs(), v.abs()) - 0.8
    triangle = torch.maximum(0.866 * u.abs() + 0.5 * v, -v) - 0.5
    ring = (rho - 0.72).abs() - 0.28
    return torch.where(shape == 0, disc, torch.where(shape == 1, box, torch.where(shape == 2, triangle, ring)))


def render(clips: Clips, times: torch.Tensor, with_cover: bool = False):
    """Frames of each clip at the given frame indices: times [B, T] -> [B, T, 3, SIZE, SIZE] in [-1, 1].
    with_cover: (frames, cover [B, T, SIZE, SIZE] in [0, 1], how much of each pixel shows an object)."""
    dev = clips.cls.device
    times = times.to(device=dev, dtype=torch.float32)
    b = len(clips)
    shot = ((times[..., None] >= clips.shot_start[:, None, :]).sum(-1) - 1).clamp(min=0)  # [B, T]
    rows = torch.arange(b, device=dev)[:, None]

    def take(x):  # per-shot [B, S, ...] -> per-frame [B, T, ...]
        return x[rows, shot]

    tau = times - take(clips.shot_start)
    px = torch.arange(SIZE, device=dev, dtype=torch.float32) + 0.5
    xs, ys = px.view(1, 1, 1, SIZE), px.view(1, 1, SIZE, 1)

    # Background texture in world coordinates: camera position + pixel.
    cam = take(clips.cam0) + take(clips.cam_vel) * tau[..., None]  # [B, T, 2]
    wx, wy = xs + cam[..., 0, None, None], ys + cam[..., 1, None, None]
    blobs = (clips.cls // len(SHAPES) == 1).view(b, 1, 1, 1)
    freq, direction, phase = take(clips.bg_freq), take(clips.bg_dir), take(clips.bg_phase)
    colour = take(clips.bg_colour)[..., None, None]  # [B, T, 3, 3, 1, 1]
    image = colour[:, :, 0].clone()
    for i in range(2):
        f = (2 * math.pi * freq[..., i])[..., None, None]
        c, s_ = direction[..., i].cos()[..., None, None], direction[..., i].sin()[..., None, None]
        along = torch.sin(f * (c * wx + s_ * wy) + phase[..., i, 0, None, None])
        across = torch.sin(f * (c * wy - s_ * wx) + phase[..., i, 1, None, None])
        term = torch.where(blobs, along * across, along)
        image = image + 0.5 * colour[:, :, i + 1] * term[:, :, None]

    # Objects in stage coordinates (the frame plus a margin); they bounce at the stage's edges.
    lo, hi = -stage_margin(), SIZE + stage_margin()
    shape = (clips.cls % len(SHAPES)).view(b, 1, 1, 1)
    pos = _bounce(take(clips.obj_pos0) + take(clips.obj_vel) * tau[..., None, None], lo, hi)  # [B, T, N, 2]
    angle = take(clips.obj_angle0) + take(clips.obj_spin) * tau[..., None]
    radius, active = take(clips.obj_radius), take(clips.obj_active)
    colours, checker, stripes = take(clips.obj_colours), take(clips.obj_checker), take(clips.obj_stripes)

    seen = torch.zeros_like(image[:, :, 0])  # object cover of the picture so far

    def draw_object(image, k):
        nonlocal seen
        r = radius[..., k, None, None]
        dx, dy = xs - pos[..., k, 0, None, None], ys - pos[..., k, 1, None, None]
        c, s_ = angle[..., k].cos()[..., None, None], angle[..., k].sin()[..., None, None]
        u, v = (c * dx + s_ * dy) / r, (c * dy - s_ * dx) / r
        cover = (0.5 - _shape_distance(shape, u, v) * r).clamp(0, 1) * active[..., k, None, None]
        n = (math.pi * stripes[..., k])[..., None, None]
        wave = torch.sin(n * u) * torch.where(checker[..., k, None, None] > 0, torch.sin(n * v), 1.0)
        tex = (0.5 + 0.5 * torch.tanh(4 * wave))[:, :, None]
        paint = colours[..., k, 0, :, None, None] * tex + colours[..., k, 1, :, None, None] * (1 - tex)
        seen = seen + cover * (1 - seen)
        return image + cover[:, :, None] * (paint - image)

    image = draw_object(draw_object(image, 0), 1)
    # The pillar stands in the world: it pans with the background and wraps around the stage.
    centre = lo + (take(clips.pillar_x) - cam[..., 0] - lo).remainder(hi - lo)
    half = 0.5 * take(clips.pillar_width)
    cover = (0.5 - ((xs - centre[..., None, None]).abs() - half[..., None, None])).clamp(0, 1)
    cover = cover * take(clips.pillar_on)[..., None, None]
    band = (0.5 + 0.5 * torch.tanh(4 * torch.sin(2 * math.pi * wy / 12)))[:, :, None]
    pillar_colours = take(clips.pillar_colours)[..., None, None]
    paint = pillar_colours[:, :, 0] * band + pillar_colours[:, :, 1] * (1 - band)
    image = image + cover[:, :, None] * (paint - image)
    seen = seen * (1 - cover)
    image = draw_object(image, 2).clamp(-1, 1)
    return (image, seen) if with_cover else image


def object_tracks(clips: Clips, times: torch.Tensor) -> dict[str, torch.Tensor]:
    """Where the objects are at frames times [B, T]: for re-entry tests (an object that left the
    frame, is it drawn again when it comes back?). Returns `centre` [B, T, N, 2] (px, frame
    coordinates), `radius` [B, T, N], `shot` [B, T] and `in_frame` [B, T, N] (active, centre
    inside the frame: at least about half of the shape visible, occlusion not counted)."""
    dev = clips.cls.device
    times = times.to(device=dev, dtype=torch.float32)
    shot = ((times[..., None] >= clips.shot_start[:, None, :]).sum(-1) - 1).clamp(min=0)
    rows = torch.arange(len(clips), device=dev)[:, None]
    tau = times - clips.shot_start[rows, shot]
    centre = _bounce(clips.obj_pos0[rows, shot] + clips.obj_vel[rows, shot] * tau[..., None, None],
                     -stage_margin(), SIZE + stage_margin())
    inside = ((centre >= 0) & (centre <= SIZE)).all(-1) & (clips.obj_active[rows, shot] > 0)
    return {"centre": centre, "radius": clips.obj_radius[rows, shot], "shot": shot, "in_frame": inside}


def clip_frames(clips: Clips, num_frames: int, start: int = 0, with_cover: bool = False):
    """Frames start .. start + num_frames - 1 of every clip: [B, num_frames, 3, SIZE, SIZE] (with_cover:
    and their object cover, as render)."""
    times = torch.arange(start, start + num_frames, dtype=torch.float32).expand(len(clips), -1)
    return render(clips, times, with_cover)


def sample_chunk_indices(num: int, chunks: int, generator: torch.Generator) -> torch.Tensor:
    """Chunk indices [num, chunks] (sorted, in a one-minute clip) of training samples.

    40%: the clip's first chunks (the first one is generated from the text alone);
    30%: a contiguous run from anywhere in the minute (history that starts mid-shot, as a
         window cache without a sink sees it);
    30%: 1-2 chunks from far earlier, then a contiguous run (the cache of a long rollout:
         a sink or the persistent memory of PBSA, then the recent window), so the model sees
         large temporal distances.
    """
    g = generator
    out = torch.empty(num, chunks, dtype=torch.int64)
    for i in range(num):
        mode = torch.rand((), generator=g).item()
        if mode < 0.4:
            out[i] = torch.arange(chunks)
        elif mode < 0.7 or chunks < 3:
            start = int(torch.randint(1, MINUTE_CHUNKS - chunks + 1, (), generator=g))
            out[i] = torch.arange(start, start + chunks)
        else:
            far = int(torch.randint(1, 3, (), generator=g))
            recent = chunks - far
            start = int(torch.randint(far + 1, MINUTE_CHUNKS - recent + 1, (), generator=g))
            picked = torch.randperm(start, generator=g)[:far].sort().values
            out[i] = torch.cat([picked, torch.arange(start, start + recent)])
    return out


def chunk_frame_times(chunk_indices: torch.Tensor) -> torch.Tensor:
    """[B, K] chunk indices -> [B, K * FRAMES_PER_CHUNK] video frame indices."""
    frames = chunk_indices[..., None] * FRAMES_PER_CHUNK + torch.arange(FRAMES_PER_CHUNK)
    return frames.flatten(1).float()


def heldout_clips(num: int) -> Clips:
    """Held-out clips (a seed no training run uses), classes in turn 0, 1, ..., NUM_CLASSES - 1, 0, ..."""
    g = torch.Generator().manual_seed(HELDOUT_SEED)
    return sample_clips(num, g, classes=torch.arange(num) % NUM_CLASSES)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """[..., 3, H, W] in [-1, 1] -> uint8 [..., H, W, 3]."""
    x = ((frames.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


if __name__ == "__main__":
    import argparse
    import time
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Render a few clips to check the data set by eye")
    parser.add_argument("--out", type=Path, default=Path("/tmp/trained_tiny_clips"))
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--object-scale", type=float, default=1.0, help="set_object_scale")
    parser.add_argument("--palette", choices=PALETTES, default="shot", help="set_palette")
    args = parser.parse_args()
    configure(vars(args))
    clips = sample_clips(args.clips, torch.Generator().manual_seed(args.seed))
    t0 = time.perf_counter()
    frames = clip_frames(clips, args.frames)
    print(f"{args.clips} clips x {args.frames} frames rendered in {time.perf_counter() - t0:.2f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    # One y4m per clip (4:4:4 would need a C444 header; write RGB as PPM strips instead).
    pixels = to_uint8(frames)  # [B, T, H, W, 3]
    for i, clip in enumerate(pixels):
        strip = np.concatenate(list(clip[:: max(1, args.frames // 8)]), axis=1)
        path = args.out / f"clip_{i}_{class_name(int(clips.cls[i])).replace(' ', '_')}.ppm"
        path.write_bytes(f"P6 {strip.shape[1]} {strip.shape[0]} 255\n".encode() + strip.tobytes())
    print(f"wrote {args.out}/clip_*.ppm (every {max(1, args.frames // 8)}th frame side by side)")
