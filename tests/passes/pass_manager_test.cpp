// The pass infrastructure: registry, option validation, TOML pipelines,
// the PassManager's bookkeeping, dumps and the explain channel.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "graph/error.h"
#include "graph_builder.h"
#include "passes/pass_manager.h"
#include "passes/pass_registry.h"
#include "passes/pipeline.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::GraphBuilder;

TEST(PassRegistry, KnowsEveryPassOfTheDefaultPipeline) {
  auto& r = PassRegistry::instance();
  for (const char* name : {"fold-constants", "eliminate-dead", "common-subexpressions", "fuse-norms", "fuse-gelu",
                           "fuse-attention"})
    EXPECT_TRUE(r.has(name)) << name;
  for (const auto& step : default_pipeline().steps) EXPECT_TRUE(r.has(step.pass)) << step.pass;
}

TEST(PassRegistry, UnknownPassNamesTheKnownOnes) {
  try {
    PassRegistry::instance().create("fuse-everything");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fuse-attention"), std::string::npos) << e.what();
  }
}

TEST(PassRegistry, DescribeListsPassesAndOptions) {
  std::string help = describe_passes();
  EXPECT_NE(help.find("fold-constants"), std::string::npos);
  EXPECT_NE(help.find("max_bytes"), std::string::npos);
  EXPECT_NE(help.find("split_cache"), std::string::npos);
}

TEST(PassOptions, ConfigureValidatesNamesAndTypes) {
  auto pass = PassRegistry::instance().create("fold-constants");
  PassOptions bad_name;
  bad_name.set("max_byte", int64_t{3});
  EXPECT_THROW(pass->configure(bad_name), Error);
  PassOptions bad_type;
  bad_type.set("max_bytes", std::string("lots"));
  EXPECT_THROW(pass->configure(bad_type), Error);
  PassOptions good;
  good.set("max_bytes", int64_t{64});
  pass->configure(good);
  EXPECT_EQ(pass->options().get_int("max_bytes"), 64);
  EXPECT_TRUE(pass->options().get_bool("fold_shapes"));  // default filled in
}

TEST(PassOptions, IntegersAreAcceptedForFloatOptions) {
  auto pass = PassRegistry::instance().create("fuse-gelu");
  PassOptions o;
  o.set("tolerance", int64_t{1});
  pass->configure(o);
  EXPECT_DOUBLE_EQ(pass->options().get_float("tolerance"), 1.0);
}

TEST(Pipeline, ParsesPassesOptionsAndEnabled) {
  Pipeline p = parse_pipeline(R"(
[[pass]]
name = "fold-constants"
max_bytes = 1024

[[pass]]
name = "fuse-attention"
enabled = false
split_cache = false
)", "test.toml");
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].pass, "fold-constants");
  EXPECT_EQ(p.steps[0].options.get_int("max_bytes"), 1024);
  EXPECT_FALSE(p.steps[1].enabled);
  EXPECT_FALSE(p.steps[1].options.get_bool("split_cache"));
  PassManager pm(p);
  EXPECT_EQ(pm.passes().size(), 1u);  // the disabled entry is skipped
}

TEST(Pipeline, RejectsBadFilesWithClearErrors) {
  auto expect_error = [](const std::string& toml, const std::string& needle) {
    try {
      PassManager pm(parse_pipeline(toml, "bad.toml"));
      FAIL() << "expected an error for: " << toml;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.toml"), std::string::npos) << e.what();
    }
  };
  expect_error("[[pass]\nname = ", "invalid pipeline TOML");
  expect_error("[pass]\nname = \"fold-constants\"\n", "array of tables");
  expect_error("[[pass]]\nmax_bytes = 3\n", "needs name");
  expect_error("[[pass]]\nname = \"fold-everything\"\n", "unknown pass");
  expect_error("[[pass]]\nname = \"fold-constants\"\nmax_bytez = 3\n", "no option 'max_bytez'");
  expect_error("[[pass]]\nname = \"fold-constants\"\nmax_bytes = \"big\"\n", "must be a int");
  expect_error("[[pass]]\nname = \"fold-constants\"\nmax_bytes = [1, 2]\n", "must be a bool");
  expect_error("passes = 3\n", "unknown top-level key");
  expect_error("[[pass]]\nname = \"fuse-norms\"\nenabled = 1\n", "'enabled' must be true or false");
}

TEST(Pipeline, MissingFileIsAnError) { EXPECT_THROW(load_pipeline("/nonexistent/pipeline.toml"), Error); }

TEST(Pipeline, DefaultPipelineParses) {
  Pipeline p = default_pipeline();
  ASSERT_FALSE(p.steps.empty());
  EXPECT_EQ(p.steps.front().pass, "fold-constants");
  PassManager pm(p);
  EXPECT_EQ(pm.passes().size(), p.steps.size());
}

// A pass that renames nothing but records what the manager did around it.
class ProbePass final : public Pass {
 public:
  std::string name() const override { return "probe"; }
  std::string description() const override { return "test probe"; }
  bool run(Graph& g, PassContext& ctx) override {
    ctx.count("seen", static_cast<int64_t>(g.nodes().size()));
    ctx.explain(*g.nodes().front(), "probe looked here");
    return false;
  }
};

TEST(PassManager, RecordsCountersExplanationsAndDumps) {
  GraphBuilder b;
  Value* x = b.input("x", {2, 3});
  Value* y = b.op("Relu", {x});
  b.output(y);
  PassManager pm;
  pm.add(std::make_unique<ProbePass>());
  pm.add(PassRegistry::instance().create("eliminate-dead"));
  PassContext ctx;
  PassManagerOptions o;
  auto dir = std::filesystem::temp_directory_path() / "vdrt_pass_manager_dump";
  std::filesystem::remove_all(dir);
  o.dump_dir = dir.string();
  int written = 0;
  o.write_model = [&](const Graph&, const std::string& path) {
    std::ofstream(path) << "model";
    ++written;
  };
  auto records = pm.run(b.graph(), ctx, o);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].counters.at("seen"), 1);
  EXPECT_FALSE(records[0].changed);
  EXPECT_EQ(records[0].nodes_before, 1u);
  ASSERT_EQ(ctx.explanations().size(), 1u);
  EXPECT_EQ(ctx.explanations()[0].pass, "probe");
  EXPECT_NE(ctx.explanations()[0].str().find("probe looked here"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "00-input.dot"));
  EXPECT_TRUE(std::filesystem::exists(dir / "01-probe.dot"));
  EXPECT_TRUE(std::filesystem::exists(dir / "02-eliminate-dead.onnx"));
  EXPECT_EQ(written, 3);
  std::ifstream dot(dir / "00-input.dot");
  std::string text((std::istreambuf_iterator<char>(dot)), {});
  EXPECT_NE(text.find("digraph"), std::string::npos);
  EXPECT_NE(text.find("Relu"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(PassManager, NamesThePassThatBrokeTheGraph) {
  class Breaker final : public Pass {
   public:
    std::string name() const override { return "breaker"; }
    std::string description() const override { return "leaves a dangling input"; }
    bool run(Graph& g, PassContext&) override {
      g.nodes().front()->set_input(0, g.value("nowhere"));
      return true;
    }
  };
  GraphBuilder b;
  Value* x = b.input("x", {2});
  b.output(b.op("Relu", {x}));
  PassManager pm;
  pm.add(std::make_unique<Breaker>());
  PassContext ctx;
  try {
    pm.run(b.graph(), ctx);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("breaker"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vdrt
