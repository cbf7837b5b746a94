"""vdrt.InferenceSession against the golden data of every bundled model, ONNX Runtime-style
introspection, arrays in and out (NumPy, DLPack, strided views, no copy on the way out)."""

import numpy as np
import pytest

import vdrt
from conftest import MODELS, STYLES, golden_cases

MAX_ABS_ERROR = 1e-4  # as tests/models/golden_test.cpp


def check_outputs(got, expected):
    assert len(got) == len(expected)
    for (name, want), have in zip(expected.items(), got):
        assert have.shape == want.shape, name
        assert have.dtype == want.dtype, name
        np.testing.assert_allclose(have, want, rtol=0, atol=MAX_ABS_ERROR, err_msg=name)


@pytest.mark.parametrize("model,data", golden_cases())
def test_golden_set_on_cpu(model, data):
    sess = vdrt.InferenceSession(model, device="cpu")
    inputs, expected = vdrt.load_test_set(data)
    assert [a.name for a in sess.get_inputs()] == list(inputs)
    assert [a.name for a in sess.get_outputs()] == list(expected)
    check_outputs(sess.run(None, inputs), expected)


@pytest.mark.parametrize("style", STYLES)
def test_raw_graph_and_named_outputs(style):
    model = MODELS / style / "denoiser.onnx"
    inputs, expected = vdrt.load_test_set(MODELS / style / "denoiser" / "test_data_set_1")
    raw = vdrt.InferenceSession(model, device="cpu", pipeline=[])
    assert not any(op.startswith("vdrt.") for op in raw.graph.op_counts())
    fused = vdrt.InferenceSession(str(model), device="cpu")
    assert "vdrt.Attention" in fused.graph.op_counts()
    names = list(expected)[::-1]
    for sess in (raw, fused):
        got = sess.run(names, inputs)
        check_outputs(got, {n: expected[n] for n in names})


def gpu_devices():
    return [d["device"] for d in vdrt.devices() if d["backend"] != "cpu"]


@pytest.mark.parametrize("device", gpu_devices())
def test_golden_set_on_each_gpu_device(device):
    model = MODELS / "ts17" / "denoiser.onnx"
    inputs, expected = vdrt.load_test_set(MODELS / "ts17" / "denoiser" / "test_data_set_1")
    sess = vdrt.InferenceSession(model, device=device)
    assert sess.get_providers() == [device.split(":")[0]]
    check_outputs(sess.run(None, inputs), expected)
    assert set(sess.placement().values()) <= {device.split(":")[0], "cpu"}


def test_introspection():
    sess = vdrt.InferenceSession(MODELS / "dyn18" / "denoiser.onnx", device="cpu")
    first = sess.get_inputs()[0]
    assert first.name == "noisy_latents" and first.dtype == "float32" and first.type == "tensor(float)"
    past = {a.name: a for a in sess.get_inputs()}["past_key.0"]
    assert any(isinstance(d, str) for d in past.shape), past.shape  # a symbolic dim, by name
    assert all(isinstance(d, (int, str)) for d in past.shape)
    meta = sess.get_modelmeta()
    assert meta.custom_metadata_map["vdrt.kind"] == "ar-video-denoiser"
    assert meta.opsets["ai.onnx"] >= 13
    placement = sess.placement()
    assert len(placement) == len(sess.graph) and set(placement.values()) == {"cpu"}
    assert sess.device["backend"] == "cpu"
    inputs, _ = vdrt.load_test_set(MODELS / "dyn18" / "denoiser" / "test_data_set_0")
    sess.run(None, inputs)
    assert set(sess.placement(last_run=True).values()) <= {"cpu", "host"}
    stats = sess.last_stats()
    assert stats["arena_bytes"] > 0 and stats["seconds"] > 0


def test_model_from_bytes_matches_the_file():
    model = MODELS / "ts17" / "decoder.onnx"
    inputs, expected = vdrt.load_test_set(MODELS / "ts17" / "decoder" / "test_data_set_0")
    sess = vdrt.InferenceSession(model.read_bytes(), device="cpu")
    assert sess.model_path == "<bytes>"
    check_outputs(sess.run(None, inputs), expected)


class DLPackOnly:
    """A tensor that offers nothing but the DLPack protocol (as a torch CPU tensor does)."""

    def __init__(self, array):
        self._a = array

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()


def test_arrays_in_and_out():
    model = MODELS / "ts17" / "denoiser.onnx"
    inputs, expected = vdrt.load_test_set(MODELS / "ts17" / "denoiser" / "test_data_set_1")
    sess = vdrt.InferenceSession(model, device="cpu")
    feeds = dict(inputs)
    feeds["noisy_latents"] = DLPackOnly(inputs["noisy_latents"])
    # A strided view (every other element of a bigger array) is read through its strides.
    wide = np.zeros((2,) + inputs["context"].shape, np.float32)
    wide[0] = inputs["context"]
    feeds["context"] = wide[0]
    big = np.zeros(inputs["past_key.0"].shape + (2,), np.float32)
    big[..., 0] = inputs["past_key.0"]
    feeds["past_key.0"] = big[..., 0]
    assert not feeds["past_key.0"].flags.c_contiguous
    feeds["frame_offset"] = int(inputs["frame_offset"])  # a Python int becomes an int64 scalar
    got = sess.run(None, feeds)
    check_outputs(got, expected)
    # Outputs are NumPy arrays over vdrt's own buffers: no copy, and they own nothing.
    for a in got:
        assert isinstance(a, np.ndarray) and not a.flags.owndata and a.flags.c_contiguous
    again = sess.run(None, inputs)
    assert not np.shares_memory(got[0], again[0])  # each run returns fresh tensors
    got[0][...] = 0  # writable, and does not disturb the session
    check_outputs(sess.run(None, inputs), expected)


def test_tensor_files_round_trip(tmp_path):
    a = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    vdrt.save_tensor(a, tmp_path / "a.pb", name="x")
    b = vdrt.load_tensor(tmp_path / "a.pb")
    assert vdrt.load_tensor_name(tmp_path / "a.pb") == "x"
    assert b.dtype == a.dtype and np.array_equal(a, b)
    h = np.linspace(-2, 2, 7, dtype=np.float16)
    vdrt.save_tensor(h[::2], str(tmp_path / "h.pb"))
    assert np.array_equal(vdrt.load_tensor(tmp_path / "h.pb"), h[::2])


def test_devices():
    devs = vdrt.devices()
    assert devs[0]["device"] == "cpu" or any(d["device"] == "cpu" for d in devs)
    assert "cpu" in vdrt.backends()
    for d in devs:
        assert set(d) >= {"device", "backend", "index", "name", "kind", "memory_bytes", "details"}
