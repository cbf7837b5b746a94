"""Exports a trained tiny model to a vdrt pipeline folder (docs/MODEL_CONTRACT.md).

    <folder>/denoiser.onnx   TinyWanDenoiser, TorchScript exporter, opset 17 (export_all.py's
                             "ts17" style, the one vdrt's fusions are tested on), past_len symbolic
    <folder>/decoder.onnx    FrameGroupDecoder: latents [1, 3, 16, 8, 8] -> frames [1, 12, 3, 64, 64]
    <folder>/context.pb      class 0's text context; contexts/class_<k>.pb for every class
    <folder>/pipeline.toml   denoiser, decoder, context
    <folder>/{denoiser,decoder}/test_data_set_0   ONNX Runtime golden data, for `vdrt run -i`
    <folder>/training.json   what was trained how (config, steps, seeds, losses, sampler)

The denoiser's metadata carries the sampler (sampling.py: Euler steps of the flow ODE for a
model trained by plain flow matching, MODEL_CONTRACT.md v1.2) and, for a model trained with
the null context (--cfg-dropout), the guidance scale (v1.3); contexts/null.pb is then the
pipeline's negative_context.

Both models are checked (onnx.checker full_check) and compared with PyTorch in ONNX Runtime.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import export_all  # noqa: E402
from reference_rollout import save_tensor, torch_callable  # noqa: E402
from tiny_wan import TinyWanDenoiser, denoiser_input_names, denoiser_output_names  # noqa: E402

import dataset  # noqa: E402
from autoencoder import FrameGroupDecoder  # noqa: E402
from sampling import Sampling  # noqa: E402

STYLE = export_all.STYLES[0]  # ts17
assert STYLE.name == "ts17"
GOLDEN_PAST_LEN, GOLDEN_TIMESTEP, GOLDEN_FRAME_OFFSET, GOLDEN_SEED = 48, 750.0, 3, 101


def decoder_metadata() -> dict[str, str]:
    return {"vdrt.kind": "video-decoder", "vdrt.temporal_upsample": "4", "vdrt.spatial_upsample": "8"}


def export_pipeline(denoiser: TinyWanDenoiser, decoder: FrameGroupDecoder, folder: Path, training: dict,
                    sampling: Sampling = Sampling(), null_context: bool = False) -> dict:
    """Writes the pipeline folder; returns {"denoiser_max_abs_diff": .., "decoder_max_abs_diff": .., sizes}.

    `sampling`: the scheduler, steps and guidance written into the denoiser's metadata;
    `null_context`: the model was trained with the null context (--cfg-dropout), written as
    contexts/null.pb and pipeline.toml's negative_context."""
    denoiser = denoiser.float().cpu().eval()
    decoder = decoder.float().cpu().eval()
    cfg = denoiser.cfg
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "contexts").mkdir(parents=True)

    context = dataset.class_context(0)
    save_tensor(context, "context", folder / "context.pb")
    for k in range(dataset.NUM_CLASSES):
        save_tensor(dataset.class_context(k), "context", folder / "contexts" / f"class_{k}.pb")
    (folder / "contexts" / "classes.txt").write_text(
        "".join(f"class_{k}.pb: {dataset.class_name(k)}\n" for k in range(dataset.NUM_CLASSES))
        + ("null.pb: the null context of classifier-free guidance (all zeros)\n" if null_context else "")
    )
    if null_context:  # trained with --cfg-dropout: `vdrt generate --guidance G` subtracts this one's flow
        save_tensor(dataset.null_context(), "context", folder / "contexts" / "null.pb")

    in_names, out_names = denoiser_input_names(cfg), denoiser_output_names(cfg)
    trace = export_all.denoiser_inputs(cfg, context, export_all.EXPORT_PAST_LEN, 500.0, 3, seed=1)
    den_model = export_all.export(
        denoiser, tuple(torch.from_numpy(a) for a in trace.values()), STYLE, in_names, out_names, in_names[4:]
    )
    export_all.finish_model(den_model, {**export_all.denoiser_metadata(cfg), **sampling.metadata()})
    assert [i.name for i in den_model.graph.input] == in_names
    attention = export_all.op_counts(den_model).get(STYLE.attention_op, 0)
    assert attention == 2 * cfg.num_layers, f"{attention} {STYLE.attention_op} nodes"

    dec_inputs = export_all.decoder_inputs(cfg)
    dec_model = export_all.export(decoder, (torch.from_numpy(dec_inputs["latents"]),), STYLE, ["latents"], ["frames"])
    export_all.finish_model(dec_model, decoder_metadata())

    onnx.save(den_model, folder / "denoiser.onnx")
    onnx.save(dec_model, folder / "decoder.onnx")
    (folder / "pipeline.toml").write_text(
        "# trained tiny model (models/trained_tiny); contexts/class_<k>.pb are the other prompts\n"
        'denoiser = "denoiser.onnx"\ndecoder = "decoder.onnx"\ncontext = "context.pb"\n'
        + ('negative_context = "contexts/null.pb"\n' if null_context else "")
    )

    # Golden data and the ONNX Runtime vs PyTorch check.
    den_inputs = export_all.denoiser_inputs(
        cfg, context, GOLDEN_PAST_LEN, GOLDEN_TIMESTEP, GOLDEN_FRAME_OFFSET, GOLDEN_SEED
    )
    report = {}
    for kind, model, module, inputs, names in (
        ("denoiser", den_model, denoiser, den_inputs, out_names),
        ("decoder", dec_model, decoder, dec_inputs, ["frames"]),
    ):
        outputs = export_all.ort_run(export_all.ort_session(model), inputs)
        expected = dict(zip(names, torch_callable(module)(*inputs.values()), strict=True))
        export_all.write_test_data_set(folder / kind / "test_data_set_0", inputs, outputs)
        report[f"{kind}_max_abs_diff"] = export_all.max_abs_diff(outputs, expected)
        report[f"{kind}_bytes"] = (folder / f"{kind}.onnx").stat().st_size
    (folder / "training.json").write_text(json.dumps({**training, "export": report}, indent=2) + "\n")
    return report


def ort_rollout_check(folder: Path, denoiser: TinyWanDenoiser, chunks: int = 2) -> float:
    """Max |ONNX Runtime rollout - PyTorch rollout| of the exported folder, latents of `chunks` chunks,
    sampled as its metadata says."""
    from reference_rollout import rollout

    sampling = Sampling.of_model(folder / "denoiser.onnx")
    session = export_all.ort_session(onnx.load(folder / "denoiser.onnx"))
    context = dataset.class_context(0)
    identity = lambda x: [x]  # noqa: E731 - frames are not compared here
    how = dict(steps=sampling.steps, cfg=denoiser.cfg, scheduler=sampling.scheduler, shift=sampling.shift,
               guidance=sampling.guidance, negative_context=dataset.null_context())
    ort_chunks = rollout(export_all.ort_callable(session), identity, context, np.float32, chunks, **how)
    module = torch_callable(denoiser.float().cpu().eval())
    torch_chunks = rollout(module, identity, context, np.float32, chunks, **how)
    return max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(ort_chunks, torch_chunks, strict=True))
