#pragma once
// The data-movement engine shared by Transpose, Slice, Expand, Tile,
// DepthToSpace/SpaceToDepth and friends: every one of them is "copy a box of
// elements whose source and destination positions are affine in the index".
// One engine means one place to get coalescing, memcpy of contiguous runs,
// cache-blocked transposition and tbb parallelism right.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace vdrt::cpu {

// Row-major element strides of `dims`.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims);

// dst[sum_i idx_i * dst_strides_i] = src[sum_i idx_i * src_strides_i] for
// every index in `dims`; strides are in elements (may be 0 or negative),
// elements are `elem_size` bytes. Source and destination must not overlap.
void strided_copy(size_t elem_size, const std::vector<int64_t>& dims, const void* src,
                  const std::vector<int64_t>& src_strides, void* dst, const std::vector<int64_t>& dst_strides);

// memcpy that splits large copies across threads; a no-op when dst == src.
void parallel_memcpy(void* dst, const void* src, size_t bytes);

// memcpy of a small slice: sizes of one element (2, 4, 8 bytes: RoPE's
// interleaved pairs split by Gather and joined by Concat) become one move
// instead of a library call each.
inline void copy_slice(void* dst, const void* src, size_t bytes) {
  switch (bytes) {
    case 2: std::memcpy(dst, src, 2); break;
    case 4: std::memcpy(dst, src, 4); break;
    case 8: std::memcpy(dst, src, 8); break;
    default: std::memcpy(dst, src, bytes);
  }
}

// Fills `count` elements of `elem_size` bytes with the element at `value`.
void fill_elements(void* dst, int64_t count, const void* value, size_t elem_size);

// Below this many bytes of work a tbb task costs more than it saves.
inline constexpr int64_t kParallelBytes = 1 << 18;

// Runs fn(begin, end) over [0, rows) in parallel when rows * bytes_per_row
// is large, else inline; chunks carry at least ~64 KiB of work.
template <typename Fn>
void parallel_rows(int64_t rows, int64_t bytes_per_row, const Fn& fn) {
  if (rows <= 0) return;
  if (rows == 1 || rows * bytes_per_row < kParallelBytes) {
    fn(int64_t{0}, rows);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(bytes_per_row, 1));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { fn(r.begin(), r.end()); });
}

// Calls f.template operator()<T>() with an unsigned integer type of
// `elem_size` bytes; returns false for other sizes.
template <typename F>
bool with_uint_of_size(size_t elem_size, F&& f) {
  switch (elem_size) {
    case 1: f.template operator()<uint8_t>(); return true;
    case 2: f.template operator()<uint16_t>(); return true;
    case 4: f.template operator()<uint32_t>(); return true;
    case 8: f.template operator()<uint64_t>(); return true;
    default: return false;
  }
}

// Walks the multi-index of an iteration space from a linear position,
// keeping source and destination offsets in step.
class OffsetWalker {
 public:
  OffsetWalker(const std::vector<int64_t>& dims, const std::vector<int64_t>& s, const std::vector<int64_t>& d,
               int64_t start)
      : dims_(dims), s_(s), d_(d), idx_(dims.size(), 0) {
    for (size_t i = dims.size(); i-- > 0;) {
      idx_[i] = start % dims[i];
      start /= dims[i];
      src += idx_[i] * s[i];
      dst += idx_[i] * d[i];
    }
  }
  void next() {
    for (size_t i = dims_.size(); i-- > 0;) {
      src += s_[i];
      dst += d_[i];
      if (++idx_[i] < dims_[i]) return;
      src -= s_[i] * dims_[i];
      dst -= d_[i] * dims_[i];
      idx_[i] = 0;
    }
  }
  int64_t src = 0, dst = 0;

 private:
  const std::vector<int64_t>& dims_;
  const std::vector<int64_t>& s_;
  const std::vector<int64_t>& d_;
  std::vector<int64_t> idx_;
};

}  // namespace vdrt::cpu
