// `vdrt run MODEL --inputs DIR`: runs a model on TensorProto inputs (an ONNX
// test_data_set folder), writes the outputs, and compares them with expected
// outputs when the folder (or --expected) has them.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/session.h"
#include "tools/command.h"
#include "tools/placement_report.h"
#include "tools/test_inputs.h"

namespace vdrt::cli {
namespace {
namespace fs = std::filesystem;

struct RunArgs {
  std::string model, inputs, expected, out_dir, device = "auto";
  std::string precision = "fp32";
  int threads = 0, repeat = 1;
  double rtol = 1e-3, atol = 1e-5;
};

int run_model(const RunArgs& a) {
  SessionOptions opts;
  opts.device = a.device;
  opts.threads = a.threads;
  opts.precision = a.precision;
  Session session(load_onnx(a.model), opts);
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
    fs::create_directories(a.out_dir);
    for (size_t i = 0; i < g.outputs().size(); ++i) {
      const std::string& name = g.outputs()[i]->name();
      save_tensor_pb(outputs.at(name), name, (fs::path(a.out_dir) / ("output_" + std::to_string(i) + ".pb")).string());
    }
  }

  std::string expected_dir = a.expected.empty() ? a.inputs : a.expected;
  std::vector<NamedTensor> expected;
  if (fs::exists(fs::path(expected_dir) / "output_0.pb")) expected = load_test_set(expected_dir, "output");
  int status = kExitOk;
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const std::string& name = g.outputs()[i]->name();
    const Tensor& t = outputs.at(name);
    if (i >= expected.size()) {
      std::printf("%-24s %-6s %s\n", name.c_str(), dtype_name(t.dtype()), dims_str(t.dims()).c_str());
      continue;
    }
    Comparison c = compare_tensors(t, expected[i].tensor, a.rtol, a.atol);
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
  sub.add_option("-o,--output", a->out_dir, "Write outputs as output_K.pb into this folder");
  sub.add_option("--expected", a->expected, "Folder with expected output_K.pb (default: the inputs folder)");
  sub.add_option("--rtol", a->rtol, "Relative tolerance of the comparison")->capture_default_str();
  sub.add_option("--atol", a->atol, "Absolute tolerance of the comparison")->capture_default_str();
  sub.add_option("-d,--device", a->device, "auto, cpu, vulkan[:N] (see `vdrt devices`)")->capture_default_str();
  sub.add_option("-t,--threads", a->threads, "CPU threads (0 = all cores)")->capture_default_str();
  sub.add_option("--precision", a->precision, "GPU arithmetic: fp32, or fp16 (matmul/conv/attention in fp16, fp32 accumulation)")
      ->check(CLI::IsMember({"fp32", "fp16"}))->capture_default_str();
  sub.add_option("-r,--repeat", a->repeat, "Run this many times and report the median time")->capture_default_str();
  return [a] { return run_model(*a); };
}

CommandRegistrar reg("run", "Run a model on TensorProto inputs and check its outputs", setup_run);

}  // namespace
}  // namespace vdrt::cli
