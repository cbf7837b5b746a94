// `vdrt generate PIPELINE_DIR -o out.mp4`: the autoregressive rollout of an
// exported video model, each finished chunk decoded and written at once.
// SIGINT stops after the current step and leaves a playable file.
// `--json` reports the run chunk by chunk (tools/rollout_report.h);
// `--no-decode` runs the denoiser alone and writes nothing (benchmarks).
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "importer/tensor_file.h"
#include "runtime/rollout.h"
#include "runtime/video_writer.h"
#include "tools/command.h"
#include "tools/common_options.h"
#include "tools/progress.h"
#include "tools/rollout_report.h"

namespace vdrt::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

namespace fs = std::filesystem;

struct GenerateArgs {
  std::string pipeline, output = "out.mp4", context, negative_context, steps, cache = "unbounded";
  DeviceOptions dev;
  PipelineOptions pipe;
  int64_t frames = 0, seed = 0;
  double seconds = 0, fps = 16, shift = NAN, guidance = NAN;
  bool no_progress = false, overwrite = false, json = false, no_decode = false, f32_kv_cache = false;
  bool frames_given = false, seconds_given = false;
};

// Everything the command line decides, checked before the models load (exit code 2).
void validate_generate(const GenerateArgs& a) {
  validate(a.dev);
  validate(a.pipe);
  if (a.frames_given) require_at_least("--frames", static_cast<double>(a.frames), 1);
  if (a.seconds_given) require_positive("--seconds", a.seconds);
  if (!a.frames_given && !a.seconds_given) throw UsageError("give the video length: --frames N or --seconds S");
  if (!(a.fps > 0 && a.fps <= 1000)) throw UsageError(fmt::format("--fps must be in (0, 1000], got {:g}", a.fps));
  // --fps is the written video's frame rate, known here: a length under one frame is refused before the models load.
  if (a.seconds_given && a.seconds > 0 && std::llround(a.seconds * a.fps) < 1)
    throw UsageError(fmt::format("--seconds {:g} at --fps {:g} is less than one frame (one frame = {:g} s)", a.seconds,
                                 a.fps, 1.0 / a.fps));
  if (!std::isnan(a.shift)) require_positive("--shift", a.shift);
  if (!std::isnan(a.guidance) && !(std::isfinite(a.guidance) && a.guidance >= 0))
    throw UsageError(fmt::format("--guidance must be a number >= 0 (1: no guidance), got {:g}", a.guidance));
  require_at_least("--seed", static_cast<double>(a.seed), 0);
  usage_check("--cache", [&] { CachePolicy::parse(a.cache); });
  if (!a.steps.empty()) usage_check("--steps", [&] { parse_timesteps(a.steps); });
  if (!a.context.empty() && !fs::is_regular_file(a.context))
    throw UsageError("--context " + a.context + ": no such file (a TensorProto .pb of text embeddings [1, L, D])");
  if (!a.negative_context.empty() && !fs::is_regular_file(a.negative_context))
    throw UsageError("--negative-context " + a.negative_context +
                     ": no such file (a TensorProto .pb of text embeddings [1, L, D])");
  if (a.no_decode) return;  // nothing is written: -o is not used
  VideoFormat format = VideoFormat::Auto;
  usage_check("-o", [&] { format = video_format_for_path(a.output); });
  if (format != VideoFormat::Png) return;
  // PNG frames: a folder named with a trailing '/' or a pattern such as frames/%05d.png.
  if (a.output.back() != '/' && a.output.find('%') == std::string::npos)
    throw UsageError("-o " + a.output + ": is a folder; name PNG frames as '" + a.output + "/' or '" + a.output +
                     "/%05d.png', or give a video file (.mp4, .mkv, .y4m)");
  const fs::path dir = a.output.back() == '/' ? fs::path(a.output) : fs::path(a.output).parent_path();
  std::error_code ec;
  if (!dir.empty() && fs::is_directory(dir, ec) && !fs::is_empty(dir, ec) && !a.overwrite)
    throw UsageError("-o " + a.output + ": the folder " + dir.string() +
                     " is not empty (frames of an earlier run?); empty it, pick another, or pass --overwrite");
}

