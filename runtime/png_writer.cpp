// One 8-bit RGB PNG per frame, encoded here with zlib (PNG is a signature,
// length/type/data/CRC chunks and a deflate stream of filtered rows; a
// library would add a dependency for ~100 lines). Each file is written under
// a temporary name and renamed, so an interrupted run never leaves a
// truncated frame behind.
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "runtime/video_writer_formats.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

// A validated frame-number pattern split around its one conversion.
struct FramePattern {
  std::string prefix, suffix;
  int width = 0;
  bool zero_pad = false;

  std::string format(int64_t index) const {
    std::string digits = std::to_string(index);
    if (static_cast<int>(digits.size()) < width) digits.insert(0, width - digits.size(), zero_pad ? '0' : ' ');
    return prefix + digits + suffix;
  }
};

// Parses "...%[0][width]d..." with "%%" as a literal percent; returns false
// for anything else, so user text never reaches a printf-style formatter.
bool parse_pattern(const std::string& s, FramePattern* out) {
  FramePattern p;
  bool seen = false;
  std::string* text = &p.prefix;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      *text += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '%') {
      *text += '%';
      ++i;
      continue;
    }
    if (seen) return false;
    size_t j = i + 1;
    if (j < s.size() && s[j] == '0') {
      p.zero_pad = true;
      ++j;
    }
    size_t digits = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9' && digits < 2) p.width = p.width * 10 + (s[j++] - '0'), ++digits;
    if (j >= s.size() || s[j] != 'd') return false;
    seen = true;
    text = &p.suffix;
    i = j;
  }
  if (!seen) return false;
  if (out) *out = std::move(p);
  return true;
}

uint32_t crc_of(const char type[4], const uint8_t* data, size_t n) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(type), 4);
  // crc32(crc, NULL, 0) returns zlib's initial value, not `crc` (IEND).
  if (n > 0) crc = crc32(crc, data, static_cast<uInt>(n));
  return static_cast<uint32_t>(crc);
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const uint8_t* data, size_t n) {
  put_u32(out, static_cast<uint32_t>(n));
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data, data + n);
  put_u32(out, crc_of(type, data, n));
}

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return static_cast<uint8_t>(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

// Filters each row with the PNG filter whose output has the smallest sum of
// absolute signed bytes (the heuristic the PNG spec recommends); smooth
// generated video compresses several times better than with no filter.
std::vector<uint8_t> filter_rows(const uint8_t* rgb, int width, int height) {
  constexpr int bpp = 3;
  const size_t stride = static_cast<size_t>(width) * bpp;
  std::vector<uint8_t> out;
  out.reserve((stride + 1) * height);
  std::vector<uint8_t> zero(stride, 0);
  std::array<std::vector<uint8_t>, 5> cand;
  for (auto& c : cand) c.resize(stride);
  for (int y = 0; y < height; ++y) {
    const uint8_t* cur = rgb + y * stride;
    const uint8_t* up = y ? rgb + (y - 1) * stride : zero.data();
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= bpp ? cur[x - bpp] : 0, b = up[x], c = x >= bpp ? up[x - bpp] : 0;
      cand[0][x] = cur[x];
      cand[1][x] = static_cast<uint8_t>(cur[x] - a);
      cand[2][x] = static_cast<uint8_t>(cur[x] - b);
      cand[3][x] = static_cast<uint8_t>(cur[x] - (a + b) / 2);
      cand[4][x] = static_cast<uint8_t>(cur[x] - paeth(a, b, c));
    }
    int best = 0;
    uint64_t best_cost = UINT64_MAX;
    for (int k = 0; k < 5; ++k) {
      uint64_t cost = 0;
      for (uint8_t v : cand[k]) cost += static_cast<uint64_t>(std::abs(static_cast<int8_t>(v)));
      if (cost < best_cost) best_cost = cost, best = k;
    }
    out.push_back(static_cast<uint8_t>(best));
    out.insert(out.end(), cand[best].begin(), cand[best].end());
  }
  return out;
}

