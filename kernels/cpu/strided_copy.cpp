// Implements strided_copy.h. One entry point classifies the (simplified) copy
// into three shapes: contiguous rows (memcpy), transposed tiles, element loops.
#include "kernels/cpu/strided_copy.h"

#include <algorithm>
#include <cstdlib>

#include "kernels/cpu/transpose_tile.h"

namespace vdrt::cpu {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size());
  int64_t acc = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

namespace {

struct Space {
  std::vector<int64_t> dims, src, dst;
};

// Drops size-1 dims and merges neighbours that step through memory as one
// longer dim in both tensors; returns false when the space is empty.
bool simplify(const std::vector<int64_t>& dims, const std::vector<int64_t>& ss, const std::vector<int64_t>& ds,
              Space& out) {
  for (size_t i = dims.size(); i-- > 0;) {
    if (dims[i] == 0) return false;
    if (dims[i] == 1) continue;
    if (!out.dims.empty() && ss[i] == out.src.back() * out.dims.back() &&
        ds[i] == out.dst.back() * out.dims.back()) {
      out.dims.back() *= dims[i];
      continue;
    }
    out.dims.push_back(dims[i]);
    out.src.push_back(ss[i]);
    out.dst.push_back(ds[i]);
  }
  std::reverse(out.dims.begin(), out.dims.end());
  std::reverse(out.src.begin(), out.src.end());
  std::reverse(out.dst.begin(), out.dst.end());
  return true;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Both innermost strides are 1: each row is one memcpy. Rows are visited in
// source order (one sequential reader, a few sequential writers), which
// measured ~25% faster than destination order for head-splitting transposes.
void copy_rows(size_t es, const Space& sp, const uint8_t* src, uint8_t* dst) {
  const size_t last = sp.dims.size() - 1;
  std::vector<size_t> order(last);
  for (size_t i = 0; i < last; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return std::abs(sp.src[a]) > std::abs(sp.src[b]); });
  std::vector<int64_t> dims, ss, ds;
  for (size_t i : order) {
    dims.push_back(sp.dims[i]);
    ss.push_back(sp.src[i]);
    ds.push_back(sp.dst[i]);
  }
  const size_t row_bytes = static_cast<size_t>(sp.dims[last]) * es;
  // libc's memcpy beats inlined chunk loops even for 256-byte rows (measured).
  parallel_rows(product(dims), static_cast<int64_t>(row_bytes), [&](int64_t b, int64_t e) {
    OffsetWalker w(dims, ss, ds, b);
    for (int64_t r = b; r < e; ++r, w.next())
      std::memcpy(dst + w.dst * static_cast<int64_t>(es), src + w.src * static_cast<int64_t>(es), row_bytes);
  });
}

// The destination is contiguous along the last dim and the source along dim
// k: a 2-D transpose per outer index, done in square tiles so that both the
// strided reads and the contiguous writes stay within L1 (and in SIMD
// registers for 4-byte elements, see transpose_tile.cpp).
void copy_transposed(size_t es, const Space& sp, size_t k, const uint8_t* src, uint8_t* dst) {
  constexpr int64_t kTile = 32;
  const size_t last = sp.dims.size() - 1;
  std::vector<int64_t> dims, ss, ds;
  for (size_t i = 0; i < last; ++i)
    if (i != k) {
      dims.push_back(sp.dims[i]);
      ss.push_back(sp.src[i]);
      ds.push_back(sp.dst[i]);
    }
  const int64_t rows = sp.dims[k], cols = sp.dims[last];
  const int64_t dst_row = sp.dst[k], src_col = sp.src[last];
  // Narrow transposes (DepthToSpace interleaves 2-4 columns) take taller
  // tiles so that each tile still moves ~1000 elements.
  const int64_t tile_rows = std::max(kTile, kTile * kTile / std::min(cols, kTile));
  const int64_t row_blocks = (rows + tile_rows - 1) / tile_rows;
  const int64_t tasks = product(dims) * row_blocks;
  const int64_t bytes_per_task = tile_rows * cols * static_cast<int64_t>(es);
  const int64_t e_size = static_cast<int64_t>(es);
  parallel_rows(tasks, bytes_per_task, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      OffsetWalker w(dims, ss, ds, t / row_blocks);
      const int64_t r0 = (t % row_blocks) * tile_rows, nr = std::min(rows - r0, tile_rows);
      for (int64_t c0 = 0; c0 < cols; c0 += kTile)
        transpose_tile(es, src + (w.src + r0 + c0 * src_col) * e_size, src_col,
                       dst + (w.dst + r0 * dst_row + c0) * e_size, dst_row, nr, std::min(cols - c0, kTile));
    }
  });
}