int generate(const GenerateArgs& a) {
  SessionOptions so = session_options(a.dev);
  set_session_pipeline(so, a.pipe);
  so.half_kv_cache = !a.f32_kv_cache;
  const auto load_start = std::chrono::steady_clock::now();
  auto pipeline = VideoPipeline::load(a.pipeline, so);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  const DenoiserContract& c = pipeline->contract;
  if (!a.no_decode)
    VDRT_CHECK(pipeline->decoder, "the pipeline has no decoder.onnx, so no video can be written (--no-decode runs the "
               "denoiser alone)", {a.pipeline});

  const int64_t frames_per_chunk = c.frames_per_chunk * c.temporal_upsample;
  int64_t want = a.frames_given ? a.frames : static_cast<int64_t>(std::llround(a.seconds * a.fps));
  if (want <= 0) throw UsageError(fmt::format("--seconds {:g} at --fps {:g} is less than one frame", a.seconds, a.fps));
  const int64_t chunks = (want + frames_per_chunk - 1) / frames_per_chunk;

  RolloutOptions ro;
  ro.seed = static_cast<uint64_t>(a.seed);
  ro.cache = CachePolicy::parse(a.cache);
  ro.decode = !a.no_decode;
  if (!a.steps.empty()) ro.denoising_steps = parse_timesteps(a.steps);
  if (!std::isnan(a.shift)) ro.shift = a.shift;
  if (!std::isnan(a.guidance)) ro.guidance = a.guidance;
  if (!a.negative_context.empty()) ro.negative_context = load_tensor_pb(a.negative_context).tensor;
  Tensor context = a.context.empty() ? pipeline->default_context() : load_tensor_pb(a.context).tensor;
  Rollout rollout(*pipeline, context, ro);

  std::unique_ptr<VideoWriter> writer;
  if (!a.no_decode) {
    VideoWriterOptions vo;
    vo.fps = a.fps;
    writer = open_video_writer(a.output, vo);
  }
  std::string pass_label;
  pipeline_toml(a.pipe, &pass_label);
  RolloutReport report({a.pipeline, a.dev.precision, a.pipe.level == 0 ? "-O0" : pass_label, a.cache,
                        a.no_decode ? std::string() : a.output, static_cast<uint64_t>(a.seed), chunks, !a.no_decode});
  report.set_load_seconds(load_seconds);
  spdlog::info("generating {} video frames ({} chunks of {}{}) with {} on {}, seed {}, cache {}, KV in {}{}", want,
               chunks, frames_per_chunk, a.no_decode ? ", not decoded" : "", a.pipeline,
               pipeline->denoiser->backend().info().name, a.seed, describe_cache(rollout, c, ro.cache),
               describe_kv_dtype(rollout, c),
               rollout.guided() ? fmt::format(", guidance {:g} (two denoiser calls a step)", rollout.guidance()) : "");

  g_interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  Progress progress(!a.no_progress);
  int64_t written = 0;
  for (int64_t i = 0; i < chunks; ++i) {
    auto r = rollout.next(&g_interrupted);
    if (!r) break;
    // Without decoding, the frames the decoder would have made count towards --frames.
    const int64_t made = a.no_decode ? frames_per_chunk : r->frames.dims()[1];
    const int64_t take = std::min<int64_t>(made, want - written);
    if (writer) {
      Tensor frames = r->frames;
      if (take < frames.dims()[1]) {
        std::vector<int64_t> d = frames.dims();
        d[1] = take;
        Tensor part(frames.dtype(), d);
        std::memcpy(part.raw(), frames.raw(), part.nbytes());  // batch 1: the first frames are contiguous
        frames = part;
      }
      writer->write(frames);
    }
    written += take;
    report.add(*r, a.no_decode ? 0 : take);
    const double busy = report.seconds();
    progress.update(fmt::format("chunk {}/{} | frames {}/{} | {:.1f} fps | cache {} ({} frames)", i + 1, chunks, written,
                                want, written / busy, human_bytes(static_cast<double>(r->cache_bytes)), r->cache_frames));
    if (g_interrupted) break;
  }
  progress.finish();
  if (writer) writer->close();
  std::signal(SIGINT, previous);
  const bool interrupted = g_interrupted;
  if (a.json) print_json(report.json(*pipeline, rollout, interrupted));
  const std::string what = a.no_decode ? fmt::format("{} chunks, not decoded, nothing written", rollout.chunks_done())
                                       : fmt::format("wrote {} frames of {} chunks to {}", written,
                                                     rollout.chunks_done(), a.output);
  if (interrupted) {
    spdlog::warn("interrupted: {}", what);
    return 130;
  }
  spdlog::info("{} ({:.2f} s, peak KV cache {})", what, report.seconds(),
               human_bytes(static_cast<double>(rollout.peak_cache_bytes())));
  return kExitOk;
}

