#!/usr/bin/env python3
"""The one-minute Wan-1.3B-width rollout (issue 13, item 3): vdrt on a GPU, dense and sparse,
with and without FP8, against PyTorch eager bf16 with the same cache policy, in one run.

The model: models/tiny_wan.py's causal Wan DiT at Wan2.1-1.3B width (dim 1536, 12 heads x 128,
FFN 8960, text 4096 x 512, latents 16x60x104 = 1560 tokens a frame, chunks of 3 frames), 30
layers, seeded random weights, and a stand-in decoder (bench/rollout_export.py); exported once
into --work (5.6 GB of fp32 weights, reused while its export.json matches). A rollout is --chunks
80 chunks = 240 latent frames = 960 video frames (1 min at 16 fps), each 4 denoising steps and
the cache-filling pass (5 denoiser calls), then the decoder.

Configurations (--configs, comma separated):
  torch              PyTorch eager, bf16 weights on CUDA (fp32 on a CPU), SDPA, cache --dense-cache
  dense              vdrt, the default pass pipeline, cache --dense-cache
  pbsa               Sparse Forcing's PBSA (bench/pipelines/sparse_forcing_wan.toml), cache pbsa
  hsa                vdrt's HSA preset at Wan scale (bench/pipelines/sparse_hsa_wan.toml), --dense-cache
  lightforcing       Light Forcing, long setting (bench/pipelines/lightforcing_long_wan.toml), window:13,sink:1
  <any of these>+fp8 the same with quantize-fp8 (fp8_w8a8: e4m3 weights, per-token e4m3 activations)
vdrt runs as `vdrt generate --json` (docs/cli_json.md), which reports every chunk; this script
tabulates FPS, per-chunk latency at chunks 1, 7, 27, 80, peak KV cache bytes, total time and
FPS / PyTorch's. On a Vulkan device the runs also record the driver's compiler statistics of
every pipeline they created (VDRT_VULKAN_PIPELINE_STATS: registers, local and shared memory on
NVIDIA) in the JSON's "pipelines", and the GEMM and attention ones are printed after the table. The decoded frames are written to a .y4m in --work (not timed: a chunk's time
ends when its frames are on the host), or not made at all with --no-decode.

On the H200 (../shared/device/README.md): build vdrt here and pack it into the working tree
that travels (untracked; never commit it; 5 MiB):
    cmake --build build --target vdrt && ../shared/device/bundle bench/rollout_bundle.tar.xz build/tools/vdrt
then one device `run` per ARGS line below, each under its 10 minutes, of the command
    mkdir -p /tmp/b && tar -C /tmp/b -xJf bench/rollout_bundle.tar.xz && source /tmp/b/env.sh &&
    PYTHONUNBUFFERED=1 python3 bench/rollout_bench.py --work /tmp/wan --deadline-s 570 ARGS
with ARGS:
    --configs torch,dense --json $OUT/r1.json              ~8.5 min on a fresh machine
    --configs dense+fp8 --json $OUT/r2.json                ~6 min warm, ~7.5 min fresh
    --configs pbsa,hsa,lightforcing --config-budget-s 180 --json $OUT/r3.json
    --configs pbsa+fp8,hsa+fp8,lightforcing+fp8 --config-budget-s 180 --json $OUT/r4.json
and the files that come back in one table (FPS / PyTorch's):
    python3 bench/rollout_bench.py --merge r1.json r2.json ...

Expected durations (--estimate-only prints them; bench/rollout_estimate.py fits them to 8-chunk
rollouts measured there): export 90 s on a fresh machine (reused while the machine is warm:
it stays so 30 s after a call), PyTorch 1 min, vdrt dense 6 min (+30 s of shader compilation
on a fresh machine), dense+fp8 5.7 min; the sparse configurations run on the GPU with their block caches there
(docs/sparse_attention.md), estimated from dense attention's cost per key visited. From chunk 7 on (the window full) every dense chunk costs the same, so a run cut
short by --deadline-s past chunk 27 still gives the steady figures. --deadline-s stops the
command's running configuration with SIGINT (its report covers the chunks done) and skips the
rest; --config-budget-s caps each configuration.

Here (CPU, tiny scale, end to end):
    python3 bench/rollout_bench.py --size tiny --chunks 4 --device cpu --precision fp32 \
        --work /tmp/rollout_tiny --json /tmp/rollout_tiny.json
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline_stats as pipeline_log  # noqa: E402
import rollout_estimate  # noqa: E402
import rollout_export  # noqa: E402
import rollout_torch  # noqa: E402
from rollout_export import ROOT  # noqa: E402
from tiny_wan import TinyWanConfig  # noqa: E402

SPARSE = {  # configuration -> (pass pipeline, cache policy; None: --dense-cache)
    "pbsa": ("bench/pipelines/sparse_forcing_wan.toml", "pbsa"),
    "hsa": ("bench/pipelines/sparse_hsa_wan.toml", None),
    "lightforcing": ("bench/pipelines/lightforcing_long_wan.toml", "window:13,sink:1"),
}
FP8_PIPELINE = "passes/pipelines/fp8_w8a8.toml"
FP8_PASS = ('[[pass]]\nname = "quantize-fp8"\nscope = "dit_linear"          # as passes/pipelines/fp8_w8a8.toml\n'
            'act_quant = "per_token_e4m3"\n\n')
ALL_CONFIGS = ["torch", "dense", "pbsa", "hsa", "lightforcing", "dense+fp8", "pbsa+fp8", "hsa+fp8", "lightforcing+fp8"]
LATENCY_CHUNKS = (1, 7, 27, 80)
GRACE_S = 90  # after SIGINT, vdrt finishes its current denoising step


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(ALL_CONFIGS), help="comma separated (see above)")
    ap.add_argument("--chunks", type=int, default=80)
    ap.add_argument("--size", choices=["wan", "tiny"], default="wan",
                    help="wan: Wan2.1-1.3B width; tiny: the committed models/tiny_wan sizes")
    ap.add_argument("--layers", type=int, help="default 30 (wan), 2 (tiny)")
    ap.add_argument("--dim", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--ffn", type=int)
    ap.add_argument("--text", help="text embedding DIMxLEN, e.g. 4096x512")
    ap.add_argument("--latent", help="latent HxW, e.g. 60x104")
    ap.add_argument("--dense-cache", default="window:18,sink:3",
                    help="cache of torch, dense and hsa: 18 cached frames (the first chunk as sink + the 15 newest), "
                         "so a chunk attends to 21 frames, Self-Forcing's training length")
    ap.add_argument("--device", default="vulkan", help="vdrt device")
    ap.add_argument("--precision", default="fp16", help="vdrt precision (fp16: cooperative matrices)")
    ap.add_argument("--vdrt", default="vdrt", help="the vdrt binary (on PATH, else build/tools/vdrt)")
    ap.add_argument("--torch-dtype", choices=["bf16", "fp32"], help="default bf16 on CUDA, fp32 on a CPU")
    ap.add_argument("--no-decode", action="store_true", help="time the denoiser rollout alone")
    ap.add_argument("--f32-kv-cache", action="store_true",
                    help="vdrt keeps its KV caches in f32 (at fp16 on Vulkan they are f16 otherwise), for comparison")
    ap.add_argument("--dense-pipeline", type=Path,
                    help="pass pipeline of the dense configuration (default: vdrt's built-in one), e.g. for an A/B of a pass")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("/tmp/vdrt_rollout"), help="exported models (generated)")
    ap.add_argument("--json", type=Path, help="write the results here (after every configuration)")
    ap.add_argument("--deadline-s", type=float, default=0,
                    help="stop everything this many seconds after the start (0: none)")
    ap.add_argument("--config-budget-s", type=float, default=0, help="stop each configuration after this (0: none)")
    ap.add_argument("--estimate-only", action="store_true", help="print the expected durations and stop")
    ap.add_argument("--merge", type=Path, nargs="+", help="print one table of these result files; run nothing")
    return ap.parse_args(argv)


def model_config(a) -> TinyWanConfig:
    cfg = rollout_export.wan_config(a.layers or 30) if a.size == "wan" else TinyWanConfig(num_layers=a.layers or 2)
    if a.dim:
        cfg = replace(cfg, dim=a.dim)
    if a.heads:
        cfg = replace(cfg, num_heads=a.heads)
    if a.ffn:
        cfg = replace(cfg, ffn_dim=a.ffn)
    if a.text:
        d, n = (int(v) for v in a.text.lower().split("x"))
        cfg = replace(cfg, text_dim=d, text_len=n)
    if a.latent:
        h, w = (int(v) for v in a.latent.lower().split("x"))
        cfg = replace(cfg, latent_height=h, latent_width=w)
    if cfg.dim % cfg.num_heads or cfg.head_dim % 2:
        sys.exit(f"dim {cfg.dim} must split into {cfg.num_heads} heads of an even size")
    return cfg


def parse_window(policy: str) -> tuple[int, int]:
    """'window:N,sink:S' -> (N, S); 'unbounded' -> (0, 0)."""
    if policy == "unbounded":
        return 0, 0
    fields = dict(item.split(":") for item in policy.split(","))
    return int(fields["window"]), int(fields.get("sink", 0))


def split_config(name: str) -> tuple[str, bool]:
    base, _, suffix = name.partition("+")
    if base not in ("torch", "dense", *SPARSE) or suffix not in ("", "fp8") or (base == "torch" and suffix):
        sys.exit(f"unknown configuration '{name}' (known: {', '.join(ALL_CONFIGS)})")
    return base, suffix == "fp8"


def vdrt_pipeline(name: str, work: Path, dense_pipeline: Path | None = None) -> str | None:
    """The pass pipeline file of a vdrt configuration (None: the default pipeline, or `dense_pipeline`)."""
    base, fp8 = split_config(name)
    if base == "dense":
        if fp8:
            return str(ROOT / FP8_PIPELINE)
        return str(dense_pipeline) if dense_pipeline else None
    path = ROOT / SPARSE[base][0]
    if not fp8:
        return str(path)
    # The sparse preset with quantize-fp8 before sparsify-attention, as lightforcing_short_fp8.toml has it.
    text = path.read_text()
    at = text.index('[[pass]]\nname = "sparsify-attention"')
    out = work / "pipelines" / f"{path.stem}_fp8.toml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# generated by bench/rollout_bench.py: {SPARSE[base][0]} + quantize-fp8\n" + text[:at] + FP8_PASS
                   + text[at:])
    return str(out)


def cache_policy(name: str, dense_cache: str) -> str:
    base, _ = split_config(name)
    return (SPARSE[base][1] if base in SPARSE else None) or dense_cache


def find_vdrt(name: str) -> str:
    path = shutil.which(name) or (str(ROOT / "build/tools/vdrt") if (ROOT / "build/tools/vdrt").exists() else None)
    if not path:
        sys.exit(f"'{name}' not found: build it (cmake --build build --target vdrt) or give --vdrt")
    return path


def video_path(work: Path) -> Path:
    """Where `vdrt generate` writes the decoded frames (on disk: /dev/shm is small in containers)."""
    return work / "rollout_bench.y4m"


def vdrt_command(vdrt: str, folder: Path, name: str, a, cfg: TinyWanConfig) -> list[str]:
    frames = a.chunks * cfg.frames_per_chunk * rollout_export.TEMPORAL_UPSAMPLE
    cmd = [vdrt, "generate", str(folder), "--json", "--no-progress", "--frames", str(frames), "-d", a.device,
           "--precision", a.precision, "--cache", cache_policy(name, a.dense_cache), "--seed", str(a.seed)]
    pipeline = vdrt_pipeline(name, a.work, a.dense_pipeline)
    if pipeline:
        cmd += ["--pipeline", pipeline]
    cmd += ["--no-decode"] if a.no_decode else ["-o", str(video_path(a.work))]
    if a.f32_kv_cache:
        cmd += ["--f32-kv-cache"]
    return cmd


def run_vdrt(cmd: list[str], stop_at: float | None, pipeline_stats: bool = False) -> dict:
    """Runs `vdrt generate`; at `stop_at` (perf_counter) sends SIGINT: the report then covers the chunks done.
    With `pipeline_stats` (a Vulkan device) the driver's compiler statistics of every pipeline the run created
    (registers, local and shared memory on NVIDIA) go into the report's "pipelines" instead of the log."""
    print("$ " + " ".join(cmd), flush=True)
    env = dict(os.environ, **pipeline_log.ENV) if pipeline_stats else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    log = collections.deque(maxlen=20)  # vdrt's last log lines, for the reason of a failure
    pipelines: dict = {}

    def relay():
        for line in proc.stderr:
            if pipeline_log.read_line(line, pipelines):
                continue
            if not line.startswith("[info] pass "):
                sys.stderr.write(line)
            log.append(line.rstrip())

    stdout = []
    readers = [threading.Thread(target=relay, daemon=True),
               threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=None if stop_at is None else max(1.0, stop_at - time.perf_counter()))
    except subprocess.TimeoutExpired:
        print(f"rollout_bench: time is up, interrupting (pid {proc.pid})", flush=True)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for r in readers:
        r.join(timeout=10)
    out = "".join(stdout)
    reason = next((line for line in reversed(log) if line.startswith("vdrt")), log[-1] if log else "")
    if proc.returncode not in (0, 130):
        return {"error": f"exit code {proc.returncode}: {reason}", "command": cmd}
    try:
        report = json.loads(out)
    except ValueError:
        return {"error": f"no JSON report (exit code {proc.returncode}): {reason}", "command": cmd}
    report["command"] = cmd
    if pipeline_stats:
        report["pipelines"] = pipelines
    return report


