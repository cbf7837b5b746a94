#pragma once
// Flash-style attention of one query tile: keys and values are folded in
// piece by piece with an online softmax (running max, running normaliser,
// rescaled accumulator), so no more than one [rows x piece] block of scores
// ever exists. The dense and the block-sparse attention kernels share it;
// which keys get folded in is the caller's business.
//
// Optionally the tile tracks how much of the final softmax mass each
// segment of keys received (the saliency signal of PBSA, and profiling):
// a segment's per-row exp-sums are kept with the running max they were
// taken against and renormalised once the final max and sum are known.
#include <cstdint>
#include <vector>

namespace vdrt::cpu {

// Columns [begin, end) of one fold that belong to one block; `log_weight` is
// added to their logits (compressed blocks), `id` names the block for mass
// tracking (ids are 0 .. mass_ids-1; -1: not tracked individually).
struct FlashSegment {
  int32_t id = -1;
  int32_t begin = 0, end = 0;
  float log_weight = 0;
};

class FlashTile {
 public:
  // `q`: [rows, key_dim] with rows `q_stride` apart, already multiplied by
  // the softmax scale. `mass_ids` > 0 turns mass tracking on for segment
  // ids below it.
  FlashTile(const float* q, int64_t q_stride, int64_t rows, int64_t key_dim, int64_t value_dim, int64_t mass_ids = 0);

  // Folds in n keys/values (row i of K at k + i * k_stride). `segments`
  // (ordered, covering [0, n)) carry log-weights and ids; empty means one
  // untracked segment without weight. Pieces of a few hundred keys keep the
  // score block in cache.
  void fold(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t n,
            const std::vector<FlashSegment>& segments = {});

  // Writes softmax-weighted values: out[r * out_stride + j]. Call once, last.
  void finish(float* out, int64_t out_stride);

  // After finish(): the softmax mass segment `id` received, summed over the
  // tile's rows (each row's masses sum to 1 over everything folded in).
  double mass(int32_t id) const { return mass_[id]; }
  // Mass of everything folded in without an id (id -1), summed over rows.
  double untracked_mass() const { return untracked_; }
  int64_t rows() const { return rows_; }

 private:
  const float* q_;
  int64_t q_stride_, rows_, dk_, dv_;
  std::vector<float> m_, l_, acc_, scores_;
  // Mass tracking: per fold the running max it used; per segment its fold and row sums.
  struct SegmentSums {
    int32_t id;
    int32_t fold;
    std::vector<float> sums;  // [rows]
  };
  std::vector<std::vector<float>> fold_max_;
  std::vector<SegmentSums> segment_sums_;
  std::vector<double> mass_;
  double untracked_ = 0;
  bool track_ = false;
};

}  // namespace vdrt::cpu
