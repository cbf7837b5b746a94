#!/usr/bin/env python3
"""Times one denoiser call of a model on vdrt (CPU) and on ONNX Runtime (CPU)
in the same run, same machine, same thread count, and prints the ratio.

An exported model with a test set (input_K.pb):

    python3 bench/compare_ort.py models/tiny_wan/ts17/denoiser.onnx \
        models/tiny_wan/ts17/denoiser/test_data_set_1 --threads 2 --runs 50 --rounds 3 --check

The Wan2.1-1.3B-width denoiser (models/tiny_wan.py at dim 1536, 12 heads of 128, FFN 8960,
text 4096 x 512; bench/gpu_denoiser_bench.py's wan_config/make_args/export) with N layers
and random weights, exported here with the TorchScript exporter (opset 17) into --work
(never committed), with the latents' size and the KV cache length chosen here:

    python3 bench/compare_ort.py --wan-layers 2 --latent 60x104 --past-frames 6 \
        --threads 16 --runs 3 --rounds 2 --optimize --json wan.json

Both runtimes get identical inputs (written as input_K.pb, read by `vdrt bench/run`);
the outputs of one call are compared (max |vdrt - ort| / max |ort| per output) before
timing. vdrt runs with the default pass pipeline (`-O1`, what `vdrt bench` does) and,
unless --skip-O0, as imported (`-O0`); --optimize adds vdrt on the file `vdrt opt
--device cpu` writes. --also-vdrt LABEL=BINARY adds another build (the one before a
change) and --also-pipeline LABEL=TOML the same build with another pass pipeline, timed
in the same rounds, so before and after meet the same load. ONNX Runtime: CPU provider,
intra-op threads = --threads, one inter-op thread,
sequential execution, default graph optimisations (ORT_ENABLE_ALL). Both runtimes run
on the CPU even where a GPU exists (vdrt gets `--device cpu`). --rounds K times ORT,
then each vdrt configuration, K times over and reports the median of the per-round
ratios: on a machine shared with other work, load then hits both sides alike.

Needs `pip install onnx onnxruntime numpy` (and torch for --wan-layers; the CPU build
is enough) and a built build/tools/vdrt.
"""
import argparse
import dataclasses
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def load_inputs(folder):
    feeds = {}
    for path in sorted(glob.glob(os.path.join(folder, "input_*.pb")),
                       key=lambda p: int(re.findall(r"(\d+)\.pb$", p)[0])):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        feeds[t.name] = numpy_helper.to_array(t)
    return feeds


