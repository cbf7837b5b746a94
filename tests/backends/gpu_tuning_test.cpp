// The per-device tuning files of the GPU backends (backends/gpu_tuning.h),
// without a device: keys are stable file-name-safe text, a record survives a
// write and a read, and the tile a backend takes follows VDRT_MATMUL_TILE,
// then the file, and never a tile the device cannot run.
#if defined(VDRT_WITH_VULKAN) || defined(VDRT_WITH_OPENCL)
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

#include "backends/gpu_tuning.h"
#include "kernels/gpu/matmul_tile.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

gpu::DeviceCaps small_device() {
  gpu::DeviceCaps c;
  c.max_shared_bytes = 32 * 1024;  // 128x128 tiles with K slices of 32 (34 KiB) do not fit
  c.max_workgroup_invocations = 256;
  return c;
}

TEST(GpuTuning, DeviceKeysAreStableFileNames) {
  EXPECT_EQ(tuning::device_key("NVIDIA H200", "560.35.03"), "nvidia-h200-560.35.03");
  EXPECT_EQ(tuning::device_key("pthread-skylake-avx512-AMD EPYC", "3.1+debian"), "pthread-skylake-avx512-amd-epyc-3.1-debian");
  EXPECT_EQ(tuning::device_key("a/b\\c:d", " "), "a-b-c-d");
  ScopedEnv dir("VDRT_CACHE_DIR", "/tmp/x");
  EXPECT_EQ(tuning::tuning_file("opencl", "k"), "/tmp/x/tuning/opencl-k.toml");
}

TEST(GpuTuning, RecordRoundTrips) {
  const fs::path path = fs::temp_directory_path() / ("vdrt_tuning_rt_" + std::to_string(::getpid())) / "t" / "f.toml";
  tuning::Record r{"opencl", "Dev \"quoted\"", "1.0", "2026-11-30T09:00:00Z", {64, 32, 16, 4, 4}, {"8x8x8", "4x4x4"}, 3,
                   {{{64, 32, 16, 4, 4}, {0.5, 0.25}}, {{64, 64, 16, 4, 4}, {0.75, 0.5}}}};
  tuning::write_record(path.string(), r);
  tuning::Record back = tuning::read_record(path.string());
  EXPECT_EQ(back.device, r.device);
  EXPECT_EQ(back.tile, r.tile);
  EXPECT_EQ(back.shapes, r.shapes);
  EXPECT_EQ(back.runs, 3);
  ASSERT_EQ(back.measured.size(), 2u);
  EXPECT_EQ(back.measured[1].tile, (gpu::MatmulTile{64, 64, 16, 4, 4}));
  EXPECT_EQ(back.measured[1].ms, (std::vector<double>{0.75, 0.5}));
  fs::remove_all(path.parent_path().parent_path());
}

TEST(GpuTuning, EnvOverridesTheFileAndUnfitTilesAreIgnored) {
  const fs::path path = fs::temp_directory_path() / ("vdrt_tuning_apply_" + std::to_string(::getpid()) + ".toml");
  ScopedEnv a("VDRT_MATMUL_TILE", nullptr), b("VDRT_VULKAN_MATMUL_TILE", nullptr);
  gpu::DeviceCaps caps = small_device();
  EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "");  // no file: chosen by shape
  EXPECT_FALSE(caps.matmul_tile.set());

  std::ofstream(path) << "[matmul_f32]\ntile = [128, 64, 16, 8, 4]\n";
  EXPECT_EQ(tuning::apply_tuning(path.string(), caps), path.string());
  EXPECT_EQ(caps.matmul_tile, (gpu::MatmulTile{128, 64, 16, 8, 4}));
  {
    ScopedEnv e("VDRT_VULKAN_MATMUL_TILE", "64,64,16,4,4");
    EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "VDRT_VULKAN_MATMUL_TILE");
    EXPECT_EQ(caps.matmul_tile, (gpu::MatmulTile{64, 64, 16, 4, 4}));
    ScopedEnv f("VDRT_MATMUL_TILE", "32,32,16,4,4");  // the new name wins over the alias
    EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "VDRT_MATMUL_TILE");
    EXPECT_EQ(caps.matmul_tile, (gpu::MatmulTile{32, 32, 16, 4, 4}));
  }
  {
    ScopedEnv e("VDRT_MATMUL_TILE", "128,128,32,8,8");  // 34 KiB of shared memory: too much here
    EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "");
    EXPECT_FALSE(caps.matmul_tile.set());
  }
  {
    ScopedEnv e("VDRT_MATMUL_TILE", "64,64,16");  // not five numbers
    EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "");
  }
  std::ofstream(path) << "[matmul_f32]\ntile = [128, 128, 32, 8, 8]\n";
  EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "");
  EXPECT_FALSE(caps.matmul_tile.set());
  EXPECT_NE(tuning::tuning_summary(path.string(), caps).find("ignored"), std::string::npos);
  std::ofstream(path) << "[matmul_f32]\ntile = [64, 64]\n";
  EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "");
  std::ofstream(path) << "not toml [";
  EXPECT_EQ(tuning::apply_tuning(path.string(), caps), "");
  fs::remove(path);
}

TEST(GpuTuning, EveryDefaultTileIsACandidate) {
  // tune can always reproduce what the shape rule picks, so tuning never loses to the built-in choice.
  const auto& c = gpu::matmul_tile_candidates();
  gpu::DeviceCaps caps = small_device();
  for (int64_t mn : {16, 4096}) {
    const gpu::MatmulTile d = gpu::default_matmul_tile(mn, mn, caps);
    EXPECT_NE(std::find(c.begin(), c.end(), d), c.end()) << gpu::to_string(d);
  }
  EXPECT_EQ(gpu::parse_matmul_tile("1,2,3,4,5"), (gpu::MatmulTile{1, 2, 3, 4, 5}));
  EXPECT_FALSE(gpu::parse_matmul_tile("1,2,3,4,5,6"));
  EXPECT_FALSE(gpu::parse_matmul_tile("-1,2,3,4,5"));
}

}  // namespace
}  // namespace vdrt::test
#endif
