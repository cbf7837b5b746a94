// Implements constant_attribute.h: one decoder for Constant's six value attributes.
#include "graph/ops/constant_attribute.h"

namespace vdrt {

Tensor constant_from_attributes(const AttributeMap& attrs) {
  if (attrs.has("value")) return attrs.get_tensor("value");
  if (attrs.has("value_float")) return Tensor::scalar<float>(attrs.get_float("value_float"));
  if (attrs.has("value_int")) return Tensor::scalar<int64_t>(attrs.get_int("value_int"));
  if (attrs.has("value_floats")) {
    std::vector<float> v = attrs.get_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (attrs.has("value_ints")) {
    std::vector<int64_t> v = attrs.get_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  if (attrs.has("value_string") || attrs.has("value_strings"))
    throw Error("unsupported: string constants (vdrt has no string dtype)");
  if (attrs.has("sparse_value")) throw Error("unsupported: sparse_value constants");
  throw Error("Constant has none of the attributes value, value_float(s), value_int(s)");
}

}  // namespace vdrt
