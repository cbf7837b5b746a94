#pragma once
// The side channel through which vdrt.PBSAttention and vdrt.HSAttention read
// the KV cache that the runtime owns (runtime/block_kv_cache.h implements it;
// tests implement it directly). The Session hands the state bound to a node
// to its kernel (KernelContext::state); the kernel never owns or resizes it.
//
// The cache is organised as blocks per lane, a lane being one (batch, KV
// head): a block is one spatial tile of one cached frame, with its keys and
// values stored contiguously, or a compressed block of PBSA's persistent
// memory (one mean key/value row weighted by the tokens it stands for).
// Lanes need not hold the same blocks: PBSA's memory is chosen per head.
#include <cstdint>
#include <vector>

#include "graph/op_state.h"

namespace vdrt {

struct KvBlock {
  const float* key = nullptr;         // [rows, key_dim], rows contiguous
  const float* value = nullptr;       // [rows, value_dim]
  const float* pooled_key = nullptr;  // [key_dim]: mean key of the tokens the block stands for
  int32_t rows = 0;                   // rows stored
  int32_t tokens = 0;                 // tokens represented (rows, or the count of a compressed block)
  // Added to every logit of the block: log(tokens / rows), so a compressed
  // block weighs as much as the tokens it replaced.
  float log_weight = 0;
  int64_t frame = 0;                  // absolute frame index in the video
  int32_t tile = 0;                   // tile index inside the frame (BlockLayout)
  bool persistent = false;            // in PBSA's persistent memory, not the local window
};

struct KvLane {
  std::vector<KvBlock> blocks;  // window blocks in frame order, then persistent blocks
  // When non-null (and the state asks for it), kernels ADD to mass[i] the
  // softmax mass block i received, summed over the lane's query rows and
  // query heads: the saliency signal of PBSA.
  float* mass = nullptr;
  // When non-null (and the state asks for masses), kernels APPEND the pooled
  // (mean) query [key_dim] of every query block of every query head of the
  // lane: PBSA's pooled_refresh ranks memory candidates with them.
  std::vector<float>* pooled_queries = nullptr;
};

// What the attention of one query block looked like, for profiling
// (runtime/attention_profile.h). Masses are summed over the block's rows.
struct QueryBlockRecord {
  int64_t batch = 0, head = 0;       // query head
  int64_t frame = 0, tile = 0;       // frame inside the chunk, tile
  int64_t rows = 0;
  double local_mass = 0;             // mass on this chunk's own keys
  std::vector<float> block_mass;     // per block of the lane (0 when not visited)
  std::vector<float> block_score;    // the pooled q.k score of every block of the lane
  std::vector<uint8_t> selected;     // whether the kernel visited the block
};

class AttentionRecorder {
 public:
  virtual ~AttentionRecorder() = default;
  // Called once per kernel run, from the calling thread.
  virtual void record(int64_t layer, std::vector<QueryBlockRecord> records) = 0;
};

class SparseKvState : public OpState {
 public:
  virtual int64_t batch() const = 0;
  virtual int64_t kv_heads() const = 0;
  virtual int64_t key_dim() const = 0;
  virtual int64_t value_dim() const = 0;
  virtual const KvLane& lane(int64_t batch, int64_t kv_head) const = 0;
  // The index of the chunk being generated (CAG's schedule runs on it).
  virtual int64_t chunk_index() const = 0;
  // Whether kernels should add block masses to KvLane::mass on this run.
  virtual bool accumulate_mass() const = 0;
  virtual AttentionRecorder* recorder() const { return nullptr; }
};

}  // namespace vdrt