def run_torch(models, cfg: TinyWanConfig, a, stop_at: float | None) -> dict:
    denoiser, decoder = models
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[a.torch_dtype or ("bf16" if cuda else "fp32")]
    t0 = time.perf_counter()
    denoiser, decoder = denoiser.to(device=device, dtype=dtype), decoder.to(device=device, dtype=dtype)
    context = torch.from_numpy(rollout_export.make_context(cfg)).to(device=device, dtype=dtype)
    if cuda:
        torch.cuda.synchronize()
    load_ms = (time.perf_counter() - t0) * 1e3
    window, sink = parse_window(a.dense_cache)
    done = []

    def progress(entry):
        done.append(entry)
        print(f"torch chunk {entry['index'] + 1}/{a.chunks}: {entry['ms'] / 1e3:.3f} s, "
              f"cache {entry['cache_bytes'] / 2**20:.1f} MiB ({entry['cache_frames']} frames)", flush=True)

    report = rollout_torch.run(denoiser, decoder, context, a.chunks, window, sink, decode=not a.no_decode,
                               seed=a.seed, on_chunk=progress, stop_at=stop_at)
    name = torch.cuda.get_device_name() if cuda else "CPU"
    report = {"pipeline": "PyTorch eager", "device": {"id": str(device), "name": name},
              "precision": str(dtype).replace("torch.", ""), "pass_pipeline": "eager (SDPA)",
              "torch": torch.__version__, "load_ms": load_ms, **report}
    if cuda:
        report["max_memory_allocated_bytes"] = torch.cuda.max_memory_allocated()
    return report