def load_outputs(folder, count):
    out = []
    for k in range(count):
        t = onnx.TensorProto()
        with open(os.path.join(folder, f"output_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        out.append(numpy_helper.to_array(t))
    return out


def write_inputs(folder, names, arrays):
    os.makedirs(folder, exist_ok=True)
    for old in glob.glob(os.path.join(folder, "*.pb")):
        os.remove(old)
    for k, (name, a) in enumerate(zip(names, arrays)):
        with open(os.path.join(folder, f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(a, order="C"), name).SerializeToString())


def ort_session(model, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


class OrtTimer:
    """One ONNX Runtime session; time() gives the median ms of `runs` calls after `warmup`."""

    def __init__(self, model, feeds, threads):
        self.sess = ort_session(model, threads)
        self.feeds = feeds
        self.names = [o.name for o in self.sess.get_outputs()]

    def run(self):
        return self.sess.run(None, self.feeds)

    def time(self, runs, warmup):
        for _ in range(warmup):
            self.run()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            self.run()
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def time_ort(model, feeds, threads, runs, warmup):
    """Median ms of `runs` ONNX Runtime calls after `warmup`."""
    return OrtTimer(model, feeds, threads).time(runs, warmup)


def time_vdrt(vdrt, model, folder, threads, runs, warmup, extra=()):
    """`vdrt bench` on the CPU: its median ms."""
    return bench_vdrt(vdrt, model, folder, threads, runs, warmup, extra)["median_ms"]


def bench_vdrt(vdrt, model, folder, threads, runs, warmup, extra=()):
    cmd = [vdrt, "bench", model, "--inputs", folder, "--device", "cpu", "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(warmup), "--json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-4000:]}")
    doc = json.loads(p.stdout)
    # the load-time pass log ("pass fuse-attention ... (cross-attention 2, self-attention 2)")
    doc["pass_log"] = [m.group(1).strip() for m in re.finditer(r"\] pass (.*)", p.stderr)]
    return doc


def run_vdrt(vdrt, model, folder, threads, out_dir, count, extra=()):
    """One `vdrt run` call on the CPU; its outputs as numpy arrays."""
    shutil.rmtree(out_dir, ignore_errors=True)
    cmd = [vdrt, "run", model, "--inputs", folder, "--output", out_dir, "--device", "cpu",
           "--threads", str(threads), "--quiet", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-4000:]}")
    return load_outputs(out_dir, count)


def rel_diffs(names, got, ref):
    """max |got - ref| / max |ref| for each output."""
    d = {}
    for n, a, b in zip(names, got, ref):
        if a.shape != b.shape:
            d[n] = float("inf")
            continue
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        err = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if b.size else 0.0
        d[n] = err / scale if scale > 0 else err
    return d


def machine():
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_avg": list(os.getloadavg())}


def compare(model, folder, args, check=True, vdrt_configs=None):
    """Times ORT and each vdrt configuration on `model` with the inputs in `folder`;
    with `check`, compares one call's outputs first. Returns the result dict."""
    feeds = load_inputs(folder)
    res = {"model": model, "inputs": folder, "threads": args.threads, "runs": args.runs, "warmup": args.warmup,
           "onnxruntime": ort.__version__, "machine": machine(), "vdrt": {}}
    configs = vdrt_configs or [("O1", model, (), args.vdrt)]
    t0 = time.perf_counter()
    timer = OrtTimer(model, feeds, args.threads)
    ref = timer.run() if check else None
    print(f"onnxruntime {ort.__version__} CPU session and first call {time.perf_counter() - t0:.1f} s", flush=True)
    for label, vmodel, extra, binary in configs:
        entry = res["vdrt"][label] = {"model": vmodel, "args": list(extra), "binary": binary, "rounds": []}
        if check:
            got = run_vdrt(binary, vmodel, folder, args.threads, os.path.join(args.work_out, f"vdrt_{label}"),
                           len(timer.names), extra)
            entry["rel_diff"] = rel_diffs(timer.names, got, ref)
            entry["max_rel_diff"] = max(entry["rel_diff"].values())
            print(f"vdrt {label:<4} vs onnxruntime: max rel diff {entry['max_rel_diff']:.2e} "
                  f"(max |vdrt - ort| / max |ort| over {len(got)} outputs)", flush=True)
            del got
    del ref
    # Rounds alternate ORT and each vdrt configuration, so that load from other work on a
    # shared machine hits both sides alike; the ratios are per round, then the median.
    res["ort_rounds"] = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        ort_ms = timer.time(args.runs, args.warmup)
        res["ort_rounds"].append(ort_ms)
        line = [f"round {r + 1}/{args.rounds}: onnxruntime {ort_ms:.1f} ms"]
        for label, vmodel, extra, binary in configs:
            entry = res["vdrt"][label]
            b = bench_vdrt(binary, vmodel, folder, args.threads, args.runs, args.warmup, extra)
            entry["rounds"].append({"median_ms": b["median_ms"], "p10_ms": b["p10_ms"], "p90_ms": b["p90_ms"],
                                    "ratio_vs_ort": b["median_ms"] / ort_ms})
            entry["device"] = b["device"]["name"]
            entry["arena_bytes"] = b["arena_bytes"]
            entry["passes"] = b["pass_log"]
            line.append(f"vdrt {label} {b['median_ms']:.1f} ms ({b['median_ms'] / ort_ms:.2f}x)")
        print(", ".join(line) + f"  [{time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}]", flush=True)
    res["ort_ms"] = statistics.median(res["ort_rounds"])
    for entry in res["vdrt"].values():
        entry["median_ms"] = statistics.median(x["median_ms"] for x in entry["rounds"])
        entry["ratio_vs_ort"] = statistics.median(x["ratio_vs_ort"] for x in entry["rounds"])
    res["load_avg_end"] = list(os.getloadavg())
    return res


def labelled(pairs, what):
    out = []
    for p in pairs:
        label, sep, value = p.partition("=")
        if not sep or not label or not value:
            raise SystemExit(f"{what} takes LABEL=VALUE, got {p!r}")
        out.append((label, value))
    return out


def vdrt_configs(args, model):
    """The vdrt configurations timed in each round: (label, model, extra args, binary)."""
    configs = [("O1", model, (), args.vdrt)]
    if args.wan_layers and not args.skip_O0:
        configs.append(("O0", model, ("-O", "0"), args.vdrt))
    for label, binary in labelled(args.also_vdrt, "--also-vdrt"):
        configs.append((label, model, (), binary))
    for label, pipeline in labelled(args.also_pipeline, "--also-pipeline"):
        configs.append((label, model, ("--pipeline", pipeline), args.vdrt))
    return configs


def wan_mode(args):
    import torch  # only this mode needs torch

    sys.path.insert(0, HERE)
    from gpu_denoiser_bench import export, make_args, wan_config  # noqa: E402  (also puts models/ on sys.path)
    from tiny_wan import TinyWanDenoiser, denoiser_input_names  # noqa: E402

    h, w = (int(x) for x in args.latent.lower().split("x"))
    cfg = dataclasses.replace(wan_config(args.wan_layers), latent_height=h, latent_width=w)
    past = args.past_frames * cfg.tokens_per_frame
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(args.work, exist_ok=True)
    tag = f"wan_width_{args.wan_layers}l_{h}x{w}"
    path = os.path.join(args.work, f"{tag}.onnx")
    folder = os.path.join(args.work, f"{tag}_past{args.past_frames}")
    args.work_out = os.path.join(args.work, f"{tag}_out")
    info = {"mode": "wan-width", "layers": args.wan_layers, "latent": [h, w], "dim": cfg.dim, "heads": cfg.num_heads,
            "head_dim": cfg.head_dim, "ffn_dim": cfg.ffn_dim, "text": [cfg.text_len, cfg.text_dim],
            "tokens_per_frame": cfg.tokens_per_frame, "query_tokens": cfg.tokens_per_chunk,
            "past_frames": args.past_frames, "past_tokens": past, "torch": torch.__version__}
    print(f"Wan width, {args.wan_layers} layers: dim {cfg.dim}, {cfg.num_heads}x{cfg.head_dim} heads, FFN {cfg.ffn_dim}, "
          f"latents 16x{h}x{w} ({cfg.tokens_per_frame} tokens/frame), {cfg.tokens_per_chunk} query tokens, "
          f"{past} cached tokens ({args.past_frames} frames), threads {args.threads}", flush=True)
    if args.reuse_export and os.path.exists(path):
        print(f"reusing {path}", flush=True)
    else:
        t0 = time.perf_counter()
        model = TinyWanDenoiser(cfg).float().eval()
        export(model, cfg, past, path)  # TorchScript exporter, opset 17, past_len symbolic
        del model
        info["export_s"] = time.perf_counter() - t0
        print(f"exported {path} in {info['export_s']:.1f} s", flush=True)
    write_inputs(folder, denoiser_input_names(cfg), [a.numpy() for a in make_args(cfg, past, "cpu")])
    configs = vdrt_configs(args, path)
    if args.optimize:
        opt_path = os.path.join(args.work, f"{tag}.opt.onnx")
        t0 = time.perf_counter()
        # Optimised for the CPU, where it runs here (GEMM epilogues included).
        subprocess.run([args.vdrt, "opt", path, "-o", opt_path, "--device", "cpu", "--quiet"], check=True)
        info["vdrt_opt_s"] = time.perf_counter() - t0
        configs.append(("opt", opt_path, ("-O", "0"), args.vdrt))
    res = compare(path, folder, args, check=not args.no_check, vdrt_configs=configs)
    res.update(info)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", help="ONNX model (not with --wan-layers)")
    ap.add_argument("inputs", nargs="?", help="test_data_set folder with input_K.pb")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=None, help="timed runs (default 50; 5 with --wan-layers)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 5; 1 with --wan-layers)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="timing rounds, each ORT then every vdrt configuration; ratios are per-round medians")
    ap.add_argument("--vdrt", default="build/tools/vdrt")
    ap.add_argument("--also-vdrt", action="append", default=[], metavar="LABEL=BINARY",
                    help="another vdrt build timed in the same rounds (default pipeline), e.g. the build before a "
                         "change: before and after under the same load")
    ap.add_argument("--also-pipeline", action="append", default=[], metavar="LABEL=TOML",
                    help="--vdrt with this pass pipeline (--pipeline TOML) as another configuration")
    ap.add_argument("--json", default="", help="write the results as JSON to this file")
    ap.add_argument("--check", action="store_true",
                    help="model mode: compare one call's outputs of vdrt and ORT too (always on with --wan-layers)")
    g = ap.add_argument_group("Wan-width mode")
    g.add_argument("--wan-layers", type=int, default=0, help="export the Wan2.1-1.3B-width denoiser with N layers")
    g.add_argument("--latent", default="60x104", help="latent HxW (Wan 480x832: 60x104; tokens/frame = H*W/4)")
    g.add_argument("--past-frames", type=int, default=6, help="KV cache length in latent frames")
    g.add_argument("--work", default="/tmp/vdrt_wan_ort", help="where the export, inputs and outputs go")
    g.add_argument("--reuse-export", action="store_true", help="keep an existing export of the same size in --work")
    g.add_argument("--skip-O0", action="store_true", help="do not time vdrt -O0 (the graph as imported)")
    g.add_argument("--optimize", action="store_true", help="also time vdrt on the file `vdrt opt` writes")
    g.add_argument("--no-check", action="store_true", help="skip the output comparison")
    args = ap.parse_args()
    wan = args.wan_layers > 0
    if args.runs is None:
        args.runs = 5 if wan else 50
    if args.warmup is None:
        args.warmup = 1 if wan else 5
    if wan:
        if args.model or args.inputs:
            ap.error("--wan-layers takes no model or inputs")
        res = wan_mode(args)
    else:
        if not (args.model and args.inputs):
            ap.error("give MODEL and INPUTS, or --wan-layers N")
        args.work_out = os.path.join("/tmp", f"vdrt_compare_ort_{os.getpid()}")
        configs = vdrt_configs(args, args.model)
        res = compare(args.model, args.inputs, args, check=args.check, vdrt_configs=configs)
        shutil.rmtree(args.work_out, ignore_errors=True)
    print(f"model {res['model']}  threads {args.threads}  runs {args.runs}  machine {res['machine']['cpu']} "
          f"({res['machine']['cores']} cores, load {res['machine']['load_avg'][0]:.1f})")
    rounds = f" (median of {args.rounds} rounds)" if args.rounds > 1 else ""
    print(f"onnxruntime {ort.__version__} CPU  median {res['ort_ms']:.3f} ms{rounds}")
    for label, e in res["vdrt"].items():
        diff = f"  max rel diff {e['max_rel_diff']:.2e}" if "max_rel_diff" in e else ""
        print(f"vdrt CPU {label:<4}          median {e['median_ms']:.3f} ms  ratio vdrt/ort {e['ratio_vs_ort']:.2f}x{diff}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
