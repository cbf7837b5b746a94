// Forwards to the one ONNX element-code table, graph/onnx_dtype.h.
#include "importer/data_type.h"

#include "graph/onnx_dtype.h"

namespace vdrt::onnx_io {

std::optional<DType> dtype_from_onnx(int32_t code) { return dtype_from_onnx_code(code); }
int32_t dtype_to_onnx(DType t) { return dtype_to_onnx_code(t); }
std::string onnx_type_name(int32_t code) { return vdrt::onnx_type_name(code); }

}  // namespace vdrt::onnx_io
