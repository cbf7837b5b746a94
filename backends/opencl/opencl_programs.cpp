#include "backends/opencl/opencl_programs.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "backends/cache_folder.h"
#include "graph/error.h"
#include "kernels/opencl/cl_sources.h"

namespace vdrt::opencl {
namespace {

std::atomic<size_t> g_built{0}, g_loaded{0};

uint64_t fnv1a(const std::string& s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Cached binaries carry vdrt's own header (magic, payload size, payload
// hash): some drivers abort the process on a damaged binary instead of
// returning CL_INVALID_BINARY (PoCL asserts), so a truncated or corrupt file
// must never reach the driver.
constexpr char kMagic[8] = {'V', 'D', 'R', 'T', 'C', 'L', 'B', '1'};
constexpr size_t kHeader = 24;

uint64_t hash_bytes(const unsigned char* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// The driver binary of a cache file, or empty when the file is missing or damaged.
std::vector<unsigned char> read_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::vector<unsigned char> data(std::istreambuf_iterator<char>(in), {});
  if (data.size() < kHeader || std::memcmp(data.data(), kMagic, 8) != 0) return {};
  uint64_t size = 0, hash = 0;
  std::memcpy(&size, data.data() + 8, 8);
  std::memcpy(&hash, data.data() + 16, 8);
  if (size != data.size() - kHeader || hash != hash_bytes(data.data() + kHeader, size)) return {};
  return std::vector<unsigned char>(data.begin() + kHeader, data.end());
}

// Written to a temporary name and renamed, so a concurrent start never reads
// half a binary.
void write_binary(const std::string& path, const std::vector<unsigned char>& data) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) return;
    uint64_t size = data.size(), hash = hash_bytes(data.data(), data.size());
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&size), 8);
    out.write(reinterpret_cast<const char*>(&hash), 8);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) {
      out.close();
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

// OpenCL programs are built from one string, so `#include "NAME.cl"` lines
// (kernels/opencl/sparse_common.cl, shared like the GLSL includes) are
// replaced here by the embedded source of that name, each at most once.
std::string expand_includes(const std::string& name, const std::string& body, std::vector<std::string>& seen) {
  std::string out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    const std::string directive = "#include \"";
    if (line.rfind(directive, 0) != 0) {
      out += line + "\n";
      continue;
    }
    const size_t close = line.find(".cl\"", directive.size());
    VDRT_CHECK(close != std::string::npos, "OpenCL kernel " + name + ": cannot read '" + line + "' (expected #include \"NAME.cl\")");
    const std::string included = line.substr(directive.size(), close - directive.size());
    if (std::find(seen.begin(), seen.end(), included) != seen.end()) continue;
    seen.push_back(included);
    const char* text = cl::find_source(included);
    VDRT_CHECK(text != nullptr, "OpenCL kernel " + name + " includes " + included + ".cl, which vdrt does not embed");
    out += expand_includes(included, text, seen);
  }
  return out;
}

std::string build_log(cl_program p, cl_device_id d) {
  size_t n = 0;
  clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
  std::string log(n, '\0');
  if (n) clGetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, n, log.data(), nullptr);
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n' || log.back() == ' ')) log.pop_back();
  return log;
}

}  // namespace

ProgramStats program_stats() { return ProgramStats{g_built.load(), g_loaded.load()}; }

ProgramCache::ProgramCache(cl_context context, const DeviceEntry& device) : context_(context), device_(device) {
  if (std::string f = cache_folder(); !f.empty()) folder_ = f + "/opencl";
}

ProgramCache::~ProgramCache() {
  for (auto& [_, k] : kernels_) clReleaseKernel(k.kernel);
  for (cl_program p : programs_) clReleaseProgram(p);
}

