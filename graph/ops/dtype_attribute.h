#pragma once
// Ops such as Cast, EyeLike and RandomNormal name an element type in an
// attribute. The importer copies attributes verbatim, so the attribute holds
// ONNX's TensorProto.DataType code; passes that build nodes themselves may
// write a vdrt dtype name instead. Both spellings are accepted here so that
// shape functions and kernels agree on one reading.
#include <cstdint>
#include <string>

#include "graph/attribute.h"
#include "graph/dtype.h"

namespace vdrt {

// Maps an ONNX TensorProto.DataType code (graph/onnx_dtype.h) to a DType;
// throws vdrt::Error naming the ONNX type when vdrt has no equivalent.
DType dtype_from_onnx_attribute_code(int64_t code);

// Reads attribute `name` as a dtype (ONNX code or dtype name); returns
// `fallback` when it is absent.
DType dtype_attribute(const AttributeMap& attrs, const std::string& name, DType fallback = DType::Undefined);

}  // namespace vdrt
