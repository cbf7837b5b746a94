// bench/ptx_probe_util.h's definitions.
#include "ptx_probe_util.h"

#include <cmath>
#include <cstring>

namespace ptx_probe {

// Prepended to every kernel below: the instructions as functions and macros.
const char* const k_prelude = R"CL(
// A local pointer as the 32-bit .shared address that ldmatrix and cp.async
// take: the pointer's integer value, or (-DCVTA) converted from a generic
// address.
#if CVTA
uint shared_addr(ulong p) {
  uint a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
  return a;
}
#else
uint shared_addr(ulong p) { return (uint)p; }
#endif
// d[0..3] += A (4 registers of f16 pairs) x B (2), m16n8k16, f16 -> f32.
#define MMA(d, a0, a1, a2, a3, b0, b1)                                                                 \
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                                         \
               : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))
// Four 8x8 f16 matrices from local memory; lanes 8i..8i+7 give matrix i's row addresses.
#define LDMATRIX_X4(r0, r1, r2, r3, addr)                                               \
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"          \
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr))
#define LDMATRIX_X4_TRANS(r0, r1, r2, r3, addr)                                         \
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"    \
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr))
// 16 bytes global -> local, asynchronously (cp.async.commit_group / wait_group).
#define CP_ASYNC16(local_addr, global_ptr) \
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(local_addr), "l"(global_ptr) : "memory")
float shfl_xor(float v, uint m) {
  float r;
  asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(m));
  return r;
}
uint pack_f16x2(float lo, float hi) {  // lo in the low 16 bits
  uint d;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
  return d;
}
)CL";

// Each kernel is its own program, so that one the compiler rejects does not hide the others.