cl_program ProgramCache::build(const std::string& name, const std::string& source, const std::string& options) {
  cl_device_id dev = device_.device;
  std::string path;
  if (!folder_.empty()) {
    uint64_t h = fnv1a(source);
    for (const std::string* s : {&options, &device_.name, &device_.driver_version, &device_.device_version,
                                 &device_.platform_name, &device_.platform_version})
      h = fnv1a(*s + '\x1f', h);
    path = folder_ + "/" + name + "-" + hex64(h) + ".bin";
    std::vector<unsigned char> bin = read_binary(path);
    if (!bin.empty()) {
      const unsigned char* ptr = bin.data();
      size_t size = bin.size();
      cl_int status = CL_SUCCESS, rc = CL_SUCCESS;
      cl_program p = clCreateProgramWithBinary(context_, 1, &dev, &size, &ptr, &status, &rc);
      if (rc == CL_SUCCESS && status == CL_SUCCESS && clBuildProgram(p, 1, &dev, options.c_str(), nullptr, nullptr) == CL_SUCCESS) {
        ++g_loaded;
        return p;
      }
      // A binary the driver no longer accepts (an update it did not
      // announce in its version string) is rebuilt from source.
      if (p) clReleaseProgram(p);
      spdlog::debug("opencl: cached binary {} rejected, rebuilding", path);
    } else if (std::filesystem::exists(path)) {
      spdlog::debug("opencl: cached binary {} is damaged, rebuilding", path);
    }
  }
  const char* srcs[] = {source.c_str()};
  cl_int rc = CL_SUCCESS;
  cl_program p = clCreateProgramWithSource(context_, 1, srcs, nullptr, &rc);
  check(rc, "clCreateProgramWithSource(" + name + ")");
  rc = clBuildProgram(p, 1, &dev, options.c_str(), nullptr, nullptr);
  if (rc != CL_SUCCESS) {
    std::string log = build_log(p, dev);
    clReleaseProgram(p);
    throw Error("OpenCL: kernel " + name + " (" + options + ") does not build on " + device_.name + ": " +
                error_name(rc) + (log.empty() ? "" : "\n" + log));
  }
  ++g_built;
  // The compiler's own report (with -cl-nv-verbose: registers and spills a kernel uses).
  if (const char* e = std::getenv("VDRT_OPENCL_BUILD_LOG"); e && *e && std::string(e) != "0")
    if (std::string log = build_log(p, dev); !log.empty()) spdlog::info("opencl: {} ({}):\n{}", name, options, log);
  if (!path.empty()) {
    size_t size = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr) == CL_SUCCESS && size) {
      std::vector<unsigned char> bin(size);
      unsigned char* ptr = bin.data();
      if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr) == CL_SUCCESS) write_binary(path, bin);
    }
  }
  return p;
}

const ProgramCache::Kernel& ProgramCache::get(const std::string& name, const std::vector<uint32_t>& spec) {
  std::string options = "-cl-std=CL1.2 -cl-mad-enable";
  // Extra compiler options for experiments (e.g. NVIDIA's -cl-nv-maxrregcount=N, -cl-nv-verbose).
  if (const char* e = std::getenv("VDRT_OPENCL_OPTIONS"); e && *e) options += std::string(" ") + e;
  for (size_t i = 0; i < spec.size(); ++i) options += " -DSPEC" + std::to_string(i) + "=" + std::to_string(spec[i]) + "u";
  std::string key = name + " " + options;
  if (auto it = kernels_.find(key); it != kernels_.end()) return it->second;

  const char* body = cl::find_source(name);
  VDRT_CHECK(body != nullptr, "the OpenCL backend has no kernel '" + name + "' (kernels/opencl/" + name + ".cl)");
  const char* common = cl::find_source("common");
  std::vector<std::string> seen;
  std::string source = std::string(common ? common : "") + "\n" + expand_includes(name, body, seen);
  cl_program p = build(name, source, options);
  programs_.push_back(p);
  cl_int rc = CL_SUCCESS;
  Kernel k;
  k.kernel = clCreateKernel(p, name.c_str(), &rc);
  check(rc, "clCreateKernel(" + name + ")");
  size_t local[3] = {0, 0, 0};
  clGetKernelWorkGroupInfo(k.kernel, device_.device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof local, local, nullptr);
  if (local[0] == 0) {
    clReleaseKernel(k.kernel);
    throw Error("OpenCL: kernel " + name + " does not declare reqd_work_group_size (docs/gpu_kernels.md)");
  }
  k.local = {local[0], local[1] ? local[1] : 1, local[2] ? local[2] : 1};
  return kernels_.emplace(key, k).first->second;
}

}  // namespace vdrt::opencl
