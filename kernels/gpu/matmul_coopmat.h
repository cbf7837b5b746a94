#pragma once
// Planning of the cooperative-matrix GEMMs (Vulkan, GL_NV_cooperative_matrix,
// 16x16x16 f16 x f16 -> f32): the tile of a work group, the f16 operand
// pre-pass, and vdrt.QMatMul's e4m3 GEMM. MatMul and Gemm (matmul.cpp) use
// the tile and the pre-pass for matmul_coopmat_f16.comp; build_qmatmul uses
// plan_qmatmul_coopmat. On OpenCL (DeviceCaps::ptx_mma) the same kernels run
// as inline PTX, with tiles of their own (CoopTile::valid_ptx).
#include <optional>
#include <string>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::gpu {

// Whether the device runs the cooperative-matrix shaders: NV cooperative
// matrices of 16x16x16 f16 -> f32, subgroups of 32 (the shaders assume 32
// lanes), 256 invocations and 28 KiB of shared memory. Precision is the
// caller's choice.
bool coopmat_device(const DeviceCaps& caps);

// Tile of matmul_coopmat_f16.comp / matmul_coopmat_e4m3.comp: BM x BN per
// work group, BK-deep steps, WM x WN per subgroup of 32.
struct CoopTile {
  uint32_t bm = 0, bn = 0, bk = 0, wm = 0, wn = 0;
  // f16 only (the e4m3 shader ignores them). 1: fragments straight from
  // global memory; 2: the glslc -O build (matmul_tc16); 4: one shared buffer
  // (two barriers a step).
  uint32_t flags = 0;
  uint32_t nbuf() const { return flags & 4 ? 1 : 2; }
  uint32_t threads() const { return (bm / wm) * (bn / wn) * 32; }
  size_t shared_bytes(bool at, bool bt) const;
  // Whether matmul_coopmat_f16.comp runs it (A / B transposed in the scratch: at / bt).
  bool valid(const DeviceCaps& caps, bool at, bool bt) const;
  // Whether matmul_coopmat_e4m3.comp runs it: W steps of BK x BN codes split
  // into 16-byte vectors evenly, and the epilogue's 16 x WN rows fit As with
  // each lane on fixed columns (WN / 4 divides 32).
  bool valid_e4m3(const DeviceCaps& caps) const;
  // Whether OpenCL's inline-PTX matmul_coopmat_f16.cl runs it (DeviceCaps::
  // ptx_mma): BK 32, subgroup blocks of whole 16 x 16 fragments, cp.async
  // chunks split evenly, two stages of A and B in local memory.
  bool valid_ptx(const DeviceCaps& caps) const;
  std::string str() const;  // "128x128x32/64x64", shown in profiles
};

// VDRT_VK_GEMM_VARIANT (read once): "old" keeps every fp16 MatMul/Gemm on
// matmul_coopmat.comp; "BM,BN,BK,WM,WN[,FLAGS]" forces a tile (tuning) on
// the f16 path and, where valid there, on the e4m3 path.
struct GemmVariant {
  bool old = false;
  std::optional<CoopTile> tile;
};
const GemmVariant& gemm_variant();

// The f16 GEMM's tile for an m x n product; bm == 0 where none fits the device.
CoopTile pick_coop_tile(const DeviceCaps& caps, bool at, bool bt, int64_t m, int64_t n);

int64_t round_up(int64_t v, int64_t m);

// Dispatch of matmul_to_f16.comp: src (R x C, element strides sr / sc) into
// scratch `dst` as a dense, zero-padded [Rp][Cp] f16 matrix.
Dispatch to_f16(Arg src, Arg dst, int64_t R, int64_t C, int64_t Rp, int64_t Cp, int64_t sr, int64_t sc,
                const DeviceCaps& caps);

// vdrt.QMatMul Y[M, N] = act(A[M, K] W (codes [K, N]) * scale[N] (+ bias[N]))
// (+ residual), inputs bound as the node's (A, W, scale, bias, residual), with per-token e4m3
// activations when act_quant: A's f16 pre-pass (or its quantisation), then
// matmul_coopmat_e4m3. With float8 tensor cores (DeviceCaps::ptx_mma_e4m3)
// and act_quant, codes multiply codes instead: quantize_rows_e4m3_codes,
// transpose_e4m3 (W's codes k-contiguous; once per session where W is a
// constant), matmul_e4m3_mma. nullopt where no tile fits the device or a
// scratch exceeds what one binding may span.
struct QMatMulShape {
  int64_t M = 0, N = 0, K = 0;
  bool bias = false, act_quant = false;
  uint32_t activation = 0;  // after the bias: 0 none, 1 gelu, 2 gelu (tanh)
  bool residual = false;    // then the node's input 4, laid out as Y
  bool constant_w = false;  // W is a graph constant: its transposed codes are made once (Dispatch::once)
};
std::optional<Program> plan_qmatmul_coopmat(const QMatMulShape& q, const DeviceCaps& caps);

}  // namespace vdrt::gpu
