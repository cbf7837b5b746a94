#pragma once
// Per-device tuning of the GPU backends, kept as CLBlast keeps its database:
// `vdrt tune` measures the fp32 GEMM tiles on a device and writes
//   cache_folder()/tuning/<backend>-<device key>.toml
// ([matmul_f32] tile = [BM, BN, BK, TM, TN], plus what was measured and
// when); each backend reads it when created. VDRT_MATMUL_TILE (alias
// VDRT_VULKAN_MATMUL_TILE) overrides the file, also read at creation, so
// one process can try several tiles. Shared by the Vulkan and OpenCL
// backends; a tile the device cannot run is ignored with one warning.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernels/gpu/gpu_kernel.h"

namespace vdrt::tuning {

// "<name> <driver version>" reduced to [a-z0-9._-]: stable across runs,
// new when the driver changes (a new driver may want another tile).
std::string device_key(const std::string& name, const std::string& driver_version);
// cache_folder()/tuning/<backend>-<key>.toml; "" when there is no cache folder.
std::string tuning_file(const std::string& backend, const std::string& key);

struct Measured {
  gpu::MatmulTile tile;
  std::vector<double> ms;  // per shape: device time of one product
};

struct Record {
  std::string backend, device, driver, tuned_at;  // tuned_at: UTC, ISO 8601
  gpu::MatmulTile tile;                           // [matmul_f32] tile
  std::vector<std::string> shapes;                // "MxKxN"
  int runs = 0;
  std::vector<Measured> measured;                 // every tile tried, the chosen one included
};

// Throws vdrt::Error naming the file and what is wrong.
Record read_record(const std::string& path);
// Writes through a temporary file and a rename; creates the folders.
void write_record(const std::string& path, const Record& r);

// Fills caps.matmul_tile for a backend being created: VDRT_MATMUL_TILE, else
// the tuning file at `path` (if any). Returns where the tile came from
// ("VDRT_MATMUL_TILE", the file path), or "" when it is left to the shape.
std::string apply_tuning(const std::string& path, gpu::DeviceCaps& caps);
// For `vdrt devices`: "tuned: fp32 matmul 128x128x32/8x8 (2026-11-30T09:40:00Z)",
// "not tuned (vdrt tune)", or why the file is ignored.
std::string tuning_summary(const std::string& path, const gpu::DeviceCaps& caps);

// What `vdrt tune` needs of a device without a Backend method: its caps as
// the driver reports them (no tuning applied) and its tuning file. Each GPU
// backend registers a lookup by index.
struct TunableDevice {
  std::string backend, name, driver, key, tuning_file;
  gpu::DeviceCaps caps;
};
using TunableLookup = std::function<std::optional<TunableDevice>(int index)>;
void register_tunable(const std::string& backend, TunableLookup lookup);
std::optional<TunableDevice> tunable_device(const std::string& backend, int index);

}  // namespace vdrt::tuning
