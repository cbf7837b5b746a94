// CPU kernel of Resize (opsets 10-19) and Upsample. Interpolation is
// separable, so each resized axis gets a table of taps (source indices and
// weights per output coordinate) built once with the ONNX coordinate rules,
// and the tensor is resampled one axis at a time, in the order that moves
// the least data. Nearest mode needs no arithmetic: it is a
// gather with one index table per axis and works on raw bytes of any dtype.
// Works for any rank, e.g. 5-D [B, C, T, H, W] video with temporal scaling.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "graph/ops/resize_params.h"
#include "kernels/cpu/kernel.h"
#include "kernels/cpu/strided_copy.h"

namespace vdrt::cpu {
namespace {

std::vector<double> to_doubles(const TensorView& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype) {
      case DType::F32: v[i] = static_cast<const float*>(t.data)[i]; break;
      case DType::F64: v[i] = static_cast<const double*>(t.data)[i]; break;
      case DType::F16: v[i] = half_to_float(static_cast<const uint16_t*>(t.data)[i]); break;
      case DType::BF16: v[i] = bf16_to_float(static_cast<const uint16_t*>(t.data)[i]); break;
      default: throw Error(std::string("Resize expects float roi/scales, got ") + dtype_name(t.dtype));
    }
  }
  return v;
}

// Where output coordinate o of one axis samples the input (ONNX
// coordinate_transformation_mode), in input coordinates.
struct AxisGeometry {
  int64_t n_in, n_out;
  double scale;
  double roi_start = 0, roi_end = 1;
};

double source_coordinate(const std::string& mode, const AxisGeometry& g, int64_t o) {
  const double x = static_cast<double>(o), in = static_cast<double>(g.n_in);
  const double out_width = g.scale * in;  // the reference uses the unrounded width
  if (mode == "half_pixel") return (x + 0.5) / g.scale - 0.5;
  if (mode == "asymmetric") return x / g.scale;
  if (mode == "pytorch_half_pixel") return out_width == 1 ? -0.5 : (x + 0.5) / g.scale - 0.5;
  if (mode == "align_corners") return out_width == 1 ? 0.0 : x * (in - 1) / (out_width - 1);
  if (mode == "tf_half_pixel_for_nn") return (x + 0.5) / g.scale;
  if (mode == "half_pixel_symmetric") {
    const double adjustment = static_cast<double>(g.n_out) / out_width;
    const double offset = in / 2 * (1 - adjustment);
    return offset + (x + 0.5) / g.scale - 0.5;
  }
  // tf_crop_and_resize: positions spread over the region of interest.
  const double span = (g.roi_end - g.roi_start) * (in - 1);
  const double base = g.roi_start * (in - 1);
  return base + (out_width == 1 ? span / 2 : x * span / (out_width - 1));
}

bool outside_roi(const std::string& mode, const AxisGeometry& g, double x) {
  return mode == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(g.n_in - 1));
}

int64_t nearest_index(const std::string& nm, double x, double scale, int64_t n_in) {
  double r;
  if (x == std::floor(x)) r = x;
  else if (nm == "round_prefer_floor") r = std::ceil(x - 0.5);
  else if (nm == "round_prefer_ceil") r = std::floor(x + 0.5);
  else if (nm == "floor") r = std::floor(x);
  else if (nm == "ceil") r = std::ceil(x);
  else r = scale < 1 ? std::ceil(x) : std::floor(x);  // "simple": Upsample and Resize-10
  return static_cast<int64_t>(std::clamp(r, 0.0, static_cast<double>(n_in - 1)));
}

// Interpolation taps of one axis: for output o, `taps` source indices and
// weights starting at o * taps; `outside[o]` selects the extrapolation value.
struct Taps {
  int64_t n_in = 0, n_out = 0, taps = 0;
  std::vector<int64_t> idx;
  std::vector<double> w;
  std::vector<uint8_t> outside;
};

double cubic_weight(double d, double a) {
  d = std::fabs(d);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
  return 0;
}

