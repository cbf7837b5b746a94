"""Shared paths and helpers of the vdrt Python tests (run by scripts/run-tests.sh).

The tests need only vdrt, numpy and pytest: golden data is read with vdrt.load_tensor,
not the onnx package. VDRT_CLI names the `vdrt` binary for the tests that compare with
the CLI (default: build/tools/vdrt of the repository).
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models" / "tiny_wan"
STYLES = sorted(p.name for p in MODELS.iterdir() if (p / "denoiser.onnx").is_file())


def golden_cases():
    """(model path, test_data_set folder) for every golden set of the bundled models."""
    cases = []
    for style in STYLES:
        for model in ("denoiser", "decoder"):
            onnx = MODELS / style / f"{model}.onnx"
            sets = MODELS / style / model
            if onnx.is_file() and sets.is_dir():
                for d in sorted(sets.glob("test_data_set_*")):
                    cases.append(pytest.param(onnx, d, id=f"{style}-{model}-{d.name[len('test_data_set_'):]}"))
    return cases


def cli_path():
    """The `vdrt` CLI binary, or None when it was not built."""
    p = Path(os.environ.get("VDRT_CLI", REPO / "build" / "tools" / "vdrt"))
    return p if p.is_file() and os.access(p, os.X_OK) else None
