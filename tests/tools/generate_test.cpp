// `vdrt generate` end to end, as a user runs it: bounded memory over long
// videos, and a playable file after Ctrl-C.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

pid_t spawn(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct Finished {
  int exit_code = -1;
  long max_rss_kib = 0;
};

Finished wait_for(pid_t pid) {
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), usage.ru_maxrss};
}

// Frames in a YUV4MPEG2 file: each starts with "FRAME\n".
int count_y4m_frames(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string header;
  std::getline(in, header);
  if (header.rfind("YUV4MPEG2 ", 0) != 0) return -1;
  int w = 0, h = 0;
  for (size_t p = 0; (p = header.find(' ', p)) != std::string::npos; ++p) {
    if (header[p + 1] == 'W') w = std::stoi(header.substr(p + 2));
    if (header[p + 1] == 'H') h = std::stoi(header.substr(p + 2));
  }
  const bool is444 = header.find("C444") != std::string::npos;
  const size_t frame_bytes = is444 ? 3u * w * h : static_cast<size_t>(w) * h + 2u * ((w + 1) / 2) * ((h + 1) / 2);
  int frames = 0;
  std::string tag;
  while (std::getline(in, tag)) {
    if (tag.rfind("FRAME", 0) != 0) return -1;
    in.seekg(static_cast<std::streamoff>(frame_bytes), std::ios::cur);
    if (!in) break;
    ++frames;
  }
  return frames;
}

std::string temp_dir() {
  fs::path d = fs::temp_directory_path() / ("vdrt_generate_test_" + std::to_string(getpid()));
  fs::create_directories(d);
  return d.string();
}

TEST(Generate, PeakMemoryDoesNotGrowWithVideoLength) {
  const std::string dir = temp_dir();
  auto run = [&](int frames) {
    std::string out = dir + "/len" + std::to_string(frames) + ".y4m";
    Finished f = wait_for(spawn({vdrt_binary(), "-q", "generate", source_path("models/tiny_wan/ts17"), "--frames",
                                 std::to_string(frames), "--cache", "window:9,sink:3", "--no-progress", "-d", "cpu",
                                 "-o", out}));
    EXPECT_EQ(f.exit_code, 0);
    EXPECT_EQ(count_y4m_frames(out), frames);
    return f.max_rss_kib;
  };
  long short_rss = run(20 * 12);   // 20 chunks of 12 frames
  long long_rss = run(200 * 12);   // 200 chunks
  EXPECT_LE(long_rss, short_rss * 1.10) << "20 chunks: " << short_rss << " KiB, 200 chunks: " << long_rss << " KiB";
  fs::remove_all(dir);
}

TEST(Generate, SigintLeavesAPlayableFileOfTheChunksDone) {
  const std::string dir = temp_dir();
  const std::string out = dir + "/interrupted.y4m";
  pid_t pid = spawn({vdrt_binary(), "-q", "generate", source_path("models/tiny_wan/ts17"), "--frames", "120000",
                     "--no-progress", "-d", "cpu", "-o", out});
  // Wait until a few chunks are on disk, then interrupt like Ctrl-C does.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && count_y4m_frames(out) < 36)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGINT);
  Finished f = wait_for(pid);
  EXPECT_EQ(f.exit_code, 130);
  int frames = count_y4m_frames(out);
  EXPECT_GE(frames, 36);
  EXPECT_EQ(frames % 12, 0) << "a partial chunk was written";
  EXPECT_LT(frames, 120000);
  fs::remove_all(dir);
}

TEST(Generate, BadArgumentsGiveUsageErrors) {
  EXPECT_EQ(wait_for(spawn({vdrt_binary(), "generate"})).exit_code, 2);
  EXPECT_EQ(wait_for(spawn({vdrt_binary(), "generate", source_path("models/tiny_wan/ts17"), "--frames", "12",
                            "--cache", "sometimes", "-o", "/tmp/x.y4m"})).exit_code, 2);
  EXPECT_EQ(wait_for(spawn({vdrt_binary(), "generate", source_path("models/tiny_wan/ts17"), "--frames", "12",
                            "-o", "/tmp/x.unknownformat"})).exit_code, 2);
}

}  // namespace
}  // namespace vdrt::test
