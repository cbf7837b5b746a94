#include "tools/test_inputs.h"

#include "importer/tensor_file.h"

namespace vdrt::cli {

TensorMap load_feed(const Graph& g, const std::string& folder) {
  std::vector<NamedTensor> tensors = load_test_set(folder, "input");
  TensorMap m;
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string name = tensors[i].name;
    if (name.empty() || !g.find_value(name)) {
      VDRT_CHECK(i < g.inputs().size(), "input_" + std::to_string(i) + ".pb has no matching model input", {folder});
      name = g.inputs()[i]->name();
    }
    m[name] = tensors[i].tensor;
  }
  return m;
}

}  // namespace vdrt::cli
