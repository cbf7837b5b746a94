// Implements shape_fn_util.h: helpers the data-movement shape functions share.
#include "graph/ops/shape_fn_util.h"

#include <algorithm>

namespace vdrt {

std::optional<std::vector<int64_t>> known_ints(const InferContext& ctx, size_t i) {
  const Tensor* t = ctx.input_value(i);
  if (!t) return std::nullopt;
  return t->as_int64();
}

std::optional<std::vector<double>> known_doubles(const InferContext& ctx, size_t i) {
  const Tensor* t = ctx.input_value(i);
  if (!t) return std::nullopt;
  return t->as_double();
}

Shape unknown_dims(size_t rank) { return Shape(std::vector<Dim>(rank)); }

std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t rank, const char* what) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    if (a < -rank || a >= rank)
      throw Error(std::string(what) + ": axis " + std::to_string(a) + " is out of range for rank " +
                  std::to_string(rank));
    int64_t n = a < 0 ? a + rank : a;
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw Error(std::string(what) + ": axis " + std::to_string(a) + " is repeated");
    out.push_back(n);
  }
  return out;
}

int64_t checked_mul(int64_t a, int64_t b, const std::string& what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || r > (int64_t{1} << 62))
    throw Error(what + ": " + std::to_string(a) + " * " + std::to_string(b) + " elements is too large");
  return r;
}

Shape checked_shape(const std::vector<int64_t>& dims, const std::string& what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(what + ": negative dimension in " + dims_str(dims));
    if (d && n) {
      int64_t r;
      if (__builtin_mul_overflow(n, d, &r) || r > (int64_t{1} << 62))
        throw Error(what + ": shape " + dims_str(dims) + " has too many elements");
      n = r;
    } else {
      n = 0;
    }
  }
  return Shape::from(dims);
}

Dim dim_product(const Shape& s, size_t lo, size_t hi) {
  Dim p(1);
  for (size_t i = lo; i < hi; ++i) {
    if (s[i].known() && s[i].value() == 0) return Dim(0);  // an empty dim empties the product, symbols or not
    p = p * s[i];
  }
  return p;
}

}  // namespace vdrt
