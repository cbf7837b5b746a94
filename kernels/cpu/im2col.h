#pragma once
// The lowering of N-d convolutions to GEMM. A "grid" position g (a Conv
// output position, or a ConvTranspose input position) meets the "image"
// (Conv input / ConvTranspose output) at
//   image_d = g_d * stride_d + k_d * dilation_d - pad_begin_d
// for every kernel tap k. The column matrix has one row per (channel, tap)
// and one column per grid position:
//   im2col: col[(c, k), j] = image[c, image(j, k)]   (0 outside the image)
//   col2im: image[c, image(j, k)] += col[(c, k), j]  (skipped outside)
#include <cstdint>
#include <vector>

namespace vdrt::cpu {

struct ConvGrid {
  std::vector<int64_t> grid, image, kernel, stride, dilation, pad_begin;
  int64_t grid_size() const;
  int64_t image_size() const;
  int64_t taps() const;
};

// Rows for `channels` channels, columns for grid positions [j0, j1); col is
// row-major with row stride j1 - j0. Parallel over rows when `parallel`.
void im2col(const float* image, int64_t channels, const ConvGrid& g, int64_t j0, int64_t j1, float* col, bool parallel);
// Adds col (same layout) into image; parallel over channels when `parallel`.
void col2im_add(const float* col, int64_t channels, const ConvGrid& g, int64_t j0, int64_t j1, float* image,
                bool parallel);

}  // namespace vdrt::cpu
