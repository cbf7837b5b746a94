#include "runtime/pipeline.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include <spdlog/spdlog.h>
#include <toml.hpp>

#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/flow_matching.h"

namespace vdrt {
namespace fs = std::filesystem;
namespace {

const std::string& require_meta(const Graph& g, const std::string& key) {
  auto it = g.metadata.find(key);
  VDRT_CHECK(it != g.metadata.end(), "metadata '" + key + "' is missing (see MODEL_CONTRACT.md)", {g.source_path});
  return it->second;
}

int64_t meta_int(const Graph& g, const std::string& key) {
  const std::string& text = require_meta(g, key);
  try {
    size_t used = 0;
    int64_t v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  throw Error("metadata '" + key + "' = '" + text + "' is not a positive integer", {g.source_path});
}

double meta_double(const Graph& g, const std::string& key) {
  const std::string& text = require_meta(g, key);
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    throw Error("metadata '" + key + "' = '" + text + "' is not a number", {g.source_path});
  }
}

void read_toml(VideoPipeline& p, const fs::path& file) {
  toml::value cfg;
  try {
    cfg = toml::parse(file.string());
  } catch (const std::exception& e) {
    throw Error(std::string("cannot parse pipeline.toml: ") + e.what(), {file.string()});
  }
  // A model folder is data: a key vdrt does not read (a typo, a renamed
  // role) is an error naming the file and key, as in pass pipelines.
  static const std::set<std::string> kTop = {"denoiser", "decoder", "context", "negative_context", "names"};
  static const std::set<std::string> kNames = {"noisy_latents", "timestep",      "context",        "frame_offset",
                                               "flow",          "past_key",      "past_value",     "present_key",
                                               "present_value", "decoder_latents", "decoder_frames"};
  auto known = [](const std::set<std::string>& keys) {
    std::string out;
    for (const std::string& k : keys) out += (out.empty() ? "" : ", ") + k;
    return out;
  };
  VDRT_CHECK(cfg.is_table(), "pipeline.toml must be a TOML table", {file.string()});
  for (const auto& [key, value] : cfg.as_table()) {
    VDRT_CHECK(kTop.count(key), "unknown key '" + key + "' (keys: " + known(kTop) + ")",
               {file.string()});
    VDRT_CHECK(key == "names" ? value.is_table() : value.is_string(),
               "'" + key + "' must be " + (key == "names" ? "a table [names]" : "a string (a path)"),
               {file.string()});
  }
  if (cfg.contains("names"))
    for (const auto& [key, value] : cfg.at("names").as_table()) {
      VDRT_CHECK(kNames.count(key), "unknown key '" + key + "' in [names] (roles: " + known(kNames) + ")",
                 {file.string()});
      VDRT_CHECK(value.is_string(), "[names] " + key + " must be a string (a tensor name)",
                 {file.string()});
    }
  auto path_of = [&](const char* key, const std::string& fallback) {
    std::string v = toml::find_or<std::string>(cfg, key, fallback);
    return v.empty() ? v : (fs::path(p.dir) / v).lexically_normal().string();
  };
  p.denoiser_path = path_of("denoiser", "denoiser.onnx");
  p.decoder_path = path_of("decoder", "decoder.onnx");
  p.context_path = path_of("context", "");
  p.negative_context_path = path_of("negative_context", "");
  if (cfg.contains("names")) {
    const auto& n = toml::find(cfg, "names");
    DenoiserNames& d = p.names;
    for (auto [key, field] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"noisy_latents", &d.noisy_latents}, {"timestep", &d.timestep}, {"context", &d.context},
             {"frame_offset", &d.frame_offset}, {"flow", &d.flow}, {"past_key", &d.past_key},
             {"past_value", &d.past_value}, {"present_key", &d.present_key}, {"present_value", &d.present_value},
             {"decoder_latents", &d.decoder_latents}, {"decoder_frames", &d.decoder_frames}})
      *field = toml::find_or<std::string>(n, key, *field);
  }
}

void check_io(const Graph& g, const std::vector<std::string>& inputs, const std::vector<std::string>& outputs) {
  for (const std::string& n : inputs) {
    bool found = false;
    for (const Value* v : g.inputs()) found = found || v->name() == n;
    VDRT_CHECK(found, "the model has no input '" + n + "' (rename roles in pipeline.toml [names])", {g.source_path});
  }
  for (const std::string& n : outputs) {
    bool found = false;
    for (const Value* v : g.outputs()) found = found || v->name() == n;
    VDRT_CHECK(found, "the model has no output '" + n + "' (rename roles in pipeline.toml [names])", {g.source_path});
  }
}

}  // namespace

