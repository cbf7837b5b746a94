#include "backends/cache_folder.h"

#include <cstdlib>

namespace vdrt {

std::string cache_folder() {
  if (const char* v = std::getenv("VDRT_CACHE_DIR"); v && *v) return v;
  if (const char* v = std::getenv("XDG_CACHE_HOME"); v && *v) return std::string(v) + "/vdrt";
  if (const char* v = std::getenv("HOME"); v && *v) return std::string(v) + "/.cache/vdrt";
  return {};
}

}  // namespace vdrt
