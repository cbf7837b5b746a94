#include "runtime/video_writer.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace vdrt {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vdrt_video_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A smooth pattern that moves with the frame index (so each frame differs and
// an encoder sees motion) and overshoots [-1, 1] at its peaks to exercise
// clamping. `quantize` snaps values to the 8-bit grid so PNG output is exact.
Tensor gradient_chunk(int64_t first, int64_t count, int height, int width, bool quantize = false) {
  Tensor t(DType::F32, {count, 3, height, width});
  float* p = t.data<float>();
  for (int64_t f = 0; f < count; ++f) {
    const double phase = static_cast<double>(first + f) / 12.0;
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const double u = static_cast<double>(x) / width, v = static_cast<double>(y) / height;
        double rgb[3] = {1.15 * std::cos(2 * M_PI * (u + phase)), 2.2 * v - 1.1,
                         0.7 * std::sin(2 * M_PI * (u + v - phase))};
        for (int c = 0; c < 3; ++c) {
          double val = rgb[c];
          if (quantize && val > -1 && val < 1) val = std::round((val + 1) * 127.5) / 127.5 - 1;
          p[((f * 3 + c) * height + y) * width + x] = static_cast<float>(val);
        }
      }
    }
  }
  return t;
}

double unit(float x) { return (std::clamp(static_cast<double>(x), -1.0, 1.0) + 1) / 2; }
float pixel(const Tensor& t, int64_t f, int c, int y, int x) {
  const auto& d = t.dims();
  return t.data<float>()[((f * 3 + c) * d[2] + y) * d[3] + x];
}
double expected_luma(const Tensor& t, int64_t f, int y, int x, bool full) {
  const double l =
      0.299 * unit(pixel(t, f, 0, y, x)) + 0.587 * unit(pixel(t, f, 1, y, x)) + 0.114 * unit(pixel(t, f, 2, y, x));
  return full ? 255 * l : 16 + 219 * l;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expect_error(const std::function<void()>& fn, std::vector<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const auto& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what() << " lacks " << n;
  }
}

// ---------------------------------------------------------------- Y4M

TEST(VideoWriter, Y4mHeaderAndPlanesMatchBt601) {
  TempDir dir;
  const std::string path = dir / "out.y4m";
  const int H = 24, W = 40;
  std::vector<Tensor> chunks;
  {
    auto writer = open_video_writer(path);
    for (int c = 0; c < 3; ++c) {
      chunks.push_back(gradient_chunk(c * 4, 4, H, W));
      writer->write(chunks.back());
    }
    EXPECT_EQ(writer->frames_written(), 12);
    writer->close();
    writer->close();  // idempotent
    EXPECT_THROW(writer->write(chunks[0]), Error);
  }
  const std::string data = read_all(path);
  const size_t eol = data.find('\n');
  ASSERT_NE(eol, std::string::npos);
  const std::string header = data.substr(0, eol);
  EXPECT_EQ(header.rfind("YUV4MPEG2 W40 H24 F16:1 Ip A1:1 C420jpeg", 0), 0u) << header;
  EXPECT_NE(header.find("XCOLORRANGE=LIMITED"), std::string::npos);

  const size_t luma = W * H, chroma = (W / 2) * (H / 2);
  size_t pos = eol + 1;
  int64_t frame = 0;
  while (pos < data.size()) {
    ASSERT_EQ(data.compare(pos, 6, "FRAME\n"), 0) << "frame " << frame;
    pos += 6;
    ASSERT_LE(pos + luma + 2 * chroma, data.size());
    const Tensor& chunk = chunks[frame / 4];
    const auto* y = reinterpret_cast<const uint8_t*>(data.data() + pos);
    const auto* u = y + luma;
    const auto* v = u + chroma;
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c)
        ASSERT_NEAR(y[r * W + c], expected_luma(chunk, frame % 4, r, c, false), 1.0) << r << "," << c;
    // Chroma of the top-left 2x2 block, from its mean RGB.
    double m[3] = {0, 0, 0};
    for (int ch = 0; ch < 3; ++ch)
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) m[ch] += unit(pixel(chunk, frame % 4, ch, dy, dx)) / 4;
    const double l = 0.299 * m[0] + 0.587 * m[1] + 0.114 * m[2];
    EXPECT_NEAR(u[0], 128 + 224 * (m[2] - l) / 1.772, 1.0);
    EXPECT_NEAR(v[0], 128 + 224 * (m[0] - l) / 1.402, 1.0);
    pos += luma + 2 * chroma;
    ++frame;
  }
  EXPECT_EQ(frame, 12);
}

