"""vdrt.VideoPipeline: the rollout matches the PyTorch reference, uint8 frames are the
writers' conversion of the decoder's, save() writes the same file as `vdrt generate`, and
Ctrl-C stops a long generation."""

import json
import os
import signal
import subprocess
import threading

import numpy as np
import pytest

import vdrt
from conftest import MODELS, cli_path

REFERENCE = MODELS / "rollout_reference"


@pytest.fixture(scope="module")
def pipe():
    return vdrt.VideoPipeline(MODELS / "ts17", device="cpu")


def test_contract(pipe):
    assert pipe.frames_per_chunk == 12 and (pipe.height, pipe.width) == (64, 64)
    assert pipe.has_decoder
    assert pipe.contract["denoising_steps"] == [1000.0, 750.0, 500.0, 250.0]
    assert pipe.contract["scheduler"] == "flow-matching"


def test_matches_the_pytorch_reference(pipe):
    # models/tiny_wan/rollout_reference: seed 42, 3 chunks, the default steps, shift and context.
    chunks = pipe.generate(frames=36, seed=42, output="float")
    assert len(chunks) == 3
    for k, frames in enumerate(chunks):
        want = vdrt.load_tensor(REFERENCE / f"chunk_{k}_frames.pb")[0]
        np.testing.assert_allclose(frames, want, rtol=0, atol=1e-3)
    latents = list(pipe.generate(frames=24, seed=42, output="latents"))
    np.testing.assert_allclose(latents[1], vdrt.load_tensor(REFERENCE / "chunk_1_latents.pb"), rtol=0, atol=1e-3)


def test_guidance_matches_the_pytorch_reference(pipe):
    # models/tiny_wan/rollout_reference_guided: seed 42, 3 chunks, guidance 3 against its negative context.
    guided = MODELS / "rollout_reference_guided"
    negative = vdrt.load_tensor(guided / "negative_context.pb")
    latents = list(pipe.generate(frames=36, seed=42, output="latents", guidance_scale=3.0,
                                 negative_prompt_embeds=negative))
    for k, x0 in enumerate(latents):
        np.testing.assert_allclose(x0, vdrt.load_tensor(guided / f"chunk_{k}_latents.pb"), rtol=0, atol=1e-3)
    # guidance_scale=1 is the unguided video; a guided one without a negative prompt says what to pass.
    plain = next(iter(pipe.generate(frames=12, seed=42, output="latents", guidance_scale=1.0)))
    np.testing.assert_allclose(plain, vdrt.load_tensor(REFERENCE / "chunk_0_latents.pb"), rtol=0, atol=1e-3)
    with pytest.raises(vdrt.Error, match="needs a negative prompt"):
        pipe.generate(frames=12, guidance_scale=3.0)
    with pytest.raises(ValueError, match="guidance_scale must be >= 0"):
        pipe.generate(frames=12, guidance_scale=-1.0, negative_prompt_embeds=negative)


