// `vdrt opt` as a user runs it: writes a model vdrt runs with the golden
// outputs, dumps every pass, explains, documents every pass and option in
// --help, and fails cleanly on bad pipelines and arguments.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "passes/pass_registry.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;


fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("vdrt_opt_test_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(VdrtOpt, WritesAModelThatRunsWithTheGoldenOutputs) {
  fs::path dir = temp_dir("run");
  fs::path out = dir / "denoiser.onnx";
  std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  CliResult r = run_vdrt("opt " + model + " -o " + out.string() + " --explain");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("vdrt.Attention"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pass fuse-attention"), std::string::npos) << r.output;  // one log line per pass
  EXPECT_NE(r.output.find("explain: no near-misses"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(out));
  CliResult run = run_vdrt("run " + out.string() + " --inputs " +
                    source_path("models/tiny_wan/ts17/denoiser/test_data_set_1") + " --atol 1e-4 --rtol 0");
  EXPECT_EQ(run.code, 0) << run.output;
  fs::remove_all(dir);
}

TEST(VdrtOpt, EveryAttentionOfEveryExportStyleFuses) {
  // Issue 12: ts17 computes the SDPA scale from Shape(q) at run time; every
  // style must still fuse both layers' self- and cross-attention.
  fs::path dir = temp_dir("styles");
  for (const char* style : {"ts17", "dyn18", "attn23"}) {
    SCOPED_TRACE(style);
    std::string model = source_path(std::string("models/tiny_wan/") + style + "/denoiser.onnx");
    CliResult r = run_vdrt("opt " + model + " -o " + (dir / (std::string(style) + ".onnx")).string() + " --explain");
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("(4 vdrt.Attention"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("explain: no near-misses"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("not fused"), std::string::npos) << r.output;
  }
  fs::remove_all(dir);
}

TEST(VdrtOpt, DeviceCpuFusesGemmEpilogues) {
  // Without --device the file stays fast everywhere: no CPU-only
  // vdrt.FusedMatMul, the pass says why in its log line. With --device cpu
  // every Linear becomes one, and the file runs with the golden outputs.
  fs::path dir = temp_dir("device");
  const std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  CliResult any = run_vdrt("opt " + model + " -o " + (dir / "any.onnx").string());
  ASSERT_EQ(any.code, 0) << any.output;
  EXPECT_EQ(any.output.find("vdrt.FusedMatMul"), std::string::npos) << any.output;
  EXPECT_NE(any.output.find("unfused, no device given 17"), std::string::npos) << any.output;
  CliResult cpu = run_vdrt("opt " + model + " --device cpu -o " + (dir / "cpu.onnx").string());
  ASSERT_EQ(cpu.code, 0) << cpu.output;
  EXPECT_NE(cpu.output.find("17 vdrt.FusedMatMul"), std::string::npos) << cpu.output;
  CliResult run = run_vdrt("run " + (dir / "cpu.onnx").string() + " -O0 -d cpu --inputs " +
                           source_path("models/tiny_wan/ts17/denoiser/test_data_set_1") + " --atol 1e-4 --rtol 0");
  EXPECT_EQ(run.code, 0) << run.output;
  CliResult bad = run_vdrt("opt " + model + " --device tpu -o " + (dir / "x.onnx").string());
  EXPECT_EQ(bad.code, 2) << bad.output;
  fs::remove_all(dir);
}

TEST(VdrtOpt, DumpDirHoldsTheGraphAfterEveryPass) {
  fs::path dir = temp_dir("dump");
  CliResult r = run_vdrt("opt " + source_path("models/tiny_wan/dyn18/denoiser.onnx") + " -o " + (dir / "out.onnx").string() +
                  " --passes fold-constants,fuse-attention --dump-dir " + (dir / "dump").string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"00-input.dot", "00-input.onnx", "01-fold-constants.dot", "01-fold-constants.onnx",
                        "02-fuse-attention.dot", "02-fuse-attention.onnx"})
    EXPECT_TRUE(fs::exists(dir / "dump" / f)) << f;
  std::ifstream dot(dir / "dump" / "02-fuse-attention.dot");
  std::string text((std::istreambuf_iterator<char>(dot)), {});
  EXPECT_NE(text.find("vdrt.Attention"), std::string::npos);
  fs::remove_all(dir);
}

TEST(VdrtOpt, PipelineFileWithOptions) {
  fs::path dir = temp_dir("pipeline");
  std::ofstream(dir / "p.toml") << "[[pass]]\nname = \"fold-constants\"\nmax_bytes = 4096\n\n"
                                   "[[pass]]\nname = \"fuse-attention\"\nsplit_cache = false\n";
  CliResult r = run_vdrt("opt " + source_path("models/tiny_wan/attn23/denoiser.onnx") + " -o " + (dir / "o.onnx").string() +
                  " --pipeline " + (dir / "p.toml").string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("pass fuse-norms"), std::string::npos) << r.output;  // only the listed passes ran
  CliResult p = run_vdrt("opt --print-pipeline --pipeline " + (dir / "p.toml").string());
  EXPECT_EQ(p.code, 0) << p.output;
  EXPECT_NE(p.output.find("split_cache = false"), std::string::npos) << p.output;
  fs::remove_all(dir);
}

TEST(VdrtOpt, HelpDocumentsEveryPassAndOption) {
  CliResult r = run_vdrt("opt --help");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const std::string& name : PassRegistry::instance().names()) {
    EXPECT_NE(r.output.find("  " + name + "\n"), std::string::npos) << name;
    for (const auto& o : PassRegistry::instance().create(name)->option_specs())
      EXPECT_NE(r.output.find(o.name + " ("), std::string::npos) << name << "." << o.name;
  }
  for (const char* flag : {"--pipeline", "--dump-dir", "--explain", "--list-passes", "-o,--output"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  CliResult list = run_vdrt("opt --list-passes");
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.output.find("fuse-attention"), std::string::npos);
  CliResult print = run_vdrt("opt --print-pipeline");
  EXPECT_NE(print.output.find("[[pass]]"), std::string::npos);
}

// Issue 17: --list-passes shows each option's allowed range or values, the
// ones configure() enforces (OptionSpec::constraint, the wording of its
// error messages), and nothing for an option that takes any value.
TEST(VdrtOpt, ListPassesShowsAllowedRangesAndValues) {
  CliResult r = run_vdrt("opt --list-passes");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* line : {"      max_bytes (int, default 16777216, >= 0)\n",
                           "      max_sweeps (int, default 8, >= 1)\n",
                           "      fold_shapes (bool, default true)\n",
                           "      method (string, default \"pbsa\", one of pbsa, hsa)\n",
                           "      saliency_decay (float, default 1, in [0, 1])\n",
                           "      sink_frames (int, default -1, >= -1)\n",
                           "      scope (string, default \"all\", one of all, dit_linear)\n"})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << r.output;
  // Every constrained option of every pass shows its constraint, in --help too.
  CliResult help = run_vdrt("opt --help");
  for (const std::string& name : PassRegistry::instance().names())
    for (const auto& o : PassRegistry::instance().create(name)->option_specs()) {
      if (o.constraint().empty()) continue;
      const std::string shown = ", " + o.constraint() + ")\n";
      const size_t at = r.output.find("      " + o.name + " (", r.output.find("  " + name + "\n"));
      ASSERT_NE(at, std::string::npos) << name << "." << o.name;
      EXPECT_EQ(r.output.substr(r.output.find('\n', at) + 1 - shown.size(), shown.size()), shown)
          << name << "." << o.name;
      EXPECT_NE(help.output.find(shown), std::string::npos) << name << "." << o.name;
    }
  // The same words name a refused value.
  const fs::path dir = temp_dir("ranges");
  std::ofstream(dir / "p.toml") << "[[pass]]\nname = \"fold-constants\"\nmax_sweeps = 0\n";
  CliResult bad = run_vdrt("opt --print-pipeline --pipeline " + (dir / "p.toml").string());
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("option 'max_sweeps' of pass 'fold-constants' must be >= 1, got 0"), std::string::npos)
      << bad.output;
  fs::remove_all(dir);
}

