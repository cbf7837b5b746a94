#pragma once
// Compiled OpenCL kernels per (kernel name, constant set). A program is built
// from the embedded source once per device and driver: its binary is kept
// under <cache folder>/opencl, keyed by a hash of the source, the build
// options, the device, its driver and the platform, so a second start
// compiles nothing (as CLBlast and ncnn keep theirs).
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/opencl/opencl_device.h"

namespace vdrt::opencl {

struct ProgramStats {
  size_t built = 0;   // programs compiled from source
  size_t loaded = 0;  // programs created from a cached binary
};

// Process-wide counts, for tests and `--verbose`.
ProgramStats program_stats();

class ProgramCache {
 public:
  struct Kernel {
    cl_kernel kernel = nullptr;
    std::array<size_t, 3> local{1, 1, 1};  // reqd_work_group_size
  };

  ProgramCache(cl_context context, const DeviceEntry& device);
  ~ProgramCache();
  ProgramCache(const ProgramCache&) = delete;
  ProgramCache& operator=(const ProgramCache&) = delete;

  // Throws vdrt::Error with the build log when the kernel does not compile.
  const Kernel& get(const std::string& name, const std::vector<uint32_t>& spec);

 private:
  cl_program build(const std::string& name, const std::string& source, const std::string& options);

  cl_context context_;
  const DeviceEntry& device_;
  std::string folder_;  // empty: no disk cache
  std::map<std::string, Kernel> kernels_;
  std::vector<cl_program> programs_;
};

}  // namespace vdrt::opencl
