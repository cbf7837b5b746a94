#pragma once
// The flash attention of one (batch, head, block of queries) task with both
// products on the GEMM micro-kernel (attention_tiled.cpp). Queries go in
// strips of attention_tiled_strip() (the micro-kernel's NR), padded: a block
// of much fewer queries is cheaper through attention_core.cpp's
// matrix-vector path.
#include <cstdint>

#include "kernels/cpu/attention_core.h"

namespace vdrt::cpu {

// Queries per strip.
int64_t attention_tiled_strip();

// Writes the output rows [i0, i1) of head h of batch b.
void attention_tiled_task(const AttentionParams& p, int64_t b, int64_t h, int64_t i0, int64_t i1, int64_t kv_len);

}  // namespace vdrt::cpu
