#include "backends/parity.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "backends/registry.h"
#include "graph/shape_inference.h"
#include "runtime/session.h"

namespace vdrt::test {

std::vector<std::string> gpu_backends() {
  std::vector<std::string> out;
  for (const std::string& n : BackendRegistry::instance().backend_names())
    if (n != "cpu") out.push_back(n);
  if (out.empty()) out.push_back("none");  // keeps the suite instantiated; require_device fails or skips it
  return out;
}

std::string missing_device(const std::string& backend) {
  for (const DeviceInfo& d : BackendRegistry::instance().devices())
    if (d.backend == backend) return {};
  for (const std::string& u : BackendRegistry::instance().unavailable())
    if (u.rfind(backend + ":", 0) == 0) return "no " + backend + " device: " + u;
  return "no " + backend + " device (backend not compiled in)";
}

std::string missing_coopmat(const std::string& backend) {
  if (std::string why = missing_device(backend); !why.empty()) return why;
  if (backend == "opencl") {
    for (const DeviceInfo& d : BackendRegistry::instance().devices())
      if (d.backend == "opencl" && d.index == 0) {
        // backends/opencl/opencl_device.cpp's summary: an NVIDIA GPU of compute capability 8.0+.
        if (d.details.find("tensor cores through inline PTX") != std::string::npos) return {};
        return "the OpenCL device (" + d.name + ") has no tensor cores reachable through inline PTX: " + d.details;
      }
    return "no OpenCL device 0";
  }
  for (const DeviceInfo& d : BackendRegistry::instance().devices())
    if (d.backend == "vulkan" && d.index == 0) {
      // `vdrt devices` marks the shapes the kernels use "[used]" (backends/vulkan/vulkan_device.cpp).
      if (d.details.find("cooperative matrices (NV)") != std::string::npos && d.details.find("[used]") != std::string::npos)
        return {};
      return "the Vulkan device (" + d.name + ") does not use NV cooperative matrices: " + d.details;
    }
  return "no Vulkan device 0";
}

bool gpu_required() {
  const char* req = std::getenv("VDRT_REQUIRE_GPU");
  return req && std::string(req) == "1";
}

void add_fp16_twins(std::vector<ParityCase>& v, double min_tolerance) {
  const size_t fp32_cases = v.size();
  for (size_t i = 0; i < fp32_cases; ++i) {
    ParityCase c = v[i];
    c.name += "Fp16";
    c.tolerance = std::max(c.tolerance, min_tolerance);
    c.options.precision = "fp16";
    v.push_back(std::move(c));
  }
}

void expect_parity(const std::string& backend, const ParityCase& c) {
  GraphBuilder b(c.opset);
  c.build(b);
  std::unique_ptr<Graph> g = b.take();
  infer_shapes(*g);
  TensorMap inputs = random_inputs(*g, 11);

  SessionOptions cpu_opts;
  cpu_opts.device = "cpu";
  Session cpu(g->clone(), cpu_opts);
  TensorMap expected = cpu.run(inputs);

  SessionOptions gpu_opts = c.options;
  gpu_opts.device = backend;
  gpu_opts.cpu_fallback = false;
  std::unique_ptr<Session> gpu_session;
  try {
    gpu_session = std::make_unique<Session>(g->clone(), gpu_opts);
  } catch (const Error& e) {
    // A backend without the requested precision (OpenCL without tensor
    // cores: PoCL in CI) must refuse it by name, not run something else.
    // Vulkan has fp16 on every device it is tested on (lavapipe, the H200),
    // and OpenCL on NVIDIA tensor cores: no excuse there.
    if (c.options.precision == "fp32" || backend == "vulkan" || missing_coopmat(backend).empty()) throw;
    EXPECT_NE(std::string(e.what()).find("precision " + c.options.precision), std::string::npos) << e.what();
    return;
  }
  Session& gpu = *gpu_session;
  for (const std::string& where : gpu.placement()) EXPECT_EQ(where, backend);
  // Twice: the second run reuses the cached plan and compiled ops.
  for (int run = 0; run < 2; ++run) {
    TensorMap actual = gpu.run(inputs);
    for (const auto& [name, want] : expected) {
      ASSERT_TRUE(actual.count(name)) << name;
      const Tensor& got = actual.at(name);
      ASSERT_EQ(got.dims(), want.dims()) << name;
      ASSERT_EQ(got.dtype(), want.dtype()) << name;
      std::vector<double> w = want.as_double(), a = got.as_double();
      double scale = 1, worst = 0;
      for (double x : w) scale = std::max(scale, std::fabs(x));
      size_t at = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        double e = std::fabs(a[i] - w[i]);
        if (!(e <= worst)) worst = e, at = i;  // NaN counts as worst
      }
      EXPECT_LE(worst / scale, c.tolerance) << c.name << " output " << name << ": worst |diff| " << worst
                                            << " at element " << at << " (cpu " << (w.empty() ? 0 : w[at])
                                            << ", " << backend << " " << (a.empty() ? 0 : a[at]) << "), run " << run;
    }
  }
}

}  // namespace vdrt::test
