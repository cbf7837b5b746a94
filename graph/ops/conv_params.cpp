#include "graph/ops/conv_params.h"

#include <string>

#include "graph/error.h"

namespace vdrt {
namespace {

std::vector<int64_t> per_axis(const AttributeMap& attrs, const char* name, size_t n, int64_t fallback, size_t times = 1) {
  std::vector<int64_t> v = attrs.get_ints(name, std::vector<int64_t>(n * times, fallback));
  if (v.size() != n * times)
    throw Error(std::string(name) + " has " + std::to_string(v.size()) + " values, expected " +
                std::to_string(n * times) + " for " + std::to_string(n) + " spatial dims");
  return v;
}

// Fills kernel, stride, dilation and explicit pads shared by both ops.
std::vector<ConvAxis> base_axes(const AttributeMap& attrs, size_t n, const std::vector<int64_t>& weight_kernel) {
  // A negative kernel size means "unknown" (symbolic weight shape).
  if (weight_kernel.size() != n)
    throw Error("the weight has " + std::to_string(weight_kernel.size()) + " spatial dims, the input " +
                std::to_string(n));
  std::vector<int64_t> kernel = attrs.has("kernel_shape") ? per_axis(attrs, "kernel_shape", n, 1) : weight_kernel;
  const auto strides = per_axis(attrs, "strides", n, 1), dilations = per_axis(attrs, "dilations", n, 1);
  const auto pads = per_axis(attrs, "pads", n, 0, 2);
  std::vector<ConvAxis> axes(n);
  for (size_t i = 0; i < n; ++i) {
    if (weight_kernel[i] >= 0 && kernel[i] >= 0 && kernel[i] != weight_kernel[i])
      throw Error("kernel_shape does not match the weight's spatial dims");
    if ((attrs.has("kernel_shape") ? kernel[i] < 1 : kernel[i] == 0) || strides[i] < 1 || dilations[i] < 1)
      throw Error("kernel sizes, strides and dilations must be positive");
    if (pads[i] < 0 || pads[i + n] < 0) throw Error("pads must not be negative");
    axes[i] = ConvAxis{kernel[i], strides[i], dilations[i], pads[i], pads[i + n], -1};
  }
  return axes;
}

std::string auto_pad_of(const AttributeMap& attrs) {
  const std::string mode = attrs.get_string("auto_pad", "NOTSET");
  if (mode != "NOTSET" && mode != "SAME_UPPER" && mode != "SAME_LOWER" && mode != "VALID")
    throw Error("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '" + mode + "'");
  return mode;
}

}  // namespace

std::vector<ConvAxis> conv_axes(const AttributeMap& attrs, const std::vector<int64_t>& in,
                                const std::vector<int64_t>& weight_kernel) {
  std::vector<ConvAxis> axes = base_axes(attrs, in.size(), weight_kernel);
  const std::string mode = auto_pad_of(attrs);
  for (size_t i = 0; i < in.size(); ++i) {
    ConvAxis& a = axes[i];
    const int64_t extent = (a.kernel - 1) * a.dilation + 1;
    if (mode == "VALID") a.pad_begin = a.pad_end = 0;
    if (in[i] < 0 || a.kernel < 0) continue;  // unknown sizes: unknown output
    if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      a.out = (in[i] + a.stride - 1) / a.stride;
      const int64_t total = std::max<int64_t>(0, (a.out - 1) * a.stride + extent - in[i]);
      a.pad_begin = mode == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
      continue;
    }
    const int64_t span = in[i] + a.pad_begin + a.pad_end - extent;
    if (span < 0)
      throw Error("the kernel (extent " + std::to_string(extent) + ") is larger than the padded input (" +
                  std::to_string(in[i] + a.pad_begin + a.pad_end) + ")");
    a.out = span / a.stride + 1;
  }
  return axes;
}

std::vector<ConvAxis> conv_transpose_axes(const AttributeMap& attrs, const std::vector<int64_t>& in,
                                          const std::vector<int64_t>& weight_kernel) {
  const size_t n = in.size();
  std::vector<ConvAxis> axes = base_axes(attrs, n, weight_kernel);
  const std::string mode = auto_pad_of(attrs);
  const auto out_pad = per_axis(attrs, "output_padding", n, 0);
  std::vector<int64_t> out_shape;
  if (attrs.has("output_shape")) {
    out_shape = attrs.get_ints("output_shape");
    // output_shape may list the full output shape [N, C, ...]; keep the spatial part.
    if (out_shape.size() == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    if (out_shape.size() != n) throw Error("output_shape must have one value per spatial dim");
  }
  const bool explicit_pads = attrs.has("pads") || (mode != "SAME_UPPER" && mode != "SAME_LOWER");
  for (size_t i = 0; i < n; ++i) {
    ConvAxis& a = axes[i];
    if (mode == "VALID") a.pad_begin = a.pad_end = 0;
    if (out_pad[i] < 0 || (out_pad[i] >= a.stride && out_pad[i] >= a.dilation))
      throw Error("output_padding must be smaller than the stride or the dilation");
    if (in[i] < 0 || a.kernel < 0) continue;
    const int64_t full = a.stride * (in[i] - 1) + out_pad[i] + (a.kernel - 1) * a.dilation + 1;
    if (explicit_pads) {
      a.out = out_shape.empty() ? full - a.pad_begin - a.pad_end : out_shape[i];
    } else {
      // SAME_*: the output is input * stride (or output_shape) and the
      // difference is split, the odd element going to the end (SAME_UPPER)
      // or the beginning (SAME_LOWER).
      a.out = out_shape.empty() ? in[i] * a.stride : out_shape[i];
      const int64_t total = full - a.out;
      const int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);  // floor(total / 2)
      a.pad_begin = mode == "SAME_UPPER" ? half : total - half;
      a.pad_end = total - a.pad_begin;
    }
    if (a.out < 1) throw Error("ConvTranspose output size would be " + std::to_string(a.out));
  }
  return axes;
}

}  // namespace vdrt
