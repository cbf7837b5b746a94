#version 450
// fp16 tensor-core GEMM main pass (GL_NV_cooperative_matrix, 16x16x16
// f16 x f16 -> f32) on operands that matmul_to_f16.comp converted into dense,
// zero-padded f16 matrices: A16 is [Mp][Kp] (or [Kp][Mp] with A_T) and B16 is
// [Kp][Np] (or [Np][Kp] with B_T), Mp / Kp / Np multiples of BM / BK / BN, so
// the main loop has no bounds checks and moves only 16-byte vectors.
// A work group of NT = (BM / WM) * (BN / WN) subgroups of 32 computes a BM x BN
// tile; each subgroup a WM x WN block of (WM / 16) x (WN / 16) f32
// accumulators. K steps of BK are double-buffered: while the subgroups
// multiply step k, every invocation holds step k + 1 in registers (global
// loads in flight) and stores it into the other shared buffer afterwards, one
// barrier a step; with NBUF = 1 into the same buffer after a second barrier,
// which halves the shared memory so that more work groups share a
// multiprocessor (faster on the H200 for big products, bench/RESULTS.md).
// Shared rows are padded by one uvec4 so the fragment loads of 8 consecutive
// rows hit distinct banks. The epilogue applies alpha (and beta * C) and stores straight from the accumulators where a 16 x 16
// block is wholly inside y and no C is added, else through shared memory.
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#include "matmul_coopmat_f16.glsl"