TEST(VideoWriter, Y4m444FullRangeOddSizeAndFormatOverride) {
  TempDir dir;
  const std::string path = dir / "video.raw";  // extension ignored: format forced
  VideoWriterOptions opts;
  opts.format = VideoFormat::Y4m;
  opts.fps = 29.97;
  opts.y4m_chroma = ChromaFormat::Yuv444;
  opts.y4m_range = YuvRange::Full;
  const Tensor chunk = gradient_chunk(0, 2, 9, 13).reshaped({1, 2, 3, 9, 13});  // batch dim accepted
  open_video_writer(path, opts)->write(chunk);                                  // destructor closes
  const std::string data = read_all(path);
  const std::string header = data.substr(0, data.find('\n'));
  EXPECT_EQ(header.rfind("YUV4MPEG2 W13 H9 F2997:100 Ip A1:1 C444", 0), 0u) << header;
  EXPECT_NE(header.find("XCOLORRANGE=FULL"), std::string::npos);
  const size_t frame_bytes = 6 + 3 * 13 * 9;
  ASSERT_EQ(data.size(), header.size() + 1 + 2 * frame_bytes);
  const auto* y = reinterpret_cast<const uint8_t*>(data.data() + header.size() + 1 + frame_bytes + 6);  // frame 1
  const Tensor flat = chunk.reshaped({2, 3, 9, 13});
  for (int r = 0; r < 9; ++r)
    for (int c = 0; c < 13; ++c) EXPECT_NEAR(y[r * 13 + c], expected_luma(flat, 1, r, c, true), 1.0);
}

// ---------------------------------------------------------------- PNG

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Minimal decoder for the files the writer produces (8-bit RGB, no
// interlace), checking every CRC; returns interleaved RGB.
std::vector<uint8_t> decode_png(const std::string& path, int* width, int* height) {
  const std::string s = read_all(path);
  const auto* d = reinterpret_cast<const uint8_t*>(s.data());
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  EXPECT_GE(s.size(), 8u);
  EXPECT_EQ(std::memcmp(d, sig, 8), 0);
  std::string idat;
  bool ended = false;
  for (size_t pos = 8; pos + 12 <= s.size();) {
    const uint32_t len = be32(d + pos);
    const std::string type(s.data() + pos + 4, 4);
    EXPECT_LE(pos + 12 + len, s.size());
    const uint32_t crc = static_cast<uint32_t>(crc32(0, d + pos + 4, 4 + len));
    EXPECT_EQ(crc, be32(d + pos + 8 + len)) << type << " CRC in " << path;
    const uint8_t* body = d + pos + 8;
    if (type == "IHDR") {
      *width = static_cast<int>(be32(body));
      *height = static_cast<int>(be32(body + 4));
      EXPECT_EQ(body[8], 8);   // bit depth
      EXPECT_EQ(body[9], 2);   // truecolour
      EXPECT_EQ(body[12], 0);  // no interlace
    } else if (type == "IDAT") {
      idat.append(reinterpret_cast<const char*>(body), len);
    } else if (type == "IEND") {
      ended = true;
    }
    pos += 12 + len;
  }
  EXPECT_TRUE(ended);
  const size_t stride = static_cast<size_t>(*width) * 3;
  std::vector<uint8_t> raw((stride + 1) * *height);
  uLongf raw_size = raw.size();
  EXPECT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()), Z_OK);
  EXPECT_EQ(raw_size, raw.size());
  std::vector<uint8_t> out(stride * *height);
  for (int y = 0; y < *height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* cur = &out[y * stride];
    const uint8_t* up = y ? &out[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= 3 ? cur[x - 3] : 0, b = up ? up[x] : 0, c = (up && x >= 3) ? up[x - 3] : 0;
      int pred = 0;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          ADD_FAILURE() << "bad filter " << int(filter);
          return out;
      }
      cur[x] = static_cast<uint8_t>(in[x] + pred);
    }
  }
  return out;
}

