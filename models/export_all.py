"""Regenerates everything under models/tiny_wan/ in one go.

    python models/export_all.py

1. Exports the tiny denoiser and decoder (tiny_wan.py) in three styles, each into
   models/tiny_wan/<style>/{denoiser,decoder}.onnx with the vdrt.* metadata of
   MODEL_CONTRACT.md:
     ts17   torch.onnx TorchScript exporter (dynamo=False), opset 17
     dyn18  torch.onnx dynamo exporter (dynamo=True), opset 18
     attn23 torch.onnx dynamo exporter, opset 23: SDPA becomes the ONNX Attention op,
            the RMSNorm pattern RMSNormalization and tanh-GELU Gelu
2. Checks each model (onnx.checker, full_check) and runs it in ONNX Runtime.
3. Writes golden data (ONNX Runtime CPU, float32) in ONNX test_data_set layout and compares
   the styles with each other and with the PyTorch module.
4. Writes the default text context (context.pb) and a pipeline.toml per style.
5. Runs the float64 reference rollout (reference_rollout.py) and compares a float32 rollout
   through each style's ONNX models with it.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import io
import logging
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

import reference_rollout
from reference_rollout import CONTEXT_PATH, TINY_WAN_DIR, load_tensor, rollout, save_tensor, torch_callable
from tiny_wan import (
    TinyDecoderConfig,
    TinyWanConfig,
    build_decoder,
    build_denoiser,
    denoiser_input_names,
    denoiser_output_names,
)


@dataclass(frozen=True)
class ExportStyle:
    name: str
    opset: int
    dynamo: bool
    attention_op: str  # the op that must carry attention in the exported graph


STYLES = (
    ExportStyle("ts17", 17, dynamo=False, attention_op="Softmax"),
    ExportStyle("dyn18", 18, dynamo=True, attention_op="Softmax"),
    ExportStyle("attn23", 23, dynamo=True, attention_op="Attention"),
)
DEFAULT_STYLE = "ts17"

CONTEXT_SEED = 7
# Golden denoiser cases: (past length T, timestep, frame_offset, input seed).
DENOISER_CASES = ((0, 1000.0, 0, 100), (48, 750.0, 3, 101), (96, 0.0, 6, 102))
DECODER_SEED = 200
EXPORT_PAST_LEN = 32  # past length of the tracing sample (distinct from the 48 tokens of a chunk)
MAX_PAST_LEN = 1 << 20


def denoiser_metadata(cfg: TinyWanConfig) -> dict[str, str]:
    return {
        "vdrt.kind": "ar-video-denoiser",
        "vdrt.frames_per_chunk": str(cfg.frames_per_chunk),
        "vdrt.tokens_per_frame": str(cfg.tokens_per_frame),
        "vdrt.latent_channels": str(cfg.latent_channels),
        "vdrt.latent_height": str(cfg.latent_height),
        "vdrt.latent_width": str(cfg.latent_width),
        "vdrt.num_layers": str(cfg.num_layers),
        "vdrt.denoising_steps": ",".join(f"{t:g}" for t in reference_rollout.DENOISING_STEPS),
        "vdrt.scheduler": "flow-matching",
        "vdrt.shift": f"{reference_rollout.SHIFT:.1f}",
    }


def decoder_metadata(cfg: TinyDecoderConfig) -> dict[str, str]:
    return {
        "vdrt.kind": "video-decoder",
        "vdrt.temporal_upsample": str(cfg.temporal_upsample),
        "vdrt.spatial_upsample": str(cfg.spatial_upsample),
    }


# ---------------------------------------------------------------------------------------------
# Export


def export(
    module: torch.nn.Module,
    args: tuple,
    style: ExportStyle,
    input_names: list[str],
    output_names: list[str],
    dynamic_inputs: tuple[str, ...] | list[str] = (),
) -> onnx.ModelProto:
    """Exports `module` in `style`; inputs named in `dynamic_inputs` get a symbolic axis 1 "past_len"."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # exporter progress, deprecation and dim-renaming chatter
        if not style.dynamo:
            buffer = io.BytesIO()
            torch.onnx.export(
                module,
                args,
                buffer,
                dynamo=False,
                opset_version=style.opset,
                input_names=input_names,
                output_names=output_names,
                dynamic_axes={name: {1: "past_len"} for name in dynamic_inputs},
            )
            return onnx.load_from_string(buffer.getvalue())
        past_len = torch.export.Dim("past_len", min=0, max=MAX_PAST_LEN)
        dynamic_shapes = [{1: past_len} if name in dynamic_inputs else None for name in input_names]
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            opset_version=style.opset,
            input_names=input_names,
            output_names=output_names,
            dynamic_shapes=group_varargs(dynamic_shapes, module),
        )
        return program.model_proto


