#pragma once
// Float reductions over contiguous rows, written with 16 independent lanes so
// that GCC vectorises them without -ffast-math (a single running sum or max
// is a loop-carried dependency it may not reorder). Shared by Softmax,
// normalisations, reductions and attention.
#include <cstdint>

#include "kernels/cpu/multiversion.h"

namespace vdrt::cpu {

float row_max(const float* x, int64_t n);                 // -inf for n == 0; NaN if any element is NaN
float row_sum(const float* x, int64_t n);
double row_sum_f64(const float* x, int64_t n);             // lanes accumulate in double
// Sum and sum of squares in double lanes: one pass over large blocks.
void row_moments_f64(const float* x, int64_t n, double* sum, double* sum_sq);
float row_sum_sq_centered(const float* x, int64_t n, float mean);  // sum (x - mean)^2
// y[i] = exp(x[i] - shift); returns the sum of the y[i].
float row_exp_sum(const float* x, float* y, int64_t n, float shift);
void row_scale(float* y, int64_t n, float s);                 // y *= s

}  // namespace vdrt::cpu