Taps build_taps(const ResizeAttrs& at, const AxisGeometry& g) {
  const bool cubic = at.mode == "cubic";
  // Antialiasing widens the filter by 1/scale when downsampling.
  const double s = at.antialias ? std::min(g.scale, 1.0) : 1.0;
  const int64_t start = static_cast<int64_t>(std::floor((cubic ? -2.0 : -1.0) / s)) + 1;
  Taps t;
  t.n_in = g.n_in;
  t.n_out = g.n_out;
  t.taps = 2 - 2 * start;
  t.idx.resize(g.n_out * t.taps);
  t.w.resize(g.n_out * t.taps);
  t.outside.assign(g.n_out, 0);
  for (int64_t o = 0; o < g.n_out; ++o) {
    const double x = source_coordinate(at.coord, g, o);
    if (outside_roi(at.coord, g, x)) t.outside[o] = 1;
    // The window sits left of x; an integral x counts as the right end of
    // its left neighbour's interval (the reference's ratio = 1 convention).
    const double fl = std::floor(x);
    const int64_t base = static_cast<int64_t>(x == fl ? fl - 1 : fl) + start;
    double sum = 0;
    int64_t* ix = &t.idx[o * t.taps];
    double* wx = &t.w[o * t.taps];
    for (int64_t j = 0; j < t.taps; ++j) {
      const int64_t p = base + j;
      const double d = (static_cast<double>(p) - x) * s;
      double w = cubic ? cubic_weight(d, at.cubic_a) : std::max(0.0, 1 - std::fabs(d));
      if (at.exclude_outside && (p < 0 || p >= g.n_in)) w = 0;
      ix[j] = std::clamp<int64_t>(p, 0, g.n_in - 1);
      wx[j] = w;
      sum += w;
    }
    if ((at.antialias || at.exclude_outside) && sum != 0)
      for (int64_t j = 0; j < t.taps; ++j) wx[j] /= sum;
  }
  return t;
}

// Resampling the innermost axis: each output element gathers `k` scattered
// inputs, so whole lines are done in a tight loop per line (with 2 and 4 taps
// unrolled) instead of paying row bookkeeping per element.
template <typename C, int K>
void resample_lines(const C* src, C* dst, int64_t lines, const Taps& t, const C* w, int64_t k) {
  const int64_t n_in = t.n_in, n_out = t.n_out;
  const int64_t* idx = t.idx.data();
  parallel_rows(lines, n_out * k * static_cast<int64_t>(sizeof(C)), [&](int64_t b, int64_t e) {
    for (int64_t line = b; line < e; ++line) {
      const C* s = src + line * n_in;
      C* d = dst + line * n_out;
      for (int64_t o = 0; o < n_out; ++o) {
        const int64_t* ix = idx + o * k;
        const C* wx = w + o * k;
        C acc;
        if constexpr (K == 2) {
          acc = wx[0] * s[ix[0]] + wx[1] * s[ix[1]];
        } else if constexpr (K == 4) {
          acc = wx[0] * s[ix[0]] + wx[1] * s[ix[1]] + wx[2] * s[ix[2]] + wx[3] * s[ix[3]];
        } else {
          acc = 0;
          for (int64_t j = 0; j < k; ++j) acc += wx[j] * s[ix[j]];
        }
        d[o] = acc;
      }
    }
  });
}

