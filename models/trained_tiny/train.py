"""Trains the trained tiny model: latent autoencoder, then causal DiT, then export and evaluation.

    python models/trained_tiny/train.py all --device cuda --minutes 7 --out OUT   # a GPU run
    python models/trained_tiny/train.py all --smoke --out /tmp/trained_tiny_smoke # < 2 min, CPU
    python models/trained_tiny/train.py autoencoder|dit|export|evaluate|estimate --out OUT ...

- autoencoder: autoencoder.py on random 4-frame groups of dataset.py clips (L1 + MSE, a little
  latent noise so the decoder tolerates imperfect latents), then per-channel latent statistics.
- dit: TinyWanDenoiser (tiny_wan.py, widened: --dim/--heads/--layers/--ffn) with the frozen
  encoder's latents of K-chunk samples (dataset.sample_chunk_indices), teacher-forced flow
  matching over the chunk-causal mask (causal_training.py), AdamW, warmup + cosine, EMA weights
  (exported). --sampler/--sample-steps: how the model is to be sampled (sampling.py; default
  Euler steps of the flow ODE, 16 of them); half the training timesteps are those steps.
- export: OUT/pipeline/ (export.py), from the EMA weights, the sampler in the denoiser's
  metadata (dit.pt's unless --sampler is given to `export`).
- evaluate: evaluate.py on OUT.
- estimate: FLOPs and op launches of one training step, to size a GPU run (README.md).

Reproducible: clip parameters, chunk choices and timesteps come from generators seeded by
--seed (clip parameters on the CPU, noise on the training device), cuDNN autotuning is off and
torch.use_deterministic_algorithms is on (warn_only). --minutes times the first steps and then
fixes the step count, written to the checkpoint: `--ae-steps N --dit-steps M` repeats a run.
"""

from __future__ import annotations

import os

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS; before CUDA starts

import argparse  # noqa: E402
import copy  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tiny_wan import TinyWanConfig, TinyWanDenoiser  # noqa: E402

import dataset  # noqa: E402
from autoencoder import Autoencoder, AutoencoderConfig, encode_for_training, reconstruction_loss  # noqa: E402
from causal_training import (  # noqa: E402
    check_matches_chunked,
    draw_training_noise,
    flow_matching_loss,
    flow_matching_loss_given_noise,
)
from latent_bank import LatentBank  # noqa: E402
from reference_rollout import SHIFT  # noqa: E402
from sampling import Sampling  # noqa: E402

TIMING_FROM, TIMING_TO = 5, 25  # steps timed to turn --minutes into a step count
SMOKE = dict(ae_steps=20, ae_batch=4, dit_steps=10, batch=2, chunks=4, reuse=1, bank_clips=2, eval_clips=2,
             minute_rollouts=1, minute_chunks=6, profile_chunks=4)


def log(msg: str) -> None:
    print(msg, flush=True)


def autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class StepPlan:
    """The step count: fixed (--steps), or from a time budget after timing steps TIMING_FROM..TIMING_TO."""

    def __init__(self, steps: int | None, minutes: float | None, device: torch.device, warmup: int):
        if steps is None and minutes is None:
            raise SystemExit("give --*-steps or --*-minutes")
        self.total, self.minutes, self.device = steps, minutes, device
        # The same warmup whether the count is given or timed, so --steps N repeats a timed run.
        self.warmup = warmup
        self.start = time.perf_counter()
        self.timing_start = None

    def done(self, step: int) -> bool:
        if self.total is None:
            if step == TIMING_FROM and self.timing_start is None:
                sync(self.device)
                self.timing_start = time.perf_counter()
            elif step == TIMING_TO:
                sync(self.device)
                per_step = (time.perf_counter() - self.timing_start) / (TIMING_TO - TIMING_FROM)
                left = self.minutes * 60 - (time.perf_counter() - self.start)
                self.total = max(step, step + int(left / per_step))
                log(f"  {per_step * 1000:.1f} ms/step -> {self.total} steps in {self.minutes:g} min")
        return self.total is not None and step >= self.total

    def lr(self, base: float, step: int) -> float:
        if step < self.warmup or self.total is None:
            return base * min(1.0, (step + 1) / self.warmup)
        p = (step - self.warmup) / max(1, self.total - self.warmup)
        return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def make_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """(CPU generator for clip parameters and chunk choices, device generator for noise)."""
    return torch.Generator().manual_seed(seed), torch.Generator(device=device).manual_seed(seed + 1)


