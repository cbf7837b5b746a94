// `vdrt bench MODEL --inputs DIR`: times repeated runs of one model after a
// warm-up and prints the distribution in a form scripts can parse
// (bench/compare_ort.py reads median_ms). --profile times every node of the
// timed runs and prints where the time goes by op type.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include "importer/onnx_import.h"
#include "runtime/op_profile.h"
#include "runtime/session.h"
#include "tools/command.h"
#include "tools/common_options.h"
#include "tools/json_output.h"
#include "tools/placement_report.h"
#include "tools/test_inputs.h"

namespace vdrt::cli {
namespace {

struct BenchArgs {
  std::string model, inputs;
  DeviceOptions dev;
  PipelineOptions pipe;
  int runs = 20, warmup = 3;
  bool json = false, profile = false;
};

Json profile_json(Session& session, const std::vector<OpTypeTime>& rows) {
  const NodeProfile& p = session.profile();
  Json doc = Json::object();
  doc["runs"] = static_cast<long long>(p.runs);
  doc["ms_per_run"] = p.runs ? p.run_seconds * 1e3 / p.runs : 0.0;
  // What a node's time measures: its kernel on the CPU, the host enqueue on a GPU.
  doc["node_time"] = session.backend().info().backend == "cpu" ? "kernel" : "host_enqueue";
  Json& ops = doc["op_types"] = Json::array();
  for (const OpTypeTime& r : rows) {
    Json j = Json::object();
    j["op"] = r.op;
    j["nodes"] = static_cast<long long>(r.nodes);
    j["calls"] = static_cast<long long>(r.calls);
    j["total_ms"] = r.total_ms;
    j["percent"] = r.percent;
    j["ms_per_call"] = r.ms_per_call;
    ops.push(std::move(j));
  }
  return doc;
}

int bench(const BenchArgs& a) {
  auto graph = load_onnx(a.model);
  SessionOptions so = session_options(a.dev);
  pipeline_at_load(*graph, a.pipe, so);
  Session session(std::move(graph), so);
  TensorMap feed = load_feed(session.graph(), a.inputs);
  for (int i = 0; i < a.warmup; ++i) session.run(feed);
  if (a.profile) session.set_profiling(true);
  std::vector<double> ms;
  for (int i = 0; i < std::max(1, a.runs); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    session.run(feed);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::vector<OpTypeTime> rows;
  if (a.profile) rows = op_type_times(session.graph(), session.profile());
  if (a.json) {
    Json doc = bench_json(a.model, session, ms, a.warmup);
    doc["profile"] = a.profile ? profile_json(session, rows) : Json();
    print_json(doc);
    return kExitOk;
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) { return ms[static_cast<size_t>(p * (ms.size() - 1))]; };
  std::printf("device      %s\n", session.backend().info().name.c_str());
  std::printf("runs        %zu (after %d warm-up)\n", ms.size(), a.warmup);
  std::printf("median_ms   %.4f\n", pct(0.5));
  std::printf("p10_ms      %.4f\n", pct(0.1));
  std::printf("p90_ms      %.4f\n", pct(0.9));
  std::printf("mean_ms     %.4f\n", std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size());
  std::printf("%s\n", placement_line(session).c_str());
  std::printf("arena_bytes %zu (one buffer per value: %zu)\n", session.last_stats().arena_bytes,
              session.last_stats().naive_bytes);
  if (a.profile)
    std::printf("%s", op_type_table(rows, session.profile(), session.backend().info().backend).c_str());
  return kExitOk;
}

Action setup_bench(CLI::App& sub) {
  auto a = std::make_shared<BenchArgs>();
  sub.add_option("model", a->model, "ONNX model file")->required()->check(CLI::ExistingFile);
  sub.add_option("-i,--inputs", a->inputs, "Folder with input_K.pb files")->required()->check(CLI::ExistingDirectory);
  add_device_options(sub, a->dev);
  add_pipeline_options(sub, a->pipe);
  add_json_flag(sub, a->json);
  sub.add_flag("--profile", a->profile,
               "Time every node of the timed runs and print the time per op type (kernel time on the CPU backend; "
               "GPU backends: VDRT_VULKAN_PROFILE=1 or VDRT_OPENCL_PROFILE=1)");
  sub.add_option("-r,--runs,--repeat", a->runs, "Timed runs (>= 1)")->capture_default_str();
  sub.add_option("--warmup", a->warmup, "Untimed runs first (>= 0)")->capture_default_str();
  return [a] {
    validate(a->dev);
    validate(a->pipe);
    require_at_least("--runs", a->runs, 1);
    require_at_least("--warmup", a->warmup, 0);
    return bench(*a);
  };
}

CommandRegistrar reg("bench", "Time repeated runs of a model (median, p10, p90)", setup_bench);

}  // namespace
}  // namespace vdrt::cli
