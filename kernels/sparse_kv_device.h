#pragma once
// The block KV cache of vdrt.PBSAttention / vdrt.HSAttention held in GPU
// memory: what the GPU kernels (kernels/gpu/sparse_attention.cpp and the
// sparse_*.comp / .cl shaders) and its owner (runtime/device_block_kv_cache.h)
// agree on. The owner binds it to the node as runtime state; the kernels bind
// its buffers (gpu::Arg::State, by the indices below) next to the node's
// tensors. Paged like PagedAttention: the data lives in slot pools that never
// move while a block is held; the host keeps the metadata (which slot holds
// which frame and tile, saliencies) and uploads a small index once per chunk.
//
// Buffers (32-bit words):
//   kKeys      [slots, R + 1, D] float   R = BlockLayout::max_tile_tokens();
//   kValues    [slots, R + 1, Dv] float  row R holds the block's mean key /
//                                        mean value (a compressed block is
//                                        that one row); with half pools
//                                        (gpu::sparse_half_pools) f16, two a
//                                        word (packHalf2x16 order)
//   kIndex     uint words, below; uploaded by the owner
//   kScores    [query blocks, stride] float      scratch of sparse_score
//   kSelect    [query blocks, 2 stride + 2] uint scratch of sparse_select
//   kMass      [query groups, stride] float      per selected block, cache-filling pass
//   kLaneMass  [lanes, cap] float                masses per lane block, read back by the owner
//   kPooledQ   [query blocks, D] float           mean queries of the cache-filling pass
//   kImportance [lanes, candidate cap] float     pooled_refresh importance, read back
//   kMeanKeys  [slots, D] float          half pools only: each block's mean
//                                        key in f32, which scoring and
//                                        pooled_refresh read, so that the
//                                        selection is the host cache's
// with stride = cap + this chunk's blocks per lane (current_chunk = compete)
// and query groups = query blocks * work groups per query block.
//
// kIndex: a header, then per lane its block count, its block table (cap
// entries of kEntryWords), the slots this chunk's blocks are appended to
// (kAppend per lane) and the pooled_refresh candidates (kCandidateCap per
// lane). A block table lists the lane's window blocks in frame order, then
// its persistent blocks, as the host BlockKvCache's lanes do.
#include <cstdint>

namespace vdrt::sparse_device {

enum StateBuffer : uint32_t {
  kKeys = 0,
  kValues,
  kIndex,
  kScores,
  kSelect,
  kMass,
  kLaneMass,
  kPooledQ,
  kImportance,
  kMeanKeys,
  kBufferCount
};

enum Header : uint32_t {
  kCap = 0,         // block table entries per lane
  kStride,          // cap + this chunk's blocks per lane (compete): row stride of kScores, kSelect, kMass
  kBudget,          // PBSA: window blocks kept; HSA: the most blocks kept (~0u: no limit)
  kFrames,          // HSA: cached frames per lane (blocks fi * tiles .. fi * tiles + tiles - 1)
  kAccumulate,      // 1 during the cache-filling pass: append, masses, pooled queries, importance
  kAppend,          // blocks per lane this chunk appends (frames * tiles)
  kCandidates,      // pooled_refresh candidates per lane
  kCandidateCap,    // their stride
  kQueryGroups,     // capacity of kMass rows (query blocks * work groups per query block)
  kQueryBlocks,     // capacity of kScores / kSelect / kPooledQ rows
  kHeaderWords = 16
};

// A block table entry: the slot (bit 31: persistent, bit 30: compressed, so
// its one row is row R), the rows stored, the absolute frame, the log weight
// (float bits) added to its logits.
constexpr uint32_t kEntryWords = 4;
constexpr uint32_t kPersistentBit = 0x80000000u;
constexpr uint32_t kCompressedBit = 0x40000000u;
constexpr uint32_t kSlotMask = 0x3fffffffu;
// The most pooled_refresh candidates per lane (sparse_importance's shared memory).
constexpr uint32_t kImportanceCandidates = 1024;

// Word offsets of the index's parts for `lanes` lanes.
inline uint32_t counts_at() { return kHeaderWords; }
inline uint32_t table_at(uint32_t lanes) { return kHeaderWords + lanes; }
inline uint32_t append_at(uint32_t lanes, uint32_t cap) { return table_at(lanes) + lanes * cap * kEntryWords; }
inline uint32_t candidates_at(uint32_t lanes, uint32_t cap, uint32_t append) {
  return append_at(lanes, cap) + lanes * append;
}
inline uint32_t index_words(uint32_t lanes, uint32_t cap, uint32_t append, uint32_t candidate_cap) {
  return candidates_at(lanes, cap, append) + lanes * candidate_cap;
}

}  // namespace vdrt::sparse_device
