// im2col / col2im for any number of spatial dims. The columns [j0, j1) are
// cut once into runs along the innermost grid dim ("segments"); every
// (channel, tap) row then handles a segment with one bounds computation and
// a contiguous copy (stride 1) or a strided gather, zero-filling outside the
// image.
#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace vdrt::cpu {
namespace {

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

struct Segments {
  size_t outer_dims = 0;
  std::vector<int64_t> col, start, len, outer;  // outer: outer_dims coords per segment
};

Segments make_segments(const ConvGrid& g, int64_t j0, int64_t j1) {
  Segments s;
  const size_t nd = g.grid.size();
  s.outer_dims = nd - 1;
  const int64_t last = g.grid[nd - 1];
  std::vector<int64_t> coord(nd);
  int64_t j = j0;
  while (j < j1) {
    int64_t rest = j;
    for (size_t d = nd; d-- > 0;) {
      coord[d] = rest % g.grid[d];
      rest /= g.grid[d];
    }
    const int64_t n = std::min(last - coord[nd - 1], j1 - j);
    s.col.push_back(j - j0);
    s.start.push_back(coord[nd - 1]);
    s.len.push_back(n);
    for (size_t d = 0; d + 1 < nd; ++d) s.outer.push_back(coord[d]);
    j += n;
  }
  return s;
}

struct RowGeometry {
  std::vector<int64_t> image_stride;  // per dim, in elements
};

// Calls fn(segment index, image offset of the run's grid position 0 along the
// last dim (may lie outside), first valid, end valid) for one tap row, or
// reports the segment as fully outside through valid range [x, x).
template <typename Fn>
void for_each_segment(const ConvGrid& g, const Segments& s, const std::vector<int64_t>& stride,
                      const std::vector<int64_t>& koff, Fn&& fn) {
  const size_t nd = g.grid.size();
  const int64_t last_s = g.stride[nd - 1], last_off = koff[nd - 1], last_extent = g.image[nd - 1];
  // Grid positions whose image position along the last dim is inside.
  const int64_t valid_lo = floor_div(-last_off + last_s - 1, last_s);
  const int64_t valid_hi = floor_div(last_extent - 1 - last_off, last_s) + 1;
  for (size_t k = 0; k < s.col.size(); ++k) {
    int64_t base = 0;
    bool inside = true;
    for (size_t d = 0; d + 1 < nd; ++d) {
      const int64_t i = s.outer[k * s.outer_dims + d] * g.stride[d] + koff[d];
      if (i < 0 || i >= g.image[d]) {
        inside = false;
        break;
      }
      base += i * stride[d];
    }
    const int64_t g0 = s.start[k], g1 = g0 + s.len[k];
    const int64_t lo = inside ? std::clamp(valid_lo, g0, g1) : g0;
    const int64_t hi = inside ? std::clamp(valid_hi, lo, g1) : g0;
    fn(k, base + last_off, lo, hi);
  }
}

std::vector<int64_t> image_strides(const ConvGrid& g) {
  std::vector<int64_t> s(g.image.size(), 1);
  for (size_t d = g.image.size() - 1; d-- > 0;) s[d] = s[d + 1] * g.image[d + 1];
  return s;
}

// Writes tap's offsets into koff (sized to the kernel's dims by the caller,
// once per block of rows: no allocation per row).
void tap_offsets(const ConvGrid& g, int64_t tap, std::vector<int64_t>& koff) {
  for (size_t d = g.kernel.size(); d-- > 0;) {
    koff[d] = (tap % g.kernel[d]) * g.dilation[d] - g.pad_begin[d];
    tap /= g.kernel[d];
  }
}

}  // namespace

int64_t ConvGrid::grid_size() const { return product(grid); }
int64_t ConvGrid::image_size() const { return product(image); }
int64_t ConvGrid::taps() const { return product(kernel); }

void im2col(const float* image, int64_t channels, const ConvGrid& g, int64_t j0, int64_t j1, float* col, bool parallel) {
  const Segments segs = make_segments(g, j0, j1);
  const std::vector<int64_t> stride = image_strides(g);
  const int64_t taps = g.taps(), width = j1 - j0, image_size = g.image_size();
  const int64_t last_s = g.stride.back();
  auto rows = [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> koff(g.kernel.size());
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = image + (r / taps) * image_size;
      float* dst = col + r * width;
      tap_offsets(g, r % taps, koff);
      for_each_segment(g, segs, stride, koff, [&](size_t k, int64_t base, int64_t lo, int64_t hi) {
        const int64_t g0 = segs.start[k], g1 = g0 + segs.len[k];
        float* d = dst + segs.col[k] - g0;  // indexed by grid position
        std::fill(d + g0, d + lo, 0.0f);
        if (last_s == 1) {
          if (hi > lo) std::memcpy(d + lo, src + base + lo, sizeof(float) * (hi - lo));
        } else {
          for (int64_t p = lo; p < hi; ++p) d[p] = src[base + p * last_s];
        }
        std::fill(d + hi, d + g1, 0.0f);
      });
    }
  };
  const int64_t total_rows = channels * taps;
  if (!parallel) {
    rows(0, total_rows);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, total_rows, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { rows(r.begin(), r.end()); });
}

void col2im_add(const float* col, int64_t channels, const ConvGrid& g, int64_t j0, int64_t j1, float* image,
                bool parallel) {
  const Segments segs = make_segments(g, j0, j1);
  const std::vector<int64_t> stride = image_strides(g);
  const int64_t taps = g.taps(), width = j1 - j0, image_size = g.image_size();
  const int64_t last_s = g.stride.back();
  // Each channel's rows only touch that channel's image plane, so channels
  // can run in parallel without races.
  auto channel_range = [&](int64_t c0, int64_t c1) {
    std::vector<int64_t> koff(g.kernel.size());
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t t = 0; t < taps; ++t) {
        const float* src = col + (c * taps + t) * width;
        float* dst = image + c * image_size;
        tap_offsets(g, t, koff);
        for_each_segment(g, segs, stride, koff, [&](size_t k, int64_t base, int64_t lo, int64_t hi) {
          const float* s = src + segs.col[k] - segs.start[k];
          for (int64_t p = lo; p < hi; ++p) dst[base + p * last_s] += s[p];
        });
      }
  };
  if (!parallel) {
    channel_range(0, channels);
    return;
  }
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, channels),
                    [&](const tbb::blocked_range<int64_t>& r) { channel_range(r.begin(), r.end()); });
}

}  // namespace vdrt::cpu
