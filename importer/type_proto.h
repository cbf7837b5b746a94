#pragma once
// ValueInfoProto (name, element type, symbolic shape) <-> a Value's dtype and
// shape. Internal to importer/.
#include <string>

#include "graph/graph.h"
#include "importer/onnx_proto.h"

namespace vdrt::onnx_io {

struct DeclaredType {
  bool is_tensor = true;      // false for sequence/map/optional/sparse types
  std::string kind;           // "sequence", "map", ... when not a tensor
  int32_t onnx_elem_type = 0;
  bool dtype_supported = true;  // false when onnx_elem_type has no DType
  DType dtype = DType::Undefined;
  Shape shape;  // unknown rank when the proto has no shape
};

// Reads the type of a ValueInfoProto. Never throws: callers decide whether a
// type vdrt cannot represent is an error (graph inputs) or a hint to drop.
DeclaredType read_declared_type(const onnx::ValueInfoProto& info);

// Writes `v`'s name, dtype and shape (dims: value, dim_param, or left empty).
void write_value_info(const Value& v, onnx::ValueInfoProto* info);

}  // namespace vdrt::onnx_io