def latency(report: dict, chunk: int) -> str:
    chunks = report.get("chunks") or []
    if not chunks:
        return "-"
    i = min(chunk, len(chunks))
    ms = chunks[i - 1]["ms"]
    return f"{ms:.0f}" if i == chunk else f"{ms:.0f} (@{i})"


def cpu_nodes(report: dict) -> str:
    nodes = (report.get("placement") or {}).get("nodes") or {}
    dev = (report.get("device") or {}).get("backend")
    return str(nodes.get("cpu", 0)) if nodes and dev != "cpu" else "-"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def fps_ratio(r: dict, torch_r: dict, key: str) -> str:
    """This configuration's FPS over PyTorch's (> 1: vdrt is faster)."""
    mine, theirs = r.get(key), torch_r.get(key)
    return f"{mine / theirs:.2f}x" if mine and theirs else "-"


def print_table(results: dict) -> None:
    torch_r = results.get("torch") or {}
    head = ["config", "chunks", "FPS latent", "FPS video", "FPS steady", *(f"chunk {c} ms" for c in LATENCY_CHUNKS),
            "peak KV", "total s", "load s", "vs torch", "steady vs torch", "CPU nodes"]
    rows = []
    for name, r in results.items():
        if "error" in r or "skipped" in r:
            rows.append([name, r.get("error") or r.get("skipped")])
            continue
        vs = [fps_ratio(r, torch_r, k) if name != "torch" else "-" for k in ("latent_fps", "steady_latent_fps")]
        rows.append([name, f"{r['chunks_done']}/{r['chunks_requested']}" + ("*" if r.get("interrupted") else ""),
                     fmt(r.get("latent_fps"), ".2f"), fmt(r.get("video_fps"), ".2f"),
                     fmt(r.get("steady_latent_fps"), ".2f"), *(latency(r, c) for c in LATENCY_CHUNKS),
                     human_bytes(r["peak_kv_cache_bytes"]), fmt(r["total_ms"] / 1e3, ".1f"),
                     fmt(r.get("load_ms", 0) / 1e3, ".1f"), *vs, cpu_nodes(r)])
    full = [head] + [row for row in rows if len(row) == len(head)]
    widths = [max(len(str(row[i])) for row in full) for i in range(len(head))]
    for row in [head] + rows:
        if len(row) == 2 and row is not head:
            print(f"{row[0]:<{widths[0]}}  {row[1]}")
            continue
        print("  ".join(f"{str(v):>{w}}" if i else f"{str(v):<{w}}" for i, (v, w) in enumerate(zip(row, widths))))
    print("FPS: latent frames (video frames = 4x) per second of the rollout's wall time, load excluded; steady: "
          "without chunk 1 (plans, shader compilation); * interrupted (time budget): figures over the chunks done; "
          "CPU nodes: denoiser nodes that ran on the CPU (sparse ops without GPU kernels)")
    pipeline_log.print_hot([r.get("pipelines") for r in results.values()])


