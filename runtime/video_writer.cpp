#include "runtime/video_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "runtime/video_writer_formats.h"

namespace vdrt {
namespace {

const char* const kSupported =
    "supported: .mp4 and .mkv (H.264), .y4m (YUV4MPEG2), PNG frames via a pattern such as 'frames/%05d.png' or a "
    "directory path ending in '/'";

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

VideoFormat parse_video_format(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!n.empty() && n[0] == '.') n.erase(0, 1);
  if (n == "auto" || n.empty()) return VideoFormat::Auto;
  if (n == "mp4") return VideoFormat::Mp4;
  if (n == "mkv" || n == "matroska") return VideoFormat::Mkv;
  if (n == "y4m") return VideoFormat::Y4m;
  if (n == "png") return VideoFormat::Png;
  throw Error("unknown video format '" + name + "' (known: auto, mp4, mkv, y4m, png)");
}

const char* video_format_name(VideoFormat f) {
  switch (f) {
    case VideoFormat::Auto:
      return "auto";
    case VideoFormat::Mp4:
      return "mp4";
    case VideoFormat::Mkv:
      return "mkv";
    case VideoFormat::Y4m:
      return "y4m";
    case VideoFormat::Png:
      return "png";
  }
  return "?";
}

VideoFormat video_format_for_path(const std::string& path, VideoFormat override_format) {
  if (path.empty()) throw Error(std::string("no output path given (") + kSupported + ")");
  if (override_format != VideoFormat::Auto) return override_format;
  if (path.back() == '/') return VideoFormat::Png;
  const std::string ext = lower_extension(path);
  if (is_frame_pattern(path)) {
    if (ext == ".png") return VideoFormat::Png;
    throw Error("frame pattern with unsupported image type '" + ext + "' (" + kSupported + ")", {path});
  }
  if (ext == ".mp4") return VideoFormat::Mp4;
  if (ext == ".mkv") return VideoFormat::Mkv;
  if (ext == ".y4m") return VideoFormat::Y4m;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return VideoFormat::Png;
  if (ext == ".png")
    throw Error(
        "a video needs one PNG per frame: give a pattern such as 'frames/%05d.png' or a directory ending in '/'",
        {path});
  throw Error("unknown video format" + (ext.empty() ? std::string() : " '" + ext + "'") + " (" + kSupported + ")",
              {path});
}

std::unique_ptr<VideoWriter> open_video_writer(const std::string& path, const VideoWriterOptions& opts) {
  if (!(opts.fps > 0 && opts.fps <= 1000))
    throw Error("frame rate must be in (0, 1000], got " + std::to_string(opts.fps), {path});
  switch (video_format_for_path(path, opts.format)) {
    case VideoFormat::Mp4:
      return make_ffmpeg_writer(path, VideoFormat::Mp4, opts);
    case VideoFormat::Mkv:
      return make_ffmpeg_writer(path, VideoFormat::Mkv, opts);
    case VideoFormat::Y4m:
      return make_y4m_writer(path, opts);
    case VideoFormat::Png:
      return make_png_writer(path, opts);
    case VideoFormat::Auto:
      break;
  }
  throw Error("internal error: no writer for the chosen format", {path});
}

VideoWriter::~VideoWriter() = default;

void VideoWriter::close_quietly() noexcept {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
}

}  // namespace vdrt
