// FFmpeg is optional at run time: the `vdrt` binary does not link it, writes
// .y4m without it (the same bytes as with it), and refuses .mp4/.mkv with a
// message that says what to install, before creating the file.
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace vdrt::test {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() : path(fs::temp_directory_path() / ("vdrt_ffmpeg_optional_" + std::to_string(getpid()))) {
    fs::create_directories(path / "no_ffmpeg");
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string generate(const fs::path& out) {
  return "generate " + source_path("models/tiny_wan/ts17") + " --frames 12 --no-progress -d cpu -o " + out.string();
}

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "output lacks '" << needle << "':\n" << text;
}

TEST(FfmpegOptional, VdrtDoesNotLinkFfmpeg) {
  FILE* p = popen(("ldd " + vdrt_binary() + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  expect_contains(out, "libvdrt_video");  // ldd did list the libraries
  for (const char* lib : {"libavformat", "libavcodec", "libavutil", "libswscale", "libx264"})
    EXPECT_EQ(out.find(lib), std::string::npos) << lib << " is linked:\n" << out;
}

TEST(FfmpegOptional, WithoutFfmpegMp4IsRefusedClearlyAndY4mStillWorks) {
  TempDir dir;
  const std::string no_ffmpeg = "VDRT_FFMPEG_LIBDIR=" + (dir.path / "no_ffmpeg").string();
  for (const char* ext : {".mp4", ".mkv"}) {
    const fs::path video = dir.path / (std::string("v") + ext);
    const CliResult r = run_vdrt(generate(video), no_ffmpeg);
    EXPECT_EQ(r.code, 1) << r.output;
    expect_contains(r.output, video.string() + ": writing " + ext + " needs FFmpeg (libavformat.so.");
    expect_contains(r.output, "cannot be loaded from " + (dir.path / "no_ffmpeg").string());
    expect_contains(r.output, "apt-get install libavformat");
    expect_contains(r.output, "or write .y4m or PNG frames instead");
    EXPECT_FALSE(fs::exists(video)) << "a file was created although nothing can be written to it";
  }

  const CliResult without = run_vdrt(generate(dir.path / "without.y4m"), no_ffmpeg);
  ASSERT_EQ(without.code, 0) << without.output;
  const CliResult with = run_vdrt(generate(dir.path / "with.y4m"));
  ASSERT_EQ(with.code, 0) << with.output;
  const std::string y4m = read_all(dir.path / "without.y4m");
  EXPECT_EQ(y4m.rfind("YUV4MPEG2 ", 0), 0u);
  EXPECT_GT(y4m.size(), 12 * 6u);  // 12 "FRAME\n" headers and their planes
  EXPECT_EQ(y4m, read_all(dir.path / "with.y4m")) << "the y4m depends on whether FFmpeg is there";
}

TEST(FfmpegOptional, WithFfmpegMp4IsWritten) {
  TempDir dir;
  const fs::path video = dir.path / "v.mp4";
  const CliResult r = run_vdrt(generate(video));
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string mp4 = read_all(video);
  ASSERT_GT(mp4.size(), 8u);
  EXPECT_EQ(mp4.substr(4, 4), "ftyp");
  EXPECT_NE(mp4.find("moof"), std::string::npos) << "not the fragmented MP4 the writer makes";
}

}  // namespace
}  // namespace vdrt::test
