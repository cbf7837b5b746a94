#include "importer/type_proto.h"

#include "importer/data_type.h"

namespace vdrt::onnx_io {

namespace {
const char* type_kind(const onnx::TypeProto& t) {
  switch (t.value_case()) {
    case onnx::TypeProto::kSequenceType: return "sequence";
    case onnx::TypeProto::kMapType: return "map";
    case onnx::TypeProto::kOptionalType: return "optional";
    case onnx::TypeProto::kSparseTensorType: return "sparse tensor";
    default: return "unknown";
  }
}

Dim read_dim(const onnx::TensorShapeProto::Dimension& d) {
  if (d.has_dim_value() && d.dim_value() >= 0) return Dim(d.dim_value());
  if (d.has_dim_param() && !d.dim_param().empty()) return Dim::symbol(d.dim_param());
  return Dim();
}
}  // namespace

DeclaredType read_declared_type(const onnx::ValueInfoProto& info) {
  DeclaredType out;
  if (!info.has_type() || info.type().value_case() == onnx::TypeProto::VALUE_NOT_SET) return out;
  const onnx::TypeProto& t = info.type();
  if (!t.has_tensor_type()) {
    out.is_tensor = false;
    out.kind = type_kind(t);
    return out;
  }
  const auto& tt = t.tensor_type();
  out.onnx_elem_type = tt.elem_type();
  if (out.onnx_elem_type != 0) {
    auto dt = dtype_from_onnx(out.onnx_elem_type);
    out.dtype_supported = dt.has_value();
    if (dt) out.dtype = *dt;
  }
  if (tt.has_shape()) {
    std::vector<Dim> dims;
    dims.reserve(tt.shape().dim_size());
    for (const auto& d : tt.shape().dim()) dims.push_back(read_dim(d));
    out.shape = Shape(std::move(dims));
  }
  return out;
}

void write_value_info(const Value& v, onnx::ValueInfoProto* info) {
  info->set_name(v.name());
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(v.dtype() == DType::Undefined ? 0 : dtype_to_onnx(v.dtype()));
  if (!v.shape().rank_known()) return;
  auto* shape = tt->mutable_shape();
  for (const Dim& d : v.shape().dims()) {
    auto* out = shape->add_dim();
    if (d.known()) {
      out->set_dim_value(d.value());
    } else if (d.is_symbol()) {
      out->set_dim_param(d.name());
    }
  }
}

}  // namespace vdrt::onnx_io