TEST(VdrtOpt, BadInputsFailCleanly) {
  fs::path dir = temp_dir("bad");
  std::string model = source_path("models/tiny_wan/ts17/denoiser.onnx");
  CliResult no_out = run_vdrt("opt " + model);
  EXPECT_EQ(no_out.code, 2) << no_out.output;
  std::ofstream(dir / "bad.toml") << "[[pass]]\nname = \"fuse-everything\"\n";
  CliResult bad_pass = run_vdrt("opt " + model + " -o " + (dir / "o.onnx").string() + " --pipeline " + (dir / "bad.toml").string());
  EXPECT_EQ(bad_pass.code, 2) << bad_pass.output;
  EXPECT_NE(bad_pass.output.find("unknown pass 'fuse-everything'"), std::string::npos) << bad_pass.output;
  std::ofstream(dir / "opt.toml") << "[[pass]]\nname = \"fuse-gelu\"\ntolerance = \"loose\"\n";
  CliResult bad_opt = run_vdrt("opt " + model + " -o " + (dir / "o.onnx").string() + " --pipeline " + (dir / "opt.toml").string());
  EXPECT_EQ(bad_opt.code, 2) << bad_opt.output;
  EXPECT_NE(bad_opt.output.find("tolerance"), std::string::npos) << bad_opt.output;
  std::ofstream(dir / "garbage.onnx") << "not a model";
  CliResult garbage = run_vdrt("opt " + (dir / "garbage.onnx").string() + " -o " + (dir / "o.onnx").string());
  EXPECT_EQ(garbage.code, 1) << garbage.output;
  EXPECT_FALSE(fs::exists(dir / "o.onnx"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vdrt::test
