#include "backends/opencl/opencl_device.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "graph/error.h"

namespace vdrt::opencl {
namespace {

std::string platform_string(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  if (clGetPlatformInfo(p, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  clGetPlatformInfo(p, what, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string device_string(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  if (clGetDeviceInfo(d, what, 0, nullptr, &n) != CL_SUCCESS || n == 0) return {};
  std::string s(n, '\0');
  clGetDeviceInfo(d, what, n, s.data(), nullptr);
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
  return s;
}

template <typename T>
T device_value(cl_device_id d, cl_device_info what) {
  T v{};
  if (clGetDeviceInfo(d, what, sizeof v, &v, nullptr) != CL_SUCCESS) return T{};
  return v;
}

struct Listing {
  std::vector<DeviceEntry> devices;
  std::string why;
};

DeviceEntry describe(cl_platform_id p, cl_device_id d) {
  DeviceEntry e;
  e.platform = p;
  e.device = d;
  e.name = device_string(d, CL_DEVICE_NAME);
  e.platform_name = platform_string(p, CL_PLATFORM_NAME);
  e.platform_version = platform_string(p, CL_PLATFORM_VERSION);
  e.device_version = device_string(d, CL_DEVICE_VERSION);
  e.driver_version = device_string(d, CL_DRIVER_VERSION);
  e.extensions = " " + device_string(d, CL_DEVICE_EXTENSIONS) + " ";
  e.global_mem_bytes = device_value<cl_ulong>(d, CL_DEVICE_GLOBAL_MEM_SIZE);
  e.local_mem_bytes = device_value<cl_ulong>(d, CL_DEVICE_LOCAL_MEM_SIZE);
  e.max_alloc_bytes = device_value<cl_ulong>(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  e.compute_units = device_value<cl_uint>(d, CL_DEVICE_MAX_COMPUTE_UNITS);
  e.max_work_group = static_cast<uint32_t>(device_value<size_t>(d, CL_DEVICE_MAX_WORK_GROUP_SIZE));
  e.clock_mhz = device_value<cl_uint>(d, CL_DEVICE_MAX_CLOCK_FREQUENCY);
  e.fp16 = e.has_extension("cl_khr_fp16");
  if (e.has_extension("cl_nv_device_attribute_query")) {
    constexpr cl_device_info kCcMajor = 0x4000, kCcMinor = 0x4001;  // CL_DEVICE_COMPUTE_CAPABILITY_*_NV
    e.nv_cc_major = device_value<cl_uint>(d, kCcMajor);
    e.nv_cc_minor = device_value<cl_uint>(d, kCcMinor);
  }
  e.fp64 = e.has_extension("cl_khr_fp64");
  e.subgroups = e.has_extension("cl_khr_subgroups") || e.has_extension("cl_intel_subgroups");
  cl_device_type type = device_value<cl_device_type>(d, CL_DEVICE_TYPE);
  bool unified = device_value<cl_bool>(d, CL_DEVICE_HOST_UNIFIED_MEMORY);
  if (type & CL_DEVICE_TYPE_GPU) e.kind = unified ? "igpu" : "gpu";
  else if (type & CL_DEVICE_TYPE_CPU) e.kind = "cpu";
  else e.kind = "other";

  gpu::DeviceCaps& c = e.caps;
  // kernels/gpu sizes work groups in warps; OpenCL 1.2 cannot ask, and the
  // kernels reduce through local memory, so 32 only shapes the plan.
  c.subgroup_size = 32;
  // Plans larger than 48 KiB of local memory or 1024 invocations gain
  // nothing on CPU drivers that report far more.
  c.max_shared_bytes = static_cast<uint32_t>(std::min<size_t>(e.local_mem_bytes, 48 * 1024));
  c.max_workgroup_invocations = std::min<uint32_t>(e.max_work_group, 1024);
  c.max_groups_x = 1u << 22;
  c.max_groups_y = c.max_groups_z = 65535;
  // Tensors arrive as (buffer, byte offset): 16 keeps float4 loads aligned.
  c.min_storage_offset_alignment = 16;
  c.max_storage_range = e.max_alloc_bytes;
  c.fp16 = false;
  c.coopmat_f16_16x16x16 = false;
  return e;
}

Listing list_all() {
  Listing out;
  if (const char* v = std::getenv("VDRT_OPENCL_DISABLE"); v && *v && std::string(v) != "0") {
    out.why = "disabled by VDRT_OPENCL_DISABLE";
    return out;
  }
  cl_uint np = 0;
  cl_int rc = clGetPlatformIDs(0, nullptr, &np);
  if (rc != CL_SUCCESS || np == 0) {
    out.why = "the OpenCL ICD loader found no platform (" + (rc == CL_SUCCESS ? std::string("0 platforms") : error_name(rc)) +
              "): install a driver such as pocl-opencl-icd, nvidia-opencl-icd or intel-opencl-icd";
    return out;
  }
  std::vector<cl_platform_id> platforms(np);
  clGetPlatformIDs(np, platforms.data(), nullptr);
  for (cl_platform_id p : platforms) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) != CL_SUCCESS || nd == 0) continue;
    std::vector<cl_device_id> ds(nd);
    clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, nd, ds.data(), nullptr);
    for (cl_device_id d : ds) {
      if (!device_value<cl_bool>(d, CL_DEVICE_AVAILABLE) || !device_value<cl_bool>(d, CL_DEVICE_COMPILER_AVAILABLE))
        continue;
      out.devices.push_back(describe(p, d));
    }
  }
  // GPUs first, so that `--device opencl` (index 0) is the GPU on a machine
  // that also has PoCL or a CPU driver installed.
  auto rank = [](const DeviceEntry& e) { return e.kind == "gpu" ? 0 : e.kind == "igpu" ? 1 : e.kind == "other" ? 2 : 3; };
  std::stable_sort(out.devices.begin(), out.devices.end(),
                   [&](const DeviceEntry& a, const DeviceEntry& b) { return rank(a) < rank(b); });
  if (out.devices.empty()) out.why = "no available OpenCL device with a compiler on " + std::to_string(np) + " platform(s)";
  return out;
}

const Listing& listing() {
  static const Listing l = list_all();
  return l;
}

std::string mib(size_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

bool DeviceEntry::has_extension(const std::string& ext) const { return extensions.find(" " + ext + " ") != std::string::npos; }

std::string DeviceEntry::summary() const {
  std::string s = platform_name + ", " + device_version + ", driver " + driver_version + ", " +
                  std::to_string(compute_units) + " compute units, local memory " +
                  std::to_string(local_mem_bytes >> 10) + " KiB, max allocation " + mib(max_alloc_bytes);
  s += fp16 ? ", fp16" : ", no fp16";
  s += fp64 ? ", fp64" : ", no fp64";
  if (subgroups) s += ", subgroups";
  if (nv_cc_major) s += ", compute capability " + compute_capability();
  if (ptx_unavailable().empty())
    s += float8_mma() ? ", tensor cores through inline PTX (fp16 sessions; float8 for W8A8)"
                                              : ", tensor cores through inline PTX (fp16 sessions)";
  return s;
}

std::string DeviceEntry::compute_capability() const {
  std::string s = std::to_string(nv_cc_major);
  s += '.';
  s += std::to_string(nv_cc_minor);
  return s;
}

std::string DeviceEntry::ptx_unavailable() const {
  if (!nv_cc_major) return "tensor cores are reached only on NVIDIA GPUs (inline PTX), and this is not one";
  if (nv_cc_major < 8) {
    std::string why = "compute capability ";
    why += compute_capability();
    why += " lacks mma.sync m16n8k16 and cp.async (8.0 and later have them)";
    return why;
  }
  return {};
}

const std::vector<DeviceEntry>& devices() { return listing().devices; }
std::string unavailable_reason() { return listing().devices.empty() ? listing().why : std::string(); }

std::string error_name(cl_int code) {
  switch (code) {
#define VDRT_CL_ERR(x) case x: return #x;
    VDRT_CL_ERR(CL_DEVICE_NOT_FOUND) VDRT_CL_ERR(CL_DEVICE_NOT_AVAILABLE) VDRT_CL_ERR(CL_COMPILER_NOT_AVAILABLE)
    VDRT_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE) VDRT_CL_ERR(CL_OUT_OF_RESOURCES) VDRT_CL_ERR(CL_OUT_OF_HOST_MEMORY)
    VDRT_CL_ERR(CL_BUILD_PROGRAM_FAILURE) VDRT_CL_ERR(CL_INVALID_VALUE) VDRT_CL_ERR(CL_INVALID_DEVICE)
    VDRT_CL_ERR(CL_INVALID_CONTEXT) VDRT_CL_ERR(CL_INVALID_COMMAND_QUEUE) VDRT_CL_ERR(CL_INVALID_MEM_OBJECT)
    VDRT_CL_ERR(CL_INVALID_BINARY) VDRT_CL_ERR(CL_INVALID_BUILD_OPTIONS) VDRT_CL_ERR(CL_INVALID_PROGRAM)
    VDRT_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE) VDRT_CL_ERR(CL_INVALID_KERNEL_NAME) VDRT_CL_ERR(CL_INVALID_KERNEL)
    VDRT_CL_ERR(CL_INVALID_ARG_INDEX) VDRT_CL_ERR(CL_INVALID_ARG_VALUE) VDRT_CL_ERR(CL_INVALID_ARG_SIZE)
    VDRT_CL_ERR(CL_INVALID_KERNEL_ARGS) VDRT_CL_ERR(CL_INVALID_WORK_DIMENSION) VDRT_CL_ERR(CL_INVALID_WORK_GROUP_SIZE)
    VDRT_CL_ERR(CL_INVALID_WORK_ITEM_SIZE) VDRT_CL_ERR(CL_INVALID_GLOBAL_OFFSET) VDRT_CL_ERR(CL_INVALID_BUFFER_SIZE)
    VDRT_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE) VDRT_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET)
    VDRT_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) VDRT_CL_ERR(CL_INVALID_PLATFORM)
#undef VDRT_CL_ERR
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "OpenCL error " + std::to_string(code);
  }
}

void check(cl_int code, const std::string& what) {
  if (code == CL_SUCCESS) return;
  std::string msg = "OpenCL: " + what + " failed: " + error_name(code);
  if (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_HOST_MEMORY) throw OutOfMemory(msg);
  throw Error(msg);
}

}  // namespace vdrt::opencl
