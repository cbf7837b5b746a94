#pragma once
// The KV cache of an autoregressive rollout: per layer, keys and values of
// earlier frames in the [B, T, heads, head_dim] layout of MODEL_CONTRACT.md.
// Policies: unbounded (keep every frame), or a rolling window of recent frames
// plus the first `sink_frames` frames (bounded memory at any video length).
#include <string>
#include <vector>

#include "graph/tensor.h"
#include "runtime/session.h"

namespace vdrt {

struct CachePolicy {
  // Pbsa: layers rewritten to vdrt.PBSAttention keep their block cache
  // bounded by the op's window and persistent memory
  // (runtime/block_kv_cache.h); any dense layers keep every frame.
  enum class Kind { Unbounded, Window, Pbsa };
  Kind kind = Kind::Unbounded;
  int64_t window_frames = 0;  // frames kept, sinks included (Window only)
  int64_t sink_frames = 0;    // first frames that are never evicted

  static CachePolicy parse(const std::string& text);  // "unbounded", "window:12", "window:12,sink:3", "pbsa"
  std::string str() const;
};

class KvCache {
 public:
  // `key_shape` / `value_shape`: per-layer [B, T, H, D] with T ignored.
  // `dtype`: the elements' type, the model inputs' (float32, or float16
  // where the session keeps its KV cache in f16: SessionOptions::kv_cache_inputs).
  KvCache(std::vector<std::vector<int64_t>> key_shapes, std::vector<std::vector<int64_t>> value_shapes,
          int64_t tokens_per_frame, CachePolicy policy, DType dtype = DType::F32);

  size_t layers() const { return keys_.size(); }
  DType dtype() const { return keys_.empty() ? DType::F32 : keys_.front().dtype(); }
  const Tensor& key(size_t layer) const { return keys_.at(layer); }
  const Tensor& value(size_t layer) const { return values_.at(layer); }

  // Moves the cache into `session`'s device memory (a GPU session's): from
  // then on it holds DeviceArrays, appends and evicts with device copies, and
  // never comes back to the host (MODEL_CONTRACT's rollout on a GPU moves
  // only decoded frames). `session` must outlive the cache.
  void use_device(Session& session);
  bool on_device() const { return device_ != nullptr; }
  const DeviceArray& device_key(size_t layer) const { return device_keys_.at(layer); }
  const DeviceArray& device_value(size_t layer) const { return device_values_.at(layer); }
  void append(const std::vector<DeviceArray>& keys, const std::vector<DeviceArray>& values);
  int64_t frames() const;               // frames currently held
  int64_t frames_seen() const { return frames_seen_; }
  size_t bytes() const;
  size_t peak_bytes() const { return peak_bytes_; }

  // Appends one chunk's present keys/values of every layer, then evicts what
  // the policy drops. Shapes must match the cache's.
  void append(const std::vector<Tensor>& keys, const std::vector<Tensor>& values);

 private:
  Tensor evict(const Tensor& t) const;
  DeviceArray concat_device(const DeviceArray& a, const DeviceArray& b) const;
  DeviceArray evict_device(const DeviceArray& t) const;
  int64_t new_tokens(const std::vector<std::vector<int64_t>>& dims) const;
  std::vector<Tensor> keys_, values_;
  Session* device_ = nullptr;
  std::vector<DeviceArray> device_keys_, device_values_;
  int64_t tokens_per_frame_;
  CachePolicy policy_;
  int64_t frames_seen_ = 0;
  size_t peak_bytes_ = 0;
};

// Concatenates [B, T1, ...] and [B, T2, ...] along axis 1.
Tensor concat_tokens(const Tensor& a, const Tensor& b);

}  // namespace vdrt
