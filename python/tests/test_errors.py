"""Bad models, bad inputs and bad arguments raise clear Python exceptions carrying vdrt's
message (file, node, op, reason)."""

import numpy as np
import pytest

import vdrt
from conftest import MODELS

MODEL = MODELS / "ts17" / "denoiser.onnx"


@pytest.fixture(scope="module")
def sess():
    return vdrt.InferenceSession(MODEL, device="cpu")


@pytest.fixture(scope="module")
def feeds():
    return vdrt.load_test_set(MODELS / "ts17" / "denoiser" / "test_data_set_1")[0]


def test_error_is_a_runtime_error_with_parts(sess, feeds):
    bad = dict(feeds, timestep=feeds["timestep"].astype(np.float64))
    with pytest.raises(vdrt.Error) as e:
        sess.run(None, bad)
    assert isinstance(e.value, RuntimeError)
    assert e.value.file == str(MODEL)
    assert "timestep" in e.value.reason and "f32" in e.value.reason and "f64" in e.value.reason
    assert str(e.value) == f"{MODEL}: {e.value.reason}"


def test_wrong_shape(sess, feeds):
    bad = dict(feeds, noisy_latents=feeds["noisy_latents"][:, :2])
    with pytest.raises(vdrt.Error, match=r"input 'noisy_latents' has shape \[1, 2, 16, 8, 8\] which does not fit"):
        sess.run(None, bad)


def test_missing_and_unknown_inputs(sess, feeds):
    missing = {k: v for k, v in feeds.items() if k != "context"}
    with pytest.raises(vdrt.Error, match="input 'context' is not bound"):
        sess.run(None, missing)
    with pytest.raises(vdrt.Error, match="no input named 'bogus'"):
        sess.run(None, dict(feeds, bogus=np.zeros(1, np.float32)))
    with pytest.raises(vdrt.Error, match="'nope' is not an output of the model"):
        sess.run(["nope"], feeds)


def test_unsupported_arrays(sess, feeds):
    with pytest.raises(TypeError, match="input 'timestep': dtype uint32 is not supported"):
        sess.run(None, dict(feeds, timestep=np.zeros(1, np.uint32)))
    with pytest.raises(TypeError, match="input 'timestep': expected a NumPy array"):
        sess.run(None, dict(feeds, timestep=object()))
    with pytest.raises(TypeError, match="input_feed"):
        sess.run(None, [1, 2])
    with pytest.raises(TypeError, match="output_names"):
        sess.run("flow", feeds)
    # The session still works after every refusal.
    assert sess.run(["flow"], feeds)[0].shape == (1, 3, 16, 8, 8)


def test_truncated_and_missing_models(tmp_path):
    data = MODEL.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(vdrt.Error) as e:
        vdrt.InferenceSession(cut, device="cpu")
    assert e.value.file == str(cut) and "truncated or corrupt" in str(e.value)
    with pytest.raises(vdrt.Error, match="truncated or corrupt"):
        vdrt.InferenceSession(data[:1000], device="cpu")
    with pytest.raises(vdrt.Error, match="nothing.onnx"):
        vdrt.InferenceSession(tmp_path / "nothing.onnx", device="cpu")
    with pytest.raises(vdrt.Error, match="nothing.onnx"):
        vdrt.load(tmp_path / "nothing.onnx")
    with pytest.raises(vdrt.Error, match="nothing.pb"):
        vdrt.load_tensor(tmp_path / "nothing.pb")


def test_bad_arguments():
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'fp16'"):
        vdrt.InferenceSession(MODEL, precision="fp8")
    with pytest.raises(ValueError, match="backend 'cuda' is not compiled into this build"):
        vdrt.InferenceSession(MODEL, device="cuda")
    with pytest.raises(ValueError, match="threads must be >= 0"):
        vdrt.InferenceSession(MODEL, threads=-1)
    with pytest.raises(vdrt.Error, match="no-such-pass"):
        vdrt.InferenceSession(MODEL, pipeline=["fold-constants", "no-such-pass"])
    with pytest.raises(TypeError):
        vdrt.InferenceSession(12)
    with pytest.raises(ValueError, match="unknown log level"):
        vdrt.set_log_level("loud")
