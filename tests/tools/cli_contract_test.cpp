// The contract every `vdrt` subcommand shares (README "Exit codes"): a bad
// command-line value exits 2 before any work, a bad model or data 1, a
// mismatch 3; the shared options (device, threads, pipeline, verbosity)
// behave the same everywhere. Each case is an exact command from issue 17.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

const std::string kModel = "models/tiny_wan/ts17/denoiser.onnx";
const std::string kData = "models/tiny_wan/ts17/denoiser/test_data_set_1";

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("vdrt_cli_contract_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

bool has(const CliResult& r, const std::string& text) { return r.output.find(text) != std::string::npos; }

std::string file_bytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// A usage error: exit 2 with `text` in the message.
void expect_usage(const std::string& args, const std::string& text) {
  CliResult r = run_vdrt(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
  EXPECT_TRUE(has(r, text)) << args << "\n" << r.output;
}

TEST(CliContract, BadValuesAreUsageErrorsBeforeAnyWork) {
  const std::string gen = "generate " + source_path("models/tiny_wan/ts17") + " ";
  const std::string y4m = " -o " + (fs::temp_directory_path() / "vdrt_cli_contract.y4m").string();
  expect_usage(gen + "-n 12 --cache windw:12" + y4m, "bad cache policy 'windw:12'");
  expect_usage(gen + "-n 12 --steps 1000,abc" + y4m, "--steps");
  expect_usage(gen + "--seconds 0" + y4m, "--seconds must be > 0");
  expect_usage(gen + "-n 12 --fps 0" + y4m, "--fps must be in (0, 1000]");
  expect_usage(gen + "-n 12 -o x.avi", "unknown video format '.avi'");
  expect_usage(gen + "-n 12 -d cuda" + y4m, "backend 'cuda' is not compiled into this binary");
  expect_usage(gen + "-n 12 -d cpu:1" + y4m, "backend 'cpu' has 1 device(s)");
  expect_usage(gen + "-n 12 --seed -1" + y4m, "--seed must be >= 0");
  expect_usage(gen + "-n 12 --shift -3" + y4m, "--shift must be > 0");
  expect_usage(gen + "-n 12 --context /nonexistent.pb" + y4m, "--context /nonexistent.pb: no such file");
  expect_usage(gen + "-n 12 --guidance -1" + y4m, "--guidance must be a number >= 0");
  expect_usage(gen + "-n 12 --guidance 3 --negative-context /nonexistent.pb" + y4m,
               "--negative-context /nonexistent.pb: no such file");
  expect_usage(gen + y4m, "--frames N or --seconds S");
  const std::string prof = "profile-attention " + source_path("models/tiny_wan") + " ";
  expect_usage(prof + "--chunks 0", "--chunks must be >= 1");
  expect_usage(prof + "--budgets 0.1,abc", "'abc' is not a number");
  expect_usage(prof + "--budgets 0.1,2", "is not a fraction in (0, 1]");
  expect_usage(prof + "--target 2", "--target must be in (0, 1]");
  expect_usage(prof + "-d cuda", "not compiled into this binary");
  const std::string bench = "bench " + source_path(kModel) + " -i " + source_path(kData) + " ";
  expect_usage(bench + "--runs 0", "--runs must be >= 1");
  expect_usage(bench + "--warmup -1", "--warmup must be >= 0");
  expect_usage(bench + "--threads -1", "--threads must be in 0..");
  expect_usage(bench + "--threads 100000", "--threads must be in 0..");
  expect_usage("run " + source_path(kModel) + " -i " + source_path(kData) + " --repeat 0", "--runs must be >= 1");
  expect_usage("runn", "unknown subcommand 'runn'");
}

TEST(CliContract, GuidanceWithoutANegativePromptIsAModelError) {
  // The tiny pipeline names no negative_context: exit 1, the folder named, what to pass said.
  const std::string dir = source_path("models/tiny_wan/ts17");
  const std::string y4m = (fs::temp_directory_path() / "vdrt_cli_guidance.y4m").string();
  CliResult r = run_vdrt("generate " + dir + " -n 12 --guidance 3 -o " + y4m);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, dir + ": classifier-free guidance needs a negative prompt")) << r.output;
  EXPECT_TRUE(has(r, "pass --negative-context FILE.pb or --guidance 1")) << r.output;
  // Given one, it generates, and says that each step runs the denoiser twice.
  r = run_vdrt("generate " + dir + " -n 12 --guidance 3 --negative-context " +
               source_path("models/tiny_wan/rollout_reference_guided/negative_context.pb") + " -o " + y4m);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "guidance 3 (two denoiser calls a step)")) << r.output;
  fs::remove(y4m);
}

