#include "runtime/sparse_kv_binding.h"

#include <algorithm>

namespace vdrt {
namespace {

// A fixed dim of a node input, or 0.
int64_t fixed_dim(const Value* v, size_t i) {
  if (!v || !v->shape().rank_known() || v->shape().rank() <= i || !v->shape()[i].known()) return 0;
  return v->shape()[i].value();
}

}  // namespace

std::unique_ptr<SparseKvBinding> SparseKvBinding::create(Session& session, int64_t batch, const CachePolicy& policy,
                                                         int64_t chunk_frames) {
  auto binding = std::make_unique<SparseKvBinding>();
  bool any_pbsa = false;
  struct Layer {
    const Node* node;
    SparseAttentionParams params;
    int64_t heads, query_heads, dk, dv;
  };
  std::vector<Layer> layers;
  for (const Node* node : session.state_slots()) {
    ErrorSite site{session.graph().source_path, node->name(), node->qualified_op()};
    SparseMethod method;
    if (node->domain() == kVdrtDomain && node->op_type() == "PBSAttention") method = SparseMethod::Pbsa;
    else if (node->domain() == kVdrtDomain && node->op_type() == "HSAttention") method = SparseMethod::Hsa;
    else continue;  // another kind of stateful op; not ours to bind
    any_pbsa = any_pbsa || method == SparseMethod::Pbsa;
    try {
      SparseAttentionParams p = SparseAttentionParams::from_attributes(method, node->attrs());
      VDRT_CHECK(p.layer >= 0, "kv_cache_layer is not set, so the rollout cannot tell which cache it reads");
      VDRT_CHECK(!binding->caches_.count(p.layer),
                 "layer " + std::to_string(p.layer) + " has two sparse attention nodes");
      // Heads and head sizes: the cache inputs must declare them (MODEL_CONTRACT.md);
      // the key/value inputs are the fallback.
      const Value* kin = node->input(3) ? node->input(3) : node->input(1);
      const Value* vin = node->input(4) ? node->input(4) : node->input(2);
      const int64_t heads = p.kv_num_heads > 0 ? p.kv_num_heads : fixed_dim(kin, 2);
      const int64_t dk = fixed_dim(kin, 3), dv = fixed_dim(vin, 3);
      VDRT_CHECK(heads > 0 && dk > 0 && dv > 0, "the KV heads and head sizes of this attention are not fixed dims");
      const int64_t query_heads = p.num_heads > 0 ? p.num_heads : fixed_dim(node->input(0), 2);
      binding->caches_[p.layer] = nullptr;
      binding->nodes_[p.layer] = node;
      layers.push_back({node, p, heads, query_heads, dk, dv});
    } catch (const Error& e) {
      throw e.with_site(site);
    }
  }
  // On a GPU whose kernels read the caches in its memory, every layer's
  // cache lives there; otherwise (or if one layer cannot) all on the host.
  Backend& device = session.backend();
  std::map<int64_t, std::shared_ptr<DeviceBlockKvCache>> on_device;
  if (chunk_frames > 0 && device.info().backend != "cpu" && !layers.empty()) {
    for (const Layer& l : layers) {
      if (l.query_heads <= 0) break;
      auto cache = std::make_shared<DeviceBlockKvCache>(device, batch, l.heads, l.query_heads, chunk_frames, l.dk, l.dv,
                                                        l.params, policy);
      if (!device.accepts_state(*l.node, *cache)) break;
      on_device[l.params.layer] = std::move(cache);
    }
    if (on_device.size() != layers.size()) on_device.clear();
  }
  for (const Layer& l : layers) {
    if (!on_device.empty()) {
      binding->caches_[l.params.layer] = on_device.at(l.params.layer);
      binding->states_[l.params.layer] = on_device.at(l.params.layer);
    } else {
      auto cache = std::make_shared<BlockKvCache>(batch, l.heads, l.dk, l.dv, l.params, policy);
      binding->caches_[l.params.layer] = cache;
      binding->states_[l.params.layer] = cache;
    }
  }
  binding->on_device_ = !on_device.empty();
  if (binding->caches_.empty()) {
    VDRT_CHECK(policy.kind != CachePolicy::Kind::Pbsa,
               "cache policy pbsa needs a denoiser rewritten with sparsify-attention method = \"pbsa\" "
               "(e.g. --pipeline passes/pipelines/sparse_pbsa.toml)",
               {session.graph().source_path});
    return nullptr;
  }
  VDRT_CHECK(policy.kind != CachePolicy::Kind::Pbsa || any_pbsa,
             "cache policy pbsa needs layers rewritten to vdrt.PBSAttention", {session.graph().source_path});
  return binding;
}

void SparseKvBinding::attach(Session& session) const {
  for (const auto& [layer, state] : states_) session.bind_state(*nodes_.at(layer), state);
}

BlockKvCache& SparseKvBinding::layer(int64_t l) {
  auto* cache = dynamic_cast<BlockKvCache*>(caches_.at(l).get());
  VDRT_CHECK(cache != nullptr, "layer " + std::to_string(l) + "'s KV cache lives on the device, not on the host");
  return *cache;
}

const BlockKvCache& SparseKvBinding::layer(int64_t l) const {
  return const_cast<SparseKvBinding*>(this)->layer(l);
}

void SparseKvBinding::end_chunk() {
  for (auto& [_, c] : caches_)
    if (auto* d = dynamic_cast<DeviceBlockKvCache*>(c.get())) d->end_chunk();
}

void SparseKvBinding::begin_chunk(int64_t chunk) {
  for (auto& [_, c] : caches_) c->begin_chunk(chunk);
}

void SparseKvBinding::set_accumulate(bool on) {
  for (auto& [_, c] : caches_) c->set_accumulate(on);
}

void SparseKvBinding::set_recorder(AttentionRecorder* recorder) {
  VDRT_CHECK(recorder == nullptr || !on_device_, "attention profiles are recorded by the CPU kernel (a host cache)");
  for (auto& [_, c] : caches_)
    if (auto* h = dynamic_cast<BlockKvCache*>(c.get())) h->set_recorder(recorder);
}

size_t SparseKvBinding::bytes() const {
  size_t b = 0;
  for (const auto& [_, c] : caches_) b += c->bytes();
  return b;
}

size_t SparseKvBinding::peak_bytes() const {
  size_t b = 0;
  for (const auto& [_, c] : caches_) b += c->peak_bytes();
  return b;
}

int64_t SparseKvBinding::frames() const {
  int64_t f = 0;
  for (const auto& [_, c] : caches_) f = std::max(f, c->window_frames_held());
  return f;
}

}  // namespace vdrt
