#pragma once
// The attributes of vdrt.PBSAttention and vdrt.HSAttention (docs/vdrt_ops.md)
// parsed and checked in one place: the shape function, the CPU kernels, the
// sparsify-attention pass and the runtime's block KV cache all read them
// through SparseAttentionParams, so a bad attribute fails the same way
// everywhere (vdrt::Error naming the attribute).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/attribute.h"

namespace vdrt {

enum class SparseMethod { Pbsa, Hsa };
const char* sparse_method_op(SparseMethod m);  // "PBSAttention" / "HSAttention"

// A frame's tokens form a grid_h x grid_w raster (row-major, as the patch
// embedding flattens them). Two block layouts (attribute block_layout):
//  * tiles (block_tokens == 0): blocks are tile_h x tile_w tiles of that
//    grid, so a block is spatially contiguous; tiles at the right and bottom
//    edges are smaller when the grid is not a multiple of the tile;
//  * tokens (block_tokens > 0, Light Forcing): blocks are 1-D runs of
//    block_tokens consecutive tokens in token (raster) order, aligned to
//    frames: the last block of a frame is short when tokens_per_frame is not
//    a multiple, and a block size above the frame is one block per frame.
struct BlockLayout {
  int64_t grid_h = 0, grid_w = 0, tile_h = 0, tile_w = 0;
  int64_t block_tokens = 0;  // > 0: the 1-D token layout

  bool token_blocks() const { return block_tokens > 0; }
  int64_t tokens_per_frame() const { return grid_h * grid_w; }
  int64_t tiles_y() const { return token_blocks() ? tiles() : (grid_h + tile_h - 1) / tile_h; }
  int64_t tiles_x() const { return token_blocks() ? 1 : (grid_w + tile_w - 1) / tile_w; }
  int64_t tiles() const {
    return token_blocks() ? (tokens_per_frame() + block_tokens - 1) / block_tokens
                          : ((grid_h + tile_h - 1) / tile_h) * ((grid_w + tile_w - 1) / tile_w);
  }
  int64_t max_tile_tokens() const {
    return token_blocks() ? std::min(block_tokens, tokens_per_frame()) : tile_h * tile_w;
  }

  // The frame's tokens regrouped tile by tile: tile t holds the raster
  // indices token[offset[t] .. offset[t+1]), in raster order inside the tile.
  struct TileOrder {
    std::vector<int32_t> token;
    std::vector<int32_t> offset;  // tiles() + 1 entries
  };
  TileOrder tile_order() const;

  void check() const;  // throws vdrt::Error on non-positive sizes
};

// Chunk-aware growth (CAG): the fraction of cached key blocks skipped rises
// from s_min at chunk 0 to s_max at chunk `ramp` along `curve`, then stays.
// Curve LightForcing (the paper's schedule, by target and base): chunk 0
// dense; at chunk i >= 1, frames_i = (i + 1) * chunk_frames,
// kv_i = min(frames_i, window) (window 0: no cap), and
//   s_i = base - beta / sqrt(frames_i),
//   beta = (base - target) * sum kv_i / sum (kv_i / sqrt(frames_i)),
// the sums over chunks 1 .. total_frames / chunk_frames - 1, so that the
// KV-weighted work equals a flat `target` (0.88 / 0.98, 21 frames of 3:
// [0, .827, .855, .872, .883, .892, .898]).
struct CagSchedule {
  enum class Curve { Linear, Cosine, LightForcing };
  double s_min = 0, s_max = 0;
  int64_t ramp = 0;  // chunks; 0: s_max from chunk 0
  Curve curve = Curve::Linear;
  // LightForcing curve
  double target = 0, base = 0;
  int64_t chunk_frames = 3, total_frames = 21, window = 0;

  bool enabled() const { return curve == Curve::LightForcing ? base > 0 : (s_min > 0 || s_max > 0); }
  double lightforcing_beta() const;
  double sparsity(int64_t chunk) const;
  // How many of `n` candidate blocks chunk `chunk` keeps: ceil((1 - s) n),
  // at least one when n > 0.
  int64_t keep(int64_t chunk, int64_t n) const;
  // Light Forcing's budget: int((1 - s) * n) (truncation, as Python's
  // int()), at least one when n > 0.
  int64_t keep_floor(int64_t chunk, int64_t n) const;
  static Curve parse_curve(const std::string& name);  // "linear" | "cosine" | "lightforcing"
  static const char* curve_name(Curve c);
};

struct SparseAttentionParams {
  SparseMethod method = SparseMethod::Pbsa;
  float scale = 0;
  int64_t num_heads = 0, kv_num_heads = 0;  // 0: taken from the inputs
  int64_t layer = -1;                       // kv_cache_layer
  BlockLayout layout;
  CagSchedule cag;
  int64_t sink_frames = 0;

  // PBSA
  int64_t window_frames = 0;   // local window W, frames
  int64_t top_k = 0;           // window blocks kept per query block; 0 = all
  int64_t memory_blocks = 0;   // persistent memory M, blocks per layer and KV head
  bool compress = false;       // keep memory blocks as mean K/V with a log(count) weight
  float saliency_decay = 1.0f; // saliency <- decay * saliency + mass, once per chunk
  // How memory candidates are ranked when blocks leave the window:
  //  Accumulated: saliency (exact softmax mass of the blocks each query
  //    visited in cache-filling passes, folded with saliency_decay);
  //  PooledRefresh (Sparse Forcing): once per chunk, from the clean pass's
  //    pooled queries, A = softmax(scale * pooled q . pooled k) over all
  //    candidates (memory and the blocks leaving the window); importance =
  //    column sum of A over query blocks and heads; top memory_blocks kept.
  enum class MemoryRank { Accumulated, PooledRefresh };
  MemoryRank memory_rank = MemoryRank::Accumulated;
  static MemoryRank parse_memory_rank(const std::string& name);  // "accumulated" | "pooled_refresh"
  static const char* memory_rank_name(MemoryRank r);

  // HSA
  int64_t top_frames = 0;      // cached frames kept per query block (besides sinks); 0 = all
  int64_t top_blocks = 0;      // blocks kept inside the kept frames; 0 = all
  // Light Forcing's frame stage (keep_frames > 0 replaces top_frames): while
  // the cache holds at most keep_frames frames, one stage (block top-k over
  // every block); beyond, the first sink_frames and the last keep_near cached
  // frames are always kept and keep_frames - sink_frames - keep_near more are
  // chosen among the middle frames by pooled q . the frame's mean key.
  int64_t keep_frames = 0;
  int64_t keep_near = 0;
  // How this chunk's own keys are attended: Dense (all, always; vdrt's
  // original) or Compete (Light Forcing): they are cut into blocks that
  // compete with the cached ones in one block top-k of
  // int((1 - s) * K_all) blocks, K_all counting every key block.
  enum class CurrentChunk { Dense, Compete };
  CurrentChunk current_chunk = CurrentChunk::Dense;

  // Reads and checks the op's attributes; throws vdrt::Error naming the bad one.
  static SparseAttentionParams from_attributes(SparseMethod method, const AttributeMap& attrs);
  // Writes every attribute (the inverse of from_attributes).
  void to_attributes(AttributeMap& attrs) const;
  // Window blocks kept by one query block at `chunk` out of `n` candidates
  // (top_k and the CAG schedule, whichever keeps fewer).
  int64_t budget(int64_t chunk, int64_t n, int64_t fixed) const;
};

}  // namespace vdrt