// Resamples axis `a` of `src` (dims) into `dst` with the taps, in type C.
template <typename C>
void resample_axis(const C* src, C* dst, const std::vector<int64_t>& dims, size_t a, const Taps& t, C extrap) {
  const int64_t outer = std::accumulate(dims.begin(), dims.begin() + a, int64_t{1}, std::multiplies<>());
  const int64_t inner = std::accumulate(dims.begin() + a + 1, dims.end(), int64_t{1}, std::multiplies<>());
  const int64_t k = t.taps;
  std::vector<C> w(t.w.begin(), t.w.end());
  if (inner == 1) {
    if (k == 2) resample_lines<C, 2>(src, dst, outer, t, w.data(), k);
    else if (k == 4) resample_lines<C, 4>(src, dst, outer, t, w.data(), k);
    else resample_lines<C, 0>(src, dst, outer, t, w.data(), k);
    if (std::find(t.outside.begin(), t.outside.end(), 1) != t.outside.end())
      for (int64_t line = 0; line < outer; ++line)
        for (int64_t o = 0; o < t.n_out; ++o)
          if (t.outside[o]) dst[line * t.n_out + o] = extrap;
    return;
  }
  // Other axes blend whole contiguous rows of `inner` elements (vectorised).
  parallel_rows(outer * t.n_out, inner * k * static_cast<int64_t>(sizeof(C)), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t o = row % t.n_out;
      C* d = dst + row * inner;
      if (t.outside[o]) {
        std::fill_n(d, inner, extrap);
        continue;
      }
      const C* s = src + (row / t.n_out) * t.n_in * inner;
      const int64_t* ix = &t.idx[o * k];
      const C* wx = &w[o * k];
      const C* s0 = s + ix[0] * inner;
      for (int64_t i = 0; i < inner; ++i) d[i] = wx[0] * s0[i];
      for (int64_t j = 1; j < k; ++j) {
        if (wx[j] == 0) continue;
        const C* sj = s + ix[j] * inner;
        const C wj = wx[j];
        for (int64_t i = 0; i < inner; ++i) d[i] += wj * sj[i];
      }
    }
  });
}

// Element conversion to and from the compute type; integers round half to
// even and saturate, as the reference's saturate_cast does.
template <typename C>
void load_all(const TensorView& t, C* out) {
  const int64_t n = t.numel();
  const void* p = t.data;
  parallel_rows(n, 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      switch (t.dtype) {
        case DType::F32: out[i] = static_cast<C>(static_cast<const float*>(p)[i]); break;
        case DType::F64: out[i] = static_cast<C>(static_cast<const double*>(p)[i]); break;
        case DType::F16: out[i] = half_to_float(static_cast<const uint16_t*>(p)[i]); break;
        case DType::BF16: out[i] = bf16_to_float(static_cast<const uint16_t*>(p)[i]); break;
        case DType::I8: out[i] = static_cast<const int8_t*>(p)[i]; break;
        case DType::U8: out[i] = static_cast<const uint8_t*>(p)[i]; break;
        case DType::I16: out[i] = static_cast<const int16_t*>(p)[i]; break;
        case DType::I32: out[i] = static_cast<C>(static_cast<const int32_t*>(p)[i]); break;
        case DType::I64: out[i] = static_cast<C>(static_cast<const int64_t*>(p)[i]); break;
        default: throw Error(std::string("Resize does not handle ") + dtype_name(t.dtype));
      }
    }
  });
}

template <typename I>
I saturate_round(double x) {
  if (std::isnan(x)) return 0;
  x = std::nearbyint(x);
  constexpr double lo = static_cast<double>(std::numeric_limits<I>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (x <= lo) return std::numeric_limits<I>::min();
  if (x >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(x);
}

void store_one(DType t, void* p, int64_t i, double x) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = static_cast<float>(x); break;
    case DType::F64: static_cast<double*>(p)[i] = x; break;
    case DType::F16: static_cast<uint16_t*>(p)[i] = float_to_half(static_cast<float>(x)); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(static_cast<float>(x)); break;
    case DType::I8: static_cast<int8_t*>(p)[i] = saturate_round<int8_t>(x); break;
    case DType::U8: static_cast<uint8_t*>(p)[i] = saturate_round<uint8_t>(x); break;
    case DType::I16: static_cast<int16_t*>(p)[i] = saturate_round<int16_t>(x); break;
    case DType::I32: static_cast<int32_t*>(p)[i] = saturate_round<int32_t>(x); break;
    case DType::I64: static_cast<int64_t*>(p)[i] = saturate_round<int64_t>(x); break;
    default: throw Error(std::string("Resize does not handle ") + dtype_name(t));
  }
}