# ---------------------------------------------------------------------------------------------
# Autoencoder


def train_autoencoder(args, device: torch.device) -> Autoencoder:
    torch.manual_seed(args.seed)
    ae = Autoencoder(AutoencoderConfig()).to(device)
    log(f"autoencoder: encoder {sum(p.numel() for p in ae.encoder.parameters())} parameters, "
        f"decoder {sum(p.numel() for p in ae.decoder.parameters())}")
    opt = torch.optim.AdamW(ae.parameters(), lr=args.ae_lr, betas=(0.9, 0.99), weight_decay=0.0)
    gen, noise_gen = make_generators(args.seed, device)
    plan = StepPlan(args.ae_steps, args.ae_minutes, device, warmup=100)
    frames_total = dataset.MINUTE_CHUNKS * dataset.FRAMES_PER_CHUNK
    losses, running, step = [], torch.zeros((), device=device), 0
    while not plan.done(step):
        set_lr(opt, plan.lr(args.ae_lr, step))
        clips = dataset.sample_clips(args.ae_batch, gen).to(device)
        first = torch.randint(0, frames_total // 4, (args.ae_batch, 1), generator=gen) * 4
        weight = None
        if args.ae_object_weight > 0:
            frames, cover = dataset.render(clips, first + torch.arange(4), with_cover=True)
            weight = 1 + args.ae_object_weight * cover
        else:
            frames = dataset.render(clips, first + torch.arange(4))
        with autocast(device):
            z = ae.encoder.raw(frames)
            z = z + args.latent_noise * z.detach().std() * torch.randn(z.shape, generator=noise_gen, device=device)
            decoded = ae.decoder(z)
        loss = reconstruction_loss(decoded.float(), frames, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        running += loss.detach()
        step += 1
        if step % args.log_every == 0 or plan.done(step):
            n = step % args.log_every or args.log_every
            value = running.item() / n
            running.zero_()
            losses.append((step, value))
            log(f"  ae step {step}/{plan.total or '?'}: loss {value:.4f}, lr {plan.lr(args.ae_lr, step):.2e}, "
                f"{time.perf_counter() - plan.start:.0f} s")

    # Latent statistics over whole 48-frame clips.
    stats_gen = torch.Generator().manual_seed(args.seed + 7)
    with torch.no_grad(), autocast(device):
        clips = dataset.sample_clips(max(4, min(64, args.ae_batch * 4)), stats_gen).to(device)
        raw = ae.encoder.raw(dataset.clip_frames(clips, 48))
    ae.set_latent_statistics(raw)
    elapsed = time.perf_counter() - plan.start
    torch.save(
        {"config": dataclasses.asdict(ae.cfg), "model": ae.state_dict(), "steps": step, "losses": losses,
         "elapsed_s": elapsed, "args": vars(args)},
        args.out / "autoencoder.pt",
    )
    log(f"autoencoder: {step} steps in {elapsed:.0f} s, final loss {losses[-1][1]:.4f} "
        f"-> {args.out / 'autoencoder.pt'}")
    return ae


# ---------------------------------------------------------------------------------------------
# Causal DiT


def dit_config(args) -> TinyWanConfig:
    return TinyWanConfig(dim=args.dim, num_heads=args.heads, num_layers=args.layers, ffn_dim=args.ffn,
                         patch_size=(1, args.patch, args.patch), seed=args.seed)


def build_trainable_denoiser(cfg: TinyWanConfig) -> TinyWanDenoiser:
    """tiny_wan's initialisation, but with a zero output layer (as Wan's head): the first flow is 0."""
    model = TinyWanDenoiser(cfg).float()
    torch.nn.init.zeros_(model.head.head.weight)
    torch.nn.init.zeros_(model.head.head.bias)
    return model


class _LossModule(torch.nn.Module):
    """flow_matching_loss_given_noise as a module, the unit torch.compile takes."""

    def __init__(self, model: TinyWanDenoiser, shift: float):
        super().__init__()
        self.model, self.shift = model, shift

    def forward(self, latents, clean, eps, t, context, positions, weight=None):
        return flow_matching_loss_given_noise(self.model, latents, clean, eps, t, context, positions, self.shift,
                                              weight)


def train_dit(args, device: torch.device, ae: Autoencoder | None = None) -> TinyWanDenoiser:
    torch.manual_seed(args.seed)
    if ae is None:
        from evaluate import load_autoencoder

        ae = load_autoencoder(args.out, device)
    ae.eval().requires_grad_(False)
    encoder = ae.encoder
    cfg = dit_config(args)
    # Resolved here and written back, so that dit.pt's arguments say how to sample the model.
    args.sampler = args.sampler or "euler"
    sampling = Sampling.from_args(args.sampler, args.sample_steps, args.shift)
    args.sample_steps = len(sampling.steps)
    model = build_trainable_denoiser(cfg).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    # On tiny_wan's own initialisation (the trainable one has a zero head: its flow is 0 either way).
    worst = check_matches_chunked(TinyWanDenoiser(cfg).double())
    assert worst < 1e-9, f"sequence forward differs from the chunked (exported) forward by {worst}"
    log(f"dit: {sum(p.numel() for p in model.parameters())} parameters (dim {cfg.dim}, {cfg.num_heads} heads, "
        f"{cfg.num_layers} layers, FFN {cfg.ffn_dim}, patch {args.patch}); sequence vs chunked forward, float64: "
        f"max diff {worst:.1e}; sampled by {sampling.describe()}")

    fused = {"fused": True} if device.type == "cuda" else {}
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01, **fused)
    gen, noise_gen = make_generators(args.seed + 100, device)
    contexts = dataset.context_table().to(device)
    null = torch.from_numpy(dataset.null_context()).to(device)
    started = time.perf_counter()  # --stop-minutes counts from here, the bank's rendering included
    resumed = load_train_state(args, model, ema, opt, gen, noise_gen) if args.resume else None
    planned = (args.dit_steps or resumed["planned_steps"]) if resumed else args.dit_steps
    plan = StepPlan(planned, args.dit_minutes, device, warmup=200)
    bank, weight = None, None
    if args.object_weight > 0 and args.bank_clips <= 0:
        raise SystemExit("--object-weight needs the latent bank (--bank-clips > 0): it keeps the objects' cells")
    if args.bank_clips > 0:
        in_parts = args.stop_minutes or args.resume  # the next part reads the bank back
        bank = LatentBank.of_seed(encoder, args.bank_clips, args.seed + 200, device,
                                  args.out / "latent_bank.pt" if in_parts else None, log=log)
    loss_fn = _LossModule(model, args.shift)
    if args.compile:
        loss_fn = torch.compile(loss_fn)
    params, ema_params = list(model.parameters()), list(ema.parameters())
    losses, step = (resumed["losses"], resumed["steps"]) if resumed else ([], 0)
    # A resumed run without the optimizer's moments ramps its rate up again while Adam re-learns them.
    ramp_from = step if resumed and not resumed["optimizer"] else None
    running, logged_at, first_step = torch.zeros((), device=device), step, step
    last_save = time.perf_counter()
    stopped_early = False
    while not plan.done(step):
        if args.stop_minutes and time.perf_counter() - started > 60 * args.stop_minutes:
            stopped_early = True
            break
        lr = plan.lr(args.lr, step)
        if ramp_from is not None:
            lr *= min(1.0, (step - ramp_from + 1) / 100)
        set_lr(opt, lr)
        if bank is not None:
            latents, chunk_indices, classes, objects = bank.sample(args.batch, args.chunks, gen)
            if args.object_weight > 0:
                weight = 1 + args.object_weight * objects
            positions = (chunk_indices * cfg.frames_per_chunk).to(device)
            context = contexts[classes]
        elif step % args.reuse == 0:  # rendering and encoding cost about as much as a step: reuse them
            clips = dataset.sample_clips(args.batch, gen).to(device)
            chunk_indices = dataset.sample_chunk_indices(args.batch, args.chunks, gen)
            frames = dataset.render(clips, dataset.chunk_frame_times(chunk_indices))
            latents = encode_for_training(encoder, frames).float()
            del frames
            positions = (chunk_indices * cfg.frames_per_chunk).to(device)
            context = contexts[clips.cls]
        if args.cfg_dropout > 0:  # the unconditional flow that classifier-free guidance subtracts
            drop = torch.rand(context.shape[0], generator=gen) < args.cfg_dropout
            context = torch.where(drop.to(device)[:, None, None], null, context)
        t, eps, clean = draw_training_noise(latents, cfg.frames_per_chunk, noise_gen, args.history_noise,
                                            sampling.steps)
        with autocast(device):
            try:
                loss = loss_fn(latents, clean, eps, t, context, positions, weight)
            except Exception as e:  # a compiler that fails must not cost the run
                if loss_fn.__class__ is _LossModule:
                    raise
                log(f"  torch.compile failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); eager from here")
                loss_fn = _LossModule(model, args.shift)
                loss = loss_fn(latents, clean, eps, t, context, positions, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        torch._foreach_lerp_(ema_params, params, 1 - decay)
        running += loss.detach()
        step += 1
        if step % args.log_every == 0 or plan.done(step):
            value = running.item() / (step - logged_at)  # a resumed run's first line covers fewer steps
            running.zero_()
            logged_at = step
            losses.append((step, value))
            log(f"  dit step {step}/{plan.total or '?'}: loss {value:.4f}, lr {lr:.2e}, "
                f"{time.perf_counter() - started:.0f} s")
        if time.perf_counter() - last_save > 60 * args.save_minutes:
            save_dit(args, cfg, ema, step, plan, losses)
            last_save = time.perf_counter()
    if step > logged_at:  # the loss since the last line, when stopped between lines
        losses.append((step, running.item() / (step - logged_at)))
    save_dit(args, cfg, ema, step, plan, losses)
    if args.stop_minutes:
        save_train_state(args, model, opt, gen, noise_gen, step, plan, losses)
    log(f"dit: {step - first_step} steps in {time.perf_counter() - started:.0f} s"
        f"{' (stopped by --stop-minutes; --resume continues)' if stopped_early else ''}, "
        f"{step}/{plan.total} in all, last loss {losses[-1][1] if losses else float('nan'):.4f} "
        f"-> {args.out / 'dit.pt'}")
    return ema


def save_dit(args, cfg, ema, step, plan, losses) -> None:
    # The EMA weights only (they are what is exported): a file back from the lent GPU must stay
    # under 16 MiB, and the raw weights would double it.
    torch.save(
        {"config": dataclasses.asdict(cfg), "ema": ema.state_dict(), "steps": step,
         "planned_steps": plan.total, "losses": losses, "elapsed_s": time.perf_counter() - plan.start,
         "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}},
        args.out / "dit.pt",
    )


def save_train_state(args, model, opt, gen, noise_gen, step, plan, losses) -> None:
    """What --resume needs besides dit.pt: the raw weights and generator states in dit_train.pt
    (8 MiB, comes back from the lent GPU), Adam's moments in dit_opt.pt (twice that: it stays
    on the machine, and a resume without it re-learns them)."""
    torch.save({"model": model.state_dict(), "steps": step, "planned_steps": plan.total, "losses": losses,
                "gen": gen.get_state(), "noise_gen": noise_gen.get_state()}, args.out / "dit_train.pt")
    torch.save(opt.state_dict(), args.out / "dit_opt.pt")


def load_train_state(args, model, ema, opt, gen, noise_gen) -> dict:
    state = torch.load(args.out / "dit_train.pt", map_location="cpu", weights_only=False)
    model.load_state_dict(state["model"])
    ema.load_state_dict(torch.load(args.out / "dit.pt", map_location="cpu", weights_only=False)["ema"])
    gen.set_state(state["gen"])
    noise_gen.set_state(state["noise_gen"])
    opt_file = args.out / "dit_opt.pt"
    state["optimizer"] = opt_file.exists()
    if opt_file.exists():
        opt.load_state_dict(torch.load(opt_file, map_location="cpu", weights_only=False))
    log(f"resumed at step {state['steps']}/{state['planned_steps']}"
        f"{'' if state['optimizer'] else ' without the optimizer state (fresh moments, rate ramped up again)'}")
    return state


# ---------------------------------------------------------------------------------------------
# Export, estimate


def run_export(args) -> None:
    from evaluate import load_autoencoder, load_denoiser
    from export import export_pipeline, ort_rollout_check

    ae = load_autoencoder(args.out, "cpu")
    denoiser = load_denoiser(args.out, "cpu")
    ae_state = torch.load(args.out / "autoencoder.pt", map_location="cpu", weights_only=False)
    dit_state = torch.load(args.out / "dit.pt", map_location="cpu", weights_only=False)
    trained_shift = float(dit_state["args"].get("shift") or SHIFT)  # the sigma(t) the weights know
    null_context = float(dit_state["args"].get("cfg_dropout") or 0) > 0  # the weights know the null context
    guidance = args.guidance if args.guidance is not None else float(dit_state["args"].get("guidance") or 1.0)
    if guidance != 1.0 and not null_context:
        raise SystemExit(f"--guidance {guidance:g}: the model was not trained with the null context (--cfg-dropout)")
    sampling = (Sampling.from_args(args.sampler, args.sample_steps, trained_shift, guidance) if args.sampler
                else dataclasses.replace(Sampling.of_checkpoint(dit_state["args"]), guidance=guidance))
    training = {
        "sampling": {"scheduler": sampling.scheduler, "steps": list(sampling.steps), "shift": sampling.shift,
                     "guidance": sampling.guidance},
        "denoiser_config": dit_state["config"],
        "autoencoder_config": ae_state["config"],
        "autoencoder_steps": ae_state["steps"],
        "dit_steps": dit_state["steps"],
        "autoencoder_final_loss": ae_state["losses"][-1][1],
        "dit_final_loss": dit_state["losses"][-1][1],
        "dit_args": dit_state["args"],
        "weights": "EMA",
    }
    worst = check_matches_chunked(copy.deepcopy(denoiser).double())
    assert worst < 1e-9, f"sequence forward differs from the chunked (exported) forward by {worst}"
    training["sequence_vs_chunked_forward_float64"] = worst
    folder = args.out / "pipeline"
    report = export_pipeline(denoiser, ae.decoder, folder, training, sampling, null_context)
    log(f"trained weights: teacher-forced sequence forward vs chunked forward with the KV cache, float64: {worst:.1e}")
    log(f"exported {folder}: denoiser.onnx {report['denoiser_bytes'] / 1024:.0f} KiB "
        f"(ORT vs PyTorch {report['denoiser_max_abs_diff']:.1e}), "
        f"decoder.onnx {report['decoder_bytes'] / 1024:.0f} KiB "
        f"(ORT vs PyTorch {report['decoder_max_abs_diff']:.1e})")
    log(f"  sampled by {sampling.describe()}; 2-chunk rollout, ONNX Runtime vs PyTorch: max abs diff of x0 "
        f"{ort_rollout_check(folder, denoiser):.1e}")


def run_estimate(args) -> None:
    """Sizes a GPU run from one training step measured here on the CPU.

    Counts, at a small batch (--estimate-batch), the FLOPs of matmul/conv/attention
    (torch.utils.flop_counter), the aten ops dispatched (each one a kernel launch on a GPU) and
    the bytes they write (a proxy of memory traffic: eager elementwise ops read and write
    about that much). FLOPs and bytes grow with the batch, the op count does not. A GPU step
    then takes about max(ops x launch, FLOPs / rate + 2 x bytes / bandwidth).
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    class OpCounter(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.count, self.bytes = 0, 0

        def __torch_dispatch__(self, func, types, args_=(), kwargs=None):
            self.count += 1
            out = func(*args_, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor):
                    self.bytes += t.numel() * t.element_size()
            return out

    device = torch.device("cpu")
    small = args.estimate_batch
    ae = Autoencoder(AutoencoderConfig())
    model = build_trainable_denoiser(dit_config(args))
    opt = torch.optim.AdamW(list(model.parameters()) + list(ae.parameters()), lr=1e-4)
    gen, noise_gen = make_generators(args.seed, device)
    contexts = dataset.context_table()

    def dit_step():
        clips = dataset.sample_clips(small, gen)
        chunk_indices = dataset.sample_chunk_indices(small, args.chunks, gen)
        frames = dataset.render(clips, dataset.chunk_frame_times(chunk_indices))
        with torch.no_grad():
            latents = ae.encoder(frames)
        loss = flow_matching_loss(model, latents, contexts[clips.cls], chunk_indices * 3, noise_gen, args.history_noise)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def ae_step():
        clips = dataset.sample_clips(small, gen)
        frames = dataset.render(clips, torch.zeros(small, 1) + torch.arange(4))
        loss = reconstruction_loss(ae.decoder(ae.encoder.raw(frames)), frames)
        opt.zero_grad()
        loss.backward()
        opt.step()

    rate, bandwidth, launch = args.gpu_tflops * 1e12, args.gpu_tbps * 1e12, args.launch_us * 1e-6
    for name, fn, batch in (("dit", dit_step, args.batch), ("autoencoder", ae_step, args.ae_batch)):
        fn()  # warm up
        flops = FlopCounterMode(display=False)
        with flops:
            fn()
        ops = OpCounter()
        with ops:
            fn()
        t0 = time.perf_counter()
        fn()
        cpu_s = time.perf_counter() - t0
        scale = batch / small
        total_flops, total_bytes = flops.get_total_flops() * scale, ops.bytes * scale
        compute = total_flops / rate + 2 * total_bytes / bandwidth
        dispatch = ops.count * launch
        log(f"{name} step at batch {small}: {flops.get_total_flops() / 1e9:.2f} GFLOP, {ops.count} aten ops writing "
            f"{ops.bytes / 2**20:.0f} MiB, {cpu_s * 1000:.0f} ms on this CPU")
        log(f"  at batch {batch}: {total_flops / 1e12:.2f} TFLOP, {total_bytes / 2**30:.1f} GiB written; GPU estimate "
            f"compute {compute * 1000:.1f} ms (at {args.gpu_tflops:g} TFLOP/s, {args.gpu_tbps:g} TB/s), dispatch "
            f"{dispatch * 1000:.1f} ms ({args.launch_us:g} us/op) -> ~{max(compute, dispatch) * 1000:.0f} ms/step")


# ---------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("all", "autoencoder", "dit", "export", "evaluate", "estimate"))
    p.add_argument("--out", type=Path, required=True, help="checkpoint folder (autoencoder.pt, dit.pt, pipeline/)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda or cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="a few steps of everything, tiny batches (< 2 min on a CPU)")
    p.add_argument("--minutes", type=float, help="all: training minutes, --ae-share of them the autoencoder's")
    p.add_argument("--ae-share", type=float, default=0.15, help="all --minutes: the autoencoder's share")
    p.add_argument("--no-deterministic", action="store_true",
                   help="allow cuDNN autotuning and nondeterministic kernels")
    p.add_argument("--no-evaluate", action="store_true", help="all: stop after the export (evaluate elsewhere)")
    p.add_argument("--no-export", action="store_true",
                   help="all: stop after training (export and evaluate elsewhere from the checkpoints)")
    p.add_argument("--object-scale", type=float,
                   help="objects (and their textures) this many times the default size (dataset.set_object_scale); "
                        "default: the checkpoint's in --out when the command does not train the autoencoder, else 1")
    p.add_argument("--palette", choices=dataset.PALETTES,
                   help="how objects are coloured (dataset.set_palette): shot (random) or class (the prompt's colours); "
                        "default: as --object-scale")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--save-minutes", type=float, default=1.0, help="DiT checkpoint interval")
    g = p.add_argument_group("autoencoder")
    g.add_argument("--ae-steps", type=int)
    g.add_argument("--ae-minutes", type=float)
    g.add_argument("--ae-batch", type=int, default=256, help="4-frame groups per step")
    g.add_argument("--ae-lr", type=float, default=1e-3)
    g.add_argument("--ae-object-weight", type=float, default=0.0,
                   help="extra loss weight on object pixels: 1 + W x the pixel's object cover (0: plain mean)")
    g.add_argument("--latent-noise", type=float, default=0.1,
                   help="latent noise in training, relative to the latents' std")
    g = p.add_argument_group("DiT")
    g.add_argument("--dit-steps", type=int)
    g.add_argument("--dit-minutes", type=float)
    g.add_argument("--batch", type=int, default=128, help="samples of --chunks chunks per step")
    g.add_argument("--chunks", type=int, default=6, help="chunks per sample (3 latent frames, 12 video frames each)")
    g.add_argument("--reuse", type=int, default=2,
                   help="--bank-clips 0: steps each rendered batch serves (fresh noise and t each)")
    g.add_argument("--bank-clips", type=int, default=8192,
                   help="one-minute clips rendered and encoded once, the DiT's data (latent_bank.py); "
                        "0: render every --reuse steps instead (the model committed on 2026-11-30)")
    g.add_argument("--compile", action="store_true", help="torch.compile the DiT's loss (eager if it fails)")
    g.add_argument("--stop-minutes", type=float,
                   help="stop the DiT after this many minutes whatever the plan, saving what --resume needs")
    g.add_argument("--resume", action="store_true",
                   help="dit: continue from --out's dit.pt and dit_train.pt (and dit_opt.pt when there)")
    g.add_argument("--lr", type=float, default=1.5e-3)
    g.add_argument("--ema", type=float, default=0.999)
    g.add_argument("--object-weight", type=float, default=0.0,
                   help="extra loss weight on latent cells that show an object: 1 + W x their cover (0: plain mean)")
    g.add_argument("--history-noise", type=float, default=0.1, help="max sigma of the noise on the clean history")
    # 2.1 M parameters, denoiser.onnx 8.4 MB (the model committed on 2026-11-30: dim 128, 4 heads,
    # 4 layers, FFN 256, for the 4-step re-noising sampler).
    g.add_argument("--dim", type=int, default=192)
    g.add_argument("--heads", type=int, default=3, help="attention heads (of dim / heads each)")
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--ffn", type=int, default=384)
    g.add_argument("--patch", type=int, default=2, help="spatial patch of the latents (1: 8x8 tokens a frame, 2: 4x4)")
    g.add_argument("--sampler", choices=("euler", "renoise"),
                   help="how the model is sampled (sampling.py): euler (default for dit) = Euler steps of the flow "
                        "ODE, renoise = the 4-step x0 + fresh noise sampler; export: default dit.pt's")
    g.add_argument("--sample-steps", type=int, help="euler: timesteps, uniform from 1000 down (default 16)")
    g.add_argument("--guidance", type=float,
                   help="export: the classifier-free guidance scale written as vdrt.guidance_scale (a model trained "
                        "with --cfg-dropout; default 1, no guidance)")
    g.add_argument("--cfg-dropout", type=float, default=0.0,
                   help="share of samples trained with the null (all-zero) context, so that the model can be "
                        "sampled with classifier-free guidance (vdrt generate --guidance)")
    g.add_argument("--shift", type=float, default=SHIFT,
                   help="sigma(t) = shift s / (1 + (shift - 1) s), s = t / 1000, in training and in the exported "
                        "vdrt.shift (5: Wan's; 1: sigma uniform in t, what 8x8 latents may need, README.md)")
    g = p.add_argument_group("evaluate")
    g.add_argument("--eval-clips", type=int, default=16)
    g.add_argument("--minute-rollouts", type=int, default=4)
    g.add_argument("--minute-chunks", type=int, default=dataset.MINUTE_CHUNKS)
    g.add_argument("--profile-chunks", type=int, default=8)
    g.add_argument("--vdrt", type=Path, default=Path(__file__).resolve().parent.parent.parent / "build/tools/vdrt")
    g = p.add_argument_group("estimate")
    g.add_argument("--estimate-batch", type=int, default=2, help="batch measured on the CPU (scaled to --batch)")
    g.add_argument("--gpu-tflops", type=float, default=100.0, help="achieved bf16 matmul/conv rate")
    g.add_argument("--gpu-tbps", type=float, default=3.0, help="achieved memory bandwidth")
    g.add_argument("--launch-us", type=float, default=8.0, help="eager PyTorch cost per op (CPU side)")
    args = p.parse_args(argv)
    if args.smoke:
        for k, v in SMOKE.items():
            setattr(args, k, v)
        args.log_every = 10
    if args.minutes is not None:
        args.ae_minutes = args.ae_minutes or args.ae_share * args.minutes
        args.dit_minutes = args.dit_minutes or (1 - args.ae_share) * args.minutes
    return args


# What a resumed run must take from the run it continues, whatever its own command line says.
RESUMED_ARGUMENTS = ("seed", "dim", "heads", "layers", "ffn", "patch", "sampler", "sample_steps", "shift", "batch",
                     "chunks", "lr", "ema", "history_noise", "bank_clips", "object_scale", "cfg_dropout",
                     "palette", "object_weight")


def adopt_checkpoint_arguments(args) -> None:
    saved = torch.load(args.out / "dit.pt", map_location="cpu", weights_only=False)["args"]
    for key in RESUMED_ARGUMENTS:
        if key in saved and saved[key] != getattr(args, key):
            log(f"--resume: {key} = {saved[key]!r} (the run's; this command said {getattr(args, key)!r})")
            setattr(args, key, saved[key])


def main(argv=None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if not args.no_deterministic:
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_float32_matmul_precision("high")  # TF32 where autocast leaves fp32 (a GPU run)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.object_scale is None or args.palette is None:
        from evaluate import DATA_SETTINGS, checkpoint_data

        trains_autoencoder = args.command in ("all", "autoencoder")
        # `dit` follows the autoencoder it encodes with; export and evaluate the DiT's data.
        files = ("autoencoder.pt",) if args.command == "dit" else ("dit.pt", "autoencoder.pt")
        saved = {} if trains_autoencoder else checkpoint_data(args.out, files)
        given = {key: getattr(args, key) for key in DATA_SETTINGS}
        dataset.configure({key: saved.get(key) if value is None else value for key, value in given.items()})
        vars(args).update(dataset.settings())  # with configure's defaults filled in, as checkpoints record them
    if args.resume:
        adopt_checkpoint_arguments(args)
    dataset.configure(vars(args))
    start = time.perf_counter()
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    log(f"device {device} ({name}), torch {torch.__version__}")
    ae = None
    if args.command in ("all", "autoencoder"):
        ae = train_autoencoder(args, device)
    if args.command in ("all", "dit"):
        train_dit(args, device, ae)
    if args.command == "export" or (args.command == "all" and not args.no_export):
        run_export(args)
    if args.command == "evaluate" or (args.command == "all" and not args.no_evaluate and not args.no_export):
        from evaluate import evaluate

        evaluate(args.out, args.device, args.eval_clips, args.minute_rollouts, args.minute_chunks, args.vdrt,
                 args.profile_chunks, args.object_scale, args.palette)
    if args.command == "estimate":
        run_estimate(args)
    (args.out / f"{args.command}_args.json").write_text(
        json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, indent=2) + "\n"
    )
    log(f"{args.command}: done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
