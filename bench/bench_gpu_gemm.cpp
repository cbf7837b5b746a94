// GEMM throughput of a backend through the whole runtime (a plain main, no
// Google Benchmark):
//   bench_gpu_gemm [--device vulkan|opencl] [--precision fp32|fp16] [--weights f32|fp8|fp8-w8a8]
//                  [--no-peer] [--no-kernels] [--runs 20] [--warmup 3] [--chain 10]
//                  [--shapes MxKxN,...] [MxKxN ...]
// For each shape:
//  - single: a one-node graph y = x W with x [M, K] a host input and W [K, N]
//    a constant (resident on the device); wall clock around Session::run, so
//    it includes the upload of x and the download of y.
//  - chain: graphs of 1 and of `chain` MatMuls (rounded up to an odd count),
//    alternating [M, K] x [K, N] and [M, N] x [N, K] (each with its own
//    constant weight, every product 2 M K N flops, the last output [M, N]
//    like the single one's); (t_chain - t_1) / (chain - 1) is the device
//    time of one product with the transfers cancelled out.
//  - the same with device-resident input and output (IoBinding).
// --weights fp8 / fp8-w8a8 quantise every weight (vdrt.QMatMul, 1 byte per
// weight; fp8-w8a8 also quantises activations per token) and, unless
// --no-peer, time the float-weight graph at the same precision too (at fp16
// the fp16 cooperative-matrix MatMul, vdrt's bf16-class GEMM) and print the
// fp8 / peer ratio of the device-I/O per-product times. Unless --no-kernels,
// one more session per weight kind runs the single product with the
// backend's profiler on (VDRT_VULKAN_PROFILE / VDRT_OPENCL_PROFILE) and
// prints its per-kernel GPU time table: which shaders ran (e.g.
// matmul_coopmat_e4m3 with its tile, or matmul with B_E4M3) and for how long.
// VDRT_VK_GEMM_VARIANT=old|BM,BN,BK,WM,WN picks the fp16 cooperative-matrix
// shader / tile (see kernels/gpu/matmul_coopmat.h); VDRT_VULKAN_NO_COOPMAT=1
// keeps every product on the fp32 shaders.
// VDRT_MATMUL_TILE=BM,BN,BK,TM,TN (alias VDRT_VULKAN_MATMUL_TILE) tries
// another tile for the fp32 shader on either GPU backend, over the device's
// tuning file (e.g. 128,128,32,8,8 (the default for large products where
// shared memory allows), 128,64,32,8,4, 64,64,16,4,4); `vdrt tune` times
// them all and keeps the fastest per device.
// Defaults: the Wan2.1-1.3B linear layers of a 3-frame chunk,
// 4680x1536x1536 4680x1536x8960 4680x8960x1536.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graph/shape_inference.h"
#include "runtime/gemm_chain.h"
#include "runtime/pass_pipeline.h"
#include "runtime/session.h"

