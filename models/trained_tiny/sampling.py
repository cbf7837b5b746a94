"""How the trained tiny model is sampled: the scheduler and steps of its denoiser's metadata.

A model trained by plain flow matching (not distilled) is sampled best by Euler steps of the
flow ODE (MODEL_CONTRACT.md v1.2, `flow-matching-euler`); the 4-step re-noising sampler
(`flow-matching`) returns near its conditional mean, a blur. train.py's `--sampler` and
`--sample-steps` choose; the choice goes into dit.pt's arguments, the exported metadata and
training.json, and evaluate.py samples as the exported model says.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_rollout import DENOISING_STEPS, SCHEDULERS, SHIFT, denoise_chunk, guided_flow, uniform_steps  # noqa: E402

SAMPLERS = {"euler": "flow-matching-euler", "renoise": "flow-matching"}  # train.py --sampler -> vdrt.scheduler


@dataclass(frozen=True)
class Sampling:
    scheduler: str = SCHEDULERS[0]
    steps: tuple[float, ...] = DENOISING_STEPS
    shift: float = SHIFT
    guidance: float = 1.0  # classifier-free guidance against the null context (MODEL_CONTRACT.md v1.3)

    @staticmethod
    def from_args(sampler: str, sample_steps: int | None, shift: float = SHIFT, guidance: float = 1.0) -> Sampling:
        """euler: `sample_steps` uniform timesteps; renoise: the contract's 4 (the step count is fixed).
        shift: the sigma(t) the model was trained with (train.py --shift); guidance: the scale of
        classifier-free guidance (a model trained with --cfg-dropout)."""
        if sampler == "renoise":
            if sample_steps not in (None, len(DENOISING_STEPS)):
                raise SystemExit(f"--sampler renoise runs the {len(DENOISING_STEPS)} steps {DENOISING_STEPS}")
            return Sampling(shift=shift, guidance=guidance)
        if sampler != "euler":
            raise SystemExit(f"unknown sampler {sampler!r} ({', '.join(SAMPLERS)})")
        return Sampling(SAMPLERS["euler"], uniform_steps(sample_steps or 16), shift, guidance)

    @staticmethod
    def of_checkpoint(dit_args: dict) -> Sampling:
        """From dit.pt's arguments; checkpoints from before --sampler were re-noising, 4 steps."""
        return Sampling.from_args(dit_args.get("sampler") or "renoise", dit_args.get("sample_steps"),
                                  float(dit_args.get("shift") or SHIFT), float(dit_args.get("guidance") or 1.0))

    @staticmethod
    def of_model(denoiser_onnx: Path) -> Sampling:
        """From an exported denoiser's metadata (what vdrt will run)."""
        import onnx

        meta = {p.key: p.value for p in onnx.load(str(denoiser_onnx), load_external_data=False).metadata_props}
        return Sampling(
            meta.get("vdrt.scheduler", SCHEDULERS[0]),
            tuple(float(t) for t in meta["vdrt.denoising_steps"].split(",")),
            float(meta["vdrt.shift"]),
            float(meta.get("vdrt.guidance_scale", 1.0)),
        )

    def metadata(self) -> dict[str, str]:
        meta = {
            "vdrt.scheduler": self.scheduler,
            "vdrt.denoising_steps": ",".join(f"{t:g}" for t in self.steps),
            "vdrt.shift": f"{self.shift:.1f}",
        }
        if self.guidance != 1.0:
            meta["vdrt.guidance_scale"] = f"{self.guidance:g}"
        return meta

    def guided(self, flows_at):
        """flow_at(x, t) of the guided rollout from flows_at(x, t) -> [prompt's flow, null context's]."""
        return lambda x, t: guided_flow(flows_at(x, t), self.guidance)

    def denoise(self, flow_at, x, noise_at, scalar=float):
        """x0 of one chunk (reference_rollout.denoise_chunk with these settings)."""
        return denoise_chunk(flow_at, x, noise_at, self.steps, self.scheduler, self.shift, scalar)

    def describe(self) -> str:
        guided = f", guidance {self.guidance:g}" if self.guidance != 1.0 else ""
        return f"{self.scheduler}, {len(self.steps)} steps, shift {self.shift:g}{guided}"
