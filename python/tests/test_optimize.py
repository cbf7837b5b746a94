"""vdrt.optimize as `vdrt opt`: the default pipeline fuses the bundled models, the written
model runs and matches the golden data, and the report says what happened."""

import numpy as np
import pytest

import vdrt
from conftest import MODELS, STYLES, REPO, cli_path


@pytest.mark.parametrize("style", STYLES)
def test_default_pipeline_fuses_and_still_matches(style, tmp_path):
    out = tmp_path / "fused.onnx"
    report = vdrt.optimize(MODELS / style / "denoiser.onnx", out)
    assert out.is_file()
    assert report["nodes_after"] < report["nodes_before"]
    assert report["fused"].get("vdrt.Attention", 0) >= 2, report["fused"]
    assert report["text"].startswith(f"wrote {out}: {report['nodes_before']} -> {report['nodes_after']} nodes (")
    assert [p["pass"] for p in report["passes"]][0] == "fold-constants"
    g = vdrt.load(out)
    assert g.op_counts() == report["ops"]
    inputs, expected = vdrt.load_test_set(MODELS / style / "denoiser" / "test_data_set_1")
    got = vdrt.InferenceSession(out, device="cpu", pipeline=[]).run(None, inputs)
    for (name, want), have in zip(expected.items(), got):
        np.testing.assert_allclose(have, want, rtol=0, atol=1e-4, err_msg=name)


def test_passes_explain_and_dry_run():
    model = MODELS / "ts17" / "denoiser.onnx"
    report = vdrt.optimize(model, passes=["fold-constants", "fuse-gelu"], explain=True)
    assert report["output"] is None
    assert [p["pass"] for p in report["passes"]] == ["fold-constants", "fuse-gelu"]
    assert set(report["fused"]) == {"vdrt.Gelu"}
    assert "explain: dry run, nothing written" in report["text"]
    assert vdrt.optimize(model, passes="fold-constants,fuse-gelu")["ops"] == report["ops"]
    with pytest.raises(ValueError, match="not both"):
        vdrt.optimize(model, pipeline=[], passes=["fuse-gelu"])
    with pytest.raises(vdrt.Error, match="no-such-pass"):
        vdrt.optimize(model, passes=["no-such-pass"])


def test_pipeline_file():
    pipeline = REPO / "passes" / "pipelines" / "sparse_pbsa.toml"
    report = vdrt.optimize(MODELS / "ts17" / "denoiser.onnx", pipeline=pipeline)
    assert report["pipeline"] == str(pipeline)
    assert report["fused"].get("vdrt.PBSAttention", 0) >= 1, report["fused"]
    assert "fold-constants" in vdrt.default_pipeline()
    assert "fuse-attention" in vdrt.list_passes()


@pytest.mark.skipif(cli_path() is None, reason="the vdrt CLI is not built")
def test_same_text_as_the_cli(tmp_path):
    import subprocess

    model = MODELS / "attn23" / "denoiser.onnx"
    report = vdrt.optimize(model, explain=True)
    cli = subprocess.run([str(cli_path()), "opt", str(model), "--explain"], capture_output=True, text=True, check=True)
    explain_lines = [l for l in report["text"].splitlines() if l.startswith("explain: ") and "dry run" not in l]
    cli_lines = [l for l in cli.stdout.splitlines() if l.startswith("explain: ") and "dry run" not in l]
    assert explain_lines == cli_lines


def test_device_decides_the_device_only_fusions(tmp_path):
    # As `vdrt opt --device cpu`: GEMM epilogues (vdrt.FusedMatMul) only for a device that runs them;
    # without a device the written model runs everywhere and has none.
    model = MODELS / "ts17" / "denoiser.onnx"
    anywhere = vdrt.optimize(model)
    assert anywhere["device"] is None
    assert "vdrt.FusedMatMul" not in anywhere["ops"], anywhere["ops"]
    out = tmp_path / "cpu.onnx"
    cpu = vdrt.optimize(model, out, device="cpu")
    assert cpu["device"] == "cpu"
    assert cpu["ops"].get("vdrt.FusedMatMul", 0) >= 1, cpu["ops"]
    assert cpu["fused"].get("vdrt.Attention", 0) >= 2, cpu["fused"]
    inputs, expected = vdrt.load_test_set(MODELS / "ts17" / "denoiser" / "test_data_set_1")
    got = vdrt.InferenceSession(out, device="cpu", pipeline=[]).run(None, inputs)
    for (name, want), have in zip(expected.items(), got):
        np.testing.assert_allclose(have, want, rtol=0, atol=1e-4, err_msg=name)
    with pytest.raises(vdrt.Error, match="cuda"):
        vdrt.optimize(model, device="cuda")
