// CPU kernel of Pad (constant, reflect, edge, wrap; negative pads crop). Each
// axis gets a table mapping output to input coordinates (-1 = constant), so
// the four modes differ only in how the table is built; rows are then filled
// with one memcpy for their in-range middle and element copies at the edges.
#include "graph/ops/pad_params.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

enum class Mode { Constant, Reflect, Edge, Wrap };

Mode mode_of(const std::string& m) {
  if (m == "constant") return Mode::Constant;
  if (m == "reflect") return Mode::Reflect;
  if (m == "edge") return Mode::Edge;
  if (m == "wrap") return Mode::Wrap;
  throw Error("Pad mode must be constant, reflect, edge or wrap, got '" + m + "'");
}

// Input coordinate read for output coordinate o along an axis of size n
// padded by `begin` in front; -1 selects the constant.
int64_t source_index(int64_t o, int64_t begin, int64_t n, Mode mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case Mode::Constant: return -1;
    case Mode::Edge: return i < 0 ? 0 : n - 1;
    case Mode::Wrap: return ((i % n) + n) % n;
    case Mode::Reflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);  // reflection without repeating the edge element
      int64_t m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

void pad_kernel(KernelContext& ctx) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const Mode mode = mode_of(ctx.attrs.get_string("mode", "constant"));
  const size_t r = in.rank(), es = dtype_size(in.dtype);
  std::vector<int64_t> pads =
      ctx.opset < 11 ? ctx.attrs.get_ints("pads") : ctx.in(1).to_int64();
  std::vector<int64_t> axes = ctx.has(3) ? ctx.in(3).to_int64() : std::vector<int64_t>{};
  PadAmounts p = resolve_pads(r, pads, axes);
  VDRT_CHECK(padded_dims(in.dims, p) == out.dims, "Pad output shape does not match the pads");

  // The constant in the data's type.
  std::vector<uint8_t> value(es, 0);
  if (ctx.opset < 11) {
    Tensor v = Tensor::scalar<float>(ctx.attrs.get_float("value", 0.0f)).to(in.dtype);
    std::memcpy(value.data(), v.raw(), es);
  } else if (ctx.has(2) && ctx.in(2).numel() > 0) {
    VDRT_CHECK(ctx.in(2).dtype == in.dtype, "Pad constant_value must have the data's type");
    std::memcpy(value.data(), ctx.in(2).data, es);
  }
  if (out.numel() == 0) return;
  if (r == 0) return std::memcpy(out.data, in.data, es), void();

  std::vector<std::vector<int64_t>> map(r);
  for (size_t a = 0; a < r; ++a) {
    VDRT_CHECK(in.dims[a] > 0 || mode == Mode::Constant || out.dims[a] == 0,
               "Pad mode cannot pad the empty axis " + std::to_string(a) + " of " + dims_str(in.dims));
    map[a].resize(out.dims[a]);
    for (int64_t o = 0; o < out.dims[a]; ++o) map[a][o] = source_index(o, p.begin[a], in.dims[a], mode);
  }
  const std::vector<int64_t> is = contiguous_strides(in.dims);
  const int64_t cols = out.dims[r - 1];
  const std::vector<int64_t>& last = map[r - 1];
  // The run of output columns that read consecutive input columns.
  const int64_t lo = std::clamp<int64_t>(p.begin[r - 1], 0, cols);
  const int64_t hi = std::clamp<int64_t>(p.begin[r - 1] + in.dims[r - 1], lo, cols);
  const int64_t rows = out.numel() / cols;
  const auto* src = static_cast<const uint8_t*>(in.data);
  auto* dst = static_cast<uint8_t*>(out.data);
  parallel_rows(rows, cols * static_cast<int64_t>(es), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      uint8_t* d = dst + row * cols * static_cast<int64_t>(es);
      int64_t off = 0;
      bool outside = false;
      for (int64_t a = static_cast<int64_t>(r) - 2, rem = row; a >= 0; --a) {
        const int64_t i = map[a][rem % out.dims[a]];
        rem /= out.dims[a];
        if (i < 0) { outside = true; break; }
        off += i * is[a];
      }
      if (outside) {
        fill_elements(d, cols, value.data(), es);
        continue;
      }
      const uint8_t* s = src + off * static_cast<int64_t>(es);
      for (int64_t c = 0; c < lo; ++c)
        std::memcpy(d + c * es, last[c] < 0 ? value.data() : s + last[c] * es, es);
      if (hi > lo) std::memcpy(d + lo * es, s + last[lo] * es, static_cast<size_t>(hi - lo) * es);
      for (int64_t c = hi; c < cols; ++c)
        std::memcpy(d + c * es, last[c] < 0 ? value.data() : s + last[c] * es, es);
    }
  });
}

}  // namespace

VDRT_CPU_KERNEL("", "Pad", pad_kernel);

}  // namespace vdrt::cpu
