// vdrt.VideoPipeline: the Self-Forcing rollout of a pipeline folder
// (runtime/rollout.h), as `vdrt generate` runs it. generate() is an iterator
// of chunks (uint8 frames [F, H, W, 3] by default, converted exactly as the
// video writers convert them); save() writes a video through the same
// writers as the CLI, so the same seed gives the same file. Ctrl-C stops
// after the current denoising step: generate() raises KeyboardInterrupt,
// save() closes a playable file first.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>
#include <spdlog/fmt/fmt.h>

#include "common.h"
#include "importer/tensor_file.h"
#include "runtime/rgb_frames.h"
#include "runtime/rollout.h"
#include "runtime/video_writer.h"

namespace vdrt::python {
namespace {

namespace fs = std::filesystem;

enum class Output { Uint8, Float, Latents };

struct PyVideoPipeline {
  std::shared_ptr<VideoPipeline> pipeline;
  std::string cache;
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
};

// One generation: a Rollout and how many frames are still wanted.
struct FrameIterator {
  std::shared_ptr<VideoPipeline> pipeline;
  std::shared_ptr<std::mutex> mutex;
  std::unique_ptr<Rollout> rollout;
  int64_t want = 0, written = 0, chunks = 0;
  size_t cache_bytes = 0;  // the KV cache after the last chunk's update
  Output output = Output::Uint8;
  Tensor given;  // generate(given_latents=): clean latents [1, P*F, C, h, w] of the first P chunks
  int64_t given_chunks = 0;
  nb::object progress;

  // The next chunk, trimmed to the frames still wanted: float [F, 3, H, W]
  // frames, or [1, F, C, H, W] latents. Undefined when done; throws
  // KeyboardInterrupt (through raise_pending_signals) on Ctrl-C.
  Tensor next_tensor() {
    if (rollout->chunks_done() >= chunks) return {};
    raise_pending_signals();  // a Ctrl-C that came between chunks (Python's handler was in place)
    std::optional<ChunkResult> r;
    bool interrupted = false;
    const Tensor chunk_given = rollout->chunks_done() < given_chunks ? given_chunk(rollout->chunks_done()) : Tensor();
    {
      SigintGuard guard;
      {
        nb::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(*mutex);
        r = rollout->next(guard.cancel(), chunk_given.defined() ? &chunk_given : nullptr);
      }
      interrupted = guard.interrupted();
    }
    if (interrupted || !r) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
      throw nb::python_error();
    }
    cache_bytes = r->cache_bytes;
    Tensor out;
    int64_t take = 0;
    if (output == Output::Latents) {
      out = r->latents;
      take = std::min<int64_t>(pipeline->contract.frames_per_chunk * pipeline->contract.temporal_upsample,
                               want - written);
    } else {
      const Tensor& frames = r->frames;  // [1, F, 3, H, W]
      const auto& d = frames.dims();
      VDRT_CHECK(d.size() == 5 && d[0] == 1, "the decoder returned frames of shape " + dims_str(d) +
                                                 ", not [1, F, 3, H, W]", {pipeline->decoder_path});
      take = std::min<int64_t>(d[1], want - written);
      Tensor f32 = frames.dtype() == DType::F32 ? frames : frames.to(DType::F32);
      out = Tensor(DType::F32, {take, d[2], d[3], d[4]});
      std::memcpy(out.raw(), f32.raw(), out.nbytes());  // batch 1: the first frames are contiguous
    }
    written += take;
    if (progress.is_valid() && !progress.is_none()) progress(take);
    return out;
  }

  // Chunk c of `given`, [1, F, C, h, w].
  Tensor given_chunk(int64_t c) const {
    Tensor t(DType::F32, rollout->latent_dims());
    std::memcpy(t.raw(), static_cast<const char*>(given.raw()) + c * t.nbytes(), t.nbytes());
    return t;
  }

