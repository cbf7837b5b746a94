#pragma once
// ONNX TensorProto.DataType element codes <-> vdrt DTypes: the one table.
// The importer/exporter (importer/data_type.h forwards here) and the ops
// whose attributes name an element type (graph/ops/dtype_attribute.h) both
// read it. The codes are spelled out because the installed ONNX headers
// (1.12) predate float8 (17, 19), and graph/ must not depend on importer/.
#include <cstdint>
#include <optional>
#include <string>

#include "graph/dtype.h"

namespace vdrt {

// nullopt when vdrt has no equivalent (strings, complex, unsigned > 8 bit, 4-bit ...).
std::optional<DType> dtype_from_onnx_code(int64_t code);
// Throws vdrt::Error for DType::Undefined.
int32_t dtype_to_onnx_code(DType t);
// "FLOAT16", "STRING", "code 99": for messages about types vdrt refuses.
std::string onnx_type_name(int64_t code);

}  // namespace vdrt
