"""Tiny exports of the patterns the fusion passes must recognise, one file per case and style.

    python models/export_fusion_cases.py

writes models/fusion_cases/<style>/<case>.onnx and, beside it, <case>/test_data_set_0 (inputs
and ONNX Runtime CPU outputs, float32) for the styles

    ts17   torch.onnx TorchScript exporter (dynamo=False), opset 17
    dyn18  torch.onnx dynamo exporter (dynamo=True), opset 18
    attn23 torch.onnx dynamo exporter, opset 23: SDPA becomes the ONNX Attention op (attn_mask,
           is_causal) and GroupNorm the ONNX GroupNormalization op

The cases (dim 16, 2 heads of 8, 12 tokens; every file a few KiB):

    sdpa_additive    F.scaled_dot_product_attention with an additive float mask input [1, 1, S, S]
    sdpa_bool        the same with a boolean mask input (True = attend)
    sdpa_causal      is_causal=True (the exporter writes the lower-triangular mask itself)
    sdpa_chunk       a constant block-causal mask: 3 chunks of 4 tokens, a chunk sees itself and
                     the chunks before it (causal Wan training / teacher forcing)
    sdpa_cache_chunk the chunk-causal mask over a KV cache: inputs past_key.0 / past_value.0
                     [1, 8, 2, 8] (two earlier frames of 4 tokens) are concatenated before this
                     call's keys and values; a query sees the cache and the frames up to its own
    packed_qkv       one Linear(16, 48) whose output is chunked into q, k and v
    group_norm       GroupNorm(4 groups, 16 channels) on [1, 16, 2, 4, 4] (as in the tiny decoder)

tests/passes/fusion_cases_test.cpp checks that the default pipeline fuses each one and that the
fused graph reproduces the golden outputs. Deterministic: running it again gives the same bytes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_all import ExportStyle, export, op_counts, ort_run, ort_session, write_test_data_set  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent / "fusion_cases"
STYLES = [ExportStyle("ts17", 17, dynamo=False, attention_op="Softmax"),
          ExportStyle("dyn18", 18, dynamo=True, attention_op="Softmax"),
          ExportStyle("attn23", 23, dynamo=True, attention_op="Attention")]
DIM, HEADS, TOKENS, CHUNK, PAST = 16, 2, 12, 4, 8


class Attention(torch.nn.Module):
    """Self-attention over x [1, S, DIM]; `mask` selects how SDPA is masked."""

    def __init__(self, mask: str, packed: bool = False):
        super().__init__()
        self.mask, self.packed = mask, packed
        if packed:
            self.qkv = torch.nn.Linear(DIM, 3 * DIM)
        else:
            self.q, self.k, self.v = (torch.nn.Linear(DIM, DIM) for _ in range(3))
        frame = torch.arange(TOKENS) // CHUNK
        self.register_buffer("chunk_mask", frame[None, :] <= frame[:, None], persistent=False)

    def heads(self, t: torch.Tensor) -> torch.Tensor:
        return t.view(1, TOKENS, HEADS, DIM // HEADS).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attend(x, None)

    def attend(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if self.packed:
            q, k, v = self.qkv(x).chunk(3, dim=-1)
        else:
            q, k, v = self.q(x), self.k(x), self.v(x)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        if self.mask in ("additive", "bool"):
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        elif self.mask == "causal":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        elif self.mask == "chunk":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.chunk_mask)
        else:
            y = F.scaled_dot_product_attention(q, k, v)
        return y.transpose(1, 2).reshape(1, TOKENS, DIM)


class MaskedAttention(Attention):
    """Attention whose mask is a graph input."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.attend(x, mask)