// The order of the separable passes changes the work, not the result (up to
// rounding): each pass costs its output size times its taps, and a pass on
// the innermost axis gathers scattered inputs, which costs about three times
// a pass that blends contiguous rows. Tries every order (at most 5! for 5-D).
std::vector<size_t> cheapest_order(std::vector<size_t> axes, const std::vector<AxisGeometry>& geo, int taps) {
  std::sort(axes.begin(), axes.end());
  const size_t last = geo.size() - 1;
  std::vector<size_t> best = axes;
  double best_cost = -1;
  do {
    std::vector<int64_t> dims;
    for (const auto& g : geo) dims.push_back(g.n_in);
    double cost = 0;
    for (size_t a : axes) {
      dims[a] = geo[a].n_out;
      double n = 1;
      for (int64_t d : dims) n *= static_cast<double>(d);
      cost += n * taps * (a == last ? 3.0 : 1.0);
    }
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = axes;
    }
  } while (std::next_permutation(axes.begin(), axes.end()));
  return best;
}

template <typename C>
void interpolate(const TensorView& in, TensorView& out, const ResizeAttrs& at, std::vector<AxisGeometry> geo) {
  // Axes that actually change, resampled in the cheapest order.
  std::vector<size_t> order;
  for (size_t a = 0; a < geo.size(); ++a) {
    const AxisGeometry& g = geo[a];
    const bool identity = g.n_in == g.n_out && std::fabs(g.scale - 1) <= 1e-9 &&
                          (at.coord != "tf_crop_and_resize" || (g.roi_start == 0 && g.roi_end == 1));
    if (!identity) order.push_back(a);
  }
  order = cheapest_order(order, geo, at.mode == "cubic" ? 4 : 2);
  const C extrap = static_cast<C>(at.extrapolation_value);
  const bool native = in.dtype == DTypeOf<C>::value;
  std::vector<C> a_buf, b_buf;
  const C* cur = static_cast<const C*>(in.data);
  if (!native) {
    a_buf.resize(in.numel());
    load_all(in, a_buf.data());
    cur = a_buf.data();
  }
  std::vector<int64_t> dims = in.dims;
  for (size_t step = 0; step < order.size(); ++step) {
    const size_t a = order[step];
    Taps t = build_taps(at, geo[a]);
    std::vector<int64_t> next = dims;
    next[a] = geo[a].n_out;
    C* dst;
    if (step + 1 == order.size() && native) {
      dst = static_cast<C*>(out.data);
    } else {
      std::vector<C>& buf = cur == b_buf.data() ? a_buf : b_buf;
      buf.assign(vdrt::numel(next), C(0));
      dst = buf.data();
    }
    resample_axis(cur, dst, dims, a, t, extrap);
    cur = dst;
    dims = next;
  }
  if (cur == out.data) return;
  if (native) return parallel_memcpy(out.data, cur, out.nbytes());
  parallel_rows(out.numel(), 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) store_one(out.dtype, out.data, i, static_cast<double>(cur[i]));
  });
}

void nearest(const TensorView& in, TensorView& out, const ResizeAttrs& at, const std::vector<AxisGeometry>& geo) {
  const size_t r = in.rank(), es = dtype_size(in.dtype);
  std::vector<std::vector<int64_t>> map(r);  // -1: extrapolated
  for (size_t a = 0; a < r; ++a) {
    map[a].resize(geo[a].n_out);
    for (int64_t o = 0; o < geo[a].n_out; ++o) {
      const double x = source_coordinate(at.coord, geo[a], o);
      map[a][o] = outside_roi(at.coord, geo[a], x) ? -1 : nearest_index(at.nearest_mode, x, geo[a].scale, geo[a].n_in);
    }
  }
  std::vector<uint8_t> value(es);
  store_one(in.dtype, value.data(), 0, at.extrapolation_value);
  const std::vector<int64_t> is = contiguous_strides(in.dims);
  const int64_t cols = out.dims[r - 1], rows = out.numel() / cols;
  const std::vector<int64_t>& last = map[r - 1];
  bool last_identity = geo[r - 1].n_in == cols;
  for (int64_t c = 0; last_identity && c < cols; ++c) last_identity = last[c] == c;
  const auto* src = static_cast<const uint8_t*>(in.data);
  auto* dst = static_cast<uint8_t*>(out.data);
  const size_t row_bytes = static_cast<size_t>(cols) * es;
  parallel_rows(rows, static_cast<int64_t>(row_bytes), [&](int64_t b, int64_t e) {
    int64_t prev_off = -2;
    for (int64_t row = b; row < e; ++row) {
      uint8_t* d = dst + row * static_cast<int64_t>(row_bytes);
      int64_t off = 0;
      for (int64_t a = static_cast<int64_t>(r) - 2, rem = row; a >= 0; --a) {
        const int64_t i = map[a][rem % out.dims[a]];
        rem /= out.dims[a];
        if (i < 0) { off = -1; break; }
        off += i * is[a];
      }
      if (off == prev_off) {  // upsampled rows repeat the row before
        std::memcpy(d, d - row_bytes, row_bytes);
        continue;
      }
      prev_off = off;
      if (off < 0) {
        fill_elements(d, cols, value.data(), es);
        continue;
      }
      const uint8_t* s = src + off * static_cast<int64_t>(es);
      if (last_identity) {
        std::memcpy(d, s, row_bytes);
        continue;
      }
      const bool typed = with_uint_of_size(es, [&]<typename T>() {
        const T* st = reinterpret_cast<const T*>(s);
        T* dt = reinterpret_cast<T*>(d);
        const T v = *reinterpret_cast<const T*>(value.data());
        for (int64_t c = 0; c < cols; ++c) dt[c] = last[c] < 0 ? v : st[last[c]];
      });
      if (!typed)
        for (int64_t c = 0; c < cols; ++c) std::memcpy(d + c * es, last[c] < 0 ? value.data() : s + last[c] * es, es);
    }
  });
}

