#include "graph/attribute.h"

#include <sstream>

namespace vdrt {

template <typename T>
const T& AttributeMap::get(const std::string& name) const {
  auto it = attrs_.find(name);
  VDRT_CHECK(it != attrs_.end(), "missing required attribute '" + name + "'");
  const T* v = std::get_if<T>(&it->second);
  VDRT_CHECK(v != nullptr, "attribute '" + name + "' has the wrong kind");
  return *v;
}

int64_t AttributeMap::get_int(const std::string& n) const { return get<int64_t>(n); }
int64_t AttributeMap::get_int(const std::string& n, int64_t f) const { return has(n) ? get<int64_t>(n) : f; }
float AttributeMap::get_float(const std::string& n) const { return get<float>(n); }
float AttributeMap::get_float(const std::string& n, float f) const { return has(n) ? get<float>(n) : f; }
std::string AttributeMap::get_string(const std::string& n) const { return get<std::string>(n); }
std::string AttributeMap::get_string(const std::string& n, const std::string& f) const {
  return has(n) ? get<std::string>(n) : f;
}
std::vector<int64_t> AttributeMap::get_ints(const std::string& n) const { return get<std::vector<int64_t>>(n); }
std::vector<int64_t> AttributeMap::get_ints(const std::string& n, const std::vector<int64_t>& f) const {
  return has(n) ? get<std::vector<int64_t>>(n) : f;
}
std::vector<float> AttributeMap::get_floats(const std::string& n) const { return get<std::vector<float>>(n); }
std::vector<float> AttributeMap::get_floats(const std::string& n, const std::vector<float>& f) const {
  return has(n) ? get<std::vector<float>>(n) : f;
}
std::vector<std::string> AttributeMap::get_strings(const std::string& n) const {
  return get<std::vector<std::string>>(n);
}
const Tensor& AttributeMap::get_tensor(const std::string& n) const { return get<Tensor>(n); }

std::string attribute_str(const Attribute& a) {
  std::ostringstream os;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Tensor>) {
          os << "tensor<" << dtype_name(v.dtype()) << ">" << dims_str(v.dims());
        } else if constexpr (std::is_same_v<T, std::string>) {
          os << '"' << v << '"';
        } else if constexpr (std::is_arithmetic_v<T>) {
          os << v;
        } else {
          os << '[';
          for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
          os << ']';
        }
      },
      a);
  return os.str();
}

}  // namespace vdrt