  // generate(given_latents=): checked against the denoiser's chunk shape.
  void set_given(nb::handle array) {
    Tensor t = from_array(array, "given_latents");
    const std::vector<int64_t> chunk = rollout->latent_dims();  // [1, F, C, h, w]
    const auto& d = t.dims();
    const bool ok = t.dtype() == DType::F32 && d.size() == 5 && d[0] == 1 && d[1] > 0 && d[1] % chunk[1] == 0 &&
                    std::equal(d.begin() + 2, d.end(), chunk.begin() + 2);
    if (!ok)
      throw nb::value_error(("given_latents must be float32 [1, P*" + std::to_string(chunk[1]) + ", " +
                             std::to_string(chunk[2]) + ", " + std::to_string(chunk[3]) + ", " +
                             std::to_string(chunk[4]) + "] (P whole chunks), got " + dims_str(d))
                                .c_str());
    if (d[1] / chunk[1] > chunks)
      throw nb::value_error(("given_latents holds " + std::to_string(d[1] / chunk[1]) +
                             " chunks, more than the video's " + std::to_string(chunks))
                                .c_str());
    given = t.clone();  // our own contiguous copy: the array may change or go
    given_chunks = d[1] / chunk[1];
  }

  nb::object next() {
    Tensor t = next_tensor();
    if (!t.defined()) throw nb::stop_iteration();
    if (output != Output::Uint8) return to_numpy(t);
    RgbFrames frames(t, "<vdrt.VideoPipeline.generate>");
    Tensor rgb(DType::U8, {frames.count(), frames.height(), frames.width(), 3});
    const size_t frame_bytes = static_cast<size_t>(frames.height()) * frames.width() * 3;
    for (int64_t f = 0; f < frames.count(); ++f) frames.to_rgb8(f, rgb.data<uint8_t>() + f * frame_bytes);
    return to_numpy(rgb);
  }
};

struct GenerateRequest {
  nb::object seconds = nb::none(), frames = nb::none(), prompt_embeds = nb::none(), steps = nb::none(),
             shift = nb::none(), cache = nb::none(), progress = nb::none(), guidance_scale = nb::none(),
             negative_prompt_embeds = nb::none();
  double fps = 16;
  int64_t seed = 0;
  std::string output = "uint8";
};

std::unique_ptr<FrameIterator> start(PyVideoPipeline& self, const GenerateRequest& q) {
  if (q.seconds.is_none() == q.frames.is_none())
    throw nb::value_error("give the video length: seconds=S or frames=N (one of them)");
  if (!(q.fps > 0 && q.fps <= 1000)) throw nb::value_error(fmt::format("fps must be in (0, 1000], got {:g}", q.fps).c_str());
  if (q.seed < 0) throw nb::value_error(fmt::format("seed must be >= 0, got {}", q.seed).c_str());
  int64_t want = 0;
  if (!q.frames.is_none()) {
    want = nb::cast<int64_t>(q.frames);
    if (want < 1) throw nb::value_error(fmt::format("frames must be >= 1, got {}", want).c_str());
  } else {
    const double s = nb::cast<double>(q.seconds);
    if (!(s > 0)) throw nb::value_error(fmt::format("seconds must be > 0, got {:g}", s).c_str());
    want = std::llround(s * q.fps);
    if (want < 1)
      throw nb::value_error(fmt::format("seconds={:g} at fps={:g} is less than one frame", s, q.fps).c_str());
  }
  auto it = std::make_unique<FrameIterator>();
  if (q.output == "uint8") it->output = Output::Uint8;
  else if (q.output == "float") it->output = Output::Float;
  else if (q.output == "latents") it->output = Output::Latents;
  else throw nb::value_error(("output must be 'uint8', 'float' or 'latents', got '" + q.output + "'").c_str());

  VideoPipeline& p = *self.pipeline;
  if (it->output != Output::Latents)
    VDRT_CHECK(p.decoder, "the pipeline has no decoder.onnx, so it makes no frames (output='latents' gives latents)",
               {p.dir});
  RolloutOptions ro;
  ro.seed = static_cast<uint64_t>(q.seed);
  ro.decode = it->output != Output::Latents;
  ro.cache = CachePolicy::parse(q.cache.is_none() ? self.cache : nb::cast<std::string>(q.cache));
  if (!q.steps.is_none()) {
    if (nb::isinstance<nb::str>(q.steps)) ro.denoising_steps = parse_timesteps(nb::cast<std::string>(q.steps));
    else ro.denoising_steps = nb::cast<std::vector<double>>(q.steps);
  }
  if (!q.shift.is_none()) {
    const double shift = nb::cast<double>(q.shift);
    if (!(shift > 0)) throw nb::value_error(fmt::format("shift must be > 0, got {:g}", shift).c_str());
    ro.shift = shift;
  }
  if (!q.guidance_scale.is_none()) {
    const double g = nb::cast<double>(q.guidance_scale);
    if (!(std::isfinite(g) && g >= 0))
      throw nb::value_error(fmt::format("guidance_scale must be >= 0 (1: no guidance), got {:g}", g).c_str());
    ro.guidance = g;
  }
  if (!q.negative_prompt_embeds.is_none())
    ro.negative_context = from_array(q.negative_prompt_embeds, "negative_prompt_embeds");
  Tensor context = q.prompt_embeds.is_none() ? p.default_context() : from_array(q.prompt_embeds, "prompt_embeds");
  const int64_t per_chunk = p.contract.frames_per_chunk * p.contract.temporal_upsample;
  it->pipeline = self.pipeline;
  it->mutex = self.mutex;
  it->want = want;
  it->chunks = (want + per_chunk - 1) / per_chunk;
  it->progress = q.progress;
  it->rollout = std::make_unique<Rollout>(p, context, ro);
  return it;
}

// The keyword arguments generate() and save() share.
#define VDRT_GENERATE_ARGS                                                                                   \
  nb::kw_only(), "seconds"_a.none() = nb::none(), "frames"_a.none() = nb::none(), "fps"_a = 16.0, "seed"_a = 0,           \
      "prompt_embeds"_a.none() = nb::none(), "steps"_a.none() = nb::none(), "shift"_a.none() = nb::none(), "cache"_a.none() = nb::none(), \
      "progress"_a.none() = nb::none(), "guidance_scale"_a.none() = nb::none(), "negative_prompt_embeds"_a.none() = nb::none()

GenerateRequest request(nb::object seconds, nb::object frames, double fps, int64_t seed, nb::object prompt_embeds,
                        nb::object steps, nb::object shift, nb::object cache, nb::object progress,
                        nb::object guidance_scale, nb::object negative_prompt_embeds) {
  GenerateRequest q;
  q.seconds = seconds;
  q.frames = frames;
  q.fps = fps;
  q.seed = seed;
  q.prompt_embeds = prompt_embeds;
  q.steps = steps;
  q.shift = shift;
  q.cache = cache;
  q.progress = progress;
  q.guidance_scale = guidance_scale;
  q.negative_prompt_embeds = negative_prompt_embeds;
  return q;
}

nb::dict save(PyVideoPipeline& self, nb::handle path_arg, nb::object seconds, nb::object frames, double fps,
              int64_t seed, nb::object prompt_embeds, nb::object steps, nb::object shift, nb::object cache,
              nb::object progress, nb::object guidance_scale, nb::object negative_prompt_embeds, bool overwrite,
              int crf) {
  const std::string path = fspath(path_arg, "path");
  GenerateRequest q = request(seconds, frames, fps, seed, prompt_embeds, steps, shift, cache, progress, guidance_scale,
                              negative_prompt_embeds);
  q.output = "float";
  const VideoFormat format = video_format_for_path(path);  // an unknown extension is a vdrt.Error naming the path
  if (format == VideoFormat::Png) {
    if (path.back() != '/' && path.find('%') == std::string::npos)
      throw nb::value_error((path + ": is a folder; name PNG frames as '" + path + "/' or '" + path +
                             "/%05d.png', or give a video file (.mp4, .mkv, .y4m)").c_str());
    const fs::path dir = path.back() == '/' ? fs::path(path) : fs::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty() && fs::is_directory(dir, ec) && !fs::is_empty(dir, ec) && !overwrite)
      throw nb::value_error((path + ": the folder " + dir.string() +
                             " is not empty; empty it, pick another, or pass overwrite=True").c_str());
  }
  std::unique_ptr<FrameIterator> it = start(self, q);
  VideoWriterOptions vo;
  vo.fps = fps;
  vo.crf = crf;
  std::unique_ptr<VideoWriter> writer = open_video_writer(path, vo);
  try {
    for (;;) {
      Tensor t = it->next_tensor();
      if (!t.defined()) break;
      nb::gil_scoped_release release;
      writer->write(t);
    }
  } catch (...) {
    writer->close();  // a playable file of the chunks done, as `vdrt generate` leaves on SIGINT
    throw;
  }
  writer->close();
  nb::dict d;
  d["path"] = path;
  d["frames"] = it->written;
  d["chunks"] = it->rollout->chunks_done();
  d["peak_cache_bytes"] = it->rollout->peak_cache_bytes();
  return d;
}

}  // namespace

