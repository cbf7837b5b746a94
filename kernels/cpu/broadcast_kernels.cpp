// CPU kernels of Expand, Tile and Where: outputs built by repeating inputs.
// Expand and Tile are strided copies with zero strides (Tile views the output
// as [r0, d0, r1, d1, ...]); Where walks three broadcast operands at once.
#include <type_traits>

#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

// Element strides of `in` broadcast (numpy rules, right-aligned) to `out`.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out) {
  VDRT_CHECK(in.size() <= out.size(), "cannot broadcast " + dims_str(in) + " to " + dims_str(out));
  std::vector<int64_t> s(out.size(), 0);
  const std::vector<int64_t> cs = contiguous_strides(in);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) {
    VDRT_CHECK(in[i] == out[off + i] || in[i] == 1, "cannot broadcast " + dims_str(in) + " to " + dims_str(out));
    s[off + i] = in[i] == 1 ? 0 : cs[i];
  }
  return s;
}

void expand_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  strided_copy(dtype_size(in.dtype), out.dims, in.data, broadcast_strides(in.dims, out.dims), out.data,
               contiguous_strides(out.dims));
}

void tile_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const std::vector<int64_t> reps = ctx.in(1).to_int64();
  VDRT_CHECK(reps.size() == in.rank(), "Tile repeats must have one entry per input dim");
  const std::vector<int64_t> is = contiguous_strides(in.dims);
  std::vector<int64_t> dims, src;
  for (size_t i = 0; i < in.rank(); ++i) {
    VDRT_CHECK(reps[i] >= 0 && out.dims[i] == in.dims[i] * reps[i], "Tile output does not match the repeats");
    dims.insert(dims.end(), {reps[i], in.dims[i]});
    src.insert(src.end(), {0, is[i]});
  }
  strided_copy(dtype_size(in.dtype), dims, in.data, src, out.data, contiguous_strides(dims));
}

void where_kernel(KernelContext& ctx) {
  const TensorView &c = ctx.in(0), &x = ctx.in(1), &y = ctx.in(2);
  TensorView& out = ctx.out(0);
  VDRT_CHECK(c.dtype == DType::Bool && x.dtype == y.dtype && x.dtype == out.dtype, "Where operand types do not fit");
  // Strides of the three operands over the output, then merge dims that all
  // three step through contiguously so the inner loop is as long as possible.
  std::vector<std::vector<int64_t>> st{broadcast_strides(c.dims, out.dims), broadcast_strides(x.dims, out.dims),
                                       broadcast_strides(y.dims, out.dims)};
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> ms(3);
  for (size_t i = out.rank(); i-- > 0;) {
    if (out.dims[i] == 1) continue;
    bool merge = !dims.empty();
    for (int k = 0; merge && k < 3; ++k) merge = st[k][i] == ms[k].back() * dims.back();
    if (merge) {
      dims.back() *= out.dims[i];
      continue;
    }
    dims.push_back(out.dims[i]);
    for (int k = 0; k < 3; ++k) ms[k].push_back(st[k][i]);
  }
  if (out.numel() == 0) return;
  if (dims.empty()) {
    dims.push_back(1);
    for (auto& m : ms) m.push_back(0);
  }
  std::reverse(dims.begin(), dims.end());
  for (auto& m : ms) std::reverse(m.begin(), m.end());
  const int64_t inner = dims.back(), rows = out.numel() / inner;
  const int64_t cs = ms[0].back(), xs = ms[1].back(), ys = ms[2].back();
  const auto* cond = static_cast<const uint8_t*>(c.data);
  const size_t es = dtype_size(out.dtype);
  with_uint_of_size(es, [&]<typename T>() {
    const T* xp = static_cast<const T*>(x.data);
    const T* yp = static_cast<const T*>(y.data);
    T* o = static_cast<T*>(out.data);
    // Inner strides are almost always 0 (broadcast) or 1; constant strides
    // and a mask instead of a branch (random conditions mispredict half the
    // time) let the compiler turn the select into vector blends.
    auto select_row = [&](T* orow, const uint8_t* cr, const T* xr, const T* yr) {
      auto loop = [&](auto cstep, auto xstep, auto ystep) {
        for (int64_t j = 0; j < inner; ++j) {
          const T mask = static_cast<T>(0) - static_cast<T>(cr[j * cstep] != 0);
          orow[j] = static_cast<T>((xr[j * xstep] & mask) | (yr[j * ystep] & ~mask));
        }
      };
      using Z = std::integral_constant<int64_t, 0>;
      using O = std::integral_constant<int64_t, 1>;
      if (cs == 1 && xs == 1 && ys == 1) loop(O{}, O{}, O{});
      else if (cs == 1 && xs == 1 && ys == 0) loop(O{}, O{}, Z{});
      else if (cs == 1 && xs == 0 && ys == 1) loop(O{}, Z{}, O{});
      else if (cs == 0 && xs == 1 && ys == 1) loop(Z{}, O{}, O{});
      else loop(cs, xs, ys);
    };
    parallel_rows(rows, inner * static_cast<int64_t>(es), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t oc = 0, ox = 0, oy = 0;
        for (int64_t i = static_cast<int64_t>(dims.size()) - 2, rem = r; i >= 0; --i) {
          const int64_t q = rem % dims[i];
          rem /= dims[i];
          oc += q * ms[0][i];
          ox += q * ms[1][i];
          oy += q * ms[2][i];
        }
        select_row(o + r * inner, cond + oc, xp + ox, yp + oy);
      }
    });
  });
}

}  // namespace

VDRT_CPU_KERNEL("", "Expand", expand_kernel);
VDRT_CPU_KERNEL("", "Tile", tile_kernel);
VDRT_CPU_KERNEL("", "Where", where_kernel);

}  // namespace vdrt::cpu
