#include "runtime/ffmpeg_api.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "graph/error.h"

namespace vdrt::ffmpeg {
namespace {

std::string soname(const char* library, unsigned major) {
  return std::string(library) + ".so." + std::to_string(major);
}

// The Debian and Ubuntu packages holding the sonames: libavformat59, ...
std::string packages() {
  return "libavformat" + std::to_string(LIBAVFORMAT_VERSION_MAJOR) + " libavcodec" +
         std::to_string(LIBAVCODEC_VERSION_MAJOR) + " libavutil" + std::to_string(LIBAVUTIL_VERSION_MAJOR);
}

std::string install_hint() {
  return "install them (Debian/Ubuntu: apt-get install " + packages() +
         ") or point VDRT_FFMPEG_LIBDIR at a folder holding them";
}

// When the wanted soname is missing, another major of the same library is
// the likely reason (a newer distribution); saying so beats "not found".
std::string other_majors_present(const char* library, unsigned wanted) {
  std::string found;
  for (unsigned major = wanted > 2 ? wanted - 2 : 0; major <= wanted + 4; ++major) {
    if (major == wanted) continue;
    const std::string name = soname(library, major);
    if (void* h = dlopen(name.c_str(), RTLD_LAZY | RTLD_LOCAL)) {
      dlclose(h);
      found += (found.empty() ? "" : ", ") + name;
    }
  }
  return found;
}

}  // namespace

std::string avutil_soname() { return soname("libavutil", LIBAVUTIL_VERSION_MAJOR); }
std::string avcodec_soname() { return soname("libavcodec", LIBAVCODEC_VERSION_MAJOR); }
std::string avformat_soname() { return soname("libavformat", LIBAVFORMAT_VERSION_MAJOR); }

std::string version_mismatch(unsigned avutil, unsigned avcodec, unsigned avformat) {
  const struct {
    const char* name;
    unsigned found, built;
  } libs[] = {{"libavutil", AV_VERSION_MAJOR(avutil), LIBAVUTIL_VERSION_MAJOR},
              {"libavcodec", AV_VERSION_MAJOR(avcodec), LIBAVCODEC_VERSION_MAJOR},
              {"libavformat", AV_VERSION_MAJOR(avformat), LIBAVFORMAT_VERSION_MAJOR}};
  std::string why;
  for (const auto& l : libs) {
    if (l.found == l.built) continue;
    why += std::string(why.empty() ? "" : "; ") + l.name + " reports major version " + std::to_string(l.found) +
           " but vdrt was built against its version " + std::to_string(l.built) + " headers";
  }
  if (!why.empty())
    why += " (struct layouts differ between major versions, so it is refused: " + install_hint() +
           ", or rebuild vdrt against the installed FFmpeg's headers)";
  return why;
}

void* Libraries::open(const std::string& libdir, const std::string& name) {
  const std::string path = libdir.empty() ? name : libdir + "/" + name;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    why_ = name + " cannot be loaded" + (libdir.empty() ? "" : " from " + libdir) + " (" + (err ? err : "not found") +
           ")";
    if (libdir.empty()) {
      const std::string library = name.substr(0, name.find(".so"));
      const unsigned major = static_cast<unsigned>(std::stoul(name.substr(name.rfind('.') + 1)));
      if (const std::string other = other_majors_present(library.c_str(), major); !other.empty())
        why_ += "; " + other + " is installed, another major version, whose struct layouts differ";
    }
    why_ += ": " + install_hint();
    return nullptr;
  }
  handles_[opened_++] = handle;
  return handle;
}

Libraries::Libraries(const std::string& libdir) {
  // Dependencies first: libavformat's DT_NEEDED entries then resolve to the
  // libraries already loaded from `libdir` (matched by soname), not to
  // others of the same name on the search path.
  void* avutil = open(libdir, avutil_soname());
  void* avcodec = avutil ? open(libdir, avcodec_soname()) : nullptr;
  void* avformat = avcodec ? open(libdir, avformat_soname()) : nullptr;
  if (!avformat) return;
  std::string missing;
#define VDRT_FFMPEG_LOAD(handle, name)                                      \
  api_.name = reinterpret_cast<decltype(api_.name)>(dlsym(handle, #name)); \
  if (!api_.name) missing += std::string(missing.empty() ? "" : ", ") + #name;
#define VDRT_FFMPEG_LOAD_AVUTIL(name) VDRT_FFMPEG_LOAD(avutil, name)
#define VDRT_FFMPEG_LOAD_AVCODEC(name) VDRT_FFMPEG_LOAD(avcodec, name)
#define VDRT_FFMPEG_LOAD_AVFORMAT(name) VDRT_FFMPEG_LOAD(avformat, name)
  VDRT_AVUTIL_FUNCTIONS(VDRT_FFMPEG_LOAD_AVUTIL)
  VDRT_AVCODEC_FUNCTIONS(VDRT_FFMPEG_LOAD_AVCODEC)
  VDRT_AVFORMAT_FUNCTIONS(VDRT_FFMPEG_LOAD_AVFORMAT)
#undef VDRT_FFMPEG_LOAD_AVFORMAT
#undef VDRT_FFMPEG_LOAD_AVCODEC
#undef VDRT_FFMPEG_LOAD_AVUTIL
#undef VDRT_FFMPEG_LOAD
  // The version check comes before any other call: with a mismatched
  // layout, even a correct-looking call may corrupt memory.
  if (!api_.avutil_version || !api_.avcodec_version || !api_.avformat_version) {
    why_ = "the FFmpeg libraries found export no version functions (missing: " + missing + "): " + install_hint();
    return;
  }
  why_ = version_mismatch(api_.avutil_version(), api_.avcodec_version(), api_.avformat_version());
  if (!why_.empty()) return;
  if (!missing.empty()) {
    why_ = "the FFmpeg libraries found lack " + missing + ": " + install_hint();
    return;
  }
  spdlog::debug("FFmpeg loaded{}: libavformat {}, libavcodec {}, libavutil {} (built against {}, {}, {})",
                libdir.empty() ? "" : " from " + libdir, api_.avformat_version(), api_.avcodec_version(),
                api_.avutil_version(), LIBAVFORMAT_VERSION_INT, LIBAVCODEC_VERSION_INT, LIBAVUTIL_VERSION_INT);
}

Libraries::~Libraries() {
  for (int i = opened_ - 1; i >= 0; --i) dlclose(handles_[i]);
}

const Api& api(const std::string& what, const std::string& path) {
  // Loaded once and never unloaded: encoder threads and FFmpeg's own static
  // state may outlive any owner here.
  static Libraries* libraries = [] {
    const char* dir = std::getenv("VDRT_FFMPEG_LIBDIR");
    return new Libraries(dir ? dir : "");
  }();
  if (!libraries->available())
    throw Error("writing " + what + " needs FFmpeg (" + avformat_soname() + ", " + avcodec_soname() + ", " +
                    avutil_soname() + "): " + libraries->why_unavailable() + "; or write .y4m or PNG frames instead",
                {path});
  return libraries->api();
}

}  // namespace vdrt::ffmpeg