void expect_png_frames(const std::vector<Tensor>& chunks, const std::function<std::string(int64_t)>& name) {
  int64_t index = 0;
  for (const Tensor& chunk : chunks) {
    const auto& dims = chunk.dims();
    for (int64_t f = 0; f < dims[0]; ++f, ++index) {
      int w = 0, h = 0;
      const std::vector<uint8_t> rgb = decode_png(name(index), &w, &h);
      ASSERT_EQ(w, dims[3]);
      ASSERT_EQ(h, dims[2]);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < 3; ++c) {
            const int expected = static_cast<int>(std::lround(unit(pixel(chunk, f, c, y, x)) * 255));
            ASSERT_EQ(rgb[(y * w + x) * 3 + c], expected) << name(index) << " at " << x << "," << y << " c" << c;
          }
    }
  }
}

TEST(VideoWriter, PngPatternRoundTripsExactly) {
  TempDir dir;
  const std::string pattern = dir / "frames/%05d.png";  // directory created by the writer
  std::vector<Tensor> chunks;
  auto writer = open_video_writer(pattern);
  for (int c = 0; c < 3; ++c) {
    chunks.push_back(gradient_chunk(c * 3, 3, 17, 23, /*quantize=*/true));
    writer->write(chunks.back());
  }
  writer->close();
  expect_png_frames(chunks, [&](int64_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "frames/%05lld.png", static_cast<long long>(i));
    return dir / name;
  });
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "frames")) {
    EXPECT_EQ(e.path().extension(), ".png") << e.path();  // no .part leftovers
    ++files;
  }
  EXPECT_EQ(files, 9);
}

TEST(VideoWriter, PngDirectoryPath) {
  TempDir dir;
  std::vector<Tensor> chunks = {gradient_chunk(0, 2, 8, 6, true)};
  VideoWriterOptions opts;
  opts.png_compression = 9;
  open_video_writer(dir / "shots/", opts)->write(chunks[0]);
  expect_png_frames(chunks, [&](int64_t i) { return dir / ("shots/0000" + std::to_string(i) + ".png"); });
}

// ---------------------------------------------------------------- MP4 / MKV

struct Decoded {
  std::string codec;
  int width = 0, height = 0;
  std::vector<std::vector<uint8_t>> luma;  // width * height per frame
};

// Demuxes and decodes every frame FFmpeg can read from `path`; tolerates a
// file cut short (that is the point of the interruption test).
Decoded decode_video(const std::string& path) {
  Decoded out;
  AVFormatContext* fmt = nullptr;
  if (avformat_open_input(&fmt, path.c_str(), nullptr, nullptr) < 0) {
    ADD_FAILURE() << "cannot open " << path;
    return out;
  }
  avformat_find_stream_info(fmt, nullptr);
  const AVCodec* codec = nullptr;
  const int stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (stream < 0 || !codec) {
    ADD_FAILURE() << "no video stream in " << path;
    avformat_close_input(&fmt);
    return out;
  }
  AVCodecContext* dec = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar);
  EXPECT_GE(avcodec_open2(dec, codec, nullptr), 0);
  out.codec = codec->name;
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  auto receive = [&] {
    while (avcodec_receive_frame(dec, frame) >= 0) {
      out.width = frame->width;
      out.height = frame->height;
      EXPECT_EQ(frame->format, AV_PIX_FMT_YUV420P);
      std::vector<uint8_t> y(static_cast<size_t>(frame->width) * frame->height);
      for (int r = 0; r < frame->height; ++r)
        std::memcpy(&y[r * frame->width], frame->data[0] + r * frame->linesize[0], frame->width);
      out.luma.push_back(std::move(y));
    }
  };
  while (av_read_frame(fmt, pkt) >= 0) {
    if (pkt->stream_index == stream) {
      avcodec_send_packet(dec, pkt);
      receive();
    }
    av_packet_unref(pkt);
  }
  avcodec_send_packet(dec, nullptr);
  receive();
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&dec);
  avformat_close_input(&fmt);
  return out;
}