def group_varargs(per_input: list, module: torch.nn.Module) -> tuple:
    """torch.export wants dynamic_shapes shaped like forward's signature: *past is one tuple."""
    params = list(inspect.signature(module.forward).parameters.values())
    positional = [p for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    if len(positional) == len(params):
        return tuple(per_input)
    return (*per_input[: len(positional)], tuple(per_input[len(positional) :]))


def finish_model(model: onnx.ModelProto, metadata: dict[str, str]) -> None:
    """Adds the vdrt metadata and checks the model."""
    kept = [p for p in model.metadata_props if p.key not in metadata]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(collections.Counter(n.op_type for n in model.graph.node).items()))


# ---------------------------------------------------------------------------------------------
# Inputs, ONNX Runtime, golden data


def denoiser_inputs(
    cfg: TinyWanConfig, context: np.ndarray, past_len: int, timestep: float, frame_offset: int, seed: int
) -> dict[str, np.ndarray]:
    """Seeded inputs in graph-input order: latents ~ N(0,1), past K/V ~ 0.5 * N(0,1)."""
    rng = np.random.default_rng(seed)
    shape = (1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    inputs = {
        "noisy_latents": rng.standard_normal(shape, np.float32),
        "timestep": np.array([timestep], np.float32),
        "context": context,
        "frame_offset": np.array(frame_offset, np.int64),
    }
    for name in denoiser_input_names(cfg)[4:]:
        inputs[name] = 0.5 * rng.standard_normal((1, past_len, cfg.num_heads, cfg.head_dim), np.float32)
    return inputs


def decoder_inputs(cfg: TinyWanConfig, seed: int = DECODER_SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (1, cfg.frames_per_chunk, cfg.latent_channels, cfg.latent_height, cfg.latent_width)
    return {"latents": rng.standard_normal(shape, np.float32)}


def ort_session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def ort_run(session: ort.InferenceSession, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def ort_callable(session: ort.InferenceSession) -> Callable[..., list[np.ndarray]]:
    """Positional numpy -> list-of-outputs function over a session, for rollout()."""
    names = [i.name for i in session.get_inputs()]
    return lambda *arrays: session.run(None, dict(zip(names, arrays, strict=True)))


def write_test_data_set(folder: Path, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, array) in enumerate(inputs.items()):
        save_tensor(array, name, folder / f"input_{i}.pb")
    for i, (name, array) in enumerate(outputs.items()):
        save_tensor(array, name, folder / f"output_{i}.pb")


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.abs(a[k].astype(np.float64) - b[k]).max(initial=0.0)) for k in a)


def torch_outputs(module: torch.nn.Module, inputs: dict[str, np.ndarray], output_names: list[str]):
    return dict(zip(output_names, torch_callable(module)(*inputs.values()), strict=True))


# ---------------------------------------------------------------------------------------------
# The steps


def write_context_and_pipeline(cfg: TinyWanConfig) -> np.ndarray:
    """models/tiny_wan/context.pb (the default text context) and the top-level pipeline.toml."""
    TINY_WAN_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(CONTEXT_SEED)
    context = rng.standard_normal((1, cfg.text_len, cfg.text_dim), np.float32)
    save_tensor(context, "context", CONTEXT_PATH)
    (TINY_WAN_DIR / "pipeline.toml").write_text(
        f'# tiny Wan pipeline, default export style "{DEFAULT_STYLE}" (each style folder has its own)\n'
        f'denoiser = "{DEFAULT_STYLE}/denoiser.onnx"\n'
        f'decoder = "{DEFAULT_STYLE}/decoder.onnx"\n'
        'context = "context.pb"\n'
    )
    return context


def export_style(
    style: ExportStyle, denoiser: torch.nn.Module, decoder: torch.nn.Module, denoiser_args: tuple, decoder_args: tuple
) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """Exports, checks and saves models/tiny_wan/<style>/{denoiser,decoder}.onnx and pipeline.toml."""
    cfg = denoiser.cfg
    in_names, out_names = denoiser_input_names(cfg), denoiser_output_names(cfg)
    folder = TINY_WAN_DIR / style.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    den_model = export(denoiser, denoiser_args, style, in_names, out_names, dynamic_inputs=in_names[4:])
    dec_model = export(decoder, decoder_args, style, ["latents"], ["frames"])
    finish_model(den_model, denoiser_metadata(cfg))
    finish_model(dec_model, decoder_metadata(decoder.cfg))
    assert [i.name for i in den_model.graph.input] == in_names
    assert [o.name for o in den_model.graph.output] == out_names
    attention_ops = op_counts(den_model).get(style.attention_op, 0)
    assert attention_ops == 2 * cfg.num_layers, f"{style.name}: {attention_ops} {style.attention_op} nodes"

    for kind, model in (("denoiser", den_model), ("decoder", dec_model)):
        path = folder / f"{kind}.onnx"
        onnx.save(model, path)
        opset, size_kib = model.opset_import[0].version, path.stat().st_size / 1024
        print(f"\n{style.name}/{kind}.onnx: opset {opset}, {size_kib:.0f} KiB")
        print("  ops:", ", ".join(f"{op} {n}" for op, n in op_counts(model).items()))
    (folder / "pipeline.toml").write_text(
        f'# tiny Wan pipeline, export style "{style.name}"\n'
        'denoiser = "denoiser.onnx"\ndecoder = "decoder.onnx"\ncontext = "../context.pb"\n'
    )
    return den_model, dec_model


def write_golden(
    style: ExportStyle,
    model: onnx.ModelProto,
    kind: str,
    cases: list[dict[str, np.ndarray]],
    expected: list[dict[str, np.ndarray]],
) -> list[dict[str, np.ndarray]]:
    """Runs the cases in ONNX Runtime, writes <style>/<kind>/test_data_set_<i>, compares with PyTorch."""
    session = ort_session(model)
    results = []
    for i, (inputs, torch_out) in enumerate(zip(cases, expected, strict=True)):
        outputs = ort_run(session, inputs)
        write_test_data_set(TINY_WAN_DIR / style.name / kind / f"test_data_set_{i}", inputs, outputs)
        print(f"  {kind} set {i}: max |ORT - PyTorch| = {max_abs_diff(outputs, torch_out):.2e}")
        results.append(outputs)
    return results


def compare_styles(golden: dict[str, list[dict[str, np.ndarray]]]) -> None:
    print("\nmax abs diff between styles (denoiser sets 0-2, decoder set 0):")
    names = list(golden)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diffs = [max_abs_diff(x, y) for x, y in zip(golden[a], golden[b], strict=True)]
            print(f"  {a} vs {b}: " + ", ".join(f"{d:.2e}" for d in diffs))


def check_onnx_rollouts(context: np.ndarray) -> None:
    """Runs the rollout in float32 through each style's ONNX models against the float64 reference."""
    reference = [
        (
            load_tensor(reference_rollout.OUT_DIR / f"chunk_{c}_latents.pb"),
            load_tensor(reference_rollout.OUT_DIR / f"chunk_{c}_frames.pb"),
        )
        for c in range(reference_rollout.NUM_CHUNKS)
    ]
    print("float32 ONNX Runtime rollout vs the reference, max abs diff (latents, frames) per chunk:")
    for style in STYLES:
        folder = TINY_WAN_DIR / style.name
        denoise = ort_callable(ort_session(onnx.load(folder / "denoiser.onnx")))
        decode = ort_callable(ort_session(onnx.load(folder / "decoder.onnx")))
        chunks = rollout(denoise, decode, context, np.float32)
        diffs = [
            f"({np.abs(x0 - ref_x0).max():.1e}, {np.abs(frames - ref_frames).max():.1e})"
            for (_, x0, frames), (ref_x0, ref_frames) in zip(chunks, reference, strict=True)
        ]
        print(f"  {style.name}: " + ", ".join(diffs))


def main() -> None:
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed" notes
    cfg = TinyWanConfig()
    denoiser, decoder = build_denoiser(), build_decoder()
    print(
        f"denoiser: {sum(p.numel() for p in denoiser.parameters())} parameters, "
        f"decoder: {sum(p.numel() for p in decoder.parameters())}"
    )
    context = write_context_and_pipeline(cfg)

    den_cases = [denoiser_inputs(cfg, context, *case) for case in DENOISER_CASES]
    dec_cases = [decoder_inputs(cfg)]
    den_expected = [torch_outputs(denoiser, inputs, denoiser_output_names(cfg)) for inputs in den_cases]
    dec_expected = [torch_outputs(decoder, inputs, ["frames"]) for inputs in dec_cases]

    trace_inputs = denoiser_inputs(cfg, context, EXPORT_PAST_LEN, 500.0, 3, seed=1)
    den_args = tuple(torch.from_numpy(a) for a in trace_inputs.values())
    dec_args = (torch.from_numpy(dec_cases[0]["latents"]),)

    golden = {}
    for style in STYLES:
        den_model, dec_model = export_style(style, denoiser, decoder, den_args, dec_args)
        golden[style.name] = write_golden(style, den_model, "denoiser", den_cases, den_expected)
        golden[style.name] += write_golden(style, dec_model, "decoder", dec_cases, dec_expected)
    compare_styles(golden)

    print("\nreference rollout (PyTorch, float64):")
    reference_rollout.main()
    reference_rollout.write_euler_reference()
    check_onnx_rollouts(context)


if __name__ == "__main__":
    main()
