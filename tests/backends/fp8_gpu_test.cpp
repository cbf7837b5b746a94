// Issue 13, item 1: FP8 models on the GPU. The tiny models quantised by
// quantize-fp8 (weights only, and W8A8 as Light Forcing runs it) run every
// vdrt.QMatMul on each GPU backend, with no node on the CPU, and match the
// CPU backend running the same quantised graph. On a device with cooperative
// matrices (the H200) W8A8 runs matmul_coopmat_e4m3 at fp32 precision, and
// the fp16 cases (Vulkan, and OpenCL where it has tensor cores: elsewhere it
// refuses fp16) run every QMatMul there, with the model's other products and
// attention in fp16 too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backends/parity.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/pass_pipeline.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The W8A8 pipeline with per-token activations switched off: weights only.
std::string weight_only(std::string toml) {
  const std::string key = "act_quant = \"per_token_e4m3\"";
  auto at = toml.find(key);
  if (at != std::string::npos) toml.replace(at, key.size(), "act_quant = \"none\"");
  return toml;
}

struct Fp8Case {
  std::string backend, style;
  bool activations;
  std::string precision = "fp32";
};

std::vector<Fp8Case> cases() {
  std::vector<Fp8Case> out;
  for (const std::string& backend : gpu_backends())
    for (const char* style : {"ts17", "dyn18", "attn23"})
      for (bool act : {false, true}) {
        out.push_back({backend, style, act});
        if (backend == "vulkan" || (backend == "opencl" && missing_coopmat(backend).empty()))
          out.push_back({backend, style, act, "fp16"});
      }
  return out;
}

// How close a whole quantised denoiser on the GPU must come to the CPU's.
// Weights only: the largest |gpu - cpu| (outputs are O(1)), 2e-4 in fp32
// (9.8e-5 measured on the H200, whose Vulkan exp and rsqrt are not correctly
// rounded; 2e-6 on lavapipe and PoCL) and 1e-2 in fp16 (activations, and
// outside QMatMul both operands of every product and attention, rounded to
// f16: 2.6e-3 measured on the H200).
// W8A8: snapping activations to e4m3 turns a last-bit difference upstream
// (NVIDIA's Vulkan exp, rsqrt and division are not correctly rounded) into a
// whole e4m3 step (1/16 of the value) wherever a value lies that close to a
// rounding boundary, and the tiny model (K = 64) carries such a step far:
// on the H200 single outputs moved by up to 0.15 and the relative L2 error
// reached 1.1 % (fp32) and 2.0 % (fp16), as much as quantising the
// activations changes at all (1.7 - 2.8 % against weights only), while the
// CPU, lavapipe and PoCL agree to 2e-6. So the whole W8A8 model is only held
// to a relative L2 error of 5 %, which catches wrong scales, garbage or
// NaN; the exact semantics are held layer by layer by Fp8GpuLayers below
// (2e-3, each layer on the same input).
constexpr double W8A8_RELATIVE_L2 = 5e-2;

double max_abs_tolerance(const Fp8Case& c) { return c.precision == "fp16" ? 1e-2 : 2e-4; }

double relative_l2(const Tensor& got, const Tensor& want) {
  std::vector<double> g = got.as_double(), w = want.as_double();
  double num = 0, den = 0;
  for (size_t i = 0; i < w.size(); ++i) num += (g[i] - w[i]) * (g[i] - w[i]), den += w[i] * w[i];
  return std::sqrt(num / std::max(den, 1e-30));
}

class Fp8Gpu : public testing::TestWithParam<Fp8Case> {};

std::unique_ptr<Graph> quantised_denoiser(const fs::path& dir, bool activations) {
  std::string pipeline = read_text(source_path("passes/pipelines/fp8_w8a8.toml"));
  EXPECT_NE(pipeline.find("per_token_e4m3"), std::string::npos);
  if (!activations) pipeline = weight_only(pipeline);
  std::unique_ptr<Graph> g = load_onnx((dir / "denoiser.onnx").string());
  run_pass_pipeline_text(*g, pipeline, "fp8_w8a8.toml");
  return g;
}

TensorMap first_test_set(const fs::path& dir) {
  TensorMap feed;
  for (NamedTensor& t : load_test_set(test_data_sets(dir / "denoiser").front().string(), "input")) feed[t.name] = t.tensor;
  return feed;
}

