// Profiling a model's self-attention over its KV cache, to choose sparse
// attention settings (`vdrt profile-attention`).
//
// The denoiser's self-attention is rewritten to vdrt.PBSAttention with every
// block selected (dense attention, exactly), and a recorder bound to its
// cache receives every query block's softmax mass per cached block. From
// that, per layer and chunk:
//  * how much of the mass on the cache the top blocks keep at several
//    budgets (fraction of cached blocks), ranked by the true mass (oracle)
//    and by the pooled q.k score the sparse methods actually use;
//  * where the mass goes: this chunk's own keys, the local window (last W
//    frames), older frames; and how much of the older frames' mass falls on
//    the M blocks PBSA's persistent memory would hold (ranked by the mass
//    they accumulated in earlier chunks) - the papers' observation that
//    attention concentrates on a few persistent blocks plus the window.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/pipeline.h"
#include "runtime/rollout.h"

namespace vdrt {

struct AttentionProfileOptions {
  int64_t chunks = 4;
  int64_t block_size = 64;                    // tokens per block (sparsify-attention's block_size)
  std::string block_tile;                     // "HxW" overrides block_size
  int64_t window_frames = 9;                  // the local window examined, frames
  std::vector<double> budgets = {0.05, 0.1, 0.2, 0.3, 0.5};  // fractions of cached blocks kept
  std::vector<int64_t> memory_sizes = {4, 16, 64};          // persistent memory sizes examined, blocks per KV head
  double target_mass = 0.95;                  // the suggestion keeps at least this much of the cache's mass
  RolloutOptions rollout;
  // The pass pipeline (TOML) run over the denoiser before the profiling
  // rewrite, so that the profile is of the model as it will run: unset, the
  // default pipeline; "", none (-O0). It may not sparsify attention itself
  // (check_profile_passes). The rewrite works on fused attention: when these
  // passes fuse none, fold-constants and fuse-attention run after them.
  std::optional<std::string> passes_toml;
  std::string passes_label = "<default>";  // names passes_toml in messages
  // Called with the block layout sparsify-attention chose, before the rollout
  // runs: may throw to refuse a block size the frame grid cannot tile exactly.
  std::function<void(const BlockLayout&)> check_layout;
};

struct LayerChunkProfile {
  int64_t layer = 0, chunk = 0;
  int64_t cached_frames = 0, cached_blocks = 0, window_blocks = 0;
  // Fractions of all softmax mass (rows average).
  double local_mass = 0, window_mass = 0, outside_mass = 0;
  // Of the mass on the cache, kept by the top fraction budgets[i] of cached blocks.
  std::vector<double> oracle_kept, score_kept;
  // Of the window's mass, kept by the top budgets[i] of window blocks by score.
  std::vector<double> window_score_kept;
  // Of the mass outside the window, held by the memory_sizes[i] most salient blocks.
  std::vector<double> memory_kept;
};

struct AttentionProfile {
  AttentionProfileOptions options;
  // The passes that ran before the profiling rewrite, as TOML: passes_toml
  // and any fusion passes added for it. A pipeline file that runs what was
  // profiled is this followed by suggestion().
  std::string passes_run;
  std::vector<std::string> added_passes;  // fold-constants, fuse-attention when added
  BlockLayout layout;
  std::vector<LayerChunkProfile> rows;  // by chunk, then layer
  std::string report() const;           // the per layer and chunk table
  std::string suggestion() const;       // a sparsify-attention [[pass]] entry, TOML
};

// Throws vdrt::Error when the pipeline `toml` (named `label`) cannot precede
// the profiling rewrite: an enabled sparsify-attention entry, since the
// profile measures dense attention (a sparse configuration's error is what
// sparse_rollout_error measures).
void check_profile_passes(const std::string& toml, const std::string& label);

// Runs options.chunks chunks of a rollout of `pipeline` (whose denoiser
// Session is replaced by the profiling rewrite) and profiles them.
// `progress` is called after each chunk.
AttentionProfile profile_attention(VideoPipeline& pipeline, const Tensor& context, const AttentionProfileOptions& options,
                                   const std::function<void(int64_t chunk)>& progress = {});

// The error a sparse configuration adds, chunk by chunk: the rollout of the
// pipeline folder with `pass_pipeline` run over its denoiser (under cache
// policy `cache`) against the dense rollout, same seed and context; returns
// ||x0_sparse - x0_dense|| / ||x0_dense|| per chunk. Errors compound, as in
// real use: each rollout conditions on its own earlier chunks.
std::vector<double> sparse_rollout_error(const std::string& pipeline_dir, const std::string& pass_pipeline,
                                         const Tensor& context, int64_t chunks, RolloutOptions options,
                                         const std::string& cache = "unbounded");

}  // namespace vdrt