TEST(CliContract, UnknownPassesAndOptionsNameTheFileAndEntry) {
  fs::path dir = temp_dir("pipelines");
  std::ofstream(dir / "bad.toml") << "[[pass]]\nname = \"fold-constants\"\n[[pass]]\nname = \"fuse-everything\"\n";
  std::ofstream(dir / "opt.toml") << "[[pass]]\nname = \"fuse-gelu\"\ntolerance = \"loose\"\n";
  const std::string model = source_path(kModel), data = source_path(kData);
  for (const std::string& cmd : {"run " + model + " -i " + data, "bench " + model + " -i " + data,
                                 "opt " + model + " -o " + (dir / "o.onnx").string(),
                                 "generate " + source_path("models/tiny_wan/ts17") + " -n 12 -o " +
                                     (dir / "v.y4m").string(),
                                 "profile-attention " + source_path("models/tiny_wan") + " -o " +
                                     (dir / "p.toml").string()}) {
    CliResult r = run_vdrt(cmd + " --pipeline " + (dir / "bad.toml").string());
    EXPECT_EQ(r.code, 2) << cmd << r.output;
    EXPECT_TRUE(has(r, "bad.toml") && has(r, "unknown pass 'fuse-everything'") && has(r, "entry #2")) << r.output;
    r = run_vdrt(cmd + " --pipeline " + (dir / "opt.toml").string());
    EXPECT_EQ(r.code, 2) << cmd << r.output;
    EXPECT_TRUE(has(r, "opt.toml") && has(r, "tolerance")) << r.output;
    r = run_vdrt(cmd + " --passes fuse-x");
    EXPECT_EQ(r.code, 2) << cmd << r.output;
    EXPECT_TRUE(has(r, "unknown pass 'fuse-x'")) << r.output;
    r = run_vdrt(cmd + " --passes fuse-gelu --pipeline " + source_path("passes/pipelines/sparse_pbsa.toml"));
    EXPECT_EQ(r.code, 2) << cmd << r.output;
    EXPECT_TRUE(has(r, "either --passes or --pipeline, not both")) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "o.onnx"));
  EXPECT_FALSE(fs::exists(dir / "v.y4m"));
  EXPECT_FALSE(fs::exists(dir / "p.toml"));
  fs::remove_all(dir);
}

TEST(CliContract, RunChecksCannotPassSilently) {
  const std::string run = "run " + source_path(kModel) + " -i " + source_path(kData);
  expect_usage(run + " --expected /nonexistent", "--expected /nonexistent: no such folder");
  fs::path dir = temp_dir("run");
  fs::create_directories(dir / "inputs");
  for (const auto& e : fs::directory_iterator(source_path(kData)))
    if (e.path().filename().string().rfind("input_", 0) == 0) fs::copy(e.path(), dir / "inputs");
  expect_usage(run + " --expected " + (dir / "inputs").string(), "holds no output_0.pb");
  // An inputs folder without outputs runs, and says nothing was compared.
  CliResult r = run_vdrt("run " + source_path(kModel) + " -i " + (dir / "inputs").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "not compared")) << r.output;
  // -o may not overwrite the outputs it is compared with, nor name a file.
  expect_usage(run + " -o " + source_path(kData), "is the inputs or expected folder");
  std::ofstream(dir / "file") << "x";
  expect_usage(run + " -o " + (dir / "file").string(), "exists and is not a folder");
  // A mismatch: exit 3, the worst element, the count and the relative error.
  r = run_vdrt(run + " --rtol 0 --atol 1e-12");
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_TRUE(has(r, "elements out of tolerance; worst: element")) << r.output;
  EXPECT_TRUE(has(r, "rel. ")) << r.output;
  // The outputs written with -o compare equal when given as --expected.
  r = run_vdrt(run + " -o " + (dir / "out").string());
  EXPECT_EQ(r.code, 0) << r.output;
  r = run_vdrt(run + " --expected " + (dir / "out").string() + " --rtol 0 --atol 0");
  EXPECT_EQ(r.code, 0) << r.output;
  fs::remove_all(dir);
}

