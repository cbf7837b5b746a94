#!/usr/bin/env python3
"""Quality of the sparse-attention and FP8 presets against dense attention on a pipeline folder
(issue 16 item 4), by rollouts of vdrt's Python module (build/python; NumPy only, no torch):

    python3 bench/quality_bench.py models/trained_tiny/pipeline --chunks 80 --json /tmp/q.json

Configurations: `dense` (the default pass pipeline, unbounded cache: the reference), every preset
of passes/pipelines/*.toml with the cache policy it needs (PBSA layers: `pbsa`; a Light Forcing
`cag_window` of N frames: `window:N,sink:<keep_sink>`; else `unbounded`), and `dense@window:13,sink:1`
(dense attention over lightforcing_long's window, to tell the window's loss from the selection's)
and `other_seed` (dense with seed r + 1000 against dense with seed r: an unrelated video of the same
prompt, the floor a preset reaches once its rollout has lost all relation to dense's).
--configs picks some (space separated), as NAME or NAME@CACHE; NAME may be a path to a .toml.

Each configuration generates --rollouts rollouts of --chunks chunks (rollout r: seed r, the prompt
contexts/class_<r mod K>.pb when the folder has contexts/, else its default context), each against
the dense rollout of the same seed and prompt. Reported, from the decoded frames (float, clamped
to [-1, 1]; models/trained_tiny/frame_metrics.py):
  PSNR/SSIM per chunk against dense (PSNR of the MSE pooled over rollouts), the PSNR of chunks 2..N
  pooled (chunk 1 is exact for every sparse preset: nothing is cached yet), drift (PSNR at chunks
  1, 7, 27, 80 and the slope of a least-squares line from the first chunk that differs, dB per 10 s),
  re-entry recall (bench/reentry.py: held-out clips given up to the chunk in which an object comes
  back after >= 5 chunks away; --reentry-cases, default models/trained_tiny/reentry_cases.npz for
  models/trained_tiny/pipeline), the KV cache's peak bytes, and speed (median s/chunk over chunks 2..N, this machine, decoding included).
PSNR of identical frames is 120 dB (frame_metrics.MAX_PSNR_DB).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "trained_tiny"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import frame_metrics  # noqa: E402
import reentry  # noqa: E402

PRESETS = ROOT / "passes" / "pipelines"
TRAINED_TINY = ROOT / "models" / "trained_tiny"
DRIFT_CHUNKS = (1, 7, 27, 80)  # 1-based, as bench/rollout_bench.py's latency columns
EXTRA_CONFIGS = ("dense@window:13,sink:1",)
OTHER_SEED = 1000  # the floor: dense with seed r + OTHER_SEED, an unrelated video of the same prompt


def preset_cache(toml: Path) -> str:
    """The cache policy a preset needs (as tests/tools/sparse_cli_test.cpp gives them)."""
    passes = tomllib.loads(toml.read_text()).get("pass", [])
    sparse = [p for p in passes if p.get("name") == "sparsify-attention"]
    if any(p.get("method") == "pbsa" for p in sparse):
        return "pbsa"
    window = max((p.get("cag_window", 0) for p in sparse), default=0)
    if window > 0:
        sink = max(p.get("keep_sink", p.get("sink_frames", 0)) for p in sparse)
        return f"window:{window},sink:{sink}"
    return "unbounded"


def default_configs() -> list[str]:
    return ["dense", "other_seed"] + [f"{t.stem}@{preset_cache(t)}" for t in sorted(PRESETS.glob("*.toml"))] + list(EXTRA_CONFIGS)


def parse_config(spec: str) -> tuple[str, Path | None, str]:
    """NAME[@CACHE] -> (label, preset TOML or None for dense and other_seed, cache)."""
    name, _, cache = spec.partition("@")
    if name == "other_seed":
        return name, None, "unbounded"
    toml = None if name == "dense" else Path(name).resolve() if name.endswith(".toml") else PRESETS / f"{name}.toml"
    if toml is not None and not toml.exists():
        raise SystemExit(f"unknown preset '{name}' (passes/pipelines/*.toml: "
                         f"{', '.join(t.stem for t in sorted(PRESETS.glob('*.toml')))})")
    cache = cache or (preset_cache(toml) if toml else "unbounded")
    short = toml.stem if toml else name
    label = short if (toml is None and cache == "unbounded") or (toml and cache == preset_cache(toml)) else f"{short}@{cache}"
    return label, toml, cache


def class_context(vdrt, folder: Path, k: int) -> tuple[str, np.ndarray | None]:
    classes = sorted((folder / "contexts").glob("class_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    if not classes:
        return "default", None
    return classes[k % len(classes)].stem, vdrt.load_tensor(classes[k % len(classes)])


def reentry_frames(vdrt, pipe, folder: Path, cases: list, seed_offset: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(chunk c generated, the last given frame held) of each case; case k with seed k + seed_offset."""
    return [reentry.continue_case(pipe, case, k + seed_offset, class_context(vdrt, folder, case.cls)[1])
            for k, case in enumerate(cases)]


