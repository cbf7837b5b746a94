#pragma once
// onnx::AttributeProto <-> vdrt::Attribute. vdrt represents the scalar, list
// and tensor kinds; subgraphs, sparse tensors, type protos and tensor lists
// are refused with an error naming the attribute. Internal to importer/.
#include <string>

#include "graph/attribute.h"
#include "importer/onnx_proto.h"
#include "importer/tensor_proto.h"

namespace vdrt::onnx_io {

// Throws vdrt::Error with the reason only; the caller adds node and op.
Attribute attribute_from_proto(const onnx::AttributeProto& proto, const TensorReadContext& ctx);

void attribute_to_proto(const std::string& name, const Attribute& value, onnx::AttributeProto* proto);

}  // namespace vdrt::onnx_io
