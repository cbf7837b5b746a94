#pragma once
// Function multiversioning for hot loops: GCC compiles the function once for
// x86-64-v3 (AVX2 + FMA) and once for the baseline and picks at load time,
// so the binary runs everywhere (no -march=native) yet uses AVX2 where the
// CPU has it. Elsewhere the attribute compiles to nothing.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define VDRT_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VDRT_MULTIVERSION
#endif