uint16_t to_half(float f) {  // round to nearest even, normal range only (the test values are small)
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (exp <= 0) return uint16_t(sign);
  uint32_t h = sign | (uint32_t(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return uint16_t(h);
}
float from_half(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  const float v = exp ? std::ldexp(float(mant | 0x400), exp - 25) : std::ldexp(float(mant), -24);
  return (h & 0x8000) ? -v : v;
}

cl_mem buffer(Cl& cl, size_t bytes, const void* host) {
  cl_int e;
  cl_mem m = clCreateBuffer(cl.ctx, CL_MEM_READ_WRITE | (host ? CL_MEM_COPY_HOST_PTR : 0), bytes,
                            const_cast<void*>(host), &e);
  CHECK(e);
  return m;
}

bool g_cvta = false;

namespace {

std::string build_log(Cl& cl, cl_program p) {
  size_t n = 0;
  clGetProgramBuildInfo(p, cl.dev, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
  std::string log(n, '\0');
  clGetProgramBuildInfo(p, cl.dev, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
  return log;
}

// k_prelude + `source` built with `defines`, or null (`name`, `what` and the
// compiler's log printed).
cl_program build_source(Cl& cl, const char* source, const char* name, const std::string& defines, const char* what) {
  const std::string options = std::string("-cl-std=CL1.2") + (g_cvta ? " -DCVTA=1" : "") + defines;
  cl_int e;
  const char* sources[2] = {k_prelude, source};
  cl_program prog = clCreateProgramWithSource(cl.ctx, 2, sources, nullptr, &e);
  CHECK(e);
  const cl_int built = clBuildProgram(prog, 1, &cl.dev, options.c_str(), nullptr, nullptr);
  if (built == CL_SUCCESS) return prog;
  std::printf("%s: %s (OpenCL error %d):\n%s\n", name, what, built, build_log(cl, prog).c_str());
  clReleaseProgram(prog);
  return nullptr;
}

cl_kernel kernel_of(cl_program prog, const char* name) {
  cl_int e;
  cl_kernel k = clCreateKernel(prog, name, &e);
  CHECK(e);
  clReleaseProgram(prog);  // the kernel keeps it alive
  return k;
}

cl_int enqueue_2d(Cl& cl, cl_kernel k, const size_t (&groups)[2], const size_t (&local)[2]) {
  const size_t global[2] = {groups[0] * local[0], groups[1] * local[1]};
  return clEnqueueNDRangeKernel(cl.q, k, 2, nullptr, global, local, 0, nullptr, nullptr);
}

}  // namespace

cl_kernel kernel(Cl& cl, const char* source, const char* name, const std::string& defines) {
  cl_program prog = build_source(cl, source, name, defines, "does not build");
  return prog ? kernel_of(prog, name) : nullptr;
}

// A kernel with sm_90a instructions (written behind SM90A): built from
// source as sm_90 with them commented out, its PTX (NVIDIA's program binary)
// taken back, the markers removed, .target raised to sm_90a (and .version to
// 8.0 if lower), and loaded again as a binary.
cl_kernel kernel_sm90a(Cl& cl, const char* source, const char* name, const std::string& defines,
                       const std::string& entry_directive) {
  cl_program prog = build_source(cl, source, name, defines, "does not build as sm_90");
  if (!prog) return nullptr;
  size_t size = 0;
  CHECK(clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr));
  std::string ptx(size, '\0');
  unsigned char* bin = reinterpret_cast<unsigned char*>(ptx.data());
  CHECK(clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, nullptr));
  clReleaseProgram(prog);
  ptx.resize(std::strlen(ptx.c_str()));
  size_t markers = 0;
  for (size_t at; (at = ptx.find("// @SM90A@ ")) != std::string::npos; ++markers) ptx.erase(at, 11);
  const size_t target = ptx.find(".target sm_90");
  const size_t version = ptx.find(".version ");
  if (target == std::string::npos || version == std::string::npos) {
    std::printf("%s: no .target sm_90 / .version in the PTX\n", name);
    return nullptr;
  }
  const std::string old_version = ptx.substr(version + 9, ptx.find('\n', version) - version - 9);
  if (ptx.compare(target, 14, ".target sm_90a") != 0) ptx.insert(target + 13, "a");
  if (std::atof(old_version.c_str()) < 8.0) ptx.replace(version + 9, old_version.size(), "8.0");
  if (!entry_directive.empty()) {  // e.g. .reqnctapercluster: between the entry's parameters and its body
    const size_t entry = ptx.find(".entry " + std::string(name));
    const size_t body = entry == std::string::npos ? entry : ptx.find("\n{", entry);
    if (body == std::string::npos) {
      std::printf("%s: no entry body in the PTX\n", name);
      return nullptr;
    }
    ptx.insert(body + 1, entry_directive + "\n");
  }
  static bool told = false;
  if (!told) std::printf("sm_90a: %zu instructions uncommented, PTX .version %s\n", markers, old_version.c_str()), told = true;
  const unsigned char* text = reinterpret_cast<const unsigned char*>(ptx.c_str());
  const size_t length = ptx.size() + 1;
  cl_int status = 0, e;
  prog = clCreateProgramWithBinary(cl.ctx, 1, &cl.dev, &length, &text, &status, &e);
  if (e != CL_SUCCESS) {
    std::printf("%s: the sm_90a PTX is not accepted as a binary (%d, %d)\n", name, e, status);
    return nullptr;
  }
  if (clBuildProgram(prog, 1, &cl.dev, "", nullptr, nullptr) != CL_SUCCESS) {
    std::printf("%s: the sm_90a PTX does not build:\n%s\n", name, build_log(cl, prog).c_str());
    clReleaseProgram(prog);
    return nullptr;
  }
  return kernel_of(prog, name);
}

void set_arg(cl_kernel k, cl_uint i, size_t bytes, const void* value) { CHECK(clSetKernelArg(k, i, bytes, value)); }

void run(Cl& cl, cl_kernel k, const size_t (&groups)[2], const size_t (&local)[2]) {
  CHECK(enqueue_2d(cl, k, groups, local));
  CHECK(clFinish(cl.q));
}
void run(Cl& cl, cl_kernel k, size_t groups, size_t local) { run(cl, k, {groups, 1}, {local, 1}); }

void run_or_exit(Cl& cl, cl_kernel k, const size_t (&groups)[2], const size_t (&local)[2], const char* what) {
  const cl_int e = enqueue_2d(cl, k, groups, local);
  if (e != CL_SUCCESS) {
    std::printf("GEMM (%s): not launched (OpenCL error %d)\n", what, e);
    std::exit(1);
  }
  CHECK(clFinish(cl.q));
}

bool check_and_time(Cl& cl, const GemmProbe& g) {
  const unsigned M = g.m, N = g.n, K = g.k;
  std::vector<uint16_t> a(M * K), b(N * K);
  std::vector<float> af(a.size()), bf(b.size());
  for (size_t i = 0; i < a.size(); ++i) af[i] = from_half(a[i] = to_half(float(int(i * 7919 % 17) - 8) / 8.0f));
  for (size_t i = 0; i < b.size(); ++i) bf[i] = from_half(b[i] = to_half(float(int(i * 104729 % 13) - 6) / 4.0f));
  const std::vector<uint16_t> la = g.lay_a ? g.lay_a(a, M, K) : a, lb = g.lay_b ? g.lay_b(b, N, K) : b;
  cl_mem ba = buffer(cl, la.size() * 2, la.data()), bb = buffer(cl, lb.size() * 2, lb.data());
  cl_mem bc = buffer(cl, size_t(M) * N * 4, nullptr);
  g.launch(ba, bb, bc, M, N, K);
  std::vector<float> c(size_t(M) * N);
  read_back(cl, bc, c);
  clReleaseMemObject(ba), clReleaseMemObject(bb), clReleaseMemObject(bc);
  if (g.refused && g.refused(c)) return false;
  double worst = 0;
  for (unsigned m = 0; m < M; ++m)
    for (unsigned n = 0; n < N; ++n) {
      double ref = 0;
      for (unsigned kk = 0; kk < K; ++kk) ref += double(af[m * K + kk]) * double(bf[n * K + kk]);
      worst = std::max(worst, std::abs(ref - c[size_t(m) * N + n]));
    }
  std::printf("GEMM (%s) %ux%ux%u: max |error| vs float64 %.3g\n", g.variant.c_str(), M, K, N, worst);
  if (!(worst < 1e-3)) return false;
  const unsigned shapes[][3] = {{4680, 1536, 8960}, {4680, 8960, 1536}, {4680, 1536, 1536}};
  for (const auto& sh : shapes) {
    const unsigned Mp = (sh[0] + g.row_multiple - 1) / g.row_multiple * g.row_multiple, Kw = sh[1], Nw = sh[2];
    if (Nw % g.col_multiple) continue;
    // All ones: every layout of them is the same.
    std::vector<uint16_t> ones_a(size_t(Mp) * Kw, 0x3c00), ones_b(size_t(Nw) * Kw, 0x3c00);
    cl_mem ta = buffer(cl, ones_a.size() * 2, ones_a.data()), tb = buffer(cl, ones_b.size() * 2, ones_b.data());
    cl_mem tc = buffer(cl, size_t(Mp) * Nw * 4, nullptr);
    const std::vector<double> t = sorted_times(20, [&] { g.launch(ta, tb, tc, Mp, Nw, Kw); });
    const double flop = 2.0 * 4680 * Kw * Nw;  // the 4680 real rows of a chunk
    std::printf("GEMM (%s) 4680x%ux%u (rows padded to %u): median %.3f ms, best %.3f ms, %.1f TFLOP/s at the median\n",
                g.variant.c_str(), Kw, Nw, Mp, t[10] * 1e3, t[0] * 1e3, flop / t[10] * 1e-12);
    clReleaseMemObject(ta), clReleaseMemObject(tb), clReleaseMemObject(tc);
  }
  return true;
}

}  // namespace ptx_probe
