#pragma once
// The FFmpeg functions the MP4/MKV writer calls, loaded at run time from the
// system's shared libraries (dlopen) instead of linked: a machine without
// FFmpeg still runs vdrt and writes .y4m and PNG, and a program packed with its
// libraries to travel elsewhere does not carry ~150 MiB of codecs.
//
// The headers are still needed to build: they give the types, the struct
// layouts and the version this file loads. A struct layout holds only within
// one major version, so the libraries loaded are exactly the sonames of the
// headers' majors (libavformat.so.<LIBAVFORMAT_VERSION_MAJOR>, ...) and a
// library reporting another major is refused. The next majors are not taken:
// FFmpeg 6 (libavcodec 60) dropped AVCodecContext fields that sit before
// fields this writer sets (thread_safe_callbacks before framerate), FFmpeg 7
// (libavcodec 61, libavutil 59) the old channel-layout fields before
// thread_count. Built against those FFmpeg headers, vdrt loads their sonames.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
}

#include <string>

namespace vdrt::ffmpeg {

#define VDRT_AVUTIL_FUNCTIONS(X) \
  X(avutil_version)              \
  X(av_strerror)                 \
  X(av_log_get_level)            \
  X(av_log_set_level)            \
  X(av_opt_set)                  \
  X(av_d2q)                      \
  X(av_dict_set)                 \
  X(av_dict_free)                \
  X(av_frame_alloc)              \
  X(av_frame_free)               \
  X(av_frame_get_buffer)         \
  X(av_frame_make_writable)

#define VDRT_AVCODEC_FUNCTIONS(X)      \
  X(avcodec_version)                   \
  X(avcodec_find_encoder)              \
  X(avcodec_find_encoder_by_name)      \
  X(av_codec_iterate)                  \
  X(av_codec_is_encoder)               \
  X(avcodec_alloc_context3)            \
  X(avcodec_free_context)              \
  X(avcodec_open2)                     \
  X(avcodec_parameters_from_context)   \
  X(avcodec_send_frame)                \
  X(avcodec_receive_packet)            \
  X(av_packet_alloc)                   \
  X(av_packet_free)                    \
  X(av_packet_unref)                   \
  X(av_packet_rescale_ts)

#define VDRT_AVFORMAT_FUNCTIONS(X)    \
  X(avformat_version)                 \
  X(avformat_alloc_output_context2)   \
  X(avformat_free_context)            \
  X(avformat_new_stream)              \
  X(avformat_write_header)            \
  X(av_write_frame)                   \
  X(av_write_trailer)                 \
  X(avio_open)                        \
  X(avio_flush)                       \
  X(avio_closep)

// One pointer per function, typed from the header's own declaration, so a
// call through the table is checked like a direct call.
struct Api {
#define VDRT_FFMPEG_DECLARE(name) decltype(&::name) name = nullptr;
  VDRT_AVUTIL_FUNCTIONS(VDRT_FFMPEG_DECLARE)
  VDRT_AVCODEC_FUNCTIONS(VDRT_FFMPEG_DECLARE)
  VDRT_AVFORMAT_FUNCTIONS(VDRT_FFMPEG_DECLARE)
#undef VDRT_FFMPEG_DECLARE
};

// The sonames loaded, from the headers' majors: "libavformat.so.59", ...
std::string avutil_soname();
std::string avcodec_soname();
std::string avformat_soname();

// libavutil, libavcodec and libavformat loaded from `libdir`, or through the
// dynamic linker's search path when `libdir` is empty. The libraries' own
// dependencies (codecs such as libx264) always come from the search path.
class Libraries {
 public:
  explicit Libraries(const std::string& libdir);
  ~Libraries();
  Libraries(const Libraries&) = delete;
  Libraries& operator=(const Libraries&) = delete;

  bool available() const { return why_.empty(); }
  // What is missing or mismatched and how to install it; empty when available.
  const std::string& why_unavailable() const { return why_; }
  const Api& api() const { return api_; }

 private:
  void* open(const std::string& libdir, const std::string& soname);
  void* handles_[3] = {nullptr, nullptr, nullptr};
  int opened_ = 0;
  Api api_;
  std::string why_;
};

// The reason a library set reporting these versions (as avutil_version() etc.
// return them) cannot be used with these headers; empty when it can.
std::string version_mismatch(unsigned avutil, unsigned avcodec, unsigned avformat);

// The process-wide libraries, loaded on the first call from the folder named
// by VDRT_FFMPEG_LIBDIR when set, else from the search path. Throws
// vdrt::Error naming `path` ("writing <what> needs FFmpeg (...): ...") when
// they cannot be used; `what` names the output, e.g. ".mp4".
const Api& api(const std::string& what, const std::string& path);

}  // namespace vdrt::ffmpeg