TEST(CliContract, OptimiseAtLoad) {
  const std::string model = source_path(kModel), data = source_path(kData);
  // Default: the default pipeline (fused ops); -O0 the raw graph; --passes only those.
  CliResult r = run_vdrt("run " + model + " -i " + data);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "pass pipeline <default> ran (570 -> ")) << r.output;
  r = run_vdrt("bench " + model + " -i " + data + " --runs 2 --warmup 0 -O0");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(has(r, "pass pipeline")) << r.output;
  r = run_vdrt("bench " + model + " -i " + data + " --runs 2 --warmup 0 --passes fold-constants,fuse-gelu");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "pass pipeline --passes fold-constants,fuse-gelu ran")) << r.output;
  expect_usage("run " + model + " -i " + data + " -O0 --passes fuse-gelu", "-O0");
  // sparsify-attention without fused attention: an error that says why.
  expect_usage("opt " + model + " --passes sparsify-attention --explain", "has none and no fuse-attention");
  expect_usage("run " + model + " -i " + data + " --passes sparsify-attention", "has none and no fuse-attention");
  // opt --explain without -o is a dry run that says why nothing happened.
  r = run_vdrt("opt " + model + " --passes fuse-gelu --explain");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "explain: pass fuse-gelu changed nothing")) << r.output;
  EXPECT_TRUE(has(r, "dry run")) << r.output;
}

// Issue 17 deliverable 3: profile-attention takes --pipeline/--passes/-O
// from the shared options and optimises the denoiser at load, as run, bench
// and generate do; -O0 is the raw graph plus only the two passes the
// profiling rewrite needs (named in the log and in the -o file, which stays
// runnable); a pipeline that already sparsifies attention is refused.
TEST(CliContract, ProfileAttentionOptimisesAtLoad) {
  fs::path dir = temp_dir("profile_pipeline");
  const std::string prof = "profile-attention " + source_path("models/tiny_wan") + " --chunks 2 --block-size 4 ";
  const std::string denoiser = source_path("models/tiny_wan/ts17/denoiser.onnx");
  for (const char* cmd : {"run", "bench", "generate", "profile-attention"}) {
    CliResult h = run_vdrt(std::string(cmd) + " --help");
    EXPECT_TRUE(has(h, "--pipeline") && has(h, "--passes") && has(h, "-O ")) << cmd << h.output;
  }
  CliResult r = run_vdrt(prof);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, denoiser + ": pass pipeline <default> ran (570 -> 141 nodes)")) << r.output;
  EXPECT_FALSE(has(r, "fuses no attention")) << r.output;

  r = run_vdrt(prof + "--passes fold-constants,fuse-attention,fuse-gelu");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "pass pipeline --passes fold-constants,fuse-attention,fuse-gelu ran (570 -> ")) << r.output;
  EXPECT_FALSE(has(r, "pass fuse-norms")) << r.output;  // only the passes asked for

  std::ofstream(dir / "mine.toml") << "[[pass]]\nname = \"fold-constants\"\n[[pass]]\nname = \"fuse-attention\"\n";
  r = run_vdrt(prof + "--pipeline " + (dir / "mine.toml").string() + " -o " + (dir / "from_mine.toml").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "pass pipeline " + (dir / "mine.toml").string() + " ran (570 -> 281 nodes)")) << r.output;

  r = run_vdrt(prof + "-O0 -o " + (dir / "raw.toml").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(has(r, "-O0 fuses no attention; added fold-constants, fuse-attention before the profiling rewrite"))
      << r.output;
  EXPECT_TRUE(has(r, "pass pipeline -O0 + fold-constants,fuse-attention ran (570 -> 281 nodes)")) << r.output;
  EXPECT_FALSE(has(r, "<default>")) << r.output;
  EXPECT_FALSE(has(r, "pass fuse-norms")) << r.output;
  const std::string written = file_bytes(dir / "raw.toml");
  EXPECT_TRUE(written.find("(-O0 + fold-constants, fuse-attention) followed by the suggested sparse attention") !=
              std::string::npos)
      << written;
  const size_t fold = written.find("name = \"fold-constants\""), fuse = written.find("name = \"fuse-attention\""),
               sparse = written.find("name = \"sparsify-attention\"");
  EXPECT_TRUE(fold < fuse && fuse < sparse && sparse != std::string::npos) << written;
  EXPECT_EQ(written.find("fuse-norms"), std::string::npos) << written;
  // The written pipeline runs what was profiled.
  CliResult g = run_vdrt("generate " + source_path("models/tiny_wan") + " -n 24 --no-progress --cache pbsa -o " +
                         (dir / "v.y4m").string() + " --pipeline " + (dir / "raw.toml").string());
  EXPECT_EQ(g.code, 0) << g.output;
  EXPECT_TRUE(has(g, "ran (570 -> 281 nodes)")) << g.output;
  EXPECT_TRUE(has(g, "2 PBSA layers")) << g.output;

  expect_usage(prof + "--pipeline " + source_path("passes/pipelines/sparse_pbsa.toml"),
               "sparse_pbsa.toml: sparsify-attention (pipeline entry #9): profile-attention profiles dense attention");
  expect_usage(prof + "--passes fold-constants,fuse-attention,sparsify-attention", "--compare FILE");
  expect_usage(prof + "-O0 --passes fuse-gelu", "-O0 runs the graph as imported");
  expect_usage(prof + "-O2", "-O: Value 2 not in range 0 to 1");
  fs::remove_all(dir);
}

