// The tiny Wan-style models with view nodes sharing their input's bytes
// (SessionOptions::alias_views) give the same bits as with every view
// copied, in no larger an arena (their peak is not at a view); one session switching between golden sets
// (other KV cache lengths, other frame offsets) matches ONNX Runtime on each.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

TensorMap load_inputs(const fs::path& set) {
  TensorMap feed;
  for (NamedTensor& t : load_test_set(set.string(), "input")) feed[t.name] = std::move(t.tensor);
  return feed;
}

TEST(ViewsOnTinyWan, SameBitsAsCopying) {
  size_t styles = 0, shared = 0;
  for (const char* style : {"ts17", "dyn18", "attn23"})
    for (const char* model : {"denoiser", "decoder"}) {
      fs::path dir = source_path("models/tiny_wan") + "/" + style;
      if (!fs::exists(dir / (std::string(model) + ".onnx"))) continue;
      ++styles;
      const fs::path onnx = dir / (std::string(model) + ".onnx");
      std::vector<fs::path> sets = test_data_sets(dir / model);
      ASSERT_FALSE(sets.empty()) << onnx;
      const TensorMap feed = load_inputs(sets.front());
      SessionOptions on{"cpu"}, off{"cpu"};
      off.alias_views = false;
      auto with = Session::load(onnx.string(), on);
      auto without = Session::load(onnx.string(), off);
      TensorMap a = with->run(feed), b = without->run(feed);
      ASSERT_EQ(a.size(), b.size());
      for (const auto& [name, t] : b) {
        ASSERT_TRUE(a.count(name)) << name;
        const Tensor& u = a.at(name);
        ASSERT_EQ(u.dims(), t.dims()) << onnx << " " << name;
        EXPECT_EQ(std::memcmp(u.raw(), t.raw(), t.nbytes()), 0) << onnx << " " << name << " differs in bits";
      }
      // The inputs are left as they were.
      const TensorMap fresh = load_inputs(sets.front());
      for (const auto& [name, t] : fresh)
        EXPECT_EQ(std::memcmp(feed.at(name).raw(), t.raw(), t.nbytes()), 0) << name;
      EXPECT_EQ(without->last_stats().aliased_views, 0u);
      EXPECT_LE(with->last_stats().arena_bytes, without->last_stats().arena_bytes) << onnx;
      shared += with->last_stats().aliased_views;
    }
  ASSERT_GT(styles, 0u);
  EXPECT_GT(shared, 0u) << "no tiny model has a view the plan could share";
}

TEST(ViewsOnTinyWan, OneSessionSwitchingGoldenSetsMatchesEach) {
  const fs::path dir = source_path("models/tiny_wan/ts17");
  auto session = Session::load((dir / "denoiser.onnx").string(), SessionOptions{"cpu"});
  std::vector<fs::path> sets = test_data_sets(dir / "denoiser");
  ASSERT_GE(sets.size(), 2u);
  std::vector<fs::path> order = sets;
  order.insert(order.end(), sets.rbegin(), sets.rend());  // 0 1 2 2 1 0: new plans, then cached ones
  for (const fs::path& set : order) {
    TensorMap out = session->run(load_inputs(set));
    for (const NamedTensor& e : load_test_set(set.string(), "output")) {
      ASSERT_TRUE(out.count(e.name)) << e.name;
      Comparison c = compare_tensors(out.at(e.name), e.tensor, 0.0, 1e-4);
      EXPECT_TRUE(c.ok) << set << " " << e.name << ": " << c.reason;
    }
  }
}

}  // namespace
}  // namespace vdrt::test
