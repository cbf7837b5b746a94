// YUV4MPEG2: a text header, then "FRAME\n" and the raw planes per frame. No
// index, so every frame flushed is a playable prefix of the video.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <vector>

#include "runtime/video_writer_formats.h"

namespace vdrt {
namespace {

// Frame rate as the smallest exact ratio among common denominators (NTSC
// rates need 1001); anything else is rounded to 1/1000000.
std::pair<int64_t, int64_t> fps_ratio(double fps) {
  for (int64_t den : {int64_t{1}, int64_t{1001}, int64_t{1000}, int64_t{1000000}}) {
    const int64_t num = std::llround(fps * static_cast<double>(den));
    if (std::abs(static_cast<double>(num) / static_cast<double>(den) - fps) <= 1e-9 * fps || den == 1000000) {
      const int64_t g = std::gcd(num, den);
      return {num / g, den / g};
    }
  }
  return {std::llround(fps), 1};
}

class Y4mWriter final : public VideoWriter {
 public:
  Y4mWriter(const std::string& path, const VideoWriterOptions& opts) : VideoWriter(path), opts_(opts) {
    file_ = std::fopen(path.c_str(), "wb");
    if (!file_) throw Error(std::string("cannot create file: ") + std::strerror(errno), {path});
  }
  ~Y4mWriter() override { close_quietly(); }

  void write(const Tensor& frames) override {
    if (!file_) throw Error("write() after close()", {path_});
    const RgbFrames rgb(frames, path_);
    if (width_ == 0) {
      width_ = rgb.width();
      height_ = rgb.height();
      write_header();
    } else if (rgb.width() != width_ || rgb.height() != height_) {
      throw Error("frame size changed from " + std::to_string(width_) + "x" + std::to_string(height_) + " to " +
                      std::to_string(rgb.width()) + "x" + std::to_string(rgb.height()),
                  {path_});
    }
    const int cw = chroma_size(width_, opts_.y4m_chroma), ch = chroma_size(height_, opts_.y4m_chroma);
    const size_t luma = static_cast<size_t>(width_) * height_, chroma = static_cast<size_t>(cw) * ch;
    buffer_.resize(luma + 2 * chroma);
    const RgbFrames::Planes planes{
        buffer_.data(), width_, buffer_.data() + luma, cw, buffer_.data() + luma + chroma, cw};
    for (int64_t f = 0; f < rgb.count(); ++f) {
      rgb.to_yuv(f, opts_.y4m_range, opts_.y4m_chroma, planes, width_, height_);
      put("FRAME\n", 6);
      put(buffer_.data(), buffer_.size());
      ++frames_written_;
    }
    flush();
  }

  void flush() override {
    if (file_ && std::fflush(file_) != 0) throw Error(std::string("cannot write: ") + std::strerror(errno), {path_});
  }

  void close() override {
    if (!file_) return;
    std::FILE* f = file_;
    file_ = nullptr;
    // fclose also reports a failed final flush (a full disk shows up here).
    if (std::fclose(f) != 0) throw Error(std::string("cannot write: ") + std::strerror(errno), {path_});
  }

 private:
  void write_header() {
    const auto [num, den] = fps_ratio(opts_.fps);
    const bool c420 = opts_.y4m_chroma == ChromaFormat::Yuv420;
    // XCOLORRANGE is FFmpeg's extension; without it readers assume limited.
    const std::string header = "YUV4MPEG2 W" + std::to_string(width_) + " H" + std::to_string(height_) + " F" +
                               std::to_string(num) + ":" + std::to_string(den) + " Ip A1:1 " +
                               (c420 ? "C420jpeg XYSCSS=420JPEG" : "C444 XYSCSS=444") +
                               " XCOLORRANGE=" + (opts_.y4m_range == YuvRange::Full ? "FULL" : "LIMITED") + "\n";
    put(header.data(), header.size());
  }

  void put(const void* data, size_t n) {
    if (std::fwrite(data, 1, n, file_) != n) throw Error(std::string("cannot write: ") + std::strerror(errno), {path_});
  }

  VideoWriterOptions opts_;
  std::FILE* file_ = nullptr;
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> buffer_;  // one frame's planes, reused
};

}  // namespace

std::unique_ptr<VideoWriter> make_y4m_writer(const std::string& path, const VideoWriterOptions& opts) {
  return std::make_unique<Y4mWriter>(path, opts);
}

}  // namespace vdrt
