#pragma once
// Constant's value lives in one of six attributes; the shape function and the
// CPU kernel both need the resulting tensor, so it is decoded in one place.
#include "graph/attribute.h"
#include "graph/tensor.h"

namespace vdrt {

// The tensor a Constant node outputs. Throws vdrt::Error when no value
// attribute is set or the kind is unsupported (strings, sparse tensors).
Tensor constant_from_attributes(const AttributeMap& attrs);

}  // namespace vdrt