TEST(CliContract, VerbosityAnywhereAndQuietSilencesProgress) {
  const std::string gen = "generate " + source_path("models/tiny_wan/ts17") + " -n 12 -d cpu -o " +
                          (fs::temp_directory_path() / "vdrt_cli_contract_q.y4m").string();
  CliResult loud = run_vdrt(gen);
  EXPECT_EQ(loud.code, 0) << loud.output;
  EXPECT_TRUE(has(loud, "chunk 1/1")) << loud.output;  // the progress line (plain lines when not a terminal)
  for (const std::string& cmd : {"-q " + gen, gen + " -q"}) {
    CliResult q = run_vdrt(cmd);
    EXPECT_EQ(q.code, 0) << q.output;
    EXPECT_FALSE(has(q, "chunk 1/1")) << cmd << q.output;
    EXPECT_FALSE(has(q, "[info]")) << cmd << q.output;
  }
  CliResult v = run_vdrt("run " + source_path(kModel) + " -i " + source_path(kData) + " -v");
  EXPECT_EQ(v.code, 0) << v.output;
  EXPECT_TRUE(has(v, "[debug]")) << v.output;
  // One name for repeated runs: --runs, with --repeat kept as an alias, in both.
  EXPECT_EQ(run_vdrt("run " + source_path(kModel) + " -i " + source_path(kData) + " --runs 2").code, 0);
  EXPECT_EQ(run_vdrt("bench " + source_path(kModel) + " -i " + source_path(kData) + " --repeat 2 --warmup 0").code, 0);
}

