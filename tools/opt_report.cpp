#include "tools/opt_report.h"

#include <cstdio>
#include <filesystem>

#include "importer/onnx_import.h"
#include "runtime/quant_report.h"
#include "tools/command.h"
#include "tools/test_inputs.h"

namespace vdrt::cli {
namespace fs = std::filesystem;

namespace {

std::string find_sample_inputs(const std::string& model_path) {
  const fs::path model(model_path);
  for (const fs::path& dir : {model.parent_path() / model.stem() / "test_data_set_0", model.parent_path() / "test_data_set_0"})
    if (fs::exists(dir / "input_0.pb")) return dir.string();
  return "";
}

}  // namespace

int print_quantization_report(const std::string& model_path, const Graph& optimized, const std::string& inputs_dir) {
  int layers = 0;
  for (const auto& n : optimized.nodes()) layers += n->domain() == kVdrtDomain && n->op_type() == "QMatMul";
  if (layers == 0) {
    std::printf("report: no quantised layers (run the quantize-fp8 pass, e.g. --passes quantize-fp8)\n");
    return kExitOk;
  }
  const std::string dir = inputs_dir.empty() ? find_sample_inputs(model_path) : inputs_dir;
  if (dir.empty()) {
    std::fprintf(stderr, "vdrt opt --report: no test_data_set_0 beside %s; give sample inputs with --inputs DIR\n",
                 model_path.c_str());
    return kExitUsage;
  }
  auto reference = load_onnx(model_path);
  const TensorMap feed = load_feed(*reference, dir);
  std::printf("quantisation error on %s (%d layers)\n", dir.c_str(), layers);
  std::printf("%s", format_report(quantization_report(*reference, optimized, feed)).c_str());
  return kExitOk;
}

}  // namespace vdrt::cli