def test_uint8_frames_are_the_writers_conversion(pipe):
    as_float = list(pipe.generate(seconds=1.5, fps=10, seed=3, output="float"))
    done = []
    as_uint8 = list(pipe.generate(seconds=1.5, fps=10, seed=3, progress=done.append))
    assert [f.shape[0] for f in as_uint8] == [12, 3] and done == [12, 3]
    for f, u in zip(as_float, as_uint8):
        assert u.dtype == np.uint8 and u.shape == (f.shape[0], 64, 64, 3)
        want = np.round((np.clip(f, -1, 1) + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
        assert np.abs(want.astype(int) - u).max() <= 1  # float rounding at .5 boundaries


def test_same_seed_same_video_other_seed_other_video(pipe):
    a, b, c = (np.concatenate(list(pipe.generate(frames=20, seed=s))) for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_prompt_embeds_steps_and_cache(pipe):
    context = vdrt.load_tensor(MODELS / "context.pb")
    default = next(iter(pipe.generate(frames=12, seed=1, output="float")))
    same = next(iter(pipe.generate(frames=12, seed=1, output="float", prompt_embeds=context)))
    assert np.array_equal(default, same)
    other = next(iter(pipe.generate(frames=12, seed=1, output="float", prompt_embeds=context * 0.5)))
    assert not np.array_equal(default, other)
    two_steps = next(iter(pipe.generate(frames=12, seed=1, output="float", steps="1000,500")))
    assert not np.array_equal(default, two_steps)
    windowed = list(pipe.generate(frames=60, seed=1, cache="window:3"))
    assert len(windowed) == 5
    with pytest.raises(ValueError, match="seconds=S or frames=N"):
        pipe.generate(seed=1)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        pipe.generate(frames=1, seed=-1)
    with pytest.raises(vdrt.Error):
        pipe.generate(frames=1, cache="window:x")


@pytest.mark.skipif(cli_path() is None, reason="the vdrt CLI is not built")
@pytest.mark.parametrize("ext", ["y4m", "png"])
def test_save_writes_what_vdrt_generate_writes(pipe, tmp_path, ext):
    def out(name):
        return str(tmp_path / f"{name}.y4m") if ext == "y4m" else str(tmp_path / name) + "/"

    result = pipe.save(out("py"), frames=30, seed=7)
    assert result["frames"] == 30 and result["chunks"] == 3
    subprocess.run([str(cli_path()), "-q", "generate", str(MODELS / "ts17"), "--frames", "30", "--seed", "7",
                    "-d", "cpu", "-o", out("cli")], check=True)
    if ext == "y4m":
        assert (tmp_path / "py.y4m").read_bytes() == (tmp_path / "cli.y4m").read_bytes()
    else:
        py, cli = sorted(os.listdir(tmp_path / "py")), sorted(os.listdir(tmp_path / "cli"))
        assert py == cli and len(py) == 30
        for name in py:
            assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
        with pytest.raises(ValueError, match="not empty"):
            pipe.save(out("py"), frames=1)


def test_given_latents_continue_the_video(pipe):
    made = list(pipe.generate(frames=36, seed=4, output="latents"))
    given = np.concatenate(made[:2], axis=1)  # [1, 6, C, h, w]: chunks 0 and 1
    forced = list(pipe.generate(frames=36, seed=4, output="latents", given_latents=given))
    for a, b in zip(forced, made):
        np.testing.assert_array_equal(a, b)  # the given chunks, then the same continuation
    other = list(pipe.generate(frames=36, seed=4, output="latents", given_latents=given * 0.5))
    np.testing.assert_array_equal(other[0], made[0] * 0.5)
    assert np.abs(other[2] - made[2]).max() > 0.01
    frames = next(iter(pipe.generate(frames=12, seed=4, output="float", given_latents=made[0])))
    np.testing.assert_array_equal(frames, next(iter(pipe.generate(frames=12, seed=4, output="float"))))
    with pytest.raises(ValueError, match="P whole chunks"):
        pipe.generate(frames=36, given_latents=given[:, :4])
    with pytest.raises(ValueError, match="more than the video's 1"):
        pipe.generate(frames=12, given_latents=given)


@pytest.mark.skipif(cli_path() is None, reason="the vdrt CLI is not built")
@pytest.mark.parametrize("cache", ["unbounded", "window:4,sink:1"])
def test_cache_bytes_are_what_vdrt_generate_reports(pipe, cache):
    it = pipe.generate(frames=48, seed=2, output="latents", cache=cache)
    assert it.cache_bytes == 0
    per_chunk = []
    for _ in it:
        per_chunk.append(it.cache_bytes)
    r = subprocess.run([str(cli_path()), "generate", str(MODELS / "ts17"), "--frames", "48", "--seed", "2", "-d", "cpu",
                        "--cache", cache, "--no-decode", "--json"], check=True, capture_output=True, text=True)
    doc = json.loads(r.stdout)
    assert per_chunk == [c["cache_bytes"] for c in doc["chunks"]]
    assert it.peak_cache_bytes == doc["peak_kv_cache_bytes"] >= max(per_chunk)
    # The window bounds the cache (4 frames of a 3-frame chunk: full after chunk 1); unbounded, it grows.
    assert (per_chunk[-1] == per_chunk[-2]) == (cache != "unbounded")


def test_save_refuses_unknown_formats(pipe, tmp_path):
    with pytest.raises(vdrt.Error, match="avi"):
        pipe.save(tmp_path / "x.avi", frames=1)


class CtrlCAfterFirstChunk:
    """A progress callback that sends SIGINT to this process shortly after the first chunk,
    so that it arrives while a later chunk is being generated (without the GIL)."""

    def __init__(self):
        self.timer = None

    def __call__(self, frames):
        if self.timer is None:
            self.timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
            self.timer.start()


def test_ctrl_c_stops_generate_and_save(pipe, tmp_path):
    ctrl_c = CtrlCAfterFirstChunk()
    chunks = 0
    with pytest.raises(KeyboardInterrupt):
        for _ in pipe.generate(frames=12 * 2000, seed=0, progress=ctrl_c):
            chunks += 1
    ctrl_c.timer.join()
    assert 1 <= chunks < 2000
    path = tmp_path / "cut.y4m"
    ctrl_c = CtrlCAfterFirstChunk()
    with pytest.raises(KeyboardInterrupt):
        pipe.save(path, frames=12 * 2000, seed=0, progress=ctrl_c)
    ctrl_c.timer.join()
    frames = path.read_bytes().count(b"FRAME")
    assert 12 <= frames < 12 * 2000 and frames % 12 == 0  # a playable file of whole chunks
    # The pipeline is still usable.
    assert next(iter(pipe.generate(frames=1, seed=0))).shape == (1, 64, 64, 3)


def test_graph_inspection():
    g = vdrt.load(MODELS / "dyn18" / "denoiser.onnx")
    assert len(g) == len(g.nodes) > 10
    assert g.metadata["vdrt.kind"] == "ar-video-denoiser"
    assert [a.name for a in g.inputs][0] == "noisy_latents"
    node = g.nodes[0]
    assert node.name and node.op_type and all(isinstance(n, str) for n in node.inputs)
    assert isinstance(node.attributes, dict)
    assert g.value(g.outputs[0].name).dtype == "float32"
    with pytest.raises(KeyError):
        g.value("no such value")
    assert sum(g.op_counts().values()) == len(g)