void bind_video(nb::module_& m) {
  using namespace nb::literals;
  nb::class_<FrameIterator>(m, "FrameIterator",
                            "The chunks of one VideoPipeline.generate() call; len() is the number of chunks\n"
                            "(so tqdm(pipe.generate(...)) shows a total).")
      .def("__iter__", [](nb::handle self) { return self; }, nb::sig("def __iter__(self) -> FrameIterator"))
      .def("__next__", &FrameIterator::next, nb::sig("def __next__(self) -> numpy.ndarray"), "The next chunk (runs its denoising steps and the decoder).")
      .def("__len__", [](const FrameIterator& it) { return it.chunks; }, "The number of chunks in all.")
      .def_prop_ro("frames_total", [](const FrameIterator& it) { return it.want; }, "Video frames wanted in all.")
      .def_prop_ro("frames_done", [](const FrameIterator& it) { return it.written; }, "Video frames yielded so far.")
      .def_prop_ro("chunks_done", [](const FrameIterator& it) { return it.rollout->chunks_done(); },
                   "Chunks generated so far.")
      .def_prop_ro("cache_bytes", [](const FrameIterator& it) { return it.cache_bytes; },
                   "Bytes of the KV cache (every layer's keys and values) after the last chunk's update,\n"
                   "as `vdrt generate --json` reports per chunk; 0 before the first chunk.")
      .def_prop_ro("peak_cache_bytes", [](const FrameIterator& it) { return it.rollout->peak_cache_bytes(); },
                   "The KV cache's peak so far (dense and block caches together), as `vdrt generate --json`'s\n"
                   "peak_kv_cache_bytes.");

  nb::class_<PyVideoPipeline>(
      m, "VideoPipeline",
      "An exported AR video model (a pipeline folder: denoiser.onnx, decoder.onnx,\n"
      "pipeline.toml; docs/MODEL_CONTRACT.md), generating video as `vdrt generate` does.\n\n"
      "    pipe = vdrt.VideoPipeline('models/tiny_wan/ts17', device='cpu')\n"
      "    for frames in pipe.generate(seconds=2, seed=7):   # uint8 [F, H, W, 3] per chunk\n"
      "        ...\n"
      "    pipe.save('video.mp4', seconds=10, seed=7)        # .mp4, .mkv, .y4m or frames/%05d.png\n\n"
      "device, precision, threads and pipeline (the denoiser's pass pipeline) are as in\n"
      "InferenceSession; cache is the default KV cache policy of generate() and save(),\n"
      "in latent frames: 'unbounded', 'window:N[,sink:S]' or 'pbsa'.")
      .def(
          "__init__",
          [](PyVideoPipeline* self, nb::handle folder, const std::string& device, const std::string& precision,
             nb::handle pipeline, const std::string& cache, int threads) {
            const std::string dir = fspath(folder, "folder");
            const SessionOptions so = session_options(device, precision, pipeline, threads);
            CachePolicy::parse(cache);  // a bad policy fails here, not at the first generate()
            std::unique_ptr<VideoPipeline> p;
            {
              nb::gil_scoped_release release;
              p = VideoPipeline::load(dir, so);
            }
            new (self) PyVideoPipeline{std::shared_ptr<VideoPipeline>(std::move(p)), cache};
          },
          "folder"_a, "device"_a = "auto", "precision"_a = "fp32", "pipeline"_a.none() = nb::none(), "cache"_a = "unbounded",
          "threads"_a = 0,
          nb::sig("def __init__(self, folder: str | os.PathLike[str], device: str = 'auto', precision: str = 'fp32', "
                  "pipeline: str | os.PathLike[str] | collections.abc.Sequence[str] | bool | None = None, cache: str = 'unbounded', "
                  "threads: int = 0) -> None"),
          "Loads and checks the folder; errors (vdrt.Error) name the file and the bad key.")
      .def(
          "generate",
          [](PyVideoPipeline& self, nb::object seconds, nb::object frames, double fps, int64_t seed,
             nb::object prompt_embeds, nb::object steps, nb::object shift, nb::object cache, nb::object progress,
             nb::object guidance_scale, nb::object negative_prompt_embeds, const std::string& output,
             nb::object given_latents) {
            GenerateRequest q = request(seconds, frames, fps, seed, prompt_embeds, steps, shift, cache, progress,
                                        guidance_scale, negative_prompt_embeds);
            q.output = output;
            std::unique_ptr<FrameIterator> it = start(self, q);
            if (!given_latents.is_none()) it->set_given(given_latents);
            return it;
          },
          VDRT_GENERATE_ARGS, "output"_a = "uint8", "given_latents"_a.none() = nb::none(),
          nb::sig("def generate(self, *, seconds: float | None = None, frames: int | None = None, fps: float = 16.0, seed: int = 0, prompt_embeds: typing.Any | None = None, steps: collections.abc.Sequence[float] | str | None = None, shift: float | None = None, cache: str | None = None, progress: collections.abc.Callable[[int], typing.Any] | None = None, guidance_scale: float | None = None, negative_prompt_embeds: typing.Any | None = None, output: str = 'uint8', given_latents: typing.Any | None = None) -> FrameIterator"),
          "Generates a video chunk by chunk; returns an iterator of NumPy arrays, one per chunk.\n\n"
          "Length: seconds (at fps) or frames, in video frames; the last chunk is cut to it.\n"
          "seed: the noise seed (the same seed gives the same video on every machine).\n"
          "prompt_embeds: text embeddings [1, L, D] (default: the folder's context).\n"
          "steps: denoising timesteps (list or '1000,750,500,250'; default: the model's\n"
          "metadata); shift: the scheduler's shift; cache: the KV cache policy (default: the\n"
          "constructor's). progress: called with the number of new frames after each chunk\n"
          "(e.g. a tqdm bar's update).\n"
          "guidance_scale: classifier-free guidance, flow = negative + scale * (prompt -\n"
          "negative), two denoiser calls a step and two KV caches; 1 turns it off (default:\n"
          "the model's vdrt.guidance_scale, else 1). negative_prompt_embeds: the negative (or\n"
          "null) prompt [1, L, D] (default: the folder's negative_context).\n"
          "output: 'uint8' gives RGB frames [F, H, W, 3] (as the video writers convert them),\n"
          "'float' decoder frames [F, 3, H, W] in [-1, 1], 'latents' the chunk's x0\n"
          "[1, F, C, h, w] (no decoder needed).\n"
          "given_latents: clean latents [1, P*F, C, h, w] of the first P chunks (e.g. an encoded\n"
          "clip to continue): those chunks are not denoised but cached as generated ones\n"
          "(teacher forcing) and yielded (decoded); the video continues from them.\n"
          "Ctrl-C stops after the current denoising step with KeyboardInterrupt.")
      .def("save", &save, "path"_a, VDRT_GENERATE_ARGS, "overwrite"_a = false, "crf"_a = 18,
           nb::sig("def save(self, path: str | os.PathLike[str], *, seconds: float | None = None, frames: int | None = None, fps: float = 16.0, seed: int = 0, prompt_embeds: typing.Any | None = None, steps: collections.abc.Sequence[float] | str | None = None, shift: float | None = None, cache: str | None = None, progress: collections.abc.Callable[[int], typing.Any] | None = None, guidance_scale: float | None = None, negative_prompt_embeds: typing.Any | None = None, overwrite: bool = False, crf: int = 18) -> dict[str, typing.Any]"),
           "Generates a video (arguments as generate(), without given_latents) and writes it to path through the\n"
           "CLI's writers: .mp4/.mkv (H.264), .y4m, or PNG frames ('frames/' or\n"
           "'frames/%05d.png'; a folder that is not empty needs overwrite=True). crf: H.264\n"
           "quality (0..51, lower is better). The same arguments give the same file as\n"
           "`vdrt generate`. Ctrl-C closes a playable file of the chunks done, then raises\n"
           "KeyboardInterrupt. Returns {path, frames, chunks, peak_cache_bytes}.")
      .def_prop_ro("frames_per_chunk",
                   [](const PyVideoPipeline& s) {
                     return s.pipeline->contract.frames_per_chunk * s.pipeline->contract.temporal_upsample;
                   },
                   "Video frames per chunk (latent frames x the decoder's temporal upsampling).")
      .def_prop_ro("height",
                   [](const PyVideoPipeline& s) {
                     return s.pipeline->contract.latent_height * s.pipeline->contract.spatial_upsample;
                   },
                   "Frame height in pixels.")
      .def_prop_ro("width",
                   [](const PyVideoPipeline& s) {
                     return s.pipeline->contract.latent_width * s.pipeline->contract.spatial_upsample;
                   },
                   "Frame width in pixels.")
      .def_prop_ro(
          "contract",
          [](const PyVideoPipeline& s) {
            const DenoiserContract& c = s.pipeline->contract;
            nb::dict d;
            d["frames_per_chunk"] = c.frames_per_chunk;
            d["tokens_per_frame"] = c.tokens_per_frame;
            d["latent_channels"] = c.latent_channels;
            d["latent_height"] = c.latent_height;
            d["latent_width"] = c.latent_width;
            d["num_layers"] = c.num_layers;
            d["denoising_steps"] = c.denoising_steps;
            d["shift"] = c.shift;
            d["scheduler"] = sampler_name(c.sampler);
            d["temporal_upsample"] = c.temporal_upsample;
            d["spatial_upsample"] = c.spatial_upsample;
            return d;
          },
          "The denoiser's contract read from its metadata (latent frames per chunk, latent\n"
          "size, layers, denoising steps, shift, scheduler, the decoder's upsampling).")
      .def_prop_ro("has_decoder", [](const PyVideoPipeline& s) { return s.pipeline->decoder != nullptr; },
                   "Whether the folder has a decoder (needed for frames).")
      .def_prop_ro("folder", [](const PyVideoPipeline& s) { return s.pipeline->dir; }, "The pipeline folder.")
      .def("__repr__", [](const PyVideoPipeline& s) {
        return "VideoPipeline('" + s.pipeline->dir + "', device='" + s.pipeline->denoiser->backend().info().backend +
               "')";
      });
}

}  // namespace vdrt::python
