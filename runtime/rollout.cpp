#include "runtime/rollout.h"

#include <chrono>
#include <cmath>

#include "runtime/noise.h"

namespace vdrt {
namespace {

const Value* declared_input(const Graph& g, const std::string& name) {
  for (const Value* v : g.inputs())
    if (v->name() == name) return v;
  throw Error("the model has no input '" + name + "'", {g.source_path});
}

std::vector<int64_t> declared_dims(const Graph& g, const std::string& name, int64_t batch) {
  const Shape& s = declared_input(g, name)->shape();
  VDRT_CHECK(s.rank_known() && s.rank() == 4, "input '" + name + "' must be declared [B, T, heads, head_dim]",
             {g.source_path});
  VDRT_CHECK(s[2].known() && s[3].known(), "input '" + name + "' must declare its heads and head_dim", {g.source_path});
  return {batch, 0, s[2].value(), s[3].value()};
}

}  // namespace

Rollout::Rollout(VideoPipeline& pipeline, Tensor context, RolloutOptions options)
    : pipeline_(pipeline), options_(std::move(options)) {
  const DenoiserContract& c = pipeline_.contract;
  scheduler_.timesteps = options_.denoising_steps.empty() ? c.denoising_steps : options_.denoising_steps;
  scheduler_.shift = options_.shift.value_or(c.shift);
  scheduler_.sampler = c.sampler;
  guidance_ = options_.guidance.value_or(c.guidance_scale);
  VDRT_CHECK(std::isfinite(guidance_) && guidance_ >= 0,
             "the guidance scale must be a finite number >= 0 (1: no guidance), got " + std::to_string(guidance_));
  auto check_context = [](const Tensor& t, const char* what) {
    VDRT_CHECK(t.dtype() == DType::F32 && t.dims().size() == 3, std::string("the ") + what +
                   " must be float32 [B, L, D], got " + dtype_name(t.dtype()) + dims_str(t.dims()));
  };
  check_context(context, "text context");
  branches_.push_back(make_branch(std::move(context)));
  if (guidance_ != 1.0) {
    Tensor negative = options_.negative_context.dims().empty() ? pipeline_.negative_context()
                                                                : options_.negative_context;
    check_context(negative, "negative text context");
    const std::vector<int64_t>& want = branches_[0].context.dims();
    VDRT_CHECK(negative.dims()[0] == want[0] && negative.dims()[2] == want[2],
               "the negative text context is " + dims_str(negative.dims()) + ", the prompt's " + dims_str(want) +
                   ": the batch and the embedding width must agree",
               {pipeline_.dir});
    branches_.push_back(make_branch(std::move(negative)));
  }
}

Rollout::Branch Rollout::make_branch(Tensor context) const {
  const DenoiserContract& c = pipeline_.contract;
  const int64_t batch = context.dims()[0];
  const Graph& g = pipeline_.denoiser->graph();
  std::vector<std::vector<int64_t>> key_shapes, value_shapes;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    key_shapes.push_back(declared_dims(g, pipeline_.names.past_key + std::to_string(l), batch));
    value_shapes.push_back(declared_dims(g, pipeline_.names.past_value + std::to_string(l), batch));
  }
  // float16 where the session keeps the cache in f16 (SessionOptions::kv_cache_inputs).
  const DType kv_dtype =
      c.num_layers > 0 ? declared_input(g, pipeline_.names.past_key + "0")->dtype() : DType::F32;
  Branch b;
  b.context = std::move(context);
  b.cache = std::make_unique<KvCache>(key_shapes, value_shapes, c.tokens_per_frame, options_.cache, kv_dtype);
  b.sparse = SparseKvBinding::create(*pipeline_.denoiser, batch, options_.cache, c.frames_per_chunk);
  // On a GPU the dense cache lives in device memory: a call then uploads only
  // the latents, timestep and context. Sparse layers' block caches live there
  // too when the GPU kernels read them (SparseKvBinding); host block caches
  // keep the whole cache on the host.
  if (pipeline_.denoiser->backend().info().backend != "cpu" && (!b.sparse || b.sparse->on_device()))
    b.cache->use_device(*pipeline_.denoiser);
  return b;
}

