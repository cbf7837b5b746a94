// The tensor-core probe of the OpenCL backend: see opencl_tensor_cores.h.
#include "backends/opencl/opencl_tensor_cores.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "graph/error.h"

namespace vdrt::opencl {
namespace {

// Small integers are exact in f16: the bits of i (|i| < 2048).
uint16_t half_of_int(int i) {
  if (i == 0) return 0;
  const uint16_t sign = i < 0 ? 0x8000 : 0;
  uint32_t m = static_cast<uint32_t>(std::abs(i));
  int e = 0;
  while ((m >> e) > 1) ++e;  // i = 1.f * 2^e
  const uint32_t frac = (m << (10 - e)) & 0x3ffu;
  return static_cast<uint16_t>(sign | ((e + 15) << 10) | frac);
}

// Releases the probe's buffers however it ends.
struct Buffers {
  std::vector<cl_mem> mems;
  ~Buffers() {
    for (cl_mem m : mems)
      if (m) clReleaseMemObject(m);
  }
};

// Small integers (|i| <= 4) as float8 e4m3fn codes (bias 7, 3 mantissa bits).
uint8_t e4m3_of_int(int i) {
  static const uint8_t mag[5] = {0x00, 0x38, 0x40, 0x44, 0x48};  // 0, 1, 2, 3 = 1.5 * 2, 4
  return static_cast<uint8_t>((i < 0 ? 0x80 : 0) | mag[std::abs(i)]);
}

// Runs a probe kernel of one subgroup on buffers made from `inputs` and a
// [16][8] float result; compares the result with `want`.
std::string run_probe(cl_context context, cl_command_queue queue, const ProgramCache::Kernel& k,
                      const std::vector<std::pair<size_t, const void*>>& inputs, const std::vector<double>& want) {
  Buffers bufs;
  cl_int rc = CL_SUCCESS;
  for (auto [bytes, host] : inputs) {
    bufs.mems.push_back(
        clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, const_cast<void*>(host), &rc));
    if (rc != CL_SUCCESS) return "the probe's buffers: " + error_name(rc);
  }
  bufs.mems.push_back(clCreateBuffer(context, CL_MEM_READ_WRITE, 512, nullptr, &rc));
  if (rc != CL_SUCCESS) return "the probe's buffers: " + error_name(rc);
  for (cl_uint i = 0; i < bufs.mems.size(); ++i)
    if ((rc = clSetKernelArg(k.kernel, i, sizeof(cl_mem), &bufs.mems[i])) != CL_SUCCESS)
      return "the probe's arguments: " + error_name(rc);
  const size_t global = 32, local = 32;
  if ((rc = clEnqueueNDRangeKernel(queue, k.kernel, 1, nullptr, &global, &local, 0, nullptr, nullptr)) != CL_SUCCESS)
    return "launching the probe: " + error_name(rc);
  std::vector<float> got(128);
  if ((rc = clEnqueueReadBuffer(queue, bufs.mems.back(), CL_TRUE, 0, 512, got.data(), 0, nullptr, nullptr)) !=
      CL_SUCCESS)
    return "running the probe: " + error_name(rc);
  for (int i = 0; i < 128; ++i)
    if (double(got[i]) != want[i])
      return "the probe's product is wrong (element " + std::to_string(i) + ": " + std::to_string(got[i]) +
             " instead of " + std::to_string(want[i]) + ")";
  return {};
}

}  // namespace

std::string probe_tensor_cores(cl_context context, cl_command_queue queue, ProgramCache& programs) {
  const ProgramCache::Kernel* k = nullptr;
  try {
    k = &programs.get("tensor_core_probe", {});
  } catch (const Error& e) {
    return std::string("the driver does not build the inline-PTX probe: ") + e.what();
  }
  // A [16][16] and B [16][8] of small integers; d = A B is exact in f32.
  std::vector<uint16_t> a(256), b(128);
  std::vector<double> want(128, 0.0);
  auto av = [](int m, int kk) { return (m * 3 + kk * 5) % 7 - 3; };
  auto bv = [](int kk, int n) { return (kk * 2 + n * 7) % 9 - 4; };
  for (int m = 0; m < 16; ++m)
    for (int kk = 0; kk < 16; ++kk) a[m * 16 + kk] = half_of_int(av(m, kk));
  for (int kk = 0; kk < 16; ++kk)
    for (int n = 0; n < 8; ++n) b[kk * 8 + n] = half_of_int(bv(kk, n));
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n)
      for (int kk = 0; kk < 16; ++kk) want[m * 8 + n] += double(av(m, kk)) * bv(kk, n);

  return run_probe(context, queue, *k, {{512, a.data()}, {256, b.data()}}, want);
}

std::string probe_e4m3_tensor_cores(cl_context context, cl_command_queue queue, ProgramCache& programs) {
  const ProgramCache::Kernel* k = nullptr;
  try {
    k = &programs.get("tensor_core_probe_e4m3", {});
  } catch (const Error& e) {
    return std::string("the driver does not build the float8 probe: ") + e.what();
  }
  // A [16][32] as floats (the kernel packs them), B [8][32] as codes (n rows).
  std::vector<float> a(16 * 32);
  std::vector<uint8_t> b(8 * 32);
  std::vector<double> want(128, 0.0);
  auto av = [](int m, int kk) { return (m * 3 + kk * 5) % 9 - 4; };
  auto bv = [](int kk, int n) { return (kk * 2 + n * 7) % 9 - 4; };
  for (int m = 0; m < 16; ++m)
    for (int kk = 0; kk < 32; ++kk) a[m * 32 + kk] = float(av(m, kk));
  for (int n = 0; n < 8; ++n)
    for (int kk = 0; kk < 32; ++kk) b[n * 32 + kk] = e4m3_of_int(bv(kk, n));
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n)
      for (int kk = 0; kk < 32; ++kk) want[m * 8 + n] += double(av(m, kk)) * bv(kk, n);
  return run_probe(context, queue, *k, {{a.size() * 4, a.data()}, {b.size(), b.data()}}, want);
}

}  // namespace vdrt::opencl