class CachedChunkAttention(Attention):
    """Self-attention over [past ; new] keys and values with a frame-causal mask."""

    def __init__(self):
        super().__init__("chunk")
        key_frame = torch.arange(PAST + TOKENS) // CHUNK
        query_frame = (PAST + torch.arange(TOKENS)) // CHUNK
        self.register_buffer("cache_mask", key_frame[None, :] <= query_frame[:, None], persistent=False)

    def forward(self, x: torch.Tensor, past_key: torch.Tensor, past_value: torch.Tensor) -> torch.Tensor:
        split = (1, TOKENS, HEADS, DIM // HEADS)
        q, k, v = self.q(x).view(split), self.k(x).view(split), self.v(x).view(split)
        k, v = torch.cat([past_key, k], 1), torch.cat([past_value, v], 1)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                           attn_mask=self.cache_mask)
        return y.transpose(1, 2).reshape(1, TOKENS, DIM)


class GroupNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.GroupNorm(4, DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def cases(rng: np.random.Generator) -> dict[str, tuple[torch.nn.Module, dict[str, np.ndarray]]]:
    x = rng.standard_normal((1, TOKENS, DIM)).astype(np.float32)
    additive = (rng.standard_normal((1, 1, TOKENS, TOKENS)) * 2).astype(np.float32)
    additive[..., 0, 3:] = -np.inf  # a row with some keys removed outright
    keep = rng.random((1, 1, TOKENS, TOKENS)) < 0.7
    keep[..., 0] = True  # every query sees at least one key (an empty row is NaN in SDPA)
    out = {
        "sdpa_additive": (MaskedAttention("additive"), {"x": x, "mask": additive}),
        "sdpa_bool": (MaskedAttention("bool"), {"x": x, "mask": keep}),
        "sdpa_causal": (Attention("causal"), {"x": x}),
        "sdpa_chunk": (Attention("chunk"), {"x": x}),
        "packed_qkv": (Attention("none", packed=True), {"x": x}),
        "group_norm": (GroupNorm(), {"x": rng.standard_normal((1, DIM, 2, 4, 4)).astype(np.float32)}),
    }
    cache_rng = np.random.default_rng(34)  # its own stream: the cases above keep their bytes
    out["sdpa_cache_chunk"] = (CachedChunkAttention(), {
        "x": x,
        "past_key.0": cache_rng.standard_normal((1, PAST, HEADS, DIM // HEADS)).astype(np.float32),
        "past_value.0": cache_rng.standard_normal((1, PAST, HEADS, DIM // HEADS)).astype(np.float32)})
    for module, _ in out.values():
        with torch.no_grad():  # affine params away from the identity, so a lost scale or bias shows
            for p in module.parameters():
                p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.5 + 0.1))
        module.eval()
    return out


def main() -> None:
    torch.manual_seed(0)
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    for style in STYLES:
        rng = np.random.default_rng(12)
        for name, (module, inputs) in cases(rng).items():
            args = tuple(torch.from_numpy(a) for a in inputs.values())
            model = export(module, args, style, list(inputs), ["y"])
            del model.metadata_props[:]
            for node in model.graph.node:  # dynamo's per-node stack traces and scopes: most of the bytes
                del node.metadata_props[:]
            for info in model.graph.value_info:
                del info.metadata_props[:]
            onnx.checker.check_model(model, full_check=True)
            path = OUT_DIR / style.name / f"{name}.onnx"
            path.parent.mkdir(parents=True, exist_ok=True)
            onnx.save(model, path)
            outputs = ort_run(ort_session(model), inputs)
            with torch.no_grad():
                want = module(*args).numpy()
            diff = float(np.abs(outputs["y"] - want).max())
            assert diff < 1e-4, f"{style.name}/{name}: ONNX Runtime differs from PyTorch by {diff}"
            write_test_data_set(OUT_DIR / style.name / name / "test_data_set_0", inputs, outputs)
            print(f"{style.name}/{name}.onnx {path.stat().st_size / 1024:.1f} KiB, ort-torch {diff:.1e}: "
                  f"{op_counts(model)}")


if __name__ == "__main__":
    main()
