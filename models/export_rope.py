"""Exports the rotate-half RoPE test models for vdrt's fuse-rope pass into models/rope/.

    python models/export_rope.py

RotateHalfRope applies the GPT-NeoX / Llama rotation (x * cos + rotate_half(x) * sin, with
rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2])) to q and k laid out [B, N, S, D]:
q with cos/sin computed in the graph from the `position_offset` input
(cat(freqs, freqs).cos(), as Llama writes it), k with a constant table (a buffer sliced to
the sequence, as models that cache cos/sin write it). Both tables are full width with equal
halves, so the rotation is an ONNX RotaryEmbedding (interleaved = 0).

UnbindRope is Wan's interleaved rotation with the pairs taken by unbind (x.unflatten(-1, (-1, 2))
.unbind(-1)), as diffusers-style code writes it, on x [B, S, N, D] with cos/sin [S, 1, D/2]
inputs: the exporters give Split/Squeeze (TorchScript) and Slice/Squeeze (dynamo) instead of
tiny_wan's Gathers.

Exported by the TorchScript exporter at opset 17 and the dynamo exporter at opset 18, and by
the TorchScript exporter with a symbolic sequence length (ts17_dynamic: the tables then come
from Shape-driven Slices at run time), each with one test_data_set of ONNX Runtime outputs
(checked against PyTorch here). Deterministic:
running it again gives the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from torch import nn

OUT = Path(__file__).resolve().parent / "rope"
BATCH, HEADS, SEQ, HEAD_DIM, MAX_POS = 1, 2, 6, 16, 32


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class RotateHalfRope(nn.Module):
    def __init__(self, head_dim: int = HEAD_DIM, theta: float = 10000.0, max_pos: int = MAX_POS):
        super().__init__()
        inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq)
        freqs = torch.outer(torch.arange(max_pos, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos())
        self.register_buffer("sin_cached", emb.sin())

    def forward(self, q: torch.Tensor, k: torch.Tensor, position_offset: torch.Tensor):
        seq = q.shape[2]
        positions = (position_offset + torch.arange(seq)).to(torch.float32)
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]  # [1, 1, S, D]
        q_out = q * cos + rotate_half(q) * sin
        k_cos, k_sin = self.cos_cached[:seq][None, None], self.sin_cached[:seq][None, None]
        k_out = k * k_cos + rotate_half(k) * k_sin
        return q_out, k_out


class UnbindRope(nn.Module):
    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        re, im = x.unflatten(-1, (-1, 2)).unbind(-1)
        return torch.stack([re * cos - im * sin, re * sin + im * cos], dim=-1).flatten(3)


def save(t: np.ndarray, name: str, path: Path) -> None:
    path.write_bytes(numpy_helper.from_array(t, name).SerializeToString())


def main() -> None:
    torch.manual_seed(0)
    q = torch.randn(BATCH, HEADS, SEQ, HEAD_DIM)
    k = torch.randn(BATCH, HEADS, SEQ, HEAD_DIM)
    offset = torch.tensor(3, dtype=torch.int64)
    x = torch.randn(BATCH, SEQ, HEADS, HEAD_DIM)
    angles = torch.randn(SEQ, 1, HEAD_DIM // 2)
    half_models = [(f"rotate_half_{style}", RotateHalfRope().eval(), {"q": q, "k": k, "position_offset": offset},
                    ["q_rot", "k_rot"], opset, dynamo, style.endswith("dynamic"))
                   for style, opset, dynamo in (("ts17", 17, False), ("dyn18", 18, True), ("ts17_dynamic", 17, False))]
    unbind_models = [(f"interleaved_unbind_{style}", UnbindRope().eval(),
                      {"x": x, "cos": angles.cos(), "sin": angles.sin()}, ["y"], opset, dynamo, False)
                     for style, opset, dynamo in (("ts17", 17, False), ("dyn18", 18, True))]
    for name, model, feed_t, out_names, opset, dynamo, dynamic_seq in half_models + unbind_models:
        with torch.no_grad():
            out = model(*feed_t.values())
        want = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
        path = OUT / f"{name}.onnx"
        dynamic = {"q": {2: "S"}, "k": {2: "S"}, "q_rot": {2: "S"}, "k_rot": {2: "S"}} if dynamic_seq else None
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, tuple(feed_t.values()), str(path), input_names=list(feed_t),
                              output_names=out_names, opset_version=opset, dynamo=dynamo,
                              external_data=False, dynamic_axes=dynamic)
        m = onnx.load(str(path))
        for n in m.graph.node:  # the dynamo exporter's stack traces would churn with every edit here
            del n.metadata_props[:]
        onnx.checker.check_model(m, full_check=True)
        m.producer_version = "vdrt-test"
        onnx.save(m, str(path))
        feed = {n: t.numpy() for n, t in feed_t.items()}
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feed)
        for out, g, w in zip(out_names, got, want):
            print(f"{name} {out}: max |ORT - torch| = {np.abs(g - w).max():.2e}")
        ops = sorted({n.op_type for n in m.graph.node})
        print(f"{name}: {len(m.graph.node)} nodes, ops {ops}")
        data = OUT / name / "test_data_set_0"
        data.mkdir(parents=True, exist_ok=True)
        for i, (n, t) in enumerate(feed.items()):
            save(t, n, data / f"input_{i}.pb")
        for i, (n, t) in enumerate(zip(out_names, got)):
            save(t, n, data / f"output_{i}.pb")


if __name__ == "__main__":
    main()
