// Times one denoiser call of an exported model on a device, with random
// inputs made here (a Wan-1.3B-width call has gigabytes of KV cache inputs:
// too big to ship as .pb files). Links no video code, so it travels to the
// GPU machine in a small bundle. bench/gpu_denoiser_bench.py drives it.
// On Vulkan it logs each pipeline's compiler statistics (registers, local
// and shared memory), which gpu_denoiser_bench.py puts into its JSON.
//
//   time_denoiser MODEL.onnx --device vulkan --precision fp16 --past 9360 --runs 10
#include <algorithm>
#include <map>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "graph/error.h"
#include "importer/onnx_import.h"
#include "runtime/pass_pipeline.h"
#include "runtime/session.h"

using namespace vdrt;

namespace {

// Floats N(0,1) scaled like the real inputs (the KV cache ~0.5), integers
// `frame_offset`; symbolic dims take `past`.
TensorMap make_inputs(const Graph& g, int64_t past, int64_t frame_offset, float timestep) {
  TensorMap feed;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (const Value* v : g.inputs()) {
    std::vector<int64_t> dims;
    for (const Dim& d : v->shape().dims()) dims.push_back(d.known() ? d.value() : past);
    Tensor t(v->dtype(), dims);
    if (v->dtype() == DType::F32) {
      float s = v->name().find("past") != std::string::npos ? 0.5f : 1.0f;
      float* p = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) p[i] = s * nd(rng);
      if (v->name() == "timestep")
        for (int64_t i = 0; i < t.numel(); ++i) p[i] = timestep;
    } else if (v->dtype() == DType::I64) {
      for (int64_t i = 0; i < t.numel(); ++i) t.data<int64_t>()[i] = frame_offset;
    }
    feed[v->name()] = std::move(t);
  }
  return feed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time one denoiser call on a device"};
  std::string model, device = "auto", precision = "fp32";
  int64_t past = 0, frame_offset = -1;
  int runs = 10, warmup = 2;
  bool raw = false, verbose = false, host_io = false;
  app.add_option("model", model, "ONNX model")->required()->check(CLI::ExistingFile);
  app.add_option("-d,--device", device, "auto, cpu, vulkan[:N]")->capture_default_str();
  app.add_option("--precision", precision, "fp32 or fp16")->capture_default_str();
  app.add_option("--past", past, "KV cache length (the symbolic dim of past_key.*)")->capture_default_str();
  app.add_option("--frame-offset", frame_offset, "frame_offset input (default: past / tokens per frame)");
  app.add_option("--runs", runs)->capture_default_str();
  app.add_option("--warmup", warmup)->capture_default_str();
  app.add_flag("--raw", raw, "Run the graph as imported (default: the default pass pipeline first)");
  app.add_flag("--host-io", host_io,
               "Pass the KV cache as host tensors and download every output (default: the KV cache and the new "
               "keys/values stay on the device, as in a rollout, through IoBinding)");
  app.add_flag("-v,--verbose", verbose);
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  // A timing comes with the compiler statistics of the pipelines behind it
  // (registers, spills: docs/vulkan_backend.md); VDRT_VULKAN_PIPELINE_STATS=0 turns them off.
  setenv("VDRT_VULKAN_PIPELINE_STATS", "1", /*overwrite=*/0);
  try {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Graph> g = load_onnx(model);
    if (!raw) run_pass_pipeline_text(*g, default_pass_pipeline_toml(), "<default>");
    SessionOptions o;
    o.device = device;
    o.precision = precision;
    Session session(std::move(g), o);
    auto t1 = std::chrono::steady_clock::now();
    TensorMap feed = make_inputs(session.graph(), past, frame_offset < 0 ? 0 : frame_offset, 750.0f);
    IoBinding io;
    for (auto& [name, t] : feed) {
      if (!host_io && name.rfind("past_", 0) == 0) io.device_inputs[name] = session.to_device(t);
      else io.host_inputs[name] = t;
    }
    if (!host_io)
      for (const Value* v : session.graph().outputs())
        if (v->name().rfind("present_", 0) == 0) io.device_outputs.insert(v->name());
    feed.clear();  // the device holds the cache now
    for (int i = 0; i < warmup; ++i) session.run(io);
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, runs); ++i) {
      auto a = std::chrono::steady_clock::now();
      session.run(io);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(ms.begin(), ms.end());
    std::map<std::string, int> where;
    for (const std::string& p : session.last_placement()) ++where[p];
    std::string placement;
    for (const auto& [k, n] : where) placement += (placement.empty() ? "" : ",") + k + ":" + std::to_string(n);
    const RunStats& s = session.last_stats();
    std::printf(
        "{\"model\": \"%s\", \"device\": \"%s\", \"precision\": \"%s\", \"io\": \"%s\", \"past\": %ld, \"median_ms\": %.3f, "
        "\"min_ms\": %.3f, \"max_ms\": %.3f, \"runs\": %zu, \"load_s\": %.2f, \"placement\": \"%s\", "
        "\"host_uploads\": %zu, \"cross_copies\": %zu, \"arena_mib\": %zu, \"weights_mib\": %zu}\n",
        model.c_str(), session.backend().info().name.c_str(), precision.c_str(), host_io ? "host" : "device",
        static_cast<long>(past),
        ms[ms.size() / 2], ms.front(), ms.back(), ms.size(), std::chrono::duration<double>(t1 - t0).count(),
        placement.c_str(), s.host_uploads, s.cross_copies, s.arena_bytes >> 20, s.constant_bytes >> 20);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "time_denoiser: %s\n", e.what());
    return 1;
  }
  return 0;
}
