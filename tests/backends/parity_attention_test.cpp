// vdrt.Attention and ONNX Attention (opset 23) on every GPU backend against
// the CPU: odd sizes that are not multiples of any tile, the KV cache as a
// separate key range (absent, empty, longer than the new keys), grouped-query
// heads, head dims 16 / 64 / 128, and fp16-precision cases (on a device with
// cooperative matrices they take the tensor-core path; elsewhere fp32).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "backends/attention_chain_bench.h"
#include "backends/parity.h"
#include "graph/shape_inference.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

struct AttnShape {
  int64_t b, sq, skv, h, hkv, d;
  int64_t t = -1;  // past length; -1: no past inputs
  int64_t dv = -1; // value head dim; -1: d
  float scale = 0;  // 0: 1 / sqrt(d)
};

ParityCase vdrt_attention(const std::string& name, AttnShape s, double tol = 1e-4, const std::string& precision = "fp32") {
  ParityCase c{name, [s](GraphBuilder& b) {
                 const int64_t dv = s.dv < 0 ? s.d : s.dv;
                 std::vector<Value*> ins{b.input("q", {s.b, s.sq, s.h, s.d}), b.input("k", {s.b, s.skv, s.hkv, s.d}),
                                         b.input("v", {s.b, s.skv, s.hkv, dv})};
                 if (s.t >= 0) {
                   ins.push_back(b.input("past_k", {s.b, s.t, s.hkv, s.d}));
                   ins.push_back(b.input("past_v", {s.b, s.t, s.hkv, dv}));
                 }
                 const float scale = s.scale != 0 ? s.scale : 1.0f / std::sqrt(static_cast<float>(s.d));
                 b.output(b.op("Attention", ins,
                               attrs({{"scale", Attribute(scale)}, {"num_heads", Attribute(s.h)},
                                      {"kv_num_heads", Attribute(s.hkv)}}),
                               "vdrt"));
               },
               tol};
  c.options.precision = precision;
  return c;
}

// vdrt.Attention with an additive mask (input 5) of `mask_dims`, a constant
// of N(0, 1) values with about a third of the keys at -inf and, where the
// mask has query rows, row 1 masked entirely (which must give zeros). With
// `late`, even rows also hide their first 64 keys (a whole key tile of -inf
// before visible keys).
ParityCase vdrt_masked_attention(const std::string& name, AttnShape s, std::vector<int64_t> mask_dims,
                                 bool late = false) {
  return {name, [s, mask_dims, late](GraphBuilder& b) {
            std::vector<Value*> ins{b.input("q", {s.b, s.sq, s.h, s.d}), b.input("k", {s.b, s.skv, s.hkv, s.d}),
                                    b.input("v", {s.b, s.skv, s.hkv, s.d})};
            if (s.t >= 0) {
              ins.push_back(b.input("past_k", {s.b, s.t, s.hkv, s.d}));
              ins.push_back(b.input("past_v", {s.b, s.t, s.hkv, s.d}));
            } else {
              ins.resize(5, nullptr);
            }
            Tensor m(DType::F32, mask_dims);
            const int64_t keys = mask_dims.back();
            const int64_t rows = mask_dims.size() >= 2 ? mask_dims[mask_dims.size() - 2] : 1;
            uint32_t state = 12345;
            for (int64_t i = 0; i < m.numel(); ++i) {
              state = state * 1664525u + 1013904223u;
              const int64_t row = (i / keys) % rows, key = i % keys;
              const bool hidden = (state >> 24) % 3 == 0 || (rows > 1 && row == 1) || (late && row % 2 == 0 && key < 64);
              m.data<float>()[i] = hidden && keys > 1 ? -std::numeric_limits<float>::infinity()
                                                      : float(int32_t(state >> 16) % 200) / 100.0f;
            }
            ins.push_back(b.constant("mask", m));
            b.output(b.op("Attention", ins,
                          attrs({{"scale", Attribute(1.0f / std::sqrt(float(s.d)))}, {"num_heads", Attribute(s.h)}}),
                          "vdrt"));
          },
          1e-4};
}