TEST(CliContract, GenerateOutputFolders) {
  fs::path dir = temp_dir("png");
  const std::string gen = "generate " + source_path("models/tiny_wan/ts17") + " -n 12 -d cpu --no-progress ";
  // A folder without '/' or a pattern, or a name without extension: refused.
  expect_usage(gen + "-o " + dir.string(), "is a folder; name PNG frames as");
  expect_usage(gen + "-o " + (dir / "out").string(), "unknown video format");
  CliResult r = run_vdrt(gen + "-o " + (dir / "frames").string() + "/");
  EXPECT_EQ(r.code, 0) << r.output;
  std::ofstream(dir / "frames" / "mine.txt") << "keep me";
  // Again into the same (now non-empty) folder: refused unless --overwrite, which removes nothing else.
  expect_usage(gen + "-o " + (dir / "frames").string() + "/", "is not empty");
  r = run_vdrt(gen + "-o " + (dir / "frames").string() + "/%05d.png --overwrite");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "frames" / "mine.txt"));
  fs::remove_all(dir);
}

// The last of a repeated option wins (scripts/demo.sh passes defaults that its
// own arguments override), whatever the earlier one said.
TEST(CliContract, TheLastOfARepeatedOptionWins) {
  fs::path dir = temp_dir("repeat");
  const std::string gen = "generate " + source_path("models/tiny_wan/ts17") + " -d cpu --no-progress ";
  CliResult r = run_vdrt(gen + "-n 24 --seed 3 -n 12 --seed 5 -o " + (dir / "frames").string() + "/");
  ASSERT_EQ(r.code, 0) << r.output;
  int frames = 0;
  for (const auto& e : fs::directory_iterator(dir / "frames")) frames += e.path().extension() == ".png";
  EXPECT_EQ(frames, 12) << r.output;
  // And the seed taken was the last one: the frames equal a run given only --seed 5.
  r = run_vdrt(gen + "-n 12 --seed 5 -o " + (dir / "once").string() + "/");
  ASSERT_EQ(r.code, 0) << r.output;
  for (int i = 0; i < 12; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "%05d.png", i);
    const std::string x = file_bytes(dir / "frames" / name), y = file_bytes(dir / "once" / name);
    EXPECT_TRUE(!x.empty() && x == y) << name << " differs from the run given only the last --seed";
  }
  expect_usage(gen + "-n 12 -n 0 -o " + (dir / "x.y4m").string(), "--frames");  // the last value is checked
  fs::remove_all(dir);
}

TEST(CliContract, GenerateLogsTheBoundedCacheOfAPbsaPipeline) {
  const fs::path video = fs::temp_directory_path() / "vdrt_cli_contract_pbsa.y4m";
  for (const char* cache : {"unbounded", "pbsa"}) {
    CliResult r = run_vdrt("generate " + source_path("models/tiny_wan") + " -n 24 --no-progress -o " + video.string() +
                           " --cache " + cache + " --pipeline " + source_path("passes/pipelines/sparse_pbsa.toml"));
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(has(r, "cache pbsa-bounded (2 PBSA layers: window 6 frames")) << r.output;
    EXPECT_FALSE(has(r, "cache unbounded")) << r.output;
  }
  fs::remove(video);
}

TEST(CliContract, ProfileAttentionWritesARunnablePipeline) {
  fs::path dir = temp_dir("profile");
  const fs::path toml = dir / "suggested.toml";
  CliResult p = run_vdrt("-q profile-attention " + source_path("models/tiny_wan") +
                         " --chunks 3 --block-size 4 --window 6 -o " + toml.string());
  ASSERT_EQ(p.code, 0) << p.output;
  ASSERT_TRUE(fs::exists(toml));
  CliResult g = run_vdrt("generate " + source_path("models/tiny_wan") + " -n 24 --no-progress --cache pbsa -o " +
                         (dir / "v.y4m").string() + " --pipeline " + toml.string());
  EXPECT_EQ(g.code, 0) << g.output;
  EXPECT_TRUE(has(g, "PBSA layers")) << g.output;
  EXPECT_GT(fs::file_size(dir / "v.y4m"), 0u);
  fs::remove_all(dir);
}

