#pragma once
// What bench/ptx_probe's probes share: the OpenCL context, buffers, kernel
// builds (as written, or as sm_90a through the program's PTX), launches and
// timing, f16 conversion, and the instructions prepended to every kernel.
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace ptx_probe {

#define CHECK(x)                                                                          \
  do {                                                                                    \
    cl_int e_ = (x);                                                                      \
    if (e_ != CL_SUCCESS) {                                                               \
      std::fprintf(stderr, "ptx_probe: %s failed: OpenCL error %d\n", #x, e_);            \
      std::exit(1);                                                                       \
    }                                                                                     \
  } while (0)

// PTX helpers (shared_addr, MMA, LDMATRIX_X4[_TRANS], CP_ASYNC16, shfl_xor,
// pack_f16x2) as OpenCL C, prepended to every kernel's source.
extern const char* const k_prelude;
extern bool g_cvta;  // --cvta: local addresses through cvta.to.shared

struct Cl {
  cl_context ctx = nullptr;
  cl_command_queue q = nullptr;
  cl_device_id dev = nullptr;
};

uint16_t to_half(float f);  // round to nearest even, normal range only (the test values are small)
float from_half(uint16_t h);
cl_mem buffer(Cl& cl, size_t bytes, const void* host);
// The kernel `name` built from k_prelude + `source`, or null (the compiler's log printed).
cl_kernel kernel(Cl& cl, const char* source, const char* name, const std::string& defines = "");
// The same for kernels with sm_90a instructions written behind SM90A markers
// (ptx_probe_util.cpp says how); entry_directive goes between the entry's
// parameters and its body (e.g. .reqnctapercluster).
cl_kernel kernel_sm90a(Cl& cl, const char* source, const char* name, const std::string& defines = "",
                       const std::string& entry_directive = "");
void set_arg(cl_kernel k, cl_uint i, size_t bytes, const void* value);

// The kernel's arguments in order: buffers as cl_mem, scalars as themselves.
template <typename... T>
void set_args(cl_kernel k, const T&... args) {
  cl_uint i = 0;
  (set_arg(k, i++, sizeof(T), &args), ...);
}

// Launches groups[0] x groups[1] work groups of local[0] x local[1] and waits.
void run(Cl& cl, cl_kernel k, const size_t (&groups)[2], const size_t (&local)[2]);
void run(Cl& cl, cl_kernel k, size_t groups, size_t local);
// The same, but a launch the runtime refuses ends the program with a line
// naming `what` and the error (e.g. local memory it will not give).
void run_or_exit(Cl& cl, cl_kernel k, const size_t (&groups)[2], const size_t (&local)[2], const char* what);

// Wall-clock seconds of `reps` calls of launch() (each waits for its kernel)
// after one warm-up, fastest first.
template <typename Launch>
std::vector<double> sorted_times(int reps, Launch launch) {
  launch();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    launch();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t;
}

template <typename T>
void read_back(Cl& cl, cl_mem from, std::vector<T>& to) {
  CHECK(clEnqueueReadBuffer(cl.q, from, CL_TRUE, 0, to.size() * sizeof(T), to.data(), 0, nullptr, nullptr));
}

// The GEMM probes' check and timing, C[M][N] (f32) = A[M][K] B[N][K]^T of
// f16: a small product against float64 (exact sums expected: error < 1e-3),
// then, if it matched, the Wan layer shapes (rows padded to row_multiple,
// FLOPs counted on a chunk's 4680 rows, shapes whose N is not a multiple of
// col_multiple skipped), median and best of 20 launches. lay_a / lay_b give an
// operand as the kernel reads it (tiled, k permuted; empty: as it is) from its
// row-major form; refused(c) may decline the small product's output (saying why).
struct GemmProbe {
  std::string variant;
  unsigned m = 256, n = 384, k = 160;  // the small product
  unsigned row_multiple = 128, col_multiple = 1;
  std::function<std::vector<uint16_t>(const std::vector<uint16_t>&, unsigned rows, unsigned K)> lay_a, lay_b;
  std::function<void(cl_mem a, cl_mem b, cl_mem c, unsigned M, unsigned N, unsigned K)> launch;
  std::function<bool(const std::vector<float>& c)> refused;
};
bool check_and_time(Cl& cl, const GemmProbe& g);

}  // namespace ptx_probe
