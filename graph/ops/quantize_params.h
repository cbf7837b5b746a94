#pragma once
// How QuantizeLinear/DequantizeLinear map each element of x to its scale and
// zero point. Shared by the shape functions (which validate) and the CPU
// kernels (which index), so both read the attributes the same way.
//
// x is viewed as [outer, D, inner] around `axis`; the scale is a scalar
// (per tensor), a 1-D [D] (per axis) or x's shape with D replaced by
// ceil(D / block_size) (blocked, opset 21+).
#include <cstdint>
#include <vector>

#include "graph/attribute.h"
#include "graph/dtype.h"

namespace vdrt {

struct QuantLayout {
  enum class Kind { PerTensor, PerAxis, Blocked } kind = Kind::PerTensor;
  int64_t outer = 1, dim = 1, inner = 1;  // x as [outer, dim, inner]
  int64_t block = 1;                      // blocked: elements of `dim` per scale
  int64_t scale_dim = 1;                  // blocked: ceil(dim / block)

  // Index into the scale (and zero point) of x's flat element i.
  int64_t scale_index(int64_t i) const {
    switch (kind) {
      case Kind::PerTensor: return 0;
      case Kind::PerAxis: return (i / inner) % dim;
      case Kind::Blocked: {
        const int64_t o = i / (dim * inner), d = (i / inner) % dim, in = i % inner;
        return (o * scale_dim + d / block) * inner + in;
      }
    }
    return 0;
  }
};

// Validates the scale's shape against x's; throws vdrt::Error naming what
// does not fit. `op` names the op in messages.
QuantLayout quant_layout(const std::vector<int64_t>& x_dims, const std::vector<int64_t>& scale_dims,
                         const AttributeMap& attrs, const char* op);

// The dtype QuantizeLinear produces: the zero point's when given, else the
// output_dtype attribute (opset 21+), else uint8. `zero_point` is Undefined
// when absent. Throws on a conflict or a type it cannot produce.
DType quantize_output_dtype(const AttributeMap& attrs, DType zero_point);
// The dtype DequantizeLinear produces: output_dtype (opset 23+) or the scale's.
DType dequantize_output_dtype(const AttributeMap& attrs, DType scale);

bool is_quantized_dtype(DType t);  // what Q produces and DQ reads: i8, u8, i16, f8e4m3, f8e5m2 (DQ also i32)

}  // namespace vdrt
