#pragma once
// Per-axis geometry of Conv and ConvTranspose from their attributes
// (kernel_shape, strides, dilations, pads, auto_pad, output_padding,
// output_shape), shared by the shape functions and the CPU kernels so both
// agree on padding and output sizes. Throws vdrt::Error on bad attributes.
#include <cstdint>
#include <vector>

#include "graph/attribute.h"

namespace vdrt {

struct ConvAxis {
  int64_t kernel = 1, stride = 1, dilation = 1;
  int64_t pad_begin = 0, pad_end = 0;
  int64_t out = -1;  // -1 when the input size is unknown
};

// `in` holds the input's spatial sizes (-1 = unknown), `weight_kernel` the
// weight's spatial sizes (-1 = unknown). The result has one entry per axis.
std::vector<ConvAxis> conv_axes(const AttributeMap& attrs, const std::vector<int64_t>& in,
                                const std::vector<int64_t>& weight_kernel);
std::vector<ConvAxis> conv_transpose_axes(const AttributeMap& attrs, const std::vector<int64_t>& in,
                                          const std::vector<int64_t>& weight_kernel);

}  // namespace vdrt
