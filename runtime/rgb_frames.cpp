#include "runtime/rgb_frames.h"

#include <algorithm>

namespace vdrt {
namespace {

// Written so that NaN fails the comparison and lands on -1.
inline float clamp_unit(float x) { return x >= -1.f ? (x <= 1.f ? x : 1.f) : -1.f; }
// [-1, 1] -> [0, 1]
inline float to_unit(float x) { return (clamp_unit(x) + 1.f) * 0.5f; }
inline uint8_t round_u8(float v) {
  v = std::min(std::max(v, 0.f), 255.f);
  return static_cast<uint8_t>(static_cast<int>(v + 0.5f));
}

constexpr float kKr = 0.299f, kKg = 0.587f, kKb = 0.114f;

struct RangeScale {
  float y_offset, y_scale, c_scale;
};
RangeScale range_scale(YuvRange r) {
  return r == YuvRange::Full ? RangeScale{0.f, 255.f, 255.f} : RangeScale{16.f, 219.f, 224.f};
}

}  // namespace

RgbFrames::RgbFrames(const Tensor& frames, const std::string& path) {
  auto fail = [&](const std::string& why) -> Error {
    std::string shape = "[";
    for (size_t i = 0; i < frames.dims().size(); ++i) shape += (i ? ", " : "") + std::to_string(frames.dims()[i]);
    return Error("cannot write frames of shape " + shape + " (" + dtype_name(frames.dtype()) + "): " + why, {path});
  };
  if (!frames.defined()) throw fail("the frames tensor is empty");
  if (!is_float(frames.dtype())) throw fail("expected float RGB in [-1, 1]");
  std::vector<int64_t> d = frames.dims();
  if (d.size() == 5) {
    if (d[0] != 1) throw fail("a batch of several videos cannot go into one file; write them one at a time");
    d.erase(d.begin());
  }
  if (d.size() != 4) throw fail("expected [F, 3, H, W] or [1, F, 3, H, W]");
  if (d[1] != 3) throw fail("expected 3 (RGB) channels in dimension -3");
  // Video sizes beyond 16k are not plausible and would overflow int strides.
  constexpr int64_t kMaxSide = 16384;
  if (d[2] <= 0 || d[3] <= 0 || d[2] > kMaxSide || d[3] > kMaxSide)
    throw fail("frame height and width must be in 1.." + std::to_string(kMaxSide));
  storage_ = frames.dtype() == DType::F32 ? frames : frames.to(DType::F32);
  data_ = storage_.data<float>();
  count_ = d[0];
  height_ = static_cast<int>(d[2]);
  width_ = static_cast<int>(d[3]);
  plane_size_ = d[2] * d[3];
}

void RgbFrames::to_rgb8(int64_t f, uint8_t* out) const {
  const float* r = plane(f, 0);
  const float* g = plane(f, 1);
  const float* b = plane(f, 2);
  for (int64_t i = 0; i < plane_size_; ++i) {
    out[3 * i + 0] = round_u8(to_unit(r[i]) * 255.f);
    out[3 * i + 1] = round_u8(to_unit(g[i]) * 255.f);
    out[3 * i + 2] = round_u8(to_unit(b[i]) * 255.f);
  }
}

void RgbFrames::to_yuv(int64_t f, YuvRange range, ChromaFormat chroma, const Planes& out, int out_width,
                       int out_height) const {
  VDRT_CHECK(out_width >= width_ && out_height >= height_, "YUV output smaller than the frame");
  const float* r = plane(f, 0);
  const float* g = plane(f, 1);
  const float* b = plane(f, 2);
  const RangeScale s = range_scale(range);
  // Padding replicates the last row/column: clamp the source coordinate.
  auto at = [&](int x, int y) {
    return static_cast<int64_t>(std::min(y, height_ - 1)) * width_ + std::min(x, width_ - 1);
  };

  for (int y = 0; y < out_height; ++y) {
    uint8_t* row = out.y + static_cast<int64_t>(y) * out.y_stride;
    for (int x = 0; x < out_width; ++x) {
      const int64_t i = at(x, y);
      const float luma = kKr * to_unit(r[i]) + kKg * to_unit(g[i]) + kKb * to_unit(b[i]);
      row[x] = round_u8(s.y_offset + s.y_scale * luma);
    }
  }

  const int step = chroma == ChromaFormat::Yuv420 ? 2 : 1;
  const int cw = chroma_size(out_width, chroma), ch = chroma_size(out_height, chroma);
  for (int cy = 0; cy < ch; ++cy) {
    uint8_t* urow = out.u + static_cast<int64_t>(cy) * out.u_stride;
    uint8_t* vrow = out.v + static_cast<int64_t>(cy) * out.v_stride;
    for (int cx = 0; cx < cw; ++cx) {
      float sr = 0, sg = 0, sb = 0;
      int n = 0;
      for (int dy = 0; dy < step; ++dy) {
        for (int dx = 0; dx < step; ++dx) {
          const int x = cx * step + dx, y = cy * step + dy;
          if (x >= out_width || y >= out_height) continue;
          const int64_t i = at(x, y);
          sr += to_unit(r[i]);
          sg += to_unit(g[i]);
          sb += to_unit(b[i]);
          ++n;
        }
      }
      sr /= n;
      sg /= n;
      sb /= n;
      const float luma = kKr * sr + kKg * sg + kKb * sb;
      urow[cx] = round_u8(128.f + s.c_scale * (sb - luma) / 1.772f);
      vrow[cx] = round_u8(128.f + s.c_scale * (sr - luma) / 1.402f);
    }
  }
}

}  // namespace vdrt
