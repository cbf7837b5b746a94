#pragma once
// Small helpers shared by the shape functions of the data-movement ops: they
// all read integer arguments that may or may not be known yet, and all must
// degrade to unknown dims (keeping the rank) instead of failing when a value
// is missing.
#include <optional>
#include <vector>

#include "graph/op_registry.h"

namespace vdrt {

// Contents of input i as int64 when known; nullopt when absent or unknown.
std::optional<std::vector<int64_t>> known_ints(const InferContext& ctx, size_t i);
std::optional<std::vector<double>> known_doubles(const InferContext& ctx, size_t i);

// A shape of `rank` unknown dims.
Shape unknown_dims(size_t rank);

// Normalises every axis against `rank` and rejects duplicates; `what` names
// the argument in messages ("Squeeze axes").
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what);

// Concrete output dims after a check that none is negative and that the
// element count cannot overflow (hostile repeats, pads or sizes); `what`
// names the op in the message.
Shape checked_shape(const std::vector<int64_t>& dims, const std::string& what);

// a * b for dims that may come from user data; throws instead of overflowing.
int64_t checked_mul(int64_t a, int64_t b, const std::string& what);

// Product of dims[lo, hi) with symbolic arithmetic.
Dim dim_product(const Shape& s, size_t lo, size_t hi);

}  // namespace vdrt