def rollout(pipe, chunks: int, seed: int, context) -> tuple[list[np.ndarray], list[float], int]:
    """Decoded frames per chunk, seconds per chunk, the KV cache's peak bytes."""
    it = pipe.generate(frames=chunks * pipe.frames_per_chunk, seed=seed, prompt_embeds=context, output="float")
    frames, seconds = [], []
    while True:
        start = time.perf_counter()
        try:
            chunk = next(it)
        except StopIteration:
            break
        seconds.append(time.perf_counter() - start)
        frames.append(np.clip(chunk, -1, 1))
    return frames, seconds, it.peak_cache_bytes


def drift(per_chunk_psnr: list[float], chunk_seconds: float) -> dict:
    """PSNR at DRIFT_CHUNKS, and the slope of a least-squares line through the chunks from the first
    that differs from dense (< 100 dB) on, in dB per 10 s."""
    out = {f"psnr_chunk_{c}": per_chunk_psnr[c - 1] for c in DRIFT_CHUNKS if c <= len(per_chunk_psnr)}
    first = next((c for c, p in enumerate(per_chunk_psnr) if p < 100), len(per_chunk_psnr))
    tail = per_chunk_psnr[first:]
    out["slope_db_per_10s"] = (float(np.polyfit((first + np.arange(len(tail))) * chunk_seconds, tail, 1)[0] * 10)
                               if len(tail) >= 2 else None)
    return out


def measure(vdrt, folder: Path, spec: str, dense: list, dense_reentry: list, args) -> dict:
    """PSNR per chunk is of the MSE pooled over the rollouts; the horizon's PSNR of the MSE pooled over
    chunks 2..N and the rollouts (a few bad chunks weigh as they look, not as a dB average)."""
    label, toml, cache = parse_config(spec)
    pipe = vdrt.VideoPipeline(folder, device="cpu", pipeline=str(toml) if toml else None, cache=cache,
                              threads=args.threads)
    mse, ssim, speed, peak = [], [], [], 0
    for r, (name, context) in enumerate(args.prompts):
        seed = r + OTHER_SEED if label == "other_seed" else r
        frames, seconds, p = rollout(pipe, args.chunks, seed, context)
        mse.append([frame_metrics.mse(a, b) for a, b in zip(frames, dense[r]["frames"], strict=True)])
        ssim.append([frame_metrics.ssim(a, b) for a, b in zip(frames, dense[r]["frames"], strict=True)])
        speed += seconds[1:] or seconds
        peak = max(peak, p)
    mse, ssim = np.array(mse), np.array(ssim)
    after_first = slice(1, None) if args.chunks > 1 else slice(None)
    per_chunk_psnr = [frame_metrics.psnr_of_mse(m) for m in mse.mean(0)]
    return {
        "config": label, "pipeline": str(toml) if toml else "<default>", "cache": cache,
        "psnr_per_chunk": per_chunk_psnr, "ssim_per_chunk": ssim.mean(0).tolist(),
        "psnr_per_rollout_and_chunk": [[frame_metrics.psnr_of_mse(m) for m in row] for row in mse],
        "psnr_db": frame_metrics.psnr_of_mse(float(mse[:, after_first].mean())),
        "mean_ssim": float(ssim[:, after_first].mean()),
        "drift": drift(per_chunk_psnr, pipe.frames_per_chunk / args.fps),
        "reentry": (reentry.score([f for f, _ in reentry_frames(vdrt, pipe, folder, args.cases,
                                                                 OTHER_SEED if label == "other_seed" else 0)],
                                  dense_reentry, args.cases) if args.cases else None),
        "peak_kv_bytes": int(peak), "s_per_chunk": float(np.median(speed)),
    }


def still_references(dense: list) -> dict:
    """PSNR over chunks 2..N (pooled over rollouts) of videos that ignore the model, for scale."""
    def pooled(make):
        return frame_metrics.psnr_of_mse(float(np.mean([frame_metrics.mse(make(d["frames"][0], f), f)
                                                         for d in dense for f in d["frames"][1:]])))
    return {"grey_db": pooled(lambda first, f: np.zeros_like(f)),
            "black_db": pooled(lambda first, f: -np.ones_like(f)),
            "first_chunk_last_frame_held_db": pooled(lambda first, f: np.broadcast_to(first[-1:], f.shape))}


def fmt(x, spec=".2f") -> str:
    return "-" if x is None else format(x, spec)


