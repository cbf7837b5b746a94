#include "backends/gpu_tuning.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <unistd.h>

#include <spdlog/spdlog.h>
#include <toml.hpp>

#include "backends/cache_folder.h"
#include "graph/error.h"
#include "kernels/gpu/matmul_tile.h"

namespace vdrt::tuning {
namespace {
namespace fs = std::filesystem;

// A backend is created per session, and a process may make many: say each
// thing once.
void warn_once(const std::string& message) {
  static std::mutex m;
  static std::set<std::string> said;
  std::lock_guard<std::mutex> lock(m);
  if (said.insert(message).second) spdlog::warn("{}", message);
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else out += c;
  }
  return out + "\"";
}

std::string tile_array(const gpu::MatmulTile& t) {
  return "[" + std::to_string(t.bm) + ", " + std::to_string(t.bn) + ", " + std::to_string(t.bk) + ", " +
         std::to_string(t.tm) + ", " + std::to_string(t.tn) + "]";
}

std::string ms_array(const std::vector<double>& ms) {
  std::string s = "[";
  char b[32];
  for (size_t i = 0; i < ms.size(); ++i) {
    std::snprintf(b, sizeof b, "%.4f", ms[i]);
    s += (i ? ", " : "") + std::string(b);
  }
  return s + "]";
}

gpu::MatmulTile tile_of(const toml::value& v, const std::string& path) {
  const auto& a = v.as_array();
  if (a.size() != 5) throw Error(path + ": [matmul_f32] tile needs 5 numbers (BM, BN, BK, TM, TN), got " + std::to_string(a.size()));
  uint32_t x[5];
  for (size_t i = 0; i < 5; ++i) {
    const auto n = a[i].as_integer();
    if (n < 0 || n > 4096) throw Error(path + ": [matmul_f32] tile holds " + std::to_string(n) + ", out of range");
    x[i] = static_cast<uint32_t>(n);
  }
  return gpu::MatmulTile{x[0], x[1], x[2], x[3], x[4]};
}

// VDRT_MATMUL_TILE, else the older Vulkan-only name.
std::pair<const char*, const char*> tile_env() {
  for (const char* name : {"VDRT_MATMUL_TILE", "VDRT_VULKAN_MATMUL_TILE"})
    if (const char* v = std::getenv(name); v && *v) return {name, v};
  return {nullptr, nullptr};
}

std::map<std::string, TunableLookup>& lookups() {
  static std::map<std::string, TunableLookup> m;
  return m;
}

}  // namespace

std::string device_key(const std::string& name, const std::string& driver_version) {
  std::string out;
  for (char c : name + " " + driver_version) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.') out += static_cast<char>(std::tolower(u));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > 120) out.resize(120);
  return out.empty() ? "device" : out;
}

std::string tuning_file(const std::string& backend, const std::string& key) {
  const std::string dir = cache_folder();
  if (dir.empty()) return {};
  return (fs::path(dir) / "tuning" / (backend + "-" + key + ".toml")).string();
}

Record read_record(const std::string& path) {
  toml::value doc;
  try {
    doc = toml::parse(path);
  } catch (const std::exception& e) {
    throw Error(path + ": not a tuning file: " + e.what());
  }
  Record r;
  try {
    r.backend = toml::find_or<std::string>(doc, "backend", "");
    r.device = toml::find_or<std::string>(doc, "device", "");
    r.driver = toml::find_or<std::string>(doc, "driver", "");
    r.tuned_at = toml::find_or<std::string>(doc, "tuned_at", "");
    if (!doc.contains("matmul_f32") || !toml::find(doc, "matmul_f32").contains("tile"))
      throw Error(path + ": no [matmul_f32] tile");
    const toml::value& m = toml::find(doc, "matmul_f32");
    r.tile = tile_of(toml::find(m, "tile"), path);
    r.shapes = toml::find_or<std::vector<std::string>>(m, "shapes", std::vector<std::string>{});
    r.runs = toml::find_or<int>(m, "runs", 0);
    if (m.contains("measured"))
      for (const toml::value& e : toml::find(m, "measured").as_array())
        r.measured.push_back(Measured{tile_of(toml::find(e, "tile"), path), toml::find_or<std::vector<double>>(e, "ms", std::vector<double>{})});
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path + ": " + e.what());
  }
  return r;
}

