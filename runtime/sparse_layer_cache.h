#pragma once
// What the rollout does with the block KV cache of one sparse attention
// layer, wherever it lives: on the host (runtime/block_kv_cache.h, read by
// the CPU kernel) or in GPU memory (runtime/device_block_kv_cache.h, read by
// the GPU kernels). Per chunk: begin_chunk; the denoiser's runs, with
// set_accumulate(true) around the cache-filling pass; then the cache takes
// the chunk's keys and values (host: append; device: the cache-filling pass
// wrote them itself, end_chunk admits and evicts).
#include <cstddef>
#include <cstdint>

#include "graph/dtype.h"
#include "graph/ops/sparse_attention_params.h"

namespace vdrt {

class SparseLayerCache {
 public:
  virtual ~SparseLayerCache() = default;
  virtual const SparseAttentionParams& params() const = 0;
  virtual void begin_chunk(int64_t chunk) = 0;
  virtual void set_accumulate(bool on) = 0;
  virtual size_t bytes() const = 0;         // keys, values and mean keys held
  virtual size_t peak_bytes() const = 0;    // the most held at once (before eviction)
  virtual int64_t window_frames_held() const = 0;  // frames in the local window (all frames for HSA)
  virtual DType row_dtype() const { return DType::F32; }  // the keys' and values' element type
};

}  // namespace vdrt