// Mean |decoded - expected| luma over the frame (the unpadded region).
double mean_luma_error(const Decoded& d, size_t index, const Tensor& chunk, int64_t f) {
  const int h = static_cast<int>(chunk.dims()[2]), w = static_cast<int>(chunk.dims()[3]);
  double sum = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) sum += std::abs(d.luma[index][y * d.width + x] - expected_luma(chunk, f, y, x, false));
  return sum / (h * w);
}

bool have_h264_encoder() {
  void* it = nullptr;
  while (const AVCodec* c = av_codec_iterate(&it))
    if (av_codec_is_encoder(c) && c->id == AV_CODEC_ID_H264 && std::string(c->name) == "libx264") return true;
  return false;
}

void check_encoded_roundtrip(const std::string& path, int height, int width) {
  std::vector<Tensor> chunks;
  {
    auto writer = open_video_writer(path);
    EXPECT_EQ(writer->path(), path);
    for (int c = 0; c < 3; ++c) {
      chunks.push_back(gradient_chunk(c * 5, 5, height, width));
      writer->write(chunks.back());
    }
    writer->flush();
    writer->close();
  }
  const Decoded d = decode_video(path);
  if (have_h264_encoder()) {
    EXPECT_EQ(d.codec, "h264");
  }
  ASSERT_EQ(d.luma.size(), 15u);
  EXPECT_EQ(d.width, width + width % 2);
  EXPECT_EQ(d.height, height + height % 2);
  for (size_t i = 0; i < d.luma.size(); ++i)
    EXPECT_LT(mean_luma_error(d, i, chunks[i / 5], i % 5), 2.5) << "frame " << i;
}

TEST(VideoWriter, Mp4RoundTrip) {
  TempDir dir;
  check_encoded_roundtrip(dir / "out.mp4", 48, 64);
  // Fragmented, so the index does not wait for close().
  EXPECT_NE(read_all(dir / "out.mp4").find("moof"), std::string::npos);
}

TEST(VideoWriter, MkvRoundTrip) {
  TempDir dir;
  check_encoded_roundtrip(dir / "out.MKV", 48, 64);
}

TEST(VideoWriter, Mp4PadsOddSizes) {
  TempDir dir;
  check_encoded_roundtrip(dir / "odd.mp4", 25, 33);
}

TEST(VideoWriter, Mp4OddSizeWithoutPaddingIsAnError) {
  TempDir dir;
  VideoWriterOptions opts;
  opts.pad_odd_dimensions = false;
  auto writer = open_video_writer(dir / "odd.mp4", opts);
  try {
    writer->write(gradient_chunk(0, 1, 25, 33));
    FAIL() << "odd size accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("even"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("odd.mp4"), std::string::npos) << e.what();
  }
}

TEST(VideoWriter, NamedEncoder) {
  TempDir dir;
  VideoWriterOptions opts;
  opts.encoder = "mpeg4";  // the fallback when no H.264 encoder opens
  const std::string path = dir / "part2.mp4";
  const Tensor chunk = gradient_chunk(0, 6, 32, 48);
  {
    auto writer = open_video_writer(path, opts);
    writer->write(chunk);
  }
  const Decoded d = decode_video(path);
  EXPECT_EQ(d.codec, "mpeg4");
  ASSERT_EQ(d.luma.size(), 6u);
  EXPECT_LT(mean_luma_error(d, 5, chunk, 5), 4.0);

  opts.encoder = "no_such_encoder";
  auto writer = open_video_writer(dir / "x.mkv", opts);
  expect_error([&] { writer->write(chunk); }, {"no_such_encoder", "x.mkv"});
}

// The process dies (SIGKILL: no destructors, no atexit, no stdio flush) after
// two chunks; every frame of both must be in a file FFmpeg can read.
void check_survives_kill(const std::string& path) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      auto writer = open_video_writer(path).release();  // never destroyed
      writer->write(gradient_chunk(0, 4, 32, 48));
      writer->write(gradient_chunk(4, 4, 32, 48));
    } catch (...) {
      _exit(3);
    }
    kill(getpid(), SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  const Decoded d = decode_video(path);
  EXPECT_EQ(d.luma.size(), 8u) << path;
  EXPECT_EQ(d.width, 48);
  EXPECT_EQ(d.height, 32);
  const Tensor second = gradient_chunk(4, 4, 32, 48);
  if (d.luma.size() == 8u) {
    EXPECT_LT(mean_luma_error(d, 7, second, 3), 2.5);
  }
}

