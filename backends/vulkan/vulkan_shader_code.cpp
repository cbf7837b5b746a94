#include "backends/vulkan/vulkan_shader_code.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

#include "graph/error.h"
#include "kernels/vulkan/vk_shaders.h"

namespace vdrt::vulkan {
namespace {

constexpr uint32_t kSpirvMagic = 0x07230203;

uint64_t fnv1a(const uint32_t* words, size_t count) {
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* bytes = reinterpret_cast<const unsigned char*>(words);
  for (size_t i = 0; i < count * 4; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

// The embedded shaders never change: each is hashed once per process.
uint64_t embedded_hash(const std::string& name, const vk::ShaderBinary& bin) {
  static std::mutex mutex;
  static std::map<std::string, uint64_t> hashes;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = hashes.find(name);
  if (it == hashes.end()) it = hashes.emplace(name, fnv1a(bin.words, bin.word_count)).first;
  return it->second;
}

// A build left in VDRT_VK_SPV_DIR changes what every session computes: say
// so once per file and content, at a level a user sees.
void warn_once(const std::string& path, uint64_t hash) {
  static std::mutex mutex;
  static std::map<std::string, uint64_t> warned;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = warned.emplace(path, hash);
  if (!fresh && it->second == hash) return;
  it->second = hash;
  spdlog::warn("vulkan: using {} instead of the embedded shader (VDRT_VK_SPV_DIR is set; unset it for vdrt's own kernels)", path);
}

}  // namespace

std::vector<uint32_t> read_spirv_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read this SPIR-V file (VDRT_VK_SPV_DIR)", {path});
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 20 || bytes.size() % 4 != 0)
    throw Error("not SPIR-V: " + std::to_string(bytes.size()) +
                    " bytes, where a module is a whole number of 4-byte words, a 5-word header at least (VDRT_VK_SPV_DIR)",
                {path});
  std::vector<uint32_t> words(bytes.size() / 4);
  std::memcpy(words.data(), bytes.data(), bytes.size());
  if (words[0] != kSpirvMagic) {
    char got[16];
    std::snprintf(got, sizeof got, "0x%08x", words[0]);
    throw Error(std::string("not SPIR-V: magic number ") + got + ", expected 0x07230203 (VDRT_VK_SPV_DIR)", {path});
  }
  return words;
}

ShaderCode shader_code(const std::string& name) {
  if (const char* dir = std::getenv("VDRT_VK_SPV_DIR"); dir && *dir) {
    const std::string path = (std::filesystem::path(dir) / (name + ".spv")).string();
    if (std::filesystem::exists(path)) {
      auto words = std::make_shared<const std::vector<uint32_t>>(read_spirv_file(path));
      ShaderCode c{words->data(), words->size(), fnv1a(words->data(), words->size()), path, words};
      spdlog::debug("vulkan: shader {} from {} ({} bytes, hash {:016x})", name, path, c.word_count * 4, c.hash);
      warn_once(path, c.hash);
      return c;
    }
    spdlog::debug("vulkan: shader {} embedded (no {})", name, path);
  }
  const vk::ShaderBinary* bin = vk::find_shader(name);
  if (!bin) throw Error("Vulkan: no embedded shader named '" + name + "'");
  return ShaderCode{bin->words, bin->word_count, embedded_hash(name, *bin), "embedded", nullptr};
}

}  // namespace vdrt::vulkan