Action setup_generate(CLI::App& sub) {
  auto a = std::make_shared<GenerateArgs>();
  sub.add_option("pipeline", a->pipeline, "Pipeline folder (denoiser.onnx, decoder.onnx, pipeline.toml)")
      ->required()->check(CLI::ExistingDirectory);
  auto* output = sub.add_option("-o,--output", a->output,
                 "Video file: .mp4/.mkv (H.264), .y4m; or PNG frames: 'frames/' or 'frames/%05d.png' (a folder that "
                 "is not empty needs --overwrite)")
      ->capture_default_str();
  sub.add_flag("--overwrite", a->overwrite,
               "Write PNG frames into a folder that is not empty (frames with the same numbers are replaced; "
               "nothing else is removed)");
  auto* frames = sub.add_option("-n,--frames", a->frames, "Number of video frames to write (decoded frames, not latent frames)");
  auto* seconds = sub.add_option("-s,--seconds", a->seconds, "Video length in seconds (at --fps)")->excludes(frames);
  sub.add_option("--fps", a->fps, "Frame rate of the written video")->capture_default_str();
  sub.add_option("--seed", a->seed, "Noise seed (>= 0): the same seed gives the same video")->capture_default_str();
  sub.add_option("--context", a->context, "Text embeddings [1, L, D] as a TensorProto .pb (default: the pipeline's)");
  add_device_options(sub, a->dev);
  sub.add_option("--steps", a->steps, "Denoising timesteps in [0, 1000], e.g. 1000,750,500,250 (default: model metadata)");
  sub.add_option("--shift", a->shift, "Scheduler shift, > 0 (default: model metadata)");
  sub.add_option("--guidance", a->guidance,
                 "Classifier-free guidance scale, >= 0: flow = negative + G * (prompt - negative), two denoiser calls "
                 "a step and two KV caches; 1 turns it off (default: model metadata vdrt.guidance_scale, else 1)");
  sub.add_option("--negative-context", a->negative_context,
                 "Negative (or null) prompt embeddings [1, L, D] as a TensorProto .pb, for --guidance (default: "
                 "the pipeline's negative_context)");
  sub.add_option("--cache", a->cache,
                 "KV cache policy, in latent frames: unbounded | window:N[,sink:S] | pbsa. Dense (and HSA) attention "
                 "layers keep every frame (unbounded) or the last N with the first S (window). Layers a PBSA "
                 "pipeline rewrote to vdrt.PBSAttention are always bounded by the op's window + persistent memory; "
                 "'pbsa' says so and fails without such layers; window:N does not apply to them")
      ->capture_default_str();
  add_pipeline_options(sub, a->pipe, "the denoiser (e.g. passes/pipelines/sparse_pbsa.toml: sparse attention)");
  sub.add_flag("--f32-kv-cache", a->f32_kv_cache,
               "Keep the dense layers' KV cache in float32 where the device would keep it in f16 (Vulkan at "
               "--precision fp16: half the bytes), e.g. to compare; sparse layers' block pools stay f16 there");
  sub.add_flag("--no-progress", a->no_progress, "Do not show the progress line (-q hides it too)");
  sub.add_flag("--no-decode", a->no_decode,
               "Run the denoiser alone: no decoder, nothing written (no -o); --frames still counts the video frames "
               "the decoder would make. For timing and cache studies with --json")
      ->excludes(output);
  add_json_flag(sub, a->json);
  return [a, frames, seconds] {
    a->frames_given = frames->count() > 0;
    a->seconds_given = seconds->count() > 0;
    validate_generate(*a);
    return generate(*a);
  };
}

CommandRegistrar reg("generate", "Generate a video autoregressively with an exported pipeline", setup_generate);

}  // namespace
}  // namespace vdrt::cli