// Anything else: an element loop along the last dim with its two strides.
void copy_elements(size_t es, const Space& sp, const uint8_t* src, uint8_t* dst) {
  const size_t last = sp.dims.size() - 1;
  const std::vector<int64_t> dims(sp.dims.begin(), sp.dims.begin() + last);
  const std::vector<int64_t> ss(sp.src.begin(), sp.src.begin() + last), ds(sp.dst.begin(), sp.dst.begin() + last);
  const int64_t n = sp.dims[last], sstep = sp.src[last], dstep = sp.dst[last];
  const int64_t row_bytes = n * static_cast<int64_t>(es);
  const bool typed = with_uint_of_size(es, [&]<typename T>() {
    parallel_rows(product(dims), row_bytes, [&](int64_t b, int64_t e) {
      OffsetWalker w(dims, ss, ds, b);
      for (int64_t r = b; r < e; ++r, w.next()) {
        const T* s = reinterpret_cast<const T*>(src) + w.src;
        T* d = reinterpret_cast<T*>(dst) + w.dst;
        if (sstep == 0) std::fill_n(d, n, *s);  // broadcast along the row (Expand)
        else
          for (int64_t j = 0; j < n; ++j) d[j * dstep] = s[j * sstep];
      }
    });
  });
  if (!typed) {
    std::vector<int64_t> all_dims = sp.dims;
    OffsetWalker w(all_dims, sp.src, sp.dst, 0);
    for (int64_t i = 0, total = product(all_dims); i < total; ++i, w.next())
      std::memcpy(dst + w.dst * static_cast<int64_t>(es), src + w.src * static_cast<int64_t>(es), es);
  }
}

}  // namespace

void strided_copy(size_t elem_size, const std::vector<int64_t>& dims, const void* src,
                  const std::vector<int64_t>& src_strides, void* dst, const std::vector<int64_t>& dst_strides) {
  Space sp;
  if (!simplify(dims, src_strides, dst_strides, sp)) return;
  auto s = static_cast<const uint8_t*>(src);
  auto d = static_cast<uint8_t*>(dst);
  if (sp.dims.empty()) {
    std::memcpy(d, s, elem_size);
    return;
  }
  const size_t last = sp.dims.size() - 1;
  if (sp.src[last] == 1 && sp.dst[last] == 1) return copy_rows(elem_size, sp, s, d);
  if (sp.dst[last] == 1 && sp.src[last] != 0)  // a zero stride is a broadcast, not a transpose
    for (size_t k = last; k-- > 0;)
      if (sp.src[k] == 1) return copy_transposed(elem_size, sp, k, s, d);
  copy_elements(elem_size, sp, s, d);
}

void parallel_memcpy(void* dst, const void* src, size_t bytes) {
  if (dst == src || bytes == 0) return;
  constexpr int64_t kChunk = 1 << 20;
  const int64_t chunks = (static_cast<int64_t>(bytes) + kChunk - 1) / kChunk;
  parallel_rows(chunks, kChunk, [&](int64_t b, int64_t e) {
    const size_t lo = static_cast<size_t>(b * kChunk);
    const size_t hi = std::min(bytes, static_cast<size_t>(e * kChunk));
    std::memcpy(static_cast<uint8_t*>(dst) + lo, static_cast<const uint8_t*>(src) + lo, hi - lo);
  });
}

void fill_elements(void* dst, int64_t count, const void* value, size_t elem_size) {
  if (count <= 0) return;
  auto v = static_cast<const uint8_t*>(value);
  if (std::all_of(v, v + elem_size, [](uint8_t b) { return b == 0; })) {
    std::memset(dst, 0, static_cast<size_t>(count) * elem_size);
    return;
  }
  constexpr int64_t kChunk = 1 << 16;  // elements per task
  const bool typed = with_uint_of_size(elem_size, [&]<typename T>() {
    T x;
    std::memcpy(&x, value, sizeof(T));
    parallel_rows((count + kChunk - 1) / kChunk, kChunk * static_cast<int64_t>(sizeof(T)), [&](int64_t b, int64_t e) {
      std::fill(static_cast<T*>(dst) + b * kChunk, static_cast<T*>(dst) + std::min(count, e * kChunk), x);
    });
  });
  if (!typed)
    for (int64_t i = 0; i < count; ++i) std::memcpy(static_cast<uint8_t*>(dst) + i * elem_size, value, elem_size);
}

}  // namespace vdrt::cpu