void run_resize(KernelContext& ctx, bool upsample) {
  const TensorView& in = ctx.in(0);
  TensorView& out = ctx.out(0);
  const ResizeAttrs at = resize_attrs(ctx.attrs, ctx.opset, upsample);
  const size_t scales_at = upsample || ctx.opset < 11 ? 1 : 2;
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  if (upsample && ctx.attrs.has("scales")) scales = ctx.attrs.get_floats("scales");
  else if (ctx.has(scales_at))
    for (double v : to_doubles(ctx.in(scales_at))) scales.push_back(static_cast<float>(v));
  if (scales_at == 2 && ctx.has(3)) sizes = ctx.in(3).to_int64();
  const ResizePlan plan = plan_resize(in.dims, scales, sizes, at.axes, at.policy);
  VDRT_CHECK(plan.out_dims == out.dims, "Resize output " + dims_str(out.dims) + " does not match the planned " +
                                            dims_str(plan.out_dims));
  const size_t r = in.rank();
  std::vector<AxisGeometry> geo(r);
  for (size_t a = 0; a < r; ++a) geo[a] = AxisGeometry{in.dims[a], out.dims[a], plan.scales[a]};
  if (at.coord == "tf_crop_and_resize") {
    VDRT_CHECK(ctx.has(1), "Resize tf_crop_and_resize needs roi");
    const std::vector<double> roi = to_doubles(ctx.in(1));
    const size_t n = plan.axes.size();
    VDRT_CHECK(roi.size() == 2 * n, "Resize roi has " + std::to_string(roi.size()) + " values, expected " +
                                        std::to_string(2 * n));
    for (size_t i = 0; i < n; ++i) {
      geo[plan.axes[i]].roi_start = roi[i];
      geo[plan.axes[i]].roi_end = roi[n + i];
    }
  }
  if (out.numel() == 0) return;
  VDRT_CHECK(in.numel() > 0, "Resize cannot sample an empty input into " + dims_str(out.dims));
  if (r == 0) return std::memcpy(out.data, in.data, dtype_size(in.dtype)), void();
  if (at.mode == "nearest") return nearest(in, out, at, geo);
  if (in.dtype == DType::F64) return interpolate<double>(in, out, at, geo);
  interpolate<float>(in, out, at, geo);
}

}  // namespace

VDRT_CPU_KERNEL_IF("", "Resize", [](KernelContext& ctx) { run_resize(ctx, false); },
                   [](const AttributeMap&, const std::vector<DType>& dts, int64_t) {
                     return !dts.empty() && (is_float(dts[0]) || is_integer(dts[0])) && dts[0] != DType::F8E4M3 &&
                            dts[0] != DType::F8E5M2;
                   });
VDRT_CPU_KERNEL("", "Upsample", [](KernelContext& ctx) { run_resize(ctx, true); });

}  // namespace vdrt::cpu
