#pragma once
// Dispatches of reduce_rows.comp (contiguous rows: norms, softmax, innermost
// reductions) and reduce_cols.comp (reductions along a strided axis), shared
// by norms.cpp, softmax.cpp and reduce.cpp.
#include <cstdint>
#include <vector>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {

enum RowOp : uint32_t {
  kRowLayerNorm = 0, kRowRmsNorm, kRowSoftmax, kRowLogSoftmax, kRowSum, kRowMean, kRowMax, kRowMin,
};

// A scale or bias tensor read at flat element index e as p[(e / div) % mod].
struct RowParam {
  Arg arg;
  uint32_t div = 1, mod = 1;
};

// `rows` contiguous rows of `n` floats of x. Norms read scale (and bias when
// given) and write rows of y; softmax writes rows of y and ignores the
// params; reductions write one float per row.
Dispatch row_dispatch(RowOp op, uint64_t rows, uint64_t n, Arg x, RowParam scale, const RowParam* bias, Arg y,
                      float eps, const DeviceCaps& caps);

// x viewed as [outer, len, inner]: softmax over len (writes x's shape) or a
// reduction over len (writes [outer, inner]).
Dispatch col_dispatch(RowOp op, uint64_t outer, uint64_t len, uint64_t inner, Arg x, Arg y, const DeviceCaps& caps);
// The reduction of input 0 over the middle axis of [outer, len, inner] into
// output 0: contiguous rows when inner == 1, else one thread per column.
Dispatch reduce_dispatch(RowOp op, int64_t outer, int64_t len, int64_t inner, const DeviceCaps& caps);

// How a parameter of dims `param` broadcasts against `target` (numpy
// alignment) as p[(e / div) % mod]; false when it needs more than that.
bool param_mapping(const std::vector<int64_t>& param, const std::vector<int64_t>& target, RowParam& out);

}  // namespace vdrt::gpu