def table(rows: list[dict], chunks: int) -> str:
    drift_cols = [c for c in DRIFT_CHUNKS if c <= chunks]
    head = (["config", "cache"] + [f"PSNR@{c}" for c in drift_cols]
            + ["PSNR 2..N", "SSIM 2..N", "dB/10s", "re-entry: object vs dense", "vs truth", "rest vs dense", "peak KV",
               "s/chunk"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        e = r["reentry"] or {}
        cells = ([r["config"], r["cache"]] + [fmt(r["drift"][f"psnr_chunk_{c}"], ".1f") for c in drift_cols]
                 + [fmt(r["psnr_db"]), fmt(r["mean_ssim"], ".3f"), fmt(r["drift"]["slope_db_per_10s"]),
                    fmt(e.get("object_vs_dense_psnr_db")), fmt(e.get("object_vs_truth_psnr_db")),
                    fmt(e.get("rest_vs_dense_psnr_db")),
                    f"{r['peak_kv_bytes'] / 1024:.0f} KiB", f"{r['s_per_chunk']:.3f}"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", type=Path, help="pipeline folder (denoiser.onnx, decoder.onnx)")
    parser.add_argument("--chunks", type=int, default=80, help="chunks per rollout (80 x 12 frames = 1 min at 16 fps)")
    parser.add_argument("--rollouts", type=int, default=2, help="seeds 0..N-1, prompt class r mod K")
    parser.add_argument("--configs", nargs="+", default=default_configs(), metavar="NAME[@CACHE]",
                        help="dense, a passes/pipelines/ preset or a .toml path, with a cache policy (default: the preset's)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    parser.add_argument("--fps", type=float, default=16.0)
    parser.add_argument("--reentry-cases", type=Path, help="re-entry cases (.npz of models/trained_tiny/reentry_cases.py)")
    parser.add_argument("--build", type=Path, default=ROOT / "build", help="build folder holding python/vdrt")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    sys.path.insert(0, str(args.build / "python"))
    import vdrt

    dense_pipe = vdrt.VideoPipeline(args.pipeline, device="cpu", threads=args.threads)
    args.prompts = [class_context(vdrt, args.pipeline, r) for r in range(args.rollouts)]
    if args.reentry_cases is None and args.pipeline.resolve() == TRAINED_TINY / "pipeline":
        args.reentry_cases = TRAINED_TINY / "reentry_cases.npz"
    args.cases = reentry.load_cases(args.reentry_cases) if args.reentry_cases else []
    start = time.time()
    dense = []
    for r, (_, context) in enumerate(args.prompts):
        frames, _, _ = rollout(dense_pipe, args.chunks, r, context)
        dense.append({"frames": frames})
    dense_reentry = reentry_frames(vdrt, dense_pipe, args.pipeline, args.cases)
    print(f"dense: {args.rollouts} rollouts x {args.chunks} chunks and {len(args.cases)} re-entry cases in "
          f"{time.time() - start:.0f} s", flush=True)
    refs = still_references(dense) if args.chunks > 1 else None
    held = reentry.score([h for _, h in dense_reentry], [f for f, _ in dense_reentry], args.cases) if args.cases else None
    dense_reentry = [f for f, _ in dense_reentry]
    rows = []
    for spec in args.configs:
        start = time.time()
        rows.append(measure(vdrt, args.pipeline, spec, dense, dense_reentry, args))
        print(f"{rows[-1]['config']}: PSNR {rows[-1]['psnr_db']:.2f} dB ({time.time() - start:.0f} s)",
              flush=True)
    print(table(rows, args.chunks))
    if refs:
        print(f"for scale, PSNR over chunks 2..N against dense: a grey screen {refs['grey_db']:.2f} dB, black "
              f"{refs['black_db']:.2f} dB, the last frame of chunk 1 held {refs['first_chunk_last_frame_held_db']:.2f} dB")
    if held:
        print(f"re-entry, no-memory baseline (the last given frame held): object vs truth "
              f"{held['object_vs_truth_psnr_db']:.2f} dB, rest vs truth {held['rest_vs_truth_psnr_db']:.2f} dB; "
              f"dense: object vs truth {rows[0]['reentry']['object_vs_truth_psnr_db']:.2f} dB, rest vs truth "
              f"{rows[0]['reentry']['rest_vs_truth_psnr_db']:.2f} dB ({len(args.cases)} cases)")
    if args.json:
        doc = {"pipeline": str(args.pipeline), "chunks": args.chunks, "rollouts": args.rollouts,
               "prompts": [name for name, _ in args.prompts], "threads": args.threads,
               "reentry_cases": str(args.reentry_cases) if args.reentry_cases else None,
               "still_references": refs, "reentry_last_given_frame_held": held, "configs": rows}
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
