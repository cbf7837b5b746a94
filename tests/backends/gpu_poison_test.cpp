// VDRT_GPU_POISON=1 (backends/gpu_backend_common.h): every buffer a GPU
// backend allocates starts as quiet NaNs, so that a kernel reading entries
// no one wrote fails its test instead of passing on fresh zeroed memory
// (how sparse_mass_reduce's bug hid on Vulkan). Without the switch, the
// buffer holds whatever the device gave.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backends/gpu_backend_common.h"
#include "backends/parity.h"
#include "backends/registry.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

class GpuPoison : public testing::TestWithParam<std::string> {};

TEST_P(GpuPoison, NewBuffersHoldNaN) {
  VDRT_REQUIRE_DEVICE(GetParam());
  ScopedEnv poison("VDRT_GPU_POISON", "1");
  std::unique_ptr<Backend> backend = BackendRegistry::instance().create(GetParam());
  // Two sizes: one word, and one that is not a whole number of words (the tail stays as it was).
  for (size_t bytes : {size_t(4), size_t(4 * 1000 + 2)}) {
    std::unique_ptr<Buffer> b = backend->allocate(bytes);
    std::vector<uint32_t> words(bytes / 4, 0);
    backend->download(*b, 0, words.data(), words.size() * 4);
    for (size_t i = 0; i < words.size(); ++i) {
      ASSERT_EQ(words[i], gpu::kPoisonWord) << GetParam() << ", " << bytes << " bytes, word " << i;
      float f;
      std::memcpy(&f, &words[i], 4);
      ASSERT_TRUE(std::isnan(f));
    }
  }
}

TEST(GpuPoison, OffUnlessAsked) {
  {
    ScopedEnv off("VDRT_GPU_POISON", "0");
    EXPECT_FALSE(gpu::poison_new_buffers());
  }
  ScopedEnv on("VDRT_GPU_POISON", "1");
  EXPECT_TRUE(gpu::poison_new_buffers());
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuPoison, testing::ValuesIn(gpu_backends()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace vdrt::test
