// `vdrt run MODEL --inputs DIR`: runs a model on TensorProto inputs (an ONNX
// test_data_set folder), writes the outputs, and compares them with expected
// outputs when the folder (or --expected) has them.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/session.h"
#include "tools/command.h"
#include "tools/common_options.h"
#include "tools/json_output.h"
#include "tools/placement_report.h"
#include "tools/test_inputs.h"

namespace vdrt::cli {
namespace {
namespace fs = std::filesystem;

struct RunArgs {
  std::string model, inputs, expected, out_dir;
  DeviceOptions dev;
  PipelineOptions pipe;
  int repeat = 1;
  double rtol = 1e-3, atol = 1e-5;
  bool json = false;
};

bool same_path(const std::string& a, const std::string& b) {
  std::error_code ec;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

// Checks everything the command line decides before any work (exit code 2).
void validate_run(const RunArgs& a) {
  validate(a.dev);
  validate(a.pipe);
  require_at_least("--runs", a.repeat, 1);
  if (!(a.rtol >= 0) || !(a.atol >= 0)) throw UsageError("--rtol and --atol must be >= 0");
  if (!a.expected.empty()) {
    if (!fs::is_directory(a.expected))
      throw UsageError("--expected " + a.expected + ": no such folder (it must hold output_K.pb files)");
    if (!fs::exists(fs::path(a.expected) / "output_0.pb"))
      throw UsageError("--expected " + a.expected + ": holds no output_0.pb, so nothing could be compared");
  }
  if (!a.out_dir.empty()) {
    if (fs::exists(a.out_dir) && !fs::is_directory(a.out_dir))
      throw UsageError("-o " + a.out_dir + ": exists and is not a folder (outputs are written as output_K.pb into a folder)");
    if (same_path(a.out_dir, a.inputs) || (!a.expected.empty() && same_path(a.out_dir, a.expected)))
      throw UsageError("-o " + a.out_dir + ": is the inputs or expected folder; writing there would overwrite the "
                       "outputs it is compared with");
  }
}

// The element furthest outside the tolerance: |a - e| - (atol + rtol |e|) largest.
std::string worst_element(const Tensor& actual, const Tensor& expected, double rtol, double atol, int64_t mismatches) {
  if (actual.dims() != expected.dims() || actual.dtype() != expected.dtype()) return "";
  std::vector<double> x = actual.as_double(), e = expected.as_double();
  size_t worst = 0;
  double excess = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    double d;
    if (std::isnan(x[i]) || std::isnan(e[i])) d = std::isnan(x[i]) != std::isnan(e[i]) ? INFINITY : -1;
    else if (std::isinf(x[i]) || std::isinf(e[i])) d = x[i] != e[i] ? INFINITY : -1;
    else d = std::fabs(x[i] - e[i]) - (atol + rtol * std::fabs(e[i]));
    if (d > excess) excess = d, worst = i;
  }
  const double err = std::fabs(x[worst] - e[worst]);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%lld of %zu elements out of tolerance; worst: element %zu: %.9g vs expected %.9g "
                "(|err| %.3g, rel. %.3g)", static_cast<long long>(mismatches), x.size(), worst, x[worst], e[worst],
                err, e[worst] != 0 ? err / std::fabs(e[worst]) : INFINITY);
  return buf;
}

int run_model(const RunArgs& a) {
  auto graph = load_onnx(a.model);
  SessionOptions so = session_options(a.dev);
  pipeline_at_load(*graph, a.pipe, so);
  Session session(std::move(graph), so);
  const Graph& g = session.graph();
  TensorMap inputs = load_feed(g, a.inputs);

  TensorMap outputs;
  std::vector<double> times;
  for (int r = 0; r < std::max(1, a.repeat); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    outputs = session.run(inputs);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  spdlog::info("{} on {}: median {:.3f} ms over {} run(s), arena {} KiB (naive {} KiB)", fs::path(a.model).filename().string(),
               session.backend().info().name, times[times.size() / 2], times.size(),
               session.last_stats().arena_bytes >> 10, session.last_stats().naive_bytes >> 10);
  log_placement(session);

  if (!a.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(a.out_dir, ec);
    VDRT_CHECK(!ec && fs::is_directory(a.out_dir), "cannot create the output folder: " + ec.message(), {a.out_dir});
    for (size_t i = 0; i < g.outputs().size(); ++i) {
      const std::string& name = g.outputs()[i]->name();
      save_tensor_pb(outputs.at(name), name, (fs::path(a.out_dir) / ("output_" + std::to_string(i) + ".pb")).string());
    }
  }

  if (a.json) return print_run_json(a.model, session, outputs, a.expected.empty() ? a.inputs : a.expected, a.rtol, a.atol, times);
  std::string expected_dir = a.expected.empty() ? a.inputs : a.expected;
  std::vector<NamedTensor> expected;
  if (fs::exists(fs::path(expected_dir) / "output_0.pb")) expected = load_test_set(expected_dir, "output");
  else std::printf("not compared: %s holds no output_K.pb (give --expected DIR to check the outputs)\n", expected_dir.c_str());
  int status = kExitOk;
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const std::string& name = g.outputs()[i]->name();
    const Tensor& t = outputs.at(name);
    if (i >= expected.size()) {
      std::printf("%-24s %-6s %s\n", name.c_str(), dtype_name(t.dtype()), dims_str(t.dims()).c_str());
      continue;
    }
    Comparison c = compare_tensors(t, expected[i].tensor, a.rtol, a.atol);
    if (!c.ok && c.mismatches > 0) c.reason = worst_element(t, expected[i].tensor, a.rtol, a.atol, c.mismatches);
    std::printf("%-24s %-6s %-20s max|err| %.3g  %s%s\n", name.c_str(), dtype_name(t.dtype()), dims_str(t.dims()).c_str(),
                c.max_abs_error, c.ok ? "ok" : "MISMATCH: ", c.reason.c_str());
    if (!c.ok) status = kExitMismatch;
  }
  return status;
}

Action setup_run(CLI::App& sub) {
  auto a = std::make_shared<RunArgs>();
  sub.add_option("model", a->model, "ONNX model file")->required()->check(CLI::ExistingFile);
  sub.add_option("-i,--inputs", a->inputs, "Folder with input_K.pb files (an ONNX test_data_set folder)")
      ->required()->check(CLI::ExistingDirectory);
  sub.add_option("-o,--output", a->out_dir,
                 "Write outputs as output_K.pb into this folder (not the inputs or expected folder)");
  sub.add_option("--expected", a->expected,
                 "Folder with expected output_K.pb (default: the inputs folder, if it has them; a folder without "
                 "them is a usage error)");
  sub.add_option("--rtol", a->rtol, "Relative tolerance of the comparison")->capture_default_str();
  sub.add_option("--atol", a->atol, "Absolute tolerance of the comparison")->capture_default_str();
  add_device_options(sub, a->dev);
  add_pipeline_options(sub, a->pipe);
  add_json_flag(sub, a->json);
  sub.add_option("-r,--runs,--repeat", a->repeat, "Run this many times and report the median time")->capture_default_str();
  return [a] {
    validate_run(*a);
    return run_model(*a);
  };
}

CommandRegistrar reg("run", "Run a model on TensorProto inputs and check its outputs", setup_run);

}  // namespace
}  // namespace vdrt::cli
