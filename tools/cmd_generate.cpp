// `vdrt generate PIPELINE_DIR -o out.mp4`: the autoregressive rollout of an
// exported video model, each finished chunk decoded and written at once.
// SIGINT stops after the current step and leaves a playable file.
#include <csignal>
#include <cmath>
#include <cstring>
#include <cstdio>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "importer/tensor_file.h"
#include "runtime/rollout.h"
#include "runtime/video_writer.h"
#include "tools/command.h"
#include "tools/progress.h"

namespace vdrt::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

struct GenerateArgs {
  std::string pipeline, output = "out.mp4", context, device = "auto", steps, cache = "unbounded", passes;
  int64_t frames = 0;
  double seconds = 0, fps = 16, shift = 0;
  uint64_t seed = 0;
  std::string precision = "fp32";
  int threads = 0;
  bool no_progress = false;
};

int generate(const GenerateArgs& a) {
  SessionOptions so;
  so.device = a.device;
  so.threads = a.threads;
  so.precision = a.precision;
  so.pass_pipeline = a.passes;
  auto pipeline = VideoPipeline::load(a.pipeline, so);
  const DenoiserContract& c = pipeline->contract;
  VDRT_CHECK(pipeline->decoder, "the pipeline has no decoder.onnx, so no video can be written", {a.pipeline});

  const int64_t frames_per_chunk = c.frames_per_chunk * c.temporal_upsample;
  int64_t want = a.frames > 0 ? a.frames : static_cast<int64_t>(std::llround(a.seconds * a.fps));
  VDRT_CHECK(want > 0, "ask for a positive number of frames (--frames N or --seconds S)");
  const int64_t chunks = (want + frames_per_chunk - 1) / frames_per_chunk;

  RolloutOptions ro;
  ro.seed = a.seed;
  ro.cache = CachePolicy::parse(a.cache);
  if (!a.steps.empty()) ro.denoising_steps = parse_timesteps(a.steps);
  if (a.shift > 0) ro.shift = a.shift;
  Tensor context = a.context.empty() ? pipeline->default_context() : load_tensor_pb(a.context).tensor;
  Rollout rollout(*pipeline, context, ro);

  VideoWriterOptions vo;
  vo.fps = a.fps;
  auto writer = open_video_writer(a.output, vo);
  spdlog::info("generating {} frames ({} chunks of {}) with {} on {}, seed {}, cache {}", want, chunks,
               frames_per_chunk, a.pipeline, pipeline->denoiser->backend().info().name, a.seed, ro.cache.str());

  g_interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  Progress progress(!a.no_progress);
  int64_t written = 0;
  double busy = 0;
  for (int64_t i = 0; i < chunks; ++i) {
    auto r = rollout.next(&g_interrupted);
    if (!r) break;
    Tensor frames = r->frames;
    int64_t take = std::min<int64_t>(frames.dims()[1], want - written);
    if (take < frames.dims()[1]) {
      std::vector<int64_t> d = frames.dims();
      d[1] = take;
      Tensor part(frames.dtype(), d);
      std::memcpy(part.raw(), frames.raw(), part.nbytes());  // batch 1: the first frames are contiguous
      frames = part;
    }
    writer->write(frames);
    written += take;
    busy += r->seconds;
    progress.update(fmt::format("chunk {}/{} | frames {}/{} | {:.1f} fps | cache {} ({} frames)", i + 1, chunks, written,
                                want, written / busy, human_bytes(static_cast<double>(r->cache_bytes)), r->cache_frames));
    if (g_interrupted) break;
  }
  progress.finish();
  writer->close();
  std::signal(SIGINT, previous);
  if (g_interrupted) {
    spdlog::warn("interrupted: wrote {} frames of {} chunks to {}", written, rollout.chunks_done(), a.output);
    return 130;
  }
  spdlog::info("wrote {} frames to {} ({:.2f} s, peak KV cache {})", written, a.output, busy,
               human_bytes(static_cast<double>(rollout.peak_cache_bytes())));
  return kExitOk;
}

Action setup_generate(CLI::App& sub) {
  auto a = std::make_shared<GenerateArgs>();
  sub.add_option("pipeline", a->pipeline, "Pipeline folder (denoiser.onnx, decoder.onnx, pipeline.toml)")
      ->required()->check(CLI::ExistingDirectory);
  sub.add_option("-o,--output", a->output, "Video file: .mp4/.mkv (H.264), .y4m, or frames/%05d.png")->capture_default_str();
  auto* frames = sub.add_option("-n,--frames", a->frames, "Number of video frames to write");
  sub.add_option("-s,--seconds", a->seconds, "Video length in seconds (at --fps)")->excludes(frames);
  sub.add_option("--fps", a->fps, "Frame rate of the written video")->capture_default_str();
  sub.add_option("--seed", a->seed, "Noise seed: the same seed gives the same video")->capture_default_str();
  sub.add_option("--context", a->context, "Text embeddings [1, L, D] as a TensorProto .pb (default: the pipeline's)");
  sub.add_option("-d,--device,--backend", a->device, "auto, cpu, vulkan[:N] (see `vdrt devices`)")->capture_default_str();
  sub.add_option("-t,--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
  sub.add_option("--precision", a->precision, "GPU arithmetic: fp32, or fp16 (matmul/conv/attention in fp16, fp32 accumulation)")
      ->check(CLI::IsMember({"fp32", "fp16"}))->capture_default_str();
  sub.add_option("--steps", a->steps, "Denoising timesteps, e.g. 1000,750,500,250 (default: model metadata)");
  sub.add_option("--shift", a->shift, "Scheduler shift (default: model metadata)");
  sub.add_option("--cache", a->cache,
                 "KV cache policy: unbounded | window:N[,sink:S] (frames) | pbsa (the bounded window + persistent "
                 "memory of vdrt.PBSAttention layers)")
      ->capture_default_str();
  sub.add_option("--pipeline", a->passes,
                 "Pass pipeline TOML run over the denoiser before generating, e.g. "
                 "passes/pipelines/sparse_pbsa.toml (sparse attention)")
      ->check(CLI::ExistingFile);
  sub.add_flag("--no-progress", a->no_progress, "Do not show the progress line");
  return [a] { return generate(*a); };
}

CommandRegistrar reg("generate", "Generate a video autoregressively with an exported pipeline", setup_generate);

}  // namespace
}  // namespace vdrt::cli