def print_estimate(cfg: TinyWanConfig, names: list[str], a) -> dict:
    out = {}
    print(f"expected on the H200 ({cfg.num_layers} layers, {a.chunks} chunks; bench/rollout_estimate.py):")
    first_vdrt = True
    for name in names:
        base, fp8 = split_config(name)
        runner = "torch" if base == "torch" else "vdrt"
        policy = cache_policy(name, a.dense_cache)
        window = 0 if policy == "pbsa" else parse_window(policy)[0]  # PBSA's op bounds its own cache
        seconds = rollout_estimate.estimate(runner, "dense" if base == "torch" else base, fp8, cfg, a.chunks, window,
                                            cold=runner == "vdrt" and first_vdrt)
        first_vdrt = first_vdrt and runner != "vdrt"
        out[name] = seconds
        note = "  (sparse layers priced as dense attention per key visited)" if base in SPARSE else ""
        print(f"  {name:<18} {seconds:7.0f} s = {seconds / 60:4.1f} min{note}")
    out["export"] = rollout_estimate.export_seconds(cfg)
    print(f"  {'export':<18} {out['export']:7.0f} s (on a fresh machine; reused on a warm one)")
    return out


def save(path: Path | None, doc: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1))


def merge(files: list[Path]) -> None:
    results = {}
    for f in files:
        doc = json.loads(f.read_text())
        print(f"{f}: {doc['model']['num_layers']} layers, {doc['chunks']} chunks, {', '.join(doc['results'])}")
        results.update(doc["results"])
    print_table(results)


