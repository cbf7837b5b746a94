// The ONNX code table is graph/onnx_dtype.h, shared with the importer.
#include "graph/ops/dtype_attribute.h"

#include "graph/error.h"
#include "graph/onnx_dtype.h"

namespace vdrt {

DType dtype_from_onnx_attribute_code(int64_t code) {
  if (auto t = dtype_from_onnx_code(code)) return *t;
  throw Error("unsupported element type " + onnx_type_name(code) + ": vdrt has no equivalent dtype");
}

DType dtype_attribute(const AttributeMap& attrs, const std::string& name, DType fallback) {
  auto it = attrs.all().find(name);
  if (it == attrs.all().end()) return fallback;
  if (const int64_t* code = std::get_if<int64_t>(&it->second)) return dtype_from_onnx_attribute_code(*code);
  if (const std::string* s = std::get_if<std::string>(&it->second)) return dtype_from_name(*s);
  throw Error("attribute '" + name + "' must name an element type");
}

}  // namespace vdrt
