#pragma once
// Bulk f32 <-> f16/bf16 conversion. Cast between f32 and f16 is the one
// conversion models do on large tensors, and the scalar bit-twiddling
// routines in graph/dtype.cpp are ~10x slower than the F16C instructions
// x86 CPUs have had since 2012; these pick the instructions at run time and
// give bit-identical results (round to nearest even) otherwise. This is the
// one bulk conversion of the CPU backend: Cast and the f16/bf16 wrapper of
// float kernels (half_float.h) both use it.
#include <cstdint>

namespace vdrt::cpu {

void f32_to_f16(const float* src, uint16_t* dst, int64_t n);
void f16_to_f32(const uint16_t* src, float* dst, int64_t n);
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

}  // namespace vdrt::cpu
