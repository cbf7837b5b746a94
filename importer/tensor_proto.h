#pragma once
// onnx::TensorProto <-> vdrt::Tensor. Reading accepts every encoding ONNX
// writers use (raw little-endian bytes, the typed repeated fields with
// int32_data packing for 8/16-bit types, external data); writing always uses
// raw bytes, which is compact and exact. Internal to importer/.
#include <string>

#include "graph/tensor.h"
#include "importer/onnx_proto.h"

namespace vdrt::onnx_io {

struct TensorReadContext {
  std::string base_dir;  // folder that external data must stay inside; empty: "."
  bool load_external_data = true;  // false: check paths and sizes, leave the data zero
};

// `what` names the tensor in error messages, e.g. "initializer 'w'".
// Throws vdrt::Error (reason only; callers add file/node) on any mismatch.
Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& what, const TensorReadContext& ctx);

void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);
// Name, element type and dims only: for tensors whose bytes go elsewhere.
void tensor_header_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto);

}  // namespace vdrt::onnx_io
