#pragma once
// The block KV cache of one vdrt.PBSAttention / vdrt.HSAttention layer in
// GPU memory (issue 13 item 2), bound to the layer's node as runtime state
// when the denoiser runs on a GPU backend. Paged like PagedAttention
// (kernels/sparse_kv_device.h gives the layout the GPU kernels read):
//  * the device holds slot pools of keys and values (a block's rows and, in
//    row R, its mean key and mean value) and the kernels' scratch; blocks
//    never move while held, freed slots are reused;
//  * the host holds only metadata, the same as runtime/block_kv_cache.h's
//    (which slot holds which frame and tile, rows, log weights,
//    saliencies), and makes the same decisions with it: window slide, PBSA
//    memory admission (sinks first, saliency, newer frame), compression to
//    the mean row (metadata only: the mean value is written at append),
//    HSA's window:N,sink:S;
//  * per chunk the host uploads a small index (block tables, budget, the
//    slots reserved for the chunk's blocks); in the cache-filling pass the
//    attention op itself appends the chunk's keys/values into those slots,
//    computes PBSA's block masses (or pooled_refresh's importance) and
//    reduces them per lane; end_chunk reads those back (a few KB) and
//    admits. Keys and values never cross to the host.
// bytes() and peak_bytes() count what the host cache would hold for the
// same blocks, so both caches report the same figures.
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "graph/ops/sparse_attention_params.h"
#include "kernels/sparse_kv_device.h"
#include "runtime/kv_cache.h"
#include "runtime/sparse_layer_cache.h"

namespace vdrt {

class DeviceBlockKvCache final : public DeviceOpState, public SparseLayerCache {
 public:
  // `query_heads` and `chunk_frames` (the query's shape) size the per query
  // block scratch; `frame_policy` applies to HSA only, as in BlockKvCache.
  DeviceBlockKvCache(Backend& backend, int64_t batch, int64_t kv_heads, int64_t query_heads, int64_t chunk_frames,
                     int64_t key_dim, int64_t value_dim, SparseAttentionParams params, CachePolicy frame_policy = {});
  ~DeviceBlockKvCache() override;

  // SparseLayerCache
  const SparseAttentionParams& params() const override { return params_; }
  // Reserves the chunk's slots and uploads the index for this chunk.
  void begin_chunk(int64_t chunk) override;
  void set_accumulate(bool on) override;
  size_t bytes() const override;
  size_t peak_bytes() const override { return peak_bytes_; }
  int64_t window_frames_held() const override;
  // After the cache-filling pass (which wrote the chunk's blocks into their
  // slots): reads back the masses or importance, then slides the window and
  // admits/evicts, as BlockKvCache::append does.
  void end_chunk();

  int64_t frames_seen() const { return frames_seen_; }
  int64_t memory_blocks_held(int64_t batch, int64_t kv_head) const;
  // Saliency of a lane's blocks, window then memory (BlockKvCache::saliency).
  std::vector<double> saliency(int64_t batch, int64_t kv_head) const;
  size_t device_bytes() const;  // the pools and scratch allocated on the device
  // Key / value pools of packed f16 (Backend::half_kv_pools), each block's
  // mean key also kept in f32 for scoring; else f32 pools.
  bool half_pools() const { return half_; }
  DType row_dtype() const override { return half_ ? DType::F16 : DType::F32; }

  // DeviceOpState
  const Backend& device() const override { return backend_; }
  DeviceTensor buffer(uint32_t index) const override;

 private:
  struct Block {
    uint32_t slot = 0;
    int32_t rows = 0, tokens = 0;
    float log_weight = 0;
    int64_t frame = 0;
    int32_t tile = 0;
    double saliency = 0;
    bool compressed = false;
  };
  struct Lane {
    std::vector<Block> window;  // frame order, tiles in order
    std::vector<Block> memory;  // persistent blocks, frame order
    std::vector<uint32_t> append;      // slots reserved for this chunk's blocks
    std::vector<uint32_t> candidates;  // pooled_refresh: memory + leaving blocks' slots
  };
  void ensure_slots(size_t count);
  void ensure(uint32_t buffer, size_t bytes);
  void admit(Lane& lane, std::vector<Block> leaving, const float* importance);
  uint32_t take_slot();
  size_t block_bytes(const Block& b) const;

  Backend& backend_;
  int64_t batch_, heads_, dk_, dv_;
  SparseAttentionParams params_;
  CachePolicy frame_policy_;
  int64_t lanes_, tiles_, rows_max_, chunk_frames_, query_blocks_, query_groups_, chunk_blocks_;
  bool mass_ = false, refresh_ = false, half_ = false;
  std::vector<Lane> lanes_state_;
  std::vector<uint32_t> free_;  // free slots (a stack)
  size_t slots_ = 0;            // slots in the pools
  std::unique_ptr<Buffer> buffers_[sparse_device::kBufferCount];
  size_t buffer_bytes_[sparse_device::kBufferCount] = {};
  std::vector<uint32_t> index_;
  uint32_t cap_ = 0, candidate_cap_ = 0, candidates_ = 0;
  int64_t chunk_ = 0, frames_seen_ = 0;
  bool reserved_ = false;
  size_t peak_bytes_ = 0;
};

}  // namespace vdrt