void write_record(const std::string& path, const Record& r) {
  std::ostringstream s;
  s << "# The fp32 GEMM tile vdrt uses on this device, measured by `vdrt tune`\n"
       "# (docs/opencl_backend.md, Tuning). VDRT_MATMUL_TILE overrides it; delete\n"
       "# the file to go back to the tile chosen by shape.\n";
  s << "backend = " << quoted(r.backend) << "\ndevice = " << quoted(r.device) << "\ndriver = " << quoted(r.driver)
    << "\ntuned_at = " << quoted(r.tuned_at) << "\n\n[matmul_f32]\ntile = " << tile_array(r.tile) << "\nshapes = [";
  for (size_t i = 0; i < r.shapes.size(); ++i) s << (i ? ", " : "") << quoted(r.shapes[i]);
  s << "]\nruns = " << r.runs << "\n";
  for (const Measured& m : r.measured) {
    s << "\n[[matmul_f32.measured]]  # ms: device time of one product per shape\ntile = " << tile_array(m.tile)
      << "\nms = " << ms_array(m.ms) << "\n";
  }
  const fs::path p(path);
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) throw Error("cannot create " + p.parent_path().string() + ": " + ec.message());
  const fs::path tmp = p.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << s.str();
    f.close();
    if (!f) throw Error("cannot write " + tmp.string());
  }
  fs::rename(tmp, p, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot write " + path);
  }
}

std::string apply_tuning(const std::string& path, gpu::DeviceCaps& caps) {
  caps.matmul_tile = {};
  if (auto [name, value] = tile_env(); name) {
    std::optional<gpu::MatmulTile> t = gpu::parse_matmul_tile(value);
    if (!t) warn_once(std::string("ignoring ") + name + "=" + value + " (want BM,BN,BK,TM,TN)");
    else if (!gpu::matmul_tile_fits(*t, caps))
      warn_once(std::string("ignoring ") + name + "=" + value + ": the device cannot run that tile");
    else {
      caps.matmul_tile = *t;
      return name;
    }
    return {};
  }
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return {};
  try {
    Record r = read_record(path);
    if (!gpu::matmul_tile_fits(r.tile, caps)) {
      warn_once("ignoring the tuning file " + path + ": the device cannot run its tile " + gpu::to_string(r.tile) +
                " (run vdrt tune again)");
      return {};
    }
    caps.matmul_tile = r.tile;
    return path;
  } catch (const std::exception& e) {
    warn_once(std::string("ignoring the tuning file: ") + e.what());
    return {};
  }
}

std::string tuning_summary(const std::string& path, const gpu::DeviceCaps& caps) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return "not tuned (vdrt tune)";
  try {
    Record r = read_record(path);
    if (!gpu::matmul_tile_fits(r.tile, caps)) return "tuning file ignored: its tile " + gpu::to_string(r.tile) + " does not fit";
    return "tuned: fp32 matmul " + gpu::to_string(r.tile) + (r.tuned_at.empty() ? "" : " (" + r.tuned_at + ")");
  } catch (const std::exception&) {
    return "tuning file ignored: unreadable (" + path + ")";
  }
}

void register_tunable(const std::string& backend, TunableLookup lookup) { lookups()[backend] = std::move(lookup); }

std::optional<TunableDevice> tunable_device(const std::string& backend, int index) {
  auto it = lookups().find(backend);
  if (it == lookups().end()) return std::nullopt;
  return it->second(index);
}

}  // namespace vdrt::tuning
