#pragma once
// Pixel conversions shared by the video writers. Decoder output is float RGB
// in [-1, 1]; every writer goes through these functions so that Y4M, PNG and
// MP4 files of the same frames agree.
//
// Conventions (documented here once, tested in video_writer_test.cpp):
//  - RGB8: c8 = round((clamp(x, -1, 1) + 1) * 127.5); NaN becomes -1 (black)
//    so a diverged model yields a visibly broken frame, never UB.
//  - YUV: BT.601 matrix applied to the clamped float values e = (x + 1) / 2:
//      Y' = 0.299 R + 0.587 G + 0.114 B
//      Cb = (B - Y') / 1.772,  Cr = (R - Y') / 1.402
//    Full range:    Y = 255 Y',       U/V = 128 + 255 Cb/Cr
//    Limited range: Y = 16 + 219 Y',  U/V = 128 + 224 Cb/Cr
//    4:2:0 chroma is computed from the mean RGB of each 2x2 block, i.e. the
//    chroma sample sits at the block centre (Y4M's C420jpeg; MP4 files are
//    tagged accordingly); at odd sizes the last block averages the pixels
//    that exist.
#include <cstdint>
#include <string>
#include <vector>

#include "graph/tensor.h"

namespace vdrt {

enum class YuvRange { Limited, Full };
enum class ChromaFormat { Yuv420, Yuv444 };

// A validated view of a batch of frames: float32 [F, 3, H, W] (a leading
// batch dimension of 1 is accepted). Other float dtypes are converted.
class RgbFrames {
 public:
  // Throws vdrt::Error naming `path` (the file being written) when the
  // tensor is not a batch of RGB frames.
  RgbFrames(const Tensor& frames, const std::string& path);

  int64_t count() const { return count_; }
  int height() const { return height_; }
  int width() const { return width_; }

  // Interleaved RGB of frame f, row-major, 3 * width * height bytes.
  void to_rgb8(int64_t f, uint8_t* out) const;

  // Planes of frame f. `out_width`/`out_height` may exceed the frame size
  // (encoders that need even sizes): the extra columns/rows replicate the
  // last ones. Strides are in bytes.
  struct Planes {
    uint8_t* y;
    int y_stride;
    uint8_t* u;
    int u_stride;
    uint8_t* v;
    int v_stride;
  };
  void to_yuv(int64_t f, YuvRange range, ChromaFormat chroma, const Planes& out, int out_width, int out_height) const;

 private:
  const float* plane(int64_t f, int c) const { return data_ + (f * 3 + c) * plane_size_; }
  Tensor storage_;  // float32, kept alive for data_
  const float* data_ = nullptr;
  int64_t count_ = 0;
  int height_ = 0;
  int width_ = 0;
  int64_t plane_size_ = 0;
};

// Chroma plane size for a luma size (rounded up, as Y4M and FFmpeg do).
inline int chroma_size(int luma, ChromaFormat chroma) { return chroma == ChromaFormat::Yuv420 ? (luma + 1) / 2 : luma; }

}  // namespace vdrt