def main(argv=None) -> None:
    start = time.perf_counter()
    a = parse_args(argv)
    if a.merge:
        merge(a.merge)
        return
    cfg = model_config(a)
    names = [n for n in a.configs.split(",") if n]
    for n in names:
        split_config(n)
    doc = {"command": sys.argv, "model": asdict(cfg), "chunks": a.chunks, "dense_cache": a.dense_cache,
           "estimate": print_estimate(cfg, names, a), "results": {}}
    if a.estimate_only:
        return
    stop_at_all = start + a.deadline_s if a.deadline_s > 0 else None
    vdrt = find_vdrt(a.vdrt) if any(n != "torch" for n in names) else ""

    models = None
    folder = rollout_export.cached_export(a.work, cfg)
    if folder is not None:
        doc["export"] = {"folder": str(folder), "reused": True}
        print(f"reusing the export in {folder}", flush=True)
    elif any(n != "torch" for n in names):
        t0 = time.perf_counter()
        models = rollout_export.build_models(cfg)
        build_s = time.perf_counter() - t0
        a.work.mkdir(parents=True, exist_ok=True)
        trace = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"built the models in {build_s:.1f} s; exporting to {a.work} (trace on {trace}, "
              f"{rollout_export.free_disk_bytes(a.work) / 2**30:.0f} GiB free)", flush=True)
        folder, times = rollout_export.export_pipeline(a.work, cfg, *models, trace_device=trace)
        doc["export"] = {"folder": str(folder), "reused": False, "build_s": build_s, **times}
        print(f"exported in {time.perf_counter() - t0:.1f} s: {times}", flush=True)

    for name in names:
        now = time.perf_counter()
        if stop_at_all is not None and now >= stop_at_all - 5:
            doc["results"][name] = {"skipped": "not started: --deadline-s reached"}
            continue
        stops = [t for t in (stop_at_all, now + a.config_budget_s if a.config_budget_s > 0 else None) if t]
        stop_at = min(stops) if stops else None
        print(f"== {name}", flush=True)
        if name == "torch":
            if models is None:
                models = rollout_export.build_models(cfg)
            doc["results"][name] = run_torch(models, cfg, a, stop_at)
            models = None  # the modules now live on the device in bf16; free them before vdrt runs
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        else:
            if models is not None:
                models = None
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            doc["results"][name] = run_vdrt(vdrt_command(vdrt, folder, name, a, cfg), stop_at,
                                            pipeline_stats=a.device.startswith("vulkan"))
            video_path(a.work).unlink(missing_ok=True)
        save(a.json, doc)
    print()
    print_table(doc["results"])
    doc["wall_s"] = time.perf_counter() - start
    save(a.json, doc)
    print(f"rollout_bench: {doc['wall_s']:.1f} s" + (f"; results in {a.json}" if a.json else ""))


if __name__ == "__main__":
    main()
