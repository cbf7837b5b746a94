#include "graph/ops/quantize_params.h"

#include <string>

#include "graph/error.h"
#include "graph/ops/dtype_attribute.h"
#include "graph/shape.h"

namespace vdrt {

QuantLayout quant_layout(const std::vector<int64_t>& x_dims, const std::vector<int64_t>& scale_dims,
                         const AttributeMap& attrs, const char* op) {
  QuantLayout l;
  const std::string what = op;
  const int64_t rank = static_cast<int64_t>(x_dims.size());
  const int64_t block = attrs.get_int("block_size", 0);
  VDRT_CHECK(block >= 0, what + ": block_size must not be negative");
  // A one-element 1-D scale counts as per tensor, as in ONNX Runtime.
  if (block == 0 && (scale_dims.empty() || (scale_dims.size() == 1 && scale_dims[0] == 1))) return l;
  VDRT_CHECK(!scale_dims.empty(), what + ": block_size needs a scale of x's rank, got a scalar scale");
  VDRT_CHECK(rank > 0, what + ": a scalar x takes a scalar scale, got scale " + dims_str(scale_dims));
  const int64_t axis = normalize_axis(attrs.get_int("axis", 1), rank);
  l.dim = x_dims[axis];
  for (int64_t i = 0; i < axis; ++i) l.outer *= x_dims[i];
  for (int64_t i = axis + 1; i < rank; ++i) l.inner *= x_dims[i];
  if (block == 0) {
    VDRT_CHECK(scale_dims.size() == 1 && scale_dims[0] == l.dim,
               what + ": a per-axis scale must be 1-D of x's axis " + std::to_string(axis) + " length " +
                   std::to_string(l.dim) + ", got " + dims_str(scale_dims) + " for x " + dims_str(x_dims) +
                   " (blocked quantization needs block_size)");
    l.kind = QuantLayout::Kind::PerAxis;
    return l;
  }
  VDRT_CHECK(static_cast<int64_t>(scale_dims.size()) == rank,
             what + ": a blocked scale must have x's rank, got " + dims_str(scale_dims) + " for x " + dims_str(x_dims));
  for (int64_t i = 0; i < rank; ++i)
    if (i != axis)
      VDRT_CHECK(scale_dims[i] == x_dims[i], what + ": blocked scale " + dims_str(scale_dims) + " differs from x " +
                                                 dims_str(x_dims) + " outside axis " + std::to_string(axis));
  l.kind = QuantLayout::Kind::Blocked;
  l.block = block;
  l.scale_dim = scale_dims[axis];
  VDRT_CHECK(l.scale_dim == (l.dim + block - 1) / block,
             what + ": blocked scale has " + std::to_string(l.scale_dim) + " blocks along axis " + std::to_string(axis) +
                 ", but x's " + std::to_string(l.dim) + " elements in blocks of " + std::to_string(block) + " make " +
                 std::to_string((l.dim + block - 1) / block));
  return l;
}

bool is_quantized_dtype(DType t) {
  return t == DType::I8 || t == DType::U8 || t == DType::I16 || t == DType::F8E4M3 || t == DType::F8E5M2;
}

namespace {
// ONNX writes output_dtype = 0 for "not given".
DType optional_dtype_attribute(const AttributeMap& attrs, const char* name) {
  if (!attrs.has(name)) return DType::Undefined;
  auto it = attrs.all().find(name);
  if (const int64_t* code = std::get_if<int64_t>(&it->second); code && *code == 0) return DType::Undefined;
  return dtype_attribute(attrs, name);
}
}  // namespace

DType quantize_output_dtype(const AttributeMap& attrs, DType zero_point) {
  const DType attr = optional_dtype_attribute(attrs, "output_dtype");
  if (attr != DType::Undefined && zero_point != DType::Undefined && attr != zero_point)
    throw Error(std::string("QuantizeLinear: output_dtype ") + dtype_name(attr) + " differs from the zero point's " +
                dtype_name(zero_point));
  const DType out = zero_point != DType::Undefined ? zero_point : attr != DType::Undefined ? attr : DType::U8;
  VDRT_CHECK(is_quantized_dtype(out), std::string("QuantizeLinear cannot produce ") + dtype_name(out) +
                                          " (supported: u8, i8, i16, f8e4m3, f8e5m2)");
  return out;
}

DType dequantize_output_dtype(const AttributeMap& attrs, DType scale) {
  const DType attr = optional_dtype_attribute(attrs, "output_dtype");
  return attr != DType::Undefined ? attr : scale;
}

}  // namespace vdrt
