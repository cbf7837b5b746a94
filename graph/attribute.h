#pragma once
// Node attributes: the ONNX attribute kinds that vdrt models use. Subgraph
// attributes (If/Loop bodies) are rejected by the importer with a clear error.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "graph/tensor.h"

namespace vdrt {

using Attribute = std::variant<int64_t, float, std::string, Tensor, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>>;

class AttributeMap {
 public:
  bool has(const std::string& name) const { return attrs_.count(name) != 0; }
  void set(const std::string& name, Attribute value) { attrs_[name] = std::move(value); }
  void erase(const std::string& name) { attrs_.erase(name); }
  const std::map<std::string, Attribute>& all() const { return attrs_; }

  // Typed getters: with a default they return it when absent; without one
  // they throw vdrt::Error naming the attribute. A wrong kind always throws.
  int64_t get_int(const std::string& name) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  float get_float(const std::string& name) const;
  float get_float(const std::string& name, float fallback) const;
  std::string get_string(const std::string& name) const;
  std::string get_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name) const;
  std::vector<int64_t> get_ints(const std::string& name, const std::vector<int64_t>& fallback) const;
  std::vector<float> get_floats(const std::string& name) const;
  std::vector<float> get_floats(const std::string& name, const std::vector<float>& fallback) const;
  std::vector<std::string> get_strings(const std::string& name) const;
  const Tensor& get_tensor(const std::string& name) const;

 private:
  template <typename T> const T& get(const std::string& name) const;
  std::map<std::string, Attribute> attrs_;
};

std::string attribute_str(const Attribute& a);  // short human-readable form

}  // namespace vdrt
