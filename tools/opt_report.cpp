#include "tools/opt_report.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "importer/onnx_import.h"
#include "runtime/quant_report.h"
#include "tools/command.h"
#include "tools/json_output.h"
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

int quantized_layers(const Graph& g) {
  int layers = 0;
  for (const auto& n : g.nodes()) layers += n->domain() == kVdrtDomain && n->op_type() == "QMatMul";
  return layers;
}

// The folder of sample inputs the report runs the model on; "" (after saying
// so on stderr) when there is none.
std::string report_inputs(const std::string& model_path, const std::string& inputs_dir) {
  const std::string dir = inputs_dir.empty() ? find_sample_inputs(model_path) : inputs_dir;
  if (dir.empty())
    std::fprintf(stderr, "vdrt opt --report: no test_data_set_0 beside %s; give sample inputs with --inputs DIR\n",
                 model_path.c_str());
  return dir;
}

QuantReport run_report(const std::string& model_path, const Graph& optimized, const std::string& dir) {
  auto reference = load_onnx(model_path);
  return quantization_report(*reference, optimized, load_feed(*reference, dir));
}

}  // namespace

int print_quantization_report(const std::string& model_path, const Graph& optimized, const std::string& inputs_dir) {
  const int layers = quantized_layers(optimized);
  if (layers == 0) {
    std::printf("report: no quantised layers (run the quantize-fp8 pass, e.g. --passes quantize-fp8)\n");
    return kExitOk;
  }
  const std::string dir = report_inputs(model_path, inputs_dir);
  if (dir.empty()) return kExitUsage;
  std::printf("quantisation error on %s (%d layers)\n", dir.c_str(), layers);
  std::printf("%s", format_report(run_report(model_path, optimized, dir)).c_str());
  return kExitOk;
}

int print_opt_json(const std::string& model_path, const std::string& output, size_t nodes_before, const Graph& optimized,
                   const std::vector<Explanation>& explanations, bool report, const std::string& inputs_dir) {
  Json doc = Json::object();
  doc["model"] = model_path;
  doc["output"] = output.empty() ? Json() : Json(output);
  doc["nodes_before"] = nodes_before;
  doc["nodes_after"] = optimized.nodes().size();
  std::map<std::string, int> counts;
  for (const auto& n : optimized.nodes()) ++counts[n->qualified_op()];
  Json& ops = doc["ops"] = Json::object();
  for (const auto& [op, count] : counts) ops[op] = count;
  Json& list = doc["explanations"] = Json::array();
  for (const Explanation& e : explanations) {
    Json j = Json::object();
    j["pass"] = e.pass;
    j["node"] = e.node.empty() ? Json() : Json(e.node);
    j["op"] = e.op.empty() ? Json() : Json(e.op);
    j["message"] = e.message;
    list.push(std::move(j));
  }
  if (!report) {
    print_json(doc);
    return kExitOk;
  }
  const int layers = quantized_layers(optimized);
  Json& q = doc["report"] = Json::object();
  q["quantized_layers"] = layers;
  if (layers == 0) {
    q["inputs"] = nullptr;
    q["note"] = "no quantised layers (run the quantize-fp8 pass, e.g. --passes quantize-fp8)";
    q["layers"] = Json::array();
    q["outputs"] = Json::array();
    print_json(doc);
    return kExitOk;
  }
  const std::string dir = report_inputs(model_path, inputs_dir);
  if (dir.empty()) return kExitUsage;
  const QuantReport r = run_report(model_path, optimized, dir);
  q["inputs"] = dir;
  q["note"] = nullptr;
  auto err = [](double e) { return e < 0 ? Json() : Json(e); };
  Json& ls = q["layers"] = Json::array();
  for (const LayerError& l : r.layers) {
    Json j = Json::object();
    j["layer"] = l.layer;
    j["value"] = l.value;
    j["shape"] = dims_json(l.dims);
    j["act_quant"] = l.act_quant;
    j["isolated_rel_error"] = err(l.isolated);
    j["cumulative_rel_error"] = err(l.cumulative);
    ls.push(std::move(j));
  }
  Json& os = q["outputs"] = Json::array();
  for (const OutputError& o : r.outputs) {
    Json j = Json::object();
    j["name"] = o.name;
    j["rel_l2_error"] = o.rel_l2;
    j["max_abs_error"] = o.max_abs;
    os.push(std::move(j));
  }
  print_json(doc);
  return kExitOk;
}

}  // namespace vdrt::cli