// ONNX Attention-23 with 4-D [B, H, S, D] inputs (as models/tiny_wan/attn23
// writes it: no scale attribute, is_causal 0, softcap 0).
ParityCase onnx_attention_4d(const std::string& name, AttnShape s, int64_t past = -1) {
  return {name, [s, past](GraphBuilder& b) {
            std::vector<Value*> ins{b.input("q", {s.b, s.h, s.sq, s.d}), b.input("k", {s.b, s.hkv, s.skv, s.d}),
                                    b.input("v", {s.b, s.hkv, s.skv, s.d})};
            if (past >= 0) {
              ins.push_back(nullptr);
              ins.push_back(b.input("past_k", {s.b, s.hkv, past, s.d}));
              ins.push_back(b.input("past_v", {s.b, s.hkv, past, s.d}));
            }
            b.output(b.op("Attention", ins,
                          attrs({{"qk_matmul_output_mode", Attribute(int64_t(0))}, {"softcap", Attribute(0.0f)},
                                 {"is_causal", Attribute(int64_t(0))}})));
          },
          1e-4, 23};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    // name                                  b  sq  skv  h hkv   d    t
    v.push_back(vdrt_attention("SmallNoPast", {1, 5, 7, 3, 3, 16}));
    v.push_back(vdrt_attention("SmallEmptyPast", {1, 5, 7, 3, 3, 16, 0}));
    v.push_back(vdrt_attention("SmallPast11", {1, 5, 7, 3, 3, 16, 11}));
    v.push_back(vdrt_attention("SmallPast11Batch2", {2, 5, 7, 3, 3, 16, 11}));
    v.push_back(vdrt_attention("GqaPast", {2, 9, 13, 4, 2, 16, 6}));
    v.push_back(vdrt_attention("OnlyPast", {1, 6, 0, 2, 2, 16, 9}));
    v.push_back(vdrt_attention("NoKeys", {1, 4, 0, 2, 1, 16, 0}));
    v.push_back(vdrt_attention("ValueDim24", {1, 7, 10, 2, 1, 16, 5, 24}));
    v.push_back(vdrt_attention("D64ManyTiles", {1, 37, 70, 2, 1, 64, 45}));
    v.push_back(vdrt_attention("D128ManyTiles", {1, 33, 50, 2, 2, 128, 29}));
    v.push_back(vdrt_attention("D128Gqa", {1, 20, 40, 4, 2, 128, 17}));
    v.push_back(vdrt_attention("Large", {1, 300, 300, 2, 2, 128, 600}));
    // More than 16 queries: the register-tiled fp32 shader (64 x 64 tiles)
    // where the head dims allow it (equal, multiple of 16).
    v.push_back(vdrt_attention("TiledNoKeys", {1, 70, 0, 2, 1, 64, 0}));
    v.push_back(vdrt_attention("TiledOnlyPast", {2, 65, 0, 3, 3, 128, 77}));
    v.push_back(vdrt_attention("TiledEmptyPast", {1, 129, 64, 2, 2, 128, 0}));
    v.push_back(vdrt_attention("TiledNoPastGqa", {2, 40, 65, 6, 2, 16}));
    v.push_back(vdrt_attention("TiledPastBoundary", {1, 64, 1, 2, 1, 64, 63}));
    v.push_back(vdrt_attention("TiledD32", {1, 50, 70, 2, 2, 32, 30}));
    v.push_back(vdrt_attention("TiledD48", {1, 17, 90, 2, 1, 48, 41}));
    v.push_back(vdrt_attention("TiledD96Gqa3", {1, 100, 33, 6, 2, 96, 100}));
    v.push_back(vdrt_attention("TiledD256", {1, 70, 40, 1, 1, 256, 50}));
    v.push_back(vdrt_attention("TiledValueDim64", {1, 40, 50, 2, 2, 128, 20, 64}));  // old shader (Dv != D)
    // fp16 precision: the cooperative-matrix path where the device has it.
    v.push_back(vdrt_attention("Fp16D64", {1, 70, 90, 2, 1, 64, 33}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16D128", {1, 65, 100, 2, 2, 128, 0}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16D128NoPast", {2, 17, 31, 3, 3, 128}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16Large", {1, 300, 300, 2, 2, 128, 600}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16Odd", {1, 5, 7, 3, 3, 16, 11}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16D128Gqa", {1, 40, 100, 4, 2, 128, 37}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16D64Gqa3", {2, 150, 20, 6, 2, 64, 130}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16OnlyPast", {1, 33, 0, 2, 2, 128, 70}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("Fp16NoKeys", {1, 9, 0, 2, 2, 128, 0}, 2e-2, "fp16"));
    // Wide scores (scale 0.5): running maxima grow by more than 2^8 after
    // the first tile, so the lazy rescale of the coopmat path runs.
    v.push_back(vdrt_attention("Fp16WideScores", {1, 100, 200, 2, 2, 128, 1500, -1, 0.5f}, 2e-2, "fp16"));
    v.push_back(vdrt_attention("WideScores", {1, 100, 200, 2, 2, 128, 1500, -1, 0.5f}));
    // Additive masks (the two fp32 shaders): full [B, H, Sq, T+S],
    // broadcast over batch and heads, one value per key, over the cache,
    // many tiles with fully masked rows, and head dims the tiled shader
    // would otherwise take.
    v.push_back(vdrt_masked_attention("MaskFull", {2, 5, 7, 3, 3, 16}, {2, 3, 5, 7}));
    v.push_back(vdrt_masked_attention("MaskBroadcastPast", {1, 9, 13, 4, 2, 16, 6}, {9, 19}));
    v.push_back(vdrt_masked_attention("MaskPerKey", {1, 6, 10, 2, 2, 16, 4}, {1, 1, 1, 14}));
    v.push_back(vdrt_masked_attention("MaskTiledShapes", {1, 70, 90, 2, 1, 64, 33}, {1, 2, 70, 123}));
    v.push_back(vdrt_masked_attention("MaskD128", {1, 33, 50, 2, 2, 128, 29}, {1, 1, 33, 79}));
    v.push_back(vdrt_masked_attention("MaskLateKeysTiled", {1, 40, 100, 2, 2, 64, 60}, {40, 160}, true));
    v.push_back(vdrt_masked_attention("MaskLateKeysD24", {1, 20, 100, 2, 2, 24, 60}, {20, 160}, true));
    // ONNX Attention-23, 4-D.
    v.push_back(onnx_attention_4d("Onnx4dTinyWan", {1, 48, 60, 4, 4, 16}));
    v.push_back(onnx_attention_4d("Onnx4dCross", {1, 48, 8, 4, 4, 16}));
    v.push_back(onnx_attention_4d("Onnx4dGqaPast", {2, 11, 6, 4, 2, 32}, 9));
    v.push_back({"Onnx3dHeads", [](GraphBuilder& b) {
                   Value* q = b.input("q", {2, 9, 4 * 16});
                   Value* k = b.input("k", {2, 12, 2 * 16});
                   Value* val = b.input("v", {2, 12, 2 * 16});
                   b.output(b.op("Attention", {q, k, val},
                                 attrs({{"q_num_heads", Attribute(int64_t(4))}, {"kv_num_heads", Attribute(int64_t(2))},
                                        {"scale", Attribute(0.3f)}})));
                 },
                 1e-4, 23});
    return v;
  }();
  return c;
}

VDRT_PARITY_SUITE(AttentionParity, cases);

// The Wan-1.3B hot case (Sq = Skv = 4680, T = 9360, H = 12, D = 128) timed
// per attention (attention_chain_bench.h). Run by hand on a real GPU:
//   vdrt_backends_tests --gtest_also_run_disabled_tests --gtest_filter='*AttentionBench*'
// VDRT_ATTN_BENCH_FP16_ONLY skips fp32; VDRT_ATTN_BENCH_VARIANTS="nt,bk,g;..."
// times each cooperative-matrix configuration (VDRT_VK_ATTN_VARIANT);
// VDRT_ATTN_BENCH_FP32_VARIANTS="old;default;32,0;32,1" times each fp32
// shader (VDRT_VK_ATTN_FP32: "old" forces flash_attention.comp, "dc,pf"
// the register-tiled shader's head-dim chunk and prefetch, anything else
// the default choice). VDRT_BENCH_SPV_DIRS / VDRT_BENCH_ROUNDS repeat all
// of it for each shader build, interleaved (attention_chain_bench.h).
TEST(AttentionBench, DISABLED_WanHotCase) {
  VDRT_REQUIRE_DEVICE("vulkan");
  AttentionChain chain{4680, 4680, 9360, 12, 128};
  chain.attrs = attrs({{"scale", Attribute(1.0f / std::sqrt(float(chain.head_dim)))}});
  const int n = 11;
  std::vector<std::pair<std::string, std::string>> runs;  // precision, variant ("": the default)
  auto add = [&](const std::string& precision, const char* env) {
    std::vector<std::string> variants = env_list(env, "");
    if (variants.empty()) variants.push_back("");
    for (const std::string& v : variants) runs.push_back({precision, v});
  };
  if (!std::getenv("VDRT_ATTN_BENCH_FP16_ONLY")) add("fp32", "VDRT_ATTN_BENCH_FP32_VARIANTS");
  add("fp16", "VDRT_ATTN_BENCH_VARIANTS");
  for (const ShaderBuildRun& build : shader_build_runs()) {
    ScopedEnv spv("VDRT_VK_SPV_DIR", build.dir.empty() ? nullptr : build.dir.c_str());
    for (const auto& [precision, variant] : runs) {
      const char* variant_env = precision == "fp32" ? "VDRT_VK_ATTN_FP32" : "VDRT_VK_ATTN_VARIANT";
      if (!variant.empty()) setenv(variant_env, variant.c_str(), 1);
      SessionOptions o;
      o.device = "vulkan";
      o.cpu_fallback = false;
      o.precision = precision;
      const double per = seconds_per_op(chain, n, o);
      const double flops = 4.0 * chain.queries * (chain.keys + chain.past) * chain.head_dim * chain.heads;
      std::printf("vdrt.Attention Sq=%lld Skv=%lld T=%lld H=%lld D=%lld %s%s%s%s: %.3f ms per attention (%.1f TFLOP/s)\n",
                  (long long)chain.queries, (long long)chain.keys, (long long)chain.past, (long long)chain.heads,
                  (long long)chain.head_dim, precision.c_str(), variant.empty() ? "" : " variant ", variant.c_str(),
                  build.label.c_str(), per * 1e3, flops / per * 1e-12);
      std::fflush(stdout);
      if (!variant.empty()) unsetenv(variant_env);
    }
  }
}

}  // namespace
}  // namespace vdrt::test