std::vector<uint8_t> encode_png(const uint8_t* rgb, int width, int height, int level, const std::string& path) {
  std::vector<uint8_t> raw = filter_rows(rgb, width, height);
  uLongf zsize = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> z(zsize);
  if (compress2(z.data(), &zsize, raw.data(), static_cast<uLong>(raw.size()), level) != Z_OK)
    throw Error("zlib failed to compress a frame", {path});
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_u32(ihdr, static_cast<uint32_t>(width));
  put_u32(ihdr, static_cast<uint32_t>(height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8 bits, truecolour, deflate, adaptive filters, no interlace
  put_chunk(png, "IHDR", ihdr.data(), ihdr.size());
  put_chunk(png, "IDAT", z.data(), zsize);
  put_chunk(png, "IEND", nullptr, 0);
  return png;
}

void write_file_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".part";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(std::string("cannot create file: ") + std::strerror(errno), {tmp});
  const bool wrote = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const int saved = errno;
  if (std::fclose(f) != 0 || !wrote) {
    const int err = wrote ? errno : saved;
    std::remove(tmp.c_str());
    throw Error(std::string("cannot write: ") + std::strerror(err), {tmp});
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw Error("cannot rename the finished frame into place: " + ec.message(), {path});
  }
}

class PngWriter final : public VideoWriter {
 public:
  PngWriter(const std::string& path, FramePattern pattern, const VideoWriterOptions& opts)
      : VideoWriter(path), pattern_(std::move(pattern)), level_(opts.png_compression) {
    if (level_ < -1 || level_ > 9) throw Error("PNG compression level must be -1..9", {path});
    // Frame folders are usually new; create them rather than make every
    // caller do it, and fail now rather than at the first chunk.
    const fs::path dir = fs::path(pattern_.format(0)).parent_path();
    std::error_code ec;
    if (!dir.empty()) fs::create_directories(dir, ec);
    if (ec || (!dir.empty() && !fs::is_directory(dir)))
      throw Error("cannot create the frame directory '" + dir.string() + "'" + (ec ? ": " + ec.message() : ""), {path});
  }
  ~PngWriter() override { close_quietly(); }

  void write(const Tensor& frames) override {
    if (closed_) throw Error("write() after close()", {path_});
    const RgbFrames rgb(frames, path_);
    if (width_ == 0) {
      width_ = rgb.width();
      height_ = rgb.height();
    } else if (rgb.width() != width_ || rgb.height() != height_) {
      throw Error("frame size changed from " + std::to_string(width_) + "x" + std::to_string(height_) + " to " +
                      std::to_string(rgb.width()) + "x" + std::to_string(rgb.height()),
                  {path_});
    }
    pixels_.resize(static_cast<size_t>(width_) * height_ * 3);
    for (int64_t f = 0; f < rgb.count(); ++f) {
      rgb.to_rgb8(f, pixels_.data());
      const std::string file = pattern_.format(frames_written_);
      write_file_atomically(file, encode_png(pixels_.data(), width_, height_, level_, file));
      ++frames_written_;
    }
  }

  void flush() override {}  // every frame is a closed file once write() returns
  void close() override { closed_ = true; }

 private:
  FramePattern pattern_;
  int level_;
  bool closed_ = false;
  int width_ = 0, height_ = 0;
  std::vector<uint8_t> pixels_;  // one frame's RGB, reused
};

}  // namespace

bool is_frame_pattern(const std::string& path) { return parse_pattern(path, nullptr); }

std::unique_ptr<VideoWriter> make_png_writer(const std::string& path, const VideoWriterOptions& opts) {
  FramePattern pattern;
  if (!parse_pattern(path, &pattern)) {
    // A directory: number the frames inside it.
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    std::string escaped;
    for (char c : dir) escaped += c == '%' ? std::string("%%") : std::string(1, c);
    parse_pattern(escaped + "/%05d.png", &pattern);
  }
  return std::make_unique<PngWriter>(path, std::move(pattern), opts);
}

}  // namespace vdrt