TEST(CliContract, HelpNamesOnlyCompiledInDevices) {
  for (const char* cmd : {"run", "bench", "generate", "profile-attention"}) {
    CliResult r = run_vdrt(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_TRUE(has(r, "-d,--device")) << cmd;
#ifdef VDRT_WITH_OPENCL
    EXPECT_TRUE(has(r, "opencl[:N]")) << cmd << r.output;
#else
    EXPECT_FALSE(has(r, "opencl")) << cmd << r.output;
#endif
#ifdef VDRT_WITH_VULKAN
    EXPECT_TRUE(has(r, "vulkan[:N]")) << cmd << r.output;
#else
    EXPECT_FALSE(has(r, "vulkan")) << cmd << r.output;
#endif
  }
}

// Issue 17 item 9: a block size the 4x4 token grid cannot tile is refused
// (it used to be echoed as 5 while tiles of 4 were used); the default,
// clamped to the grid, is reported as the tile actually used.
TEST(CliContract, ProfileAttentionNeverEchoesABlockSizeItDidNotUse) {
  const std::string prof = "profile-attention " + source_path("models/tiny_wan") + " --chunks 1 ";
  CliResult bad = run_vdrt(prof + "--block-size 5");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_TRUE(has(bad, "--block-size 5: the 4x4 token grid tiles it as 1x4 = 4 tokens; block sizes that tile it "
                       "exactly: 1,2,3,4,6,8,9,12,16"))
      << bad.output;
  EXPECT_FALSE(has(bad, "block_size = 5")) << bad.output;
  CliResult def = run_vdrt("-q " + prof);
  ASSERT_EQ(def.code, 0) << def.output;
  EXPECT_TRUE(has(def, "blocks: 4x4 tiles")) << def.output;
  EXPECT_TRUE(has(def, "block_tile = \"4x4\"")) << def.output;
  EXPECT_FALSE(has(def, "block_size = 64")) << def.output;
}

// Issue 17 item 9: --seconds under one frame at the command line's --fps is
// refused before the models load (the folder here has none).
TEST(CliContract, SecondsUnderOneFrameIsRefusedBeforeLoading) {
  fs::path dir = temp_dir("no_models");
  const std::string gen = "generate " + dir.string() + " -o " + (dir / "v.y4m").string();
  CliResult r = run_vdrt(gen + " --seconds 0.01");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "--seconds 0.01 at --fps 16 is less than one frame (one frame = 0.0625 s)")) << r.output;
  CliResult r2 = run_vdrt(gen + " --seconds 0.1 --fps 4");
  EXPECT_EQ(r2.code, 2) << r2.output;
  EXPECT_TRUE(has(r2, "--seconds 0.1 at --fps 4 is less than one frame")) << r2.output;
  CliResult ok = run_vdrt(gen + " --seconds 0.1");  // 1.6 frames: past the check, fails at loading (no models)
  EXPECT_EQ(ok.code, 1) << ok.output;
  fs::remove_all(dir);
}

// Issue 17 items 9 and 11: pass options are checked when the pipeline is
// parsed, before any work: a number out of its range (max_bytes = -1) or a
// string outside its values (method = "pbs") exits 2 naming the file, the
// [[pass]] entry, the key and what is allowed.
TEST(CliContract, PipelineOptionValuesAreCheckedWhenParsed) {
  fs::path dir = temp_dir("pass_values");
  const fs::path neg = dir / "neg.toml", pbs = dir / "pbs.toml";
  std::ofstream(neg) << "[[pass]]\nname = \"fold-constants\"\nmax_bytes = -1\n";
  std::ofstream(pbs) << "[[pass]]\nname = \"fuse-attention\"\n[[pass]]\nname = \"sparsify-attention\"\n"
                        "method = \"pbs\"\n";
  const std::string out = " -o " + (dir / "out.onnx").string();
  CliResult r = run_vdrt("opt " + source_path(kModel) + " --pipeline " + neg.string() + out);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, neg.string() + ": option 'max_bytes' of pass 'fold-constants' must be >= 0, got -1 "
                                    "(pipeline entry #1)"))
      << r.output;
  EXPECT_FALSE(has(r, "pass fold-constants")) << r.output;  // no pass ran
  r = run_vdrt("opt " + source_path(kModel) + " --pipeline " + pbs.string() + out);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, pbs.string() + ": option 'method' of pass 'sparsify-attention' must be one of pbsa, hsa; "
                                    "got 'pbs' (pipeline entry #2)"))
      << r.output;
  EXPECT_FALSE(has(r, "pass fuse-attention")) << r.output;
  r = run_vdrt("generate " + source_path("models/tiny_wan") + " -n 12 -o " + (dir / "v.y4m").string() +
               " --pipeline " + pbs.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(has(r, "must be one of pbsa, hsa; got 'pbs' (pipeline entry #2)")) << r.output;
  fs::remove_all(dir);
}

