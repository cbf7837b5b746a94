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

std::unique_ptr<SparseKvBinding> SparseKvBinding::create(Session& session, int64_t batch, const CachePolicy& policy) {
  auto binding = std::make_unique<SparseKvBinding>();
  bool any_pbsa = false;
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
      binding->caches_[p.layer] = std::make_shared<BlockKvCache>(batch, heads, dk, dv, p, policy);
      binding->nodes_[p.layer] = node;
    } catch (const Error& e) {
      throw e.with_site(site);
    }
  }
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
  for (const auto& [layer, cache] : caches_) session.bind_state(*nodes_.at(layer), cache);
}

void SparseKvBinding::begin_chunk(int64_t chunk) {
  for (auto& [_, c] : caches_) c->begin_chunk(chunk);
}

void SparseKvBinding::set_accumulate(bool on) {
  for (auto& [_, c] : caches_) c->set_accumulate(on);
}

void SparseKvBinding::set_recorder(AttentionRecorder* recorder) {
  for (auto& [_, c] : caches_) c->set_recorder(recorder);
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
