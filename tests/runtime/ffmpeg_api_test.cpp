// FFmpeg is loaded at run time (runtime/ffmpeg_api.h): from a folder that
// lacks it, or with the wrong major version, loading must fail with a message
// that names what is missing and how to install it; from the folder this test
// binary's own (linked) FFmpeg comes from, it must load that same library.
#include "runtime/ffmpeg_api.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace vdrt::ffmpeg {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vdrt_ffmpeg_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The folder holding the libavformat this binary links (for decoding).
fs::path linked_ffmpeg_dir() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&::avformat_version), &info) || !info.dli_fname) return {};
  return fs::canonical(info.dli_fname).parent_path();
}

void expect_contains(const std::string& text, const std::string& needle) {
  EXPECT_NE(text.find(needle), std::string::npos) << "'" << text << "' lacks '" << needle << "'";
}

TEST(FfmpegApi, SonamesFollowTheHeadersMajorVersions) {
  EXPECT_EQ(avformat_soname(), "libavformat.so." + std::to_string(LIBAVFORMAT_VERSION_MAJOR));
  EXPECT_EQ(avcodec_soname(), "libavcodec.so." + std::to_string(LIBAVCODEC_VERSION_MAJOR));
  EXPECT_EQ(avutil_soname(), "libavutil.so." + std::to_string(LIBAVUTIL_VERSION_MAJOR));
}

TEST(FfmpegApi, EmptyFolderSaysWhatIsMissingAndHowToInstallIt) {
  TempDir empty;
  const Libraries libs(empty.path().string());
  ASSERT_FALSE(libs.available());
  const std::string& why = libs.why_unavailable();
  expect_contains(why, avutil_soname() + " cannot be loaded from " + empty.path().string());
  expect_contains(why, "apt-get install libavformat" + std::to_string(LIBAVFORMAT_VERSION_MAJOR) + " libavcodec" +
                           std::to_string(LIBAVCODEC_VERSION_MAJOR) + " libavutil" +
                           std::to_string(LIBAVUTIL_VERSION_MAJOR));
  expect_contains(why, "VDRT_FFMPEG_LIBDIR");
  EXPECT_EQ(libs.api().avformat_version, nullptr);
}

TEST(FfmpegApi, FolderMissingLibavformatNamesIt) {
  const fs::path real = linked_ffmpeg_dir();
  ASSERT_FALSE(real.empty());
  TempDir partial;
  for (const std::string& name : {avutil_soname(), avcodec_soname()})
    fs::create_symlink(real / name, partial.path() / name);
  const Libraries libs(partial.path().string());
  ASSERT_FALSE(libs.available());
  expect_contains(libs.why_unavailable(), avformat_soname() + " cannot be loaded from " + partial.path().string());
}

TEST(FfmpegApi, LoadsTheLibrariesOfTheFolderGiven) {
  const fs::path real = linked_ffmpeg_dir();
  ASSERT_FALSE(real.empty());
  const Libraries libs(real.string());
  ASSERT_TRUE(libs.available()) << libs.why_unavailable();
  const Api& av = libs.api();
  // The same library the linker resolved for this binary, not a look-alike.
  EXPECT_EQ(av.avformat_version(), ::avformat_version());
  EXPECT_EQ(av.avcodec_version(), ::avcodec_version());
  EXPECT_EQ(av.avutil_version(), ::avutil_version());
  EXPECT_EQ(AV_VERSION_MAJOR(av.avformat_version()), static_cast<unsigned>(LIBAVFORMAT_VERSION_MAJOR));
  // A call through the table does real work: MPEG-4 part 2 is FFmpeg's own
  // encoder, present in every build.
  const AVCodec* mpeg4 = av.avcodec_find_encoder(AV_CODEC_ID_MPEG4);
  ASSERT_NE(mpeg4, nullptr);
  EXPECT_STREQ(mpeg4->name, "mpeg4");
  char text[AV_ERROR_MAX_STRING_SIZE] = {0}, linked[AV_ERROR_MAX_STRING_SIZE] = {0};
  EXPECT_EQ(av.av_strerror(AVERROR(ENOENT), text, sizeof text), 0);
  ::av_strerror(AVERROR(ENOENT), linked, sizeof linked);
  EXPECT_STREQ(text, linked);
  EXPECT_STRNE(text, "");
}

TEST(FfmpegApi, AnotherMajorVersionIsRefusedWithBothVersions) {
  const unsigned util = LIBAVUTIL_VERSION_INT, codec = LIBAVCODEC_VERSION_INT, format = LIBAVFORMAT_VERSION_INT;
  EXPECT_EQ(version_mismatch(util, codec, format), "");
  // A newer minor of the same major keeps the layout: accepted.
  EXPECT_EQ(version_mismatch(util, AV_VERSION_INT(LIBAVCODEC_VERSION_MAJOR, LIBAVCODEC_VERSION_MINOR + 5, 100), format),
            "");
  const unsigned next_codec = AV_VERSION_INT(LIBAVCODEC_VERSION_MAJOR + 1, 3, 100);
  const std::string why = version_mismatch(util, next_codec, format);
  expect_contains(why, "libavcodec reports major version " + std::to_string(LIBAVCODEC_VERSION_MAJOR + 1) +
                           " but vdrt was built against its version " + std::to_string(LIBAVCODEC_VERSION_MAJOR));
  expect_contains(why, "rebuild vdrt");
  EXPECT_EQ(why.find("libavformat reports"), std::string::npos) << why;
  const std::string both = version_mismatch(AV_VERSION_INT(LIBAVUTIL_VERSION_MAJOR - 1, 0, 0), codec,
                                            AV_VERSION_INT(LIBAVFORMAT_VERSION_MAJOR + 1, 0, 0));
  expect_contains(both, "libavutil reports major version " + std::to_string(LIBAVUTIL_VERSION_MAJOR - 1));
  expect_contains(both, "libavformat reports major version " + std::to_string(LIBAVFORMAT_VERSION_MAJOR + 1));
}

}  // namespace
}  // namespace vdrt::ffmpeg
