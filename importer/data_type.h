#pragma once
// ONNX TensorProto element type codes <-> vdrt DTypes, in the importer's
// int32 spelling; the table itself is graph/onnx_dtype.h.
#include <cstdint>
#include <optional>
#include <string>

#include "graph/dtype.h"

namespace vdrt::onnx_io {

// nullopt when vdrt has no equivalent (strings, complex, unsigned > 8 bit, 4-bit ...).
std::optional<DType> dtype_from_onnx(int32_t code);
int32_t dtype_to_onnx(DType t);  // throws for DType::Undefined
// "FLOAT16", "STRING", "code 99": for messages about types vdrt refuses.
std::string onnx_type_name(int32_t code);

}  // namespace vdrt::onnx_io
