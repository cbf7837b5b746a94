#pragma once
// The tiles the fp32 GEMM shader (kernels/vulkan/matmul.comp,
// kernels/opencl/matmul.cl) accepts, the one it picks by shape, and the
// fixed list `vdrt tune` times on a device (CLBlast-style: named
// parameters, a tuner, a per-device record; no constants hidden in code).
#include <optional>
#include <string>
#include <vector>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {

// Invocations per work group: (BM / TM) * (BN / TN).
uint32_t matmul_tile_threads(const MatmulTile& t);
// Whether the shader can run `t` on the device: TM | BM, TN | BN, at most 64
// outputs per invocation, slices that split evenly over the invocations,
// and the work group and its shared memory within the device's limits.
bool matmul_tile_fits(const MatmulTile& t, const DeviceCaps& caps);
// The tile for an M x N product when nothing is tuned.
MatmulTile default_matmul_tile(int64_t M, int64_t N, const DeviceCaps& caps);
// What `vdrt tune` tries (those that do not fit a device are skipped).
const std::vector<MatmulTile>& matmul_tile_candidates();

// "128x128x32/8x8" (profiles, tables) and "128,128,32,8,8" (the env override).
std::string to_string(const MatmulTile& t);
std::string to_csv(const MatmulTile& t);
// "BM,BN,BK,TM,TN"; nullopt if it is not five unsigned numbers.
std::optional<MatmulTile> parse_matmul_tile(const std::string& text);

}  // namespace vdrt::gpu
