#pragma once
// Constructors of the concrete writers, one per file; only video_writer.cpp
// (the factory) calls them.
#include <memory>
#include <string>

#include "runtime/video_writer.h"

namespace vdrt {

// container: VideoFormat::Mp4 or VideoFormat::Mkv.
std::unique_ptr<VideoWriter> make_ffmpeg_writer(const std::string& path, VideoFormat container,
                                                const VideoWriterOptions& opts);
std::unique_ptr<VideoWriter> make_y4m_writer(const std::string& path, const VideoWriterOptions& opts);
// `path` as given by the user: a printf pattern ("frames/%05d.png") or a
// directory ("frames/", or any path when the format was forced to PNG).
std::unique_ptr<VideoWriter> make_png_writer(const std::string& path, const VideoWriterOptions& opts);

// True when `path` holds exactly one printf integer conversion ("%d",
// "%05d") and otherwise only literal text and "%%".
bool is_frame_pattern(const std::string& path);

}  // namespace vdrt