TEST_P(Fp8Gpu, QuantisedDenoiserMatchesTheCpuWithoutCpuNodes) {
  const Fp8Case& c = GetParam();
  VDRT_REQUIRE_DEVICE(c.backend);
  const fs::path dir = fs::path(source_path("models/tiny_wan")) / c.style;
  std::unique_ptr<Graph> g = quantised_denoiser(dir, c.activations);
  int qmatmuls = 0;
  for (const auto& n : g->nodes()) qmatmuls += n->qualified_op() == "vdrt.QMatMul";
  EXPECT_EQ(qmatmuls, 2 * 10);  // 2 blocks: self q/k/v/o, cross q/k/v/o, FFN in/out

  const TensorMap feed = first_test_set(dir);
  SessionOptions cpu_o;
  cpu_o.device = "cpu";
  Session cpu(g->clone(), cpu_o);
  TensorMap want = cpu.run(feed);

  SessionOptions o;
  o.device = c.backend;
  o.precision = c.precision;
  Session gpu(std::move(g), o);
  for (int run = 0; run < 2; ++run) {
    TensorMap got = gpu.run(feed);
    for (const auto& [name, w] : want) {
      ASSERT_TRUE(got.count(name)) << name;
      const double l2 = relative_l2(got.at(name), w);
      Comparison cmp = compare_tensors(got.at(name), w, 0.0, max_abs_tolerance(c));
      if (c.activations)
        EXPECT_LE(l2, W8A8_RELATIVE_L2) << name << " (max abs error " << cmp.max_abs_error << "), run " << run;
      else
        EXPECT_TRUE(cmp.ok) << name << ": " << cmp.reason << " (max abs error " << cmp.max_abs_error << "), run " << run;
      if (run == 0) std::printf("  %s: max abs error %.3g, relative L2 %.3g\n", name.c_str(), cmp.max_abs_error, l2);
    }
  }
  size_t on_gpu = 0;
  const std::vector<std::string> where = gpu.last_placement();
  for (size_t i = 0; i < where.size(); ++i)
    on_gpu += gpu.graph().nodes()[i]->qualified_op() == "vdrt.QMatMul" && where[i] == c.backend;
  EXPECT_EQ(on_gpu, static_cast<size_t>(qmatmuls));
  EXPECT_EQ(gpu.last_stats().nodes_on_fallback, 0u);
}

// Every vdrt.QMatMul of the quantised tiny Wan alone, fed the input the CPU
// computed for it in the whole model: the GPU must match the CPU within 1e-5
// of the largest output (weights only, fp32), or 2e-3 (W8A8: one e4m3 step
// of one activation where the division rounds the other way, as in
// parity_qmatmul_test; fp16: activations rounded to f16). Each of the 20
// layers took 5e-7 on the H200, cooperative matrices or not.
class Fp8GpuLayers : public testing::TestWithParam<Fp8Case> {};

TEST_P(Fp8GpuLayers, EachQMatMulOnItsOwnInputMatchesTheCpu) {
  const Fp8Case& c = GetParam();
  VDRT_REQUIRE_DEVICE(c.backend);
  const fs::path dir = fs::path(source_path("models/tiny_wan")) / c.style;
  std::unique_ptr<Graph> g = quantised_denoiser(dir, c.activations);
  std::vector<const Node*> layers;
  for (const auto& n : g->nodes())
    if (n->qualified_op() == "vdrt.QMatMul") layers.push_back(n.get());
  ASSERT_EQ(layers.size(), 20u);
  for (const Node* n : layers) g->outputs().push_back(n->input(0));
  SessionOptions cpu_o;
  cpu_o.device = "cpu";
  TensorMap inputs = Session(g->clone(), cpu_o).run(first_test_set(dir));

  const double tol = c.activations || c.precision == "fp16" ? 2e-3 : 1e-5;
  for (const Node* n : layers) {
    const Tensor& a = inputs.at(n->input(0)->name());
    auto one = std::make_unique<Graph>();
    one->name = n->name();
    one->opsets = g->opsets;
    Value* x = one->value("x");
    x->set_dtype(DType::F32);
    x->set_shape(Shape(std::vector<Dim>(a.dims().begin(), a.dims().end())));
    one->inputs().push_back(x);
    std::vector<Value*> ins{x};
    for (size_t i = 1; i < n->inputs().size(); ++i)
      ins.push_back(one->add_constant("c" + std::to_string(i), n->input(i)->constant()));
    Value* y = one->value("y");
    one->add_node("QMatMul", ins, {y}, "q", "vdrt")->attrs() = n->attrs();
    one->outputs().push_back(y);

    const TensorMap feed{{"x", a}};
    const Tensor want = Session(one->clone(), cpu_o).run(feed).at("y");
    SessionOptions o;
    o.device = c.backend;
    o.precision = c.precision;
    o.cpu_fallback = false;
    const Tensor got = Session(std::move(one), o).run(feed).at("y");
    std::vector<double> w = want.as_double(), v = got.as_double();
    double scale = 1, worst = 0;
    for (size_t i = 0; i < w.size(); ++i) scale = std::max(scale, std::fabs(w[i])), worst = std::max(worst, std::fabs(v[i] - w[i]));
    EXPECT_LE(worst / scale, tol) << n->name();
  }
}

std::vector<Fp8Case> layer_cases() {
  std::vector<Fp8Case> out;
  for (const Fp8Case& c : cases())
    if (c.style == "ts17") out.push_back(c);  // the three exports share the weights
  return out;
}

std::string case_name(const testing::TestParamInfo<Fp8Case>& info) {
  return info.param.backend + "_" + info.param.style + (info.param.activations ? "_w8a8" : "_w8") +
         (info.param.precision == "fp16" ? "_fp16" : "");
}