std::unique_ptr<VideoPipeline> VideoPipeline::load(const std::string& dir, const SessionOptions& options) {
  VDRT_CHECK(fs::is_directory(dir), "pipeline folder does not exist", {dir});
  auto p = std::make_unique<VideoPipeline>();
  p->dir = dir;
  p->denoiser_path = (fs::path(dir) / "denoiser.onnx").string();
  p->decoder_path = (fs::path(dir) / "decoder.onnx").string();
  if (fs::path toml_file = fs::path(dir) / "pipeline.toml"; fs::exists(toml_file)) read_toml(*p, toml_file);

  auto graph = load_onnx(p->denoiser_path);
  const Graph& g = *graph;
  VDRT_CHECK(require_meta(g, "vdrt.kind") == "ar-video-denoiser",
             "metadata vdrt.kind is '" + require_meta(g, "vdrt.kind") + "', expected 'ar-video-denoiser'", {g.source_path});
  DenoiserContract& c = p->contract;
  c.frames_per_chunk = meta_int(g, "vdrt.frames_per_chunk");
  c.tokens_per_frame = meta_int(g, "vdrt.tokens_per_frame");
  c.latent_channels = meta_int(g, "vdrt.latent_channels");
  c.latent_height = meta_int(g, "vdrt.latent_height");
  c.latent_width = meta_int(g, "vdrt.latent_width");
  c.num_layers = meta_int(g, "vdrt.num_layers");
  try {
    c.denoising_steps = parse_timesteps(require_meta(g, "vdrt.denoising_steps"));
  } catch (const Error& e) {
    throw e.with_site({g.source_path});
  }
  c.shift = meta_double(g, "vdrt.shift");
  if (auto it = g.metadata.find("vdrt.scheduler"); it != g.metadata.end()) {
    try {
      c.sampler = parse_sampler(it->second);
    } catch (const Error& e) {
      throw Error("metadata 'vdrt.scheduler': " + e.reason(), {g.source_path});
    }
  }
  if (g.metadata.count("vdrt.guidance_scale")) {
    c.guidance_scale = meta_double(g, "vdrt.guidance_scale");
    VDRT_CHECK(std::isfinite(c.guidance_scale) && c.guidance_scale >= 0,
               "metadata 'vdrt.guidance_scale' must be >= 0 (1: no guidance), got " + g.metadata.at("vdrt.guidance_scale"),
               {g.source_path});
  }
  const DenoiserNames& n = p->names;
  std::vector<std::string> ins = {n.noisy_latents, n.timestep, n.context, n.frame_offset};
  std::vector<std::string> outs = {n.flow};
  for (int64_t l = 0; l < c.num_layers; ++l) {
    ins.push_back(n.past_key + std::to_string(l));
    ins.push_back(n.past_value + std::to_string(l));
    outs.push_back(n.present_key + std::to_string(l));
    outs.push_back(n.present_value + std::to_string(l));
  }
  check_io(g, ins, outs);
  // The KV cache the rollout carries between calls, which the session may keep in f16.
  SessionOptions denoiser_options = options;
  if (options.kv_cache_inputs.empty() && options.kv_cache_outputs.empty()) {
    denoiser_options.kv_cache_inputs = {n.past_key + "*", n.past_value + "*"};
    denoiser_options.kv_cache_outputs = {n.present_key + "*", n.present_value + "*"};
  }
  p->denoiser = std::make_unique<Session>(std::move(graph), denoiser_options);

  if (!p->decoder_path.empty() && fs::exists(p->decoder_path)) {
    auto dg = load_onnx(p->decoder_path);
    check_io(*dg, {n.decoder_latents}, {n.decoder_frames});
    if (dg->metadata.count("vdrt.temporal_upsample")) c.temporal_upsample = meta_int(*dg, "vdrt.temporal_upsample");
    if (dg->metadata.count("vdrt.spatial_upsample")) c.spatial_upsample = meta_int(*dg, "vdrt.spatial_upsample");
    // A pass pipeline (SessionOptions::pass_pipeline[_text]) rewrites the denoiser,
    // e.g. into sparse attention; the decoder runs as imported.
    SessionOptions decoder_options = options;
    decoder_options.pass_pipeline.clear();
    decoder_options.pass_pipeline_text.clear();
    p->decoder = std::make_unique<Session>(std::move(dg), decoder_options);
  } else {
    spdlog::warn("{}: no decoder.onnx; only latents can be produced", dir);
  }
  return p;
}

Tensor VideoPipeline::default_context() const {
  VDRT_CHECK(!context_path.empty(), "the pipeline names no default context; pass --context FILE.pb", {dir});
  return load_tensor_pb(context_path).tensor;
}

Tensor VideoPipeline::negative_context() const {
  VDRT_CHECK(!negative_context_path.empty(),
             "classifier-free guidance needs a negative prompt, and the pipeline names no negative_context in "
             "pipeline.toml; pass --negative-context FILE.pb or --guidance 1",
             {dir});
  return load_tensor_pb(negative_context_path).tensor;
}

}  // namespace vdrt
