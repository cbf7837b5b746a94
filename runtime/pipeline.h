#pragma once
// A generation pipeline folder (MODEL_CONTRACT.md): denoiser.onnx, an
// optional decoder.onnx, an optional pipeline.toml that renames files and
// tensor roles, and the metadata that fixes chunking and the scheduler.
#include <memory>
#include <string>
#include <vector>

#include "runtime/flow_matching.h"
#include "runtime/session.h"

namespace vdrt {

// Names of the denoiser's tensors; defaults are the contract's.
struct DenoiserNames {
  std::string noisy_latents = "noisy_latents", timestep = "timestep", context = "context",
              frame_offset = "frame_offset", flow = "flow";
  std::string past_key = "past_key.", past_value = "past_value.";          // + layer index
  std::string present_key = "present_key.", present_value = "present_value.";
  std::string decoder_latents = "latents", decoder_frames = "frames";
};

struct DenoiserContract {
  int64_t frames_per_chunk = 0, tokens_per_frame = 0, latent_channels = 0, latent_height = 0, latent_width = 0,
          num_layers = 0;
  std::vector<double> denoising_steps;
  double shift = 0;
  Sampler sampler = Sampler::kReNoise;  // vdrt.scheduler
  double guidance_scale = 1.0;          // vdrt.guidance_scale: classifier-free guidance, 1 = none
  int64_t temporal_upsample = 1, spatial_upsample = 1;  // from the decoder, if any
};

struct VideoPipeline {
  std::string dir;
  std::string denoiser_path, decoder_path, context_path, negative_context_path;
  DenoiserNames names;
  DenoiserContract contract;
  std::unique_ptr<Session> denoiser, decoder;  // decoder may be null

  // Loads and checks the folder; errors name the file and the missing or bad
  // key. `options` choose the device for both models.
  static std::unique_ptr<VideoPipeline> load(const std::string& dir, const SessionOptions& options);
  // The default text context named in pipeline.toml; throws if there is none.
  Tensor default_context() const;
  // The negative (or null) prompt's embeddings of classifier-free guidance,
  // named `negative_context` in pipeline.toml; throws if there is none.
  Tensor negative_context() const;
};

}  // namespace vdrt
