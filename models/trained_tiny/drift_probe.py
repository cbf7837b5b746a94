"""Long-rollout drift against the options of sampling: one-minute rollouts from the prompt alone
(evaluate.minute_statistics: motion, chunk seams and contrast per 10 s, against held-out clips) for
each guidance scale and context noise asked for.

    python models/trained_tiny/drift_probe.py CHECKPOINT_DIR --guidance 1 3 --context-noise 0 0.1 0.2

Context noise: each generated chunk's x0 goes into the KV cache noised to that sigma, still at
t = 0, as the model saw its history in training (train.py --history-noise, up to 0.1). Needs torch
and the checkpoints (autoencoder.pt, dit.pt); PyTorch on the CPU, ~1.5 min a setting at 2 rollouts.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataset  # noqa: E402
from evaluate import configure_data, load_autoencoder, load_denoiser, load_sampling, minute_statistics  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path, help="checkpoint folder (autoencoder.pt, dit.pt, pipeline/)")
    p.add_argument("--guidance", type=float, nargs="+", help="scales (default: the exported one)")
    p.add_argument("--context-noise", type=float, nargs="+", default=[0.0], help="sigmas of the cached x0")
    p.add_argument("--rollouts", type=int, default=2)
    p.add_argument("--chunks", type=int, default=dataset.MINUTE_CHUNKS)
    args = p.parse_args()
    torch.set_grad_enabled(False)
    configure_data(args.folder)
    ae, denoiser = load_autoencoder(args.folder, "cpu"), load_denoiser(args.folder, "cpu")
    exported = load_sampling(args.folder)
    print(f"{args.folder}: {exported.describe()}; {args.rollouts} rollouts of {args.chunks} chunks; "
          "per 10 s: motion / seams / contrast", flush=True)
    data_shown = False
    for guidance in args.guidance or [exported.guidance]:
        for sigma in args.context_noise:
            sampling = dataclasses.replace(exported, guidance=guidance)
            stats = minute_statistics(ae, {"model": denoiser}, args.rollouts, args.chunks, "cpu", sampling, sigma)
            rows = [("data", stats["data"])] if not data_shown else []
            rows.append((f"guidance {guidance:g}, context noise {sigma:g}", stats["model"]))
            data_shown = True
            for name, per_10s in rows:
                print(f"  {name:34s} " + "  ".join(f"{r['motion']:.4f}/{r['seam']:.4f}/{r['contrast']:.3f}"
                                                   for r in per_10s), flush=True)


if __name__ == "__main__":
    main()