TEST(VideoWriter, Mp4PlayableAfterKill) {
  TempDir dir;
  check_survives_kill(dir / "killed.mp4");
}

TEST(VideoWriter, MkvPlayableAfterKill) {
  TempDir dir;
  check_survives_kill(dir / "killed.mkv");
}

TEST(VideoWriter, Y4mCompleteAfterKill) {
  TempDir dir;
  const std::string path = dir / "killed.y4m";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto* writer = open_video_writer(path).release();
    writer->write(gradient_chunk(0, 3, 8, 8));
    kill(getpid(), SIGKILL);
    _exit(4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string data = read_all(path);
  EXPECT_EQ(data.size(), data.find('\n') + 1 + 3 * (6 + 64 + 2 * 16));
}

// ---------------------------------------------------------------- errors

TEST(VideoWriter, UnknownFormatsNameThePathAndTheChoices) {
  TempDir dir;
  expect_error([&] { open_video_writer(dir / "clip.avi"); }, {"clip.avi", ".avi", ".mp4", ".y4m", "%05d.png"});
  expect_error([&] { open_video_writer(dir / "noext"); }, {"noext", ".mkv"});
  expect_error([&] { open_video_writer(dir / "single.png"); }, {"single.png", "pattern"});
  expect_error([&] { open_video_writer(dir / "f/%05d.jpg"); }, {"%05d.jpg", ".jpg"});
  expect_error([&] { open_video_writer(""); }, {"no output path"});
  expect_error([&] { parse_video_format("webm"); }, {"webm", "mp4"});
  EXPECT_EQ(parse_video_format("MP4"), VideoFormat::Mp4);
  EXPECT_EQ(video_format_for_path("a/b/"), VideoFormat::Png);
  EXPECT_EQ(video_format_for_path("a/%%_%4d.png"), VideoFormat::Png);
  EXPECT_EQ(video_format_for_path("x.Y4M"), VideoFormat::Y4m);
  VideoWriterOptions opts;
  opts.fps = 0;
  expect_error([&] { open_video_writer(dir / "a.mp4", opts); }, {"frame rate", "a.mp4"});
}

TEST(VideoWriter, UnwritablePathsNameThePath) {
  TempDir dir;
  { std::ofstream(dir / "file.txt") << "not a directory"; }
  for (const std::string name :
       {"file.txt/out.mp4", "file.txt/out.mkv", "file.txt/out.y4m", "file.txt/f/%05d.png", "file.txt/dir/"}) {
    const std::string path = dir / name;
    expect_error([&] { open_video_writer(path); }, {path});
  }
}

TEST(VideoWriter, BadFramesAreRejected) {
  TempDir dir;
  for (const std::string name : {"a.y4m", "a.mp4", "a/%d.png"}) {
    auto writer = open_video_writer(dir / name);
    expect_error([&] { writer->write(Tensor(DType::F32, {2, 4, 8, 8})); }, {name, "3 (RGB)"});
    expect_error([&] { writer->write(Tensor(DType::I32, {2, 3, 8, 8})); }, {"float"});
    expect_error([&] { writer->write(Tensor(DType::F32, {2, 2, 3, 8, 8})); }, {"batch"});
    expect_error([&] { writer->write(Tensor(DType::F32, {3, 8, 8})); }, {"[F, 3, H, W]"});
    writer->write(gradient_chunk(0, 1, 8, 8));
    expect_error([&] { writer->write(gradient_chunk(1, 1, 8, 10)); }, {"size changed", "8x8", "10x8"});
    writer->close();
  }
}

TEST(VideoWriter, HalfPrecisionFramesAreConverted) {
  TempDir dir;
  const Tensor f32 = gradient_chunk(0, 2, 6, 8);
  auto writer = open_video_writer(dir / "h.y4m");
  writer->write(f32.to(DType::F16));
  EXPECT_EQ(writer->frames_written(), 2);
}

}  // namespace
}  // namespace vdrt
