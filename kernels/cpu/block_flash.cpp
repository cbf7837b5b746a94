#include "kernels/cpu/block_flash.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/row_reduce.h"
#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu {

FlashTile::FlashTile(const float* q, int64_t q_stride, int64_t rows, int64_t key_dim, int64_t value_dim,
                     int64_t mass_ids)
    : q_(q), q_stride_(q_stride), rows_(rows), dk_(key_dim), dv_(value_dim),
      m_(static_cast<size_t>(rows), -std::numeric_limits<float>::infinity()),
      l_(static_cast<size_t>(rows), 0.0f), acc_(static_cast<size_t>(rows * value_dim), 0.0f),
      mass_(static_cast<size_t>(std::max<int64_t>(mass_ids, 0)), 0.0), track_(mass_ids > 0) {}

void FlashTile::fold(const float* k, int64_t k_stride, const float* v, int64_t v_stride, int64_t n,
                     const std::vector<FlashSegment>& segments) {
  if (n <= 0 || rows_ <= 0) return;
  scores_.resize(static_cast<size_t>(rows_ * n));
  float* s = scores_.data();
  GemmOptions serial;
  serial.parallel = false;  // callers parallelise over tiles
  // S = Q K^T: K^T(d, j) = k[j * k_stride + d].
  gemm_f32(rows_, n, dk_, 1.0f, q_, q_stride_, 1, k, 1, k_stride, 0.0f, s, n, serial);
  for (const FlashSegment& seg : segments) {
    if (seg.log_weight == 0.0f) continue;
    for (int64_t r = 0; r < rows_; ++r)
      for (int32_t j = seg.begin; j < seg.end; ++j) s[r * n + j] += seg.log_weight;
  }
  std::vector<float> new_max(track_ ? static_cast<size_t>(rows_) : 0);
  for (int64_t r = 0; r < rows_; ++r) {
    float* row = s + r * n;
    const float m_new = std::max(m_[r], row_max(row, n));
    // The first fold starts from m = -inf: its correction factor is 0.
    const float corr = m_[r] == -std::numeric_limits<float>::infinity() ? 0.0f : vmath::exp(m_[r] - m_new);
    const float sum = row_exp_sum(row, row, n, m_new);  // row becomes P = exp(S - m_new)
    l_[r] = l_[r] * corr + sum;
    m_[r] = m_new;
    if (track_) new_max[r] = m_new;
    if (corr != 1.0f) row_scale(acc_.data() + r * dv_, dv_, corr);
  }
  // O += P V
  gemm_f32(rows_, dv_, n, 1.0f, s, n, 1, v, v_stride, 1, 1.0f, acc_.data(), dv_, serial);

  if (!track_) return;
  const int32_t fold_index = static_cast<int32_t>(fold_max_.size());
  fold_max_.push_back(std::move(new_max));
  auto add_segment = [&](int32_t id, int64_t begin, int64_t end) {
    SegmentSums ss{id, fold_index, std::vector<float>(static_cast<size_t>(rows_))};
    for (int64_t r = 0; r < rows_; ++r) ss.sums[r] = row_sum(s + r * n + begin, end - begin);
    segment_sums_.push_back(std::move(ss));
  };
  if (segments.empty()) add_segment(-1, 0, n);
  for (const FlashSegment& seg : segments) add_segment(seg.id, seg.begin, seg.end);
}

void FlashTile::finish(float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows_; ++r) {
    // l > 0 whenever anything was folded in; an empty tile yields zeros.
    const float inv = l_[r] > 0.0f ? 1.0f / l_[r] : 0.0f;
    const float* a = acc_.data() + r * dv_;
    float* o = out + r * out_stride;
    for (int64_t j = 0; j < dv_; ++j) o[j] = a[j] * inv;
  }
  if (!track_) return;
  for (const SegmentSums& ss : segment_sums_) {
    const std::vector<float>& fm = fold_max_[ss.fold];
    double total = 0;
    for (int64_t r = 0; r < rows_; ++r)
      if (l_[r] > 0.0f) total += static_cast<double>(ss.sums[r]) * std::exp(static_cast<double>(fm[r]) - m_[r]) / l_[r];
    if (ss.id >= 0 && static_cast<size_t>(ss.id) < mass_.size()) mass_[ss.id] += total;
    else untracked_ += total;
  }
}

}  // namespace vdrt::cpu
