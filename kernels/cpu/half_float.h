#pragma once
// f16/bf16 support for float kernels: the kernel body runs in f32 on
// converted copies and the outputs are rounded back. Cheap to write once, and
// 16-bit tensors are rare on the CPU path (conformance tests, odd exports).
#include "kernels/cpu/kernel.h"

namespace vdrt::cpu {

// True when any present input or output is f16 or bf16.
bool has_half_float(const KernelContext& ctx);

// Runs `body` with every f16/bf16 input and output replaced by an f32
// tensor; other tensors pass through untouched.
void run_in_f32(KernelContext& ctx, const KernelFn& body);

// Wraps a kernel so that it accepts f16/bf16 by computing in f32.
KernelFn with_half_float(KernelFn body);

// Support predicate of float kernels wrapped with with_half_float: every
// float input is f32, f16 or bf16 (integer inputs, e.g. axes, pass).
SupportsFn f32_or_half();

}  // namespace vdrt::cpu