// Issue 17 item 10: a model folder's pipeline.toml is data; a key vdrt does
// not read is an error (exit 1) naming the file and the key, as pass
// pipelines already do. Every committed model folder stays valid.
TEST(CliContract, ModelFolderPipelineTomlRefusesUnknownKeys) {
  fs::path dir = temp_dir("model_toml");
  const std::string denoiser = "denoiser = \"" + source_path("models/tiny_wan/ts17/denoiser.onnx") + "\"\n";
  const std::string gen = "generate " + dir.string() + " -n 12 --no-progress -o " + (dir / "v.y4m").string();
  std::ofstream(dir / "pipeline.toml") << denoiser << "fps = 16\n";
  CliResult r = run_vdrt(gen);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, (dir / "pipeline.toml").string() + ": unknown key 'fps' (keys: context, decoder, denoiser, "
                                                          "names, negative_context)"))
      << r.output;
  std::ofstream(dir / "pipeline.toml") << denoiser << "[names]\nnoisy_latent = \"x\"\n";
  r = run_vdrt(gen);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, (dir / "pipeline.toml").string() + ": unknown key 'noisy_latent' in [names]")) << r.output;
  std::ofstream(dir / "pipeline.toml") << "denoiser = 3\n";
  r = run_vdrt(gen);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(has(r, "'denoiser' must be a string (a path)")) << r.output;
  for (const char* folder : {"models/tiny_wan", "models/tiny_wan/ts17", "models/tiny_wan/dyn18", "models/tiny_wan/attn23"}) {
    CliResult ok = run_vdrt("-q generate " + source_path(folder) + " -n 1 --no-progress -o " + (dir / "ok.y4m").string());
    EXPECT_EQ(ok.code, 0) << folder << "\n" << ok.output;
  }
  fs::remove_all(dir);
}

// docs/MODEL_CONTRACT.md's table of what a model folder's pipeline.toml
// refuses, case by case, through both commands that read a folder: exit 1
// and a message naming the file and the key (the cases the test above does
// not cover: non-string [names] values, a non-table names, a table that is
// no key, a list for a path, text that is not TOML).
TEST(CliContract, ModelFolderPipelineTomlRefusalsAreTheDocumentedOnes) {
  fs::path dir = temp_dir("model_toml_doc");
  const fs::path file = dir / "pipeline.toml";
  const std::string denoiser = "denoiser = \"" + source_path("models/tiny_wan/ts17/denoiser.onnx") + "\"\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {denoiser + "[names]\nnoisy_latents = 3\n", "[names] noisy_latents must be a string (a tensor name)"},
      {denoiser + "names = \"x\"\n", "'names' must be a table [names]"},
      {denoiser + "[extra]\na = \"b\"\n", "unknown key 'extra' (keys: context, decoder, denoiser, names, negative_context)"},
      {denoiser + "context = [\"a.pb\"]\n", "'context' must be a string (a path)"},
      {denoiser + "decoder = true\n", "'decoder' must be a string (a path)"},
      {"denoiser =\n", "cannot parse pipeline.toml"},
  };
  for (const auto& [text, message] : cases)
    for (const std::string& cmd : {"generate " + dir.string() + " -n 12 --no-progress -o " + (dir / "v.y4m").string(),
                                   "profile-attention " + dir.string() + " --chunks 1"}) {
      std::ofstream(file) << text;
      CliResult r = run_vdrt(cmd);
      EXPECT_EQ(r.code, 1) << text << r.output;
      EXPECT_TRUE(has(r, file.string() + ": " + message)) << cmd << "\n" << text << r.output;
    }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt::test