// One W8A8 vdrt.QMatMul at the depth of Wan's FFN-down product (K 8900,
// padded to 8960 where a kernel pads), ragged M and N, against the CPU. Each
// activation row is e4m3 values times a power of two with its largest
// magnitude at 448 times it, so that the per-token scale is that power and
// every quantised activation is exact: CPU and GPU then multiply the same
// codes, and only the sums differ. The CPU sums in f32 (about 1e-6 of the
// largest output); Hopper's float8 tensor cores keep a short accumulator, so
// matmul_e4m3_mma adds each step's 64 products into f32 (PROMOTE) instead of
// letting 140 mma chain: held to 1e-4 of the largest output.
class Fp8GpuDeepK : public testing::TestWithParam<Fp8Case> {};

TEST_P(Fp8GpuDeepK, CodesTimesCodesSumLikeTheCpu) {
  const Fp8Case& c = GetParam();
  VDRT_REQUIRE_DEVICE(c.backend);
  const int64_t M = 67, K = 8900, N = 138;
  // Finite e4m3 codes (not 0x7f / 0xff), spread over the whole range.
  auto code = [](uint32_t h) {
    const uint8_t b = static_cast<uint8_t>(h >> 8);
    return (b & 0x7f) == 0x7f ? static_cast<uint8_t>(b - 1) : b;
  };
  auto hash = [](uint64_t i) {
    i = (i ^ (i >> 31)) * 0x7fb5d329728ea185ull;
    i = (i ^ (i >> 27)) * 0x81dadef4bc2dd44dull;
    return static_cast<uint32_t>(i ^ (i >> 33));
  };
  Tensor w(DType::F8E4M3, {K, N});
  auto* wb = static_cast<uint8_t*>(w.raw());
  for (int64_t i = 0; i < K * N; ++i) wb[i] = code(hash(uint64_t(i) * 2 + 1));
  // Activations: e4m3 values of small exponents (within 1/64 .. 16), one 448 per row, times 2^(row % 5 - 2).
  const std::vector<double> wv = w.as_double();
  std::vector<float> a(static_cast<size_t>(M * K)), scale(static_cast<size_t>(N));
  for (int64_t m = 0; m < M; ++m) {
    const float p2 = std::ldexp(1.0f, int(m % 5) - 2);
    for (int64_t k = 0; k < K; ++k) {
      const uint32_t h = hash(uint64_t(m * K + k) * 2 + 7);
      const int e = int(h % 11) - 6, mant = int((h >> 8) % 8);
      const float v = std::ldexp(1.0f + mant / 8.0f, e) * ((h >> 16) & 1 ? -1.0f : 1.0f);
      a[size_t(m * K + k)] = (k == (m * 37) % K ? 448.0f : v) * p2;
    }
  }
  for (int64_t n = 0; n < N; ++n) scale[size_t(n)] = 1.0f / 256 + float(hash(uint64_t(n) + 99) % 100) / 25600;

  auto g = std::make_unique<Graph>();
  g->name = "deep_k";
  g->opsets = {{"", 18}, {"vdrt", 1}};
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape(std::vector<Dim>{M, K}));
  g->inputs().push_back(x);
  Value* y = g->value("y");
  AttributeMap at;
  at.set("act_quant", Attribute(std::string("per_token_e4m3")));
  g->add_node("QMatMul", {x, g->add_constant("w", w), g->add_constant("s", Tensor::from_vector<float>({N}, scale))},
              {y}, "q", "vdrt")
      ->attrs() = at;
  g->outputs().push_back(y);
  const TensorMap feed{{"x", Tensor::from_vector<float>({M, K}, a)}};
  SessionOptions cpu_o;
  cpu_o.device = "cpu";
  const Tensor want = Session(g->clone(), cpu_o).run(feed).at("y");
  SessionOptions o;
  o.device = c.backend;
  o.precision = c.precision;
  o.cpu_fallback = false;
  const Tensor got = Session(std::move(g), o).run(feed).at("y");
  const std::vector<double> wd = want.as_double(), gd = got.as_double();
  double largest = 0, worst = 0;
  for (size_t i = 0; i < wd.size(); ++i) largest = std::max(largest, std::fabs(wd[i])), worst = std::max(worst, std::fabs(gd[i] - wd[i]));
  std::printf("  K %lld: largest output %.4g, max |gpu - cpu| %.3g (%.2g of it)\n", static_cast<long long>(K), largest,
              worst, worst / largest);
  ASSERT_GT(largest, 1.0);
  EXPECT_LE(worst / largest, 1e-4);
}

std::vector<Fp8Case> deep_k_cases() {
  std::vector<Fp8Case> out;
  for (const Fp8Case& c : cases())
    if (c.style == "ts17" && c.activations) out.push_back(c);
  return out;
}

INSTANTIATE_TEST_SUITE_P(TinyWan, Fp8GpuLayers, testing::ValuesIn(layer_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Wan, Fp8GpuDeepK, testing::ValuesIn(deep_k_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(TinyWan, Fp8Gpu, testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace vdrt::test