namespace vdrt {
namespace {

struct Options {
  std::string device = "vulkan", precision = "fp32";
  std::string weights = "f32";  // f32, fp8 (vdrt.QMatMul: e4m3 codes + per-channel scales), fp8-w8a8
  bool peer = true, kernels = true;
  int runs = 20, warmup = 3, chain = 10;
  std::vector<std::vector<int64_t>> shapes;  // M, K, N
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: bench_gpu_gemm [--device vulkan|opencl] [--precision fp32|fp16] [--weights f32|fp8|fp8-w8a8] "
               "[--no-peer] [--no-kernels] [--runs N] [--warmup N] [--chain N] [--shapes MxKxN,...] [MxKxN ...]\n",
               why);
  std::exit(2);
}

// x [M, K] through `n` MatMuls with constant weights alternating [K, N] and [N, K].
std::unique_ptr<Graph> matmul_graph(int64_t M, int64_t K, int64_t N, int n) { return gemm_chain_graph(M, K, N, n); }

// The chain with every weight quantised by quantize-fp8 (scope "all"): each
// MatMul becomes a vdrt.QMatMul reading one byte per weight.
std::unique_ptr<Graph> quantised(std::unique_ptr<Graph> g, const std::string& weights) {
  if (weights == "f32") return g;
  const std::string act = weights == "fp8-w8a8" ? "per_token_e4m3" : "none";
  run_pass_pipeline_text(*g, "[[pass]]\nname = \"quantize-fp8\"\nact_quant = \"" + act + "\"\n", "--weights " + weights);
  return g;
}

// Median seconds of one Session::run (after warm-up), and whether every node ran on the device.
// With device_io, x is bound as a device array and the output stays on the
// device (IoBinding), so the time is the device work plus the submission.
double time_graph(std::unique_ptr<Graph> g, int64_t M, int64_t K, const Options& o, const std::string& weights,
                  std::string* where, bool device_io = false, int runs = -1, int warmup = -1) {
  g = quantised(std::move(g), weights);
  SessionOptions so;
  so.device = o.device;
  so.precision = o.precision;
  const std::string out_name = g->outputs().back()->name();
  Session s(std::move(g), so);
  TensorMap in{{"x", random_normal_tensor({M, K}, 7, 1.0f)}};
  IoBinding io;
  if (device_io) {
    io.device_inputs["x"] = s.to_device(in.at("x"));
    io.device_outputs.insert(out_name);
  }
  auto run = [&] {
    if (device_io) s.run(io);
    else s.run(in);
  };
  for (int i = 0; i < (warmup < 0 ? o.warmup : warmup); ++i) run();
  std::vector<std::string> p = s.placement();
  std::sort(p.begin(), p.end());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  where->clear();
  for (const auto& x : p) *where += (where->empty() ? "" : "+") + x;
  std::vector<double> t;
  for (int i = 0; i < std::max(1, runs < 0 ? o.runs : runs); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    auto t1 = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Times one shape with one kind of weights and prints its lines; returns
// the device-I/O time per product (the chain's), or the single product's
// without a chain.
double bench_shape(int64_t M, int64_t K, int64_t N, const Options& o, const std::string& weights) {
  const std::string tag = "[" + weights + " weights]";
  std::string where;
  double t = time_graph(matmul_graph(M, K, N, 1), M, K, o, weights, &where);
  const double flops = 2.0 * M * N * K;
  std::printf("%5lldx%5lldx%5lld %s single (with transfers) %9.3f ms %8.3f TFLOP/s  [%s]\n", (long long)M,
              (long long)K, (long long)N, tag.c_str(), t * 1e3, flops / t / 1e12, where.c_str());
  if (o.chain < 2) {
    double d1 = time_graph(matmul_graph(M, K, N, 1), M, K, o, weights, &where, true);
    std::printf("%5lldx%5lldx%5lld %s device I/O: one product %9.3f ms %8.3f TFLOP/s\n", (long long)M, (long long)K,
                (long long)N, tag.c_str(), d1 * 1e3, flops / d1 / 1e12);
    return d1;
  }
  const int n = o.chain | 1;
  double tc = time_graph(matmul_graph(M, K, N, n), M, K, o, weights, &where);
  double per = (tc - t) / (n - 1);
  std::printf("%5lldx%5lldx%5lld %s device-only (chain of %d minus 1, alternating KxN / NxK) %9.3f ms %8.3f "
              "TFLOP/s; chain: %.3f ms  [%s]\n",
              (long long)M, (long long)K, (long long)N, tag.c_str(), n, per * 1e3,
              per > 0 ? flops / per / 1e12 : 0.0, tc * 1e3, where.c_str());
  // The same with device-resident input and output (no transfers to cancel).
  double d1 = time_graph(matmul_graph(M, K, N, 1), M, K, o, weights, &where, true);
  double dc = time_graph(matmul_graph(M, K, N, n), M, K, o, weights, &where, true);
  double dper = (dc - d1) / (n - 1);
  std::printf("%5lldx%5lldx%5lld %s device I/O: one product %9.3f ms %8.3f TFLOP/s; chain of %d %9.3f ms, "
              "per product %9.3f ms %8.3f TFLOP/s\n",
              (long long)M, (long long)K, (long long)N, tag.c_str(), d1 * 1e3, flops / d1 / 1e12, n, dc * 1e3,
              dper * 1e3, dper > 0 ? flops / dper / 1e12 : 0.0);
  return dper;
}

// The backend's per-kernel GPU times of a few runs of the single product
// (device I/O), printed when its session closes: which shaders this shape
// and weight kind run, each timed alone.
void print_kernels(int64_t M, int64_t K, int64_t N, const Options& o, const std::string& weights) {
  const std::string var = o.device.rfind("opencl", 0) == 0 ? "VDRT_OPENCL_PROFILE" : "VDRT_VULKAN_PROFILE";
  const char* before = std::getenv(var.c_str());
  const std::string saved = before ? before : "";
  setenv(var.c_str(), "1", 1);
  std::printf("%5lldx%5lldx%5lld [%s weights] kernels (3 runs after 1 warm-up, %s):\n", (long long)M, (long long)K,
              (long long)N, weights.c_str(), var.c_str());
  std::fflush(stdout);
  std::string where;
  time_graph(matmul_graph(M, K, N, 1), M, K, o, weights, &where, true, 3, 1);
  if (before) setenv(var.c_str(), saved.c_str(), 1);
  else unsetenv(var.c_str());
}

}  // namespace
}  // namespace vdrt

int main(int argc, char** argv) {
  using namespace vdrt;
  Options o;
  auto add_shape = [&](const std::string& a) {
    long long m, k, n;
    if (std::sscanf(a.c_str(), "%lldx%lldx%lld", &m, &k, &n) != 3 || m <= 0 || k <= 0 || n <= 0)
      usage(("bad shape '" + a + "' (want MxKxN)").c_str());
    o.shapes.push_back({m, k, n});
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--device") o.device = next();
    else if (a == "--precision") o.precision = next();
    else if (a == "--runs") o.runs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--warmup") o.warmup = std::max(0, std::atoi(next().c_str()));
    else if (a == "--chain") o.chain = std::atoi(next().c_str());
    else if (a == "--no-peer") o.peer = false;
    else if (a == "--no-kernels") o.kernels = false;
    else if (a == "--weights") {
      o.weights = next();
      if (o.weights != "f32" && o.weights != "fp8" && o.weights != "fp8-w8a8") usage("--weights: f32, fp8 or fp8-w8a8");
    } else if (a == "--shapes") {
      std::string list = next();
      for (size_t at = 0; at <= list.size();) {
        size_t comma = std::min(list.find(',', at), list.size());
        add_shape(list.substr(at, comma - at));
        at = comma + 1;
      }
    } else if (a == "-h" || a == "--help") usage("GEMM throughput through a Session");
    else add_shape(a);
  }
  if (o.shapes.empty()) o.shapes = {{4680, 1536, 1536}, {4680, 1536, 8960}, {4680, 8960, 1536}};
  // The GEMM pipelines' compiler statistics (registers, spills) next to their
  // rates, on Vulkan; VDRT_VULKAN_PIPELINE_STATS=0 turns them off.
  setenv("VDRT_VULKAN_PIPELINE_STATS", "1", /*overwrite=*/0);
  const bool with_peer = o.peer && o.weights != "f32";
  std::printf("device %s, precision %s, weights %s%s, median of %d runs after %d warm-up\n", o.device.c_str(),
              o.precision.c_str(), o.weights.c_str(), with_peer ? " and the f32-weight peer" : "", o.runs, o.warmup);
  try {
    for (const auto& s : o.shapes) {
      const int64_t M = s[0], K = s[1], N = s[2];
      const double t = bench_shape(M, K, N, o, o.weights);
      if (with_peer) {
        const double peer = bench_shape(M, K, N, o, "f32");
        std::printf("%5lldx%5lldx%5lld %s weights / f32 weights at precision %s, device I/O per product: %.3f / %.3f "
                    "ms = %.3fx\n",
                    (long long)M, (long long)K, (long long)N, o.weights.c_str(), o.precision.c_str(), t * 1e3,
                    peer * 1e3, peer > 0 ? t / peer : 0.0);
      }
      std::fflush(stdout);
      if (o.kernels) {
        print_kernels(M, K, N, o, o.weights);
        if (with_peer) print_kernels(M, K, N, o, "f32");
      }
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
