#pragma once
// Streaming video output for `vdrt generate`. The rollout hands each decoded
// chunk to write(); the writer encodes it and pushes it to disk before
// returning, so memory stays flat however long the video runs and a crash or
// SIGINT leaves a playable file holding every chunk written so far.
//
// Formats, chosen from the path (or VideoWriterOptions::format):
//   *.mp4, *.mkv        H.264 (libx264 when FFmpeg has it, else another H.264
//                       encoder, else MPEG-4 part 2 with a warning), yuv420p,
//                       BT.601 limited range. MP4 is fragmented so that it
//                       plays without the index a normal MP4 writes at the end.
//   *.y4m               YUV4MPEG2, 4:2:0 (C420jpeg) or 4:4:4 (C444).
//   frames/%05d.png     one PNG per frame; any single printf integer
//   frames/             conversion; a path ending in '/' means dir/%05d.png.
//                       Frames are numbered from 0 across all write() calls.
#include <memory>
#include <string>

#include "graph/tensor.h"
#include "runtime/rgb_frames.h"

namespace vdrt {

enum class VideoFormat { Auto, Mp4, Mkv, Y4m, Png };

// "mp4", "mkv", "y4m", "png" (and "auto"); throws vdrt::Error otherwise.
VideoFormat parse_video_format(const std::string& name);
const char* video_format_name(VideoFormat f);

struct VideoWriterOptions {
  double fps = 16.0;  // Wan's frame rate
  // Constant rate factor for H.264 (0..51, lower is better; 18 is visually
  // near-lossless). The MPEG-4 fallback maps it onto its quantiser scale.
  int crf = 18;
  VideoFormat format = VideoFormat::Auto;
  // FFmpeg encoder name to use instead of the automatic choice ("" = auto).
  std::string encoder;
  // H.264 4:2:0 needs even sizes. true: odd frames are padded by repeating
  // the last row/column; false: an odd size is an error.
  bool pad_odd_dimensions = true;
  // Keyframe interval in frames; 0 = one per two seconds.
  int keyframe_interval = 0;
  // Y4M only (MP4 is always 4:2:0 limited range, the only safe choice for
  // players).
  ChromaFormat y4m_chroma = ChromaFormat::Yuv420;
  YuvRange y4m_range = YuvRange::Limited;
  // PNG only: zlib level 0..9 (-1 = zlib's default).
  int png_compression = -1;
};

class VideoWriter {
 public:
  // Subclasses must call close() from their own destructors: by the time
  // this one runs the subclass is gone.
  virtual ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  // Frames: float [F, 3, H, W] or [1, F, 3, H, W], RGB in [-1, 1] (clamped).
  // H and W must stay the same across calls. Encodes and flushes at once.
  virtual void write(const Tensor& frames) = 0;
  // Pushes everything buffered to the OS. write() already does this; this is
  // for callers that want to be sure before, say, reporting progress.
  virtual void flush() = 0;
  // Finalises the file. Idempotent; errors after close() are not possible.
  virtual void close() = 0;

  virtual std::string path() const { return path_; }
  int64_t frames_written() const { return frames_written_; }

 protected:
  explicit VideoWriter(std::string path) : path_(std::move(path)) {}
  // Run from subclass destructors: close() without letting an exception
  // escape a destructor (the error is logged instead).
  void close_quietly() noexcept;

  std::string path_;
  int64_t frames_written_ = 0;
};

// Opens a writer for `path`; throws vdrt::Error naming the path for an
// unknown format or a file that cannot be created.
std::unique_ptr<VideoWriter> open_video_writer(const std::string& path, const VideoWriterOptions& opts = {});

// The format open_video_writer would choose for `path` (never Auto).
VideoFormat video_format_for_path(const std::string& path, VideoFormat override_format = VideoFormat::Auto);

}  // namespace vdrt
