#pragma once
// ONNX TensorProto element type codes <-> vdrt DTypes. The codes are spelled
// out here because the installed ONNX headers (1.12) predate float8 (17, 19).
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