TensorMap Rollout::run_denoiser(Branch& b, const Tensor& x, double t, DeviceMap* present) {
  // Each branch binds its own block caches: the session's sparse nodes read whichever was bound last.
  if (b.sparse) b.sparse->attach(*pipeline_.denoiser);
  TensorMap in = denoiser_inputs(b, x, t);
  if (!b.cache->on_device()) return pipeline_.denoiser->run(in);
  const DenoiserNames& n = pipeline_.names;
  IoBinding io;
  io.host_inputs = std::move(in);
  for (size_t l = 0; l < b.cache->layers(); ++l) {
    io.device_inputs[n.past_key + std::to_string(l)] = b.cache->device_key(l);
    io.device_inputs[n.past_value + std::to_string(l)] = b.cache->device_value(l);
    io.device_outputs.insert(n.present_key + std::to_string(l));
    io.device_outputs.insert(n.present_value + std::to_string(l));
  }
  IoResult r = pipeline_.denoiser->run(io);
  if (present) *present = std::move(r.device_outputs);
  return std::move(r.host_outputs);
}

std::vector<int64_t> Rollout::latent_dims() const {
  const DenoiserContract& c = pipeline_.contract;
  return {branches_[0].context.dims()[0], c.frames_per_chunk, c.latent_channels, c.latent_height, c.latent_width};
}

TensorMap Rollout::denoiser_inputs(const Branch& b, const Tensor& x, double t) const {
  const DenoiserNames& n = pipeline_.names;
  const int64_t batch = x.dims()[0];
  TensorMap in;
  in[n.noisy_latents] = x;
  in[n.timestep] = Tensor::from_vector<float>({batch}, std::vector<float>(batch, static_cast<float>(t)));
  in[n.context] = b.context;
  in[n.frame_offset] = Tensor::scalar<int64_t>(chunk_ * pipeline_.contract.frames_per_chunk);
  for (size_t l = 0; l < b.cache->layers() && !b.cache->on_device(); ++l) {
    in[n.past_key + std::to_string(l)] = b.cache->key(l);
    in[n.past_value + std::to_string(l)] = b.cache->value(l);
  }
  return in;
}

Tensor Rollout::flow(const Tensor& x, double t) {
  const std::vector<int64_t> dims = latent_dims();
  std::vector<Tensor> flows;
  for (Branch& b : branches_) {
    TensorMap out = run_denoiser(b, x, t, nullptr);
    const Tensor& v = out.at(pipeline_.names.flow);
    VDRT_CHECK(v.dtype() == DType::F32 && v.dims() == dims,
               "the denoiser returned flow " + std::string(dtype_name(v.dtype())) + dims_str(v.dims()) +
                   ", expected float32 " + dims_str(dims),
               {pipeline_.denoiser_path});
    flows.push_back(v);
  }
  if (flows.size() == 1) return flows[0];
  Tensor guided(DType::F32, dims);
  const float* cond = flows[0].data<float>();
  const float* uncond = flows[1].data<float>();
  float* out = guided.data<float>();
  const float g = static_cast<float>(guidance_);
  for (size_t i = 0, n = static_cast<size_t>(numel(dims)); i < n; ++i) out[i] = uncond[i] + g * (cond[i] - uncond[i]);
  return guided;
}

void Rollout::fill_cache(Branch& b, const Tensor& x0) {
  const DenoiserNames& n = pipeline_.names;
  SparseKvBinding* sparse = b.sparse.get();
  KvCache& cache = *b.cache;
  // Sparse layers collect the attention mass their blocks receive in this
  // pass (PBSA's saliency).
  if (sparse) sparse->set_accumulate(true);
  TensorMap out;
  DeviceMap present;
  try {
    out = run_denoiser(b, x0, 0.0, &present);
  } catch (...) {
    if (sparse) sparse->set_accumulate(false);
    throw;
  }
  if (sparse) {
    sparse->set_accumulate(false);
    sparse->end_chunk();  // device caches: the pass appended the chunk; admit and evict
  }
  if (cache.on_device()) {
    std::vector<DeviceArray> dk, dv;
    for (size_t l = 0; l < cache.layers(); ++l) {
      // A sparse layer's dense cache stays empty: its past inputs stay [B, 0, H, D].
      const bool sparse_layer = sparse && sparse->has_layer(static_cast<int64_t>(l));
      dk.push_back(sparse_layer ? cache.device_key(l) : present.at(n.present_key + std::to_string(l)));
      dv.push_back(sparse_layer ? cache.device_value(l) : present.at(n.present_value + std::to_string(l)));
    }
    cache.append(dk, dv);
    return;
  }
  std::vector<Tensor> keys, values;
  for (size_t l = 0; l < cache.layers(); ++l) {
    Tensor k = out.at(n.present_key + std::to_string(l)), v = out.at(n.present_value + std::to_string(l));
    if (sparse && sparse->has_layer(static_cast<int64_t>(l))) {
      sparse->layer(static_cast<int64_t>(l)).append(k, v);
      // The dense cache keeps this layer empty: its past inputs stay bound to [B, 0, H, D].
      std::vector<int64_t> kd = k.dims(), vd = v.dims();
      kd[1] = vd[1] = 0;
      k = Tensor(k.dtype(), kd);
      v = Tensor(v.dtype(), vd);
    }
    keys.push_back(k);
    values.push_back(v);
  }
  cache.append(keys, values);
}

