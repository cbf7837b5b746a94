// Kept beside the ops that use it: the code table is ONNX's numbering, which
// graph/dtype.h deliberately does not mirror.
#include "graph/ops/dtype_attribute.h"

#include "graph/error.h"

namespace vdrt {

DType dtype_from_onnx_code(int64_t code) {
  switch (code) {
    case 1: return DType::F32;
    case 2: return DType::U8;
    case 3: return DType::I8;
    case 5: return DType::I16;
    case 6: return DType::I32;
    case 7: return DType::I64;
    case 9: return DType::Bool;
    case 10: return DType::F16;
    case 11: return DType::F64;
    case 16: return DType::BF16;
    case 17: return DType::F8E4M3;
    case 19: return DType::F8E5M2;
    default: break;
  }
  static const char* names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
                                "STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64",
                                "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2"};
  std::string what = code >= 0 && code < static_cast<int64_t>(std::size(names)) ? names[code] : "code " + std::to_string(code);
  throw Error("unsupported element type " + what + ": vdrt has no equivalent dtype");
}

DType dtype_attribute(const AttributeMap& attrs, const std::string& name, DType fallback) {
  auto it = attrs.all().find(name);
  if (it == attrs.all().end()) return fallback;
  if (const int64_t* code = std::get_if<int64_t>(&it->second)) return dtype_from_onnx_code(*code);
  if (const std::string* s = std::get_if<std::string>(&it->second)) return dtype_from_name(*s);
  throw Error("attribute '" + name + "' must name an element type");
}

}  // namespace vdrt