size_t Rollout::peak_cache_bytes() const {
  size_t bytes = 0;
  for (const Branch& b : branches_) bytes += b.cache->peak_bytes() + (b.sparse ? b.sparse->peak_bytes() : 0);
  return bytes;
}

size_t Rollout::cache_bytes() const {
  size_t bytes = 0;
  for (const Branch& b : branches_) bytes += b.cache->bytes() + (b.sparse ? b.sparse->bytes() : 0);
  return bytes;
}

int64_t Rollout::cache_frames() const {
  const Branch& b = branches_[0];
  return std::max(b.cache->frames(), b.sparse ? b.sparse->frames() : 0);
}

std::optional<ChunkResult> Rollout::next(const std::atomic<bool>* cancel, const Tensor* given) {
  auto t0 = std::chrono::steady_clock::now();
  auto cancelled = [&] { return cancel && cancel->load(); };
  const std::vector<int64_t> dims = latent_dims();
  const size_t count = static_cast<size_t>(numel(dims));
  const std::vector<double>& steps = scheduler_.timesteps;

  for (Branch& b : branches_)
    if (b.sparse) b.sparse->begin_chunk(chunk_);
  if (given) {
    VDRT_CHECK(given->dtype() == DType::F32 && given->dims() == dims,
               "given latents of chunk " + std::to_string(chunk_) + " are " + dims_str(given->dims()) +
                   ", the chunk's are float32 " + dims_str(dims),
               {pipeline_.denoiser_path});
  }
  Tensor x = given ? Tensor() : gaussian_noise(options_.seed, chunk_, 0, dims);
  Tensor x0 = given ? given->clone() : Tensor(DType::F32, dims);
  for (size_t k = 0; k < steps.size() && !given; ++k) {
    if (cancelled()) return std::nullopt;
    const Tensor v = flow(x, steps[k]);
    const bool last = k + 1 == steps.size();
    if (last) {
      // Both samplers end on x0; Euler's step to sigma = 0 is the same product.
      scheduler_.predict_x0(x.data<float>(), v.data<float>(), steps[k], x0.data<float>(), count);
    } else if (scheduler_.sampler == Sampler::kEuler) {
      Tensor next(DType::F32, dims);
      scheduler_.euler_step(x.data<float>(), v.data<float>(), steps[k], steps[k + 1], next.data<float>(), count);
      x = std::move(next);
    } else {
      scheduler_.predict_x0(x.data<float>(), v.data<float>(), steps[k], x0.data<float>(), count);
      Tensor noise = gaussian_noise(options_.seed, chunk_, k + 1, dims);
      x = Tensor(DType::F32, dims);
      scheduler_.renoise(x0.data<float>(), noise.data<float>(), steps[k + 1], x.data<float>(), count);
    }
  }
  if (cancelled()) return std::nullopt;
  // The cache-filling pass: the clean chunk at t = 0 yields its keys/values.
  for (Branch& b : branches_) fill_cache(b, x0);

  ChunkResult r;
  r.index = chunk_;
  r.latents = x0;
  if (options_.decode && pipeline_.decoder) {
    const DenoiserNames& n = pipeline_.names;
    TensorMap dec = pipeline_.decoder->run({{n.decoder_latents, x0}});
    r.frames = dec.at(n.decoder_frames);
  }
  ++chunk_;
  r.cache_bytes = cache_bytes();
  r.cache_frames = cache_frames();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace vdrt
