// Which GEMM vdrt.QMatMul (and, for contrast, MatMul) is planned on, without
// a device: the cooperative-matrix e4m3 path cannot run on lavapipe, so the
// routing and the plan's numbers (padding, scratch, grid, the 16-byte weight
// loads) are checked here against a device that reports NV cooperative
// matrices like the H200 does; parity_qmatmul_test checks the results there.
#if defined(VDRT_WITH_VULKAN) || defined(VDRT_WITH_OPENCL)
#include <tuple>

#include <gtest/gtest.h>

#include "backends/gpu_backend_common.h"
#include "backends/h200_caps.h"
#include "passes/graph_builder.h"

namespace vdrt::test {
namespace {

struct Planned {
  gpu::Program program;
  std::vector<std::string> shaders;
};

Planned plan_qmatmul(int64_t M, int64_t K, int64_t N, bool bias, bool act_quant, const gpu::DeviceCaps& caps,
                     const char* activation = "none", bool residual = false) {
  GraphBuilder b(18);
  std::vector<Value*> ins{b.input("a", {M, K}), b.input("w", {K, N}, DType::F8E4M3), b.input("scale", {N})};
  if (bias || residual) ins.push_back(bias ? b.input("bias", {N}) : nullptr);
  if (residual) ins.push_back(b.input("residual", {M, N}));
  AttributeMap at;
  if (act_quant) at.set("act_quant", Attribute(std::string("per_token_e4m3")));
  if (std::string(activation) != "none") at.set("activation", Attribute(std::string(activation)));
  b.output(b.op("QMatMul", ins, at, "vdrt"));
  std::unique_ptr<Graph> g = b.take();
  const Node& node = *g->nodes().front();
  std::vector<TensorDesc> in{{DType::F32, {M, K}}, {DType::F8E4M3, {K, N}}, {DType::F32, {N}}};
  if (bias || residual) in.push_back(bias ? TensorDesc{DType::F32, {N}} : TensorDesc{});
  if (residual) in.push_back({DType::F32, {M, N}});
  std::vector<const Tensor*> known(in.size(), nullptr);
  Planned p;
  p.program = gpu::plan("test", node, 18, in, {{DType::F32, {M, N}}}, known, caps);
  for (const auto& d : p.program.dispatches) p.shaders.push_back(d.shader);
  return p;
}

using Shaders = std::vector<std::string>;

TEST(QMatMulPlan, Fp16WeightsRunOnCooperativeMatricesWithWeightsKeptInBytes) {
  // Wan2.1-1.3B's FFN-in layer for one chunk of 3 frames.
  Planned p = plan_qmatmul(4680, 1536, 8960, true, false, h200_caps("fp16"));
  ASSERT_EQ(p.shaders, (Shaders{"matmul_to_f16", "matmul_coopmat_e4m3"}));
  // Only A gets an f16 copy (rows padded to the 128-row tile); the weights
  // are read as the node's 1-byte codes.
  EXPECT_EQ(p.program.scratch_bytes, (std::vector<size_t>{4736u * 1536u * 2u}));
  const gpu::Dispatch& g = p.program.dispatches[1];
  EXPECT_EQ(g.args[1].kind, gpu::Arg::Input);
  EXPECT_EQ(g.args[1].index, 1u);
  EXPECT_EQ(g.args[3].index, 3u);  // the bias
  EXPECT_EQ(g.push, (std::vector<uint32_t>{4680, 8960, 1536, 1536, 1536 / 8}));
  EXPECT_EQ(g.spec[0], 256u);  // 8 subgroups of 64 x 32
  EXPECT_EQ(g.groups[0], 70u);  // 8960 / 128
  EXPECT_EQ(g.groups[1], 37u);  // 4736 / 128
  ASSERT_EQ(g.spec.size(), 11u);
  EXPECT_EQ(g.spec[6], 1u);  // bias
  EXPECT_EQ(g.spec[7], 0u);  // no row scales
  EXPECT_EQ(g.spec[8], 1u);  // N % 16 == 0: 16-byte weight loads
  EXPECT_EQ(g.spec[9], 0u);  // no folded activation
  EXPECT_EQ(g.spec[10], 0u);  // no residual
  ASSERT_EQ(g.args.size(), 7u);
  EXPECT_EQ(g.args[6].index, 2u);  // an absent residual binds the scales (never read)
}

// A folded GELU and residual (fuse-gemm-epilogue) are the e4m3 GEMM's
// epilogue: no pass of their own.
TEST(QMatMulPlan, FoldedGeluAndResidualAreTheEpilogue) {
  Planned p = plan_qmatmul(4680, 8960, 1536, false, true, h200_caps("fp16"), "gelu_tanh", true);
  ASSERT_EQ(p.shaders, (Shaders{"quantize_rows_e4m3_f16", "matmul_coopmat_e4m3"}));
  const gpu::Dispatch& g = p.program.dispatches[1];
  ASSERT_EQ(g.spec.size(), 11u);
  EXPECT_EQ(g.spec[6], 0u);   // no bias
  EXPECT_EQ(g.spec[9], 2u);   // gelu (tanh)
  EXPECT_EQ(g.spec[10], 1u);  // residual
  ASSERT_EQ(g.args.size(), 7u);
  EXPECT_EQ(g.args[6].kind, gpu::Arg::Input);
  EXPECT_EQ(g.args[6].index, 4u);
  EXPECT_FALSE(g.writes[6]);
  // Without cooperative matrices, the fp32 GEMM's epilogue (ACT, HAS_R).
  Planned f = plan_qmatmul(40, 64, 48, true, false, h200_caps("fp32"), "gelu", true);
  ASSERT_EQ(f.shaders, (Shaders{"matmul"}));
  const gpu::Dispatch& m = f.program.dispatches[0];
  EXPECT_EQ(m.spec[10], 1u);  // gelu
  EXPECT_EQ(m.spec[11], 1u);  // residual
  EXPECT_EQ(m.args[5].index, 4u);
}

TEST(QMatMulPlan, OddShapesPadKAndLoadWeightBytes) {
  Planned p = plan_qmatmul(33, 45, 70, false, false, h200_caps("fp16"));
  ASSERT_EQ(p.shaders, (Shaders{"matmul_to_f16", "matmul_coopmat_e4m3"}));
  EXPECT_EQ(p.program.scratch_bytes, (std::vector<size_t>{128u * 64u * 2u}));
  const gpu::Dispatch& g = p.program.dispatches[1];
  EXPECT_EQ(g.push, (std::vector<uint32_t>{33, 70, 45, 64, 8}));
  EXPECT_EQ(g.spec[8], 0u);
  EXPECT_EQ(g.groups[0], 1u);
  EXPECT_EQ(g.groups[1], 1u);
}

TEST(QMatMulPlan, PerTokenActivationsTakeCooperativeMatricesAtFp32Too) {
  // Both operands are e4m3 values, exact in f16: the products are exact.
  for (const char* precision : {"fp32", "fp16"}) {
    Planned p = plan_qmatmul(300, 512, 256, true, true, h200_caps(precision));
    ASSERT_EQ(p.shaders, (Shaders{"quantize_rows_e4m3_f16", "matmul_coopmat_e4m3"})) << precision;
    EXPECT_EQ(p.program.scratch_bytes, (std::vector<size_t>{384u * 512u * 2u, 300u * 4u})) << precision;
    EXPECT_EQ(p.program.dispatches[0].push, (std::vector<uint32_t>{300, 512, 384, 256}));
    const gpu::Dispatch& g = p.program.dispatches[1];
    EXPECT_EQ(g.spec[7], 1u);
    EXPECT_EQ(g.args[4].kind, gpu::Arg::Scratch);
    EXPECT_EQ(g.args[4].index, 1u);
  }
}

TEST(QMatMulPlan, Fp32WeightsOnlyAndDevicesWithoutCooperativeMatricesKeepTheFp32Kernel) {
  EXPECT_EQ(plan_qmatmul(300, 512, 256, true, false, h200_caps("fp32")).shaders, (Shaders{"matmul"}));
  gpu::DeviceCaps plain = h200_caps("fp16");
  plain.coopmat_f16_16x16x16 = false;
  EXPECT_EQ(plan_qmatmul(300, 512, 256, true, false, plain).shaders, (Shaders{"matmul"}));
  EXPECT_EQ(plan_qmatmul(300, 512, 256, true, true, plain).shaders, (Shaders{"quantize_rows_e4m3", "matmul"}));
}

TEST(QMatMulPlan, MatMulTakesCooperativeMatricesAtFp16Only) {
  auto shaders = [](const std::string& precision) {
    GraphBuilder b(18);
    b.output(b.op("MatMul", {b.input("a", {300, 512}), b.input("b", {512, 256})}));
    std::unique_ptr<Graph> g = b.take();
    std::vector<TensorDesc> in{{DType::F32, {300, 512}}, {DType::F32, {512, 256}}};
    gpu::Program p = gpu::plan("test", *g->nodes().front(), 18, in, {{DType::F32, {300, 256}}}, {nullptr, nullptr},
                               h200_caps(precision));
    Shaders s;
    for (const auto& d : p.dispatches) s.push_back(d.shader);
    return s;
  };
  EXPECT_EQ(shaders("fp32"), (Shaders{"matmul"}));
  EXPECT_EQ(shaders("fp16"), (Shaders{"matmul_to_f16", "matmul_to_f16", "matmul_coopmat_f16"}));
}

// The f16 GEMM's tile: big products take 128 x 256 tiles with one shared
// buffer (8 subgroups, half the shared memory of two), products of few tiles
// keep 128 x 128 so that every multiprocessor has work (bench/RESULTS.md).
TEST(QMatMulPlan, Fp16MatMulTileFollowsTheProductsSize) {
  auto main_gemm = [](int64_t M, int64_t K, int64_t N) {
    GraphBuilder b(18);
    b.output(b.op("MatMul", {b.input("a", {M, K}), b.input("b", {K, N})}));
    std::unique_ptr<Graph> g = b.take();
    std::vector<TensorDesc> in{{DType::F32, {M, K}}, {DType::F32, {K, N}}};
    gpu::Program p = gpu::plan("test", *g->nodes().front(), 18, in, {{DType::F32, {M, N}}}, {nullptr, nullptr},
                               h200_caps("fp16"));
    return p.dispatches.back();
  };
  // A chunk's FFN-in layer: 37 x 35 tiles of 128 x 256.
  const gpu::Dispatch wide = main_gemm(4680, 1536, 8960);
  EXPECT_EQ(wide.shader, "matmul_coopmat_f16");
  EXPECT_EQ(wide.variant, "128x256x32/64x64 1buf");
  EXPECT_EQ(wide.spec[0], 256u);  // 8 subgroups
  EXPECT_EQ(wide.spec[12], 1u);   // one shared buffer
  EXPECT_EQ(wide.groups[0], 35u);  // 8960 / 256
  EXPECT_EQ(wide.groups[1], 37u);  // 4680 / 128, rounded up
  // The timestep MLP (3 rows) and the text's keys (512 rows): few tiles.
  for (const auto& [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{3, 1536, 9216}, {512, 4096, 1536}}) {
    const gpu::Dispatch narrow = main_gemm(M, K, N);
    EXPECT_EQ(narrow.variant, "128x128x32/64x64") << M << " x " << N;
    EXPECT_EQ(narrow.spec[12], 2u);
  }
}

// OpenCL on NVIDIA (inline PTX, DeviceCaps::ptx_mma): fp16 MatMul takes the
// PTX GEMM with its own tile, 128 x 128 of 2 x 2 subgroups (the fastest in
// bench/ptx_probe.cpp) whatever the size, and so does vdrt.QMatMul's e4m3
// GEMM; the batched matmul_coopmat, which OpenCL lacks, is never planned there.
TEST(QMatMulPlan, OpenClTensorCoresTakeThePtxKernelsOnly) {
  auto plan_matmul = [](std::vector<int64_t> da, std::vector<int64_t> db, std::vector<int64_t> dy) {
    GraphBuilder b(18);
    auto dims = [](const std::vector<int64_t>& v) { return std::vector<Dim>(v.begin(), v.end()); };
    b.output(b.op("MatMul", {b.input("a", dims(da)), b.input("b", dims(db))}));
    std::unique_ptr<Graph> g = b.take();
    std::vector<TensorDesc> in{{DType::F32, da}, {DType::F32, db}};
    return gpu::plan("test", *g->nodes().front(), 18, in, {{DType::F32, dy}}, {nullptr, nullptr},
                     h200_opencl_caps("fp16"));
  };
  const gpu::Program p = plan_matmul({4680, 1536}, {1536, 8960}, {4680, 8960});
  Shaders s;
  for (const auto& d : p.dispatches) s.push_back(d.shader);
  ASSERT_EQ(s, (Shaders{"matmul_to_f16", "matmul_to_f16", "matmul_coopmat_f16"}));
  const gpu::Dispatch& g = p.dispatches.back();
  EXPECT_EQ(g.variant, "128x128x32/64x64");
  EXPECT_EQ(g.spec[0], 128u);     // 4 subgroups
  EXPECT_EQ(g.groups[0], 70u);    // 8960 / 128
  EXPECT_EQ(g.groups[1], 37u);    // 4680 / 128, rounded up
  EXPECT_EQ(p.scratch_bytes, (std::vector<size_t>{4736u * 1536u * 2u, 1536u * 8960u * 2u}));
  // B is a graph input here: converted at every run. A weight (a constant) is
  // converted at the first run only (Dispatch::once); A always.
  EXPECT_FALSE(p.dispatches[1].once);
  {
    GraphBuilder b(18);
    b.output(b.op("MatMul", {b.input("a", {4680, 1536}), b.constant("w", Tensor(DType::F32, {1536, 8960}))}));
    std::unique_ptr<Graph> g = b.take();
    const gpu::Program w = gpu::plan("test", *g->nodes().front(), 18, {{DType::F32, {4680, 1536}}, {DType::F32, {1536, 8960}}},
                                     {{DType::F32, {4680, 8960}}}, {nullptr, nullptr}, h200_opencl_caps("fp16"));
    ASSERT_EQ(w.dispatches.size(), 3u);
    EXPECT_FALSE(w.dispatches[0].once);
    EXPECT_TRUE(w.dispatches[1].once);
    EXPECT_FALSE(w.dispatches[2].once);
  }
  // Batched: the fp32 kernel, not Vulkan's matmul_coopmat.
  EXPECT_EQ(plan_matmul({2, 300, 200}, {2, 200, 260}, {2, 300, 260}).dispatches.back().shader, "matmul");
  // vdrt.QMatMul with f16 activations: the e4m3 GEMM (weights decoded to
  // f16) on 128 x 128 tiles of 4 subgroups.
  const Planned q = plan_qmatmul(4680, 1536, 8960, true, false, h200_opencl_caps("fp16"));
  ASSERT_EQ(q.shaders, (Shaders{"matmul_to_f16", "matmul_coopmat_e4m3"}));
  EXPECT_EQ(q.program.dispatches[1].spec[0], 128u);
  EXPECT_EQ(q.program.dispatches[1].variant, "128x128x32/64x64");
  // A device without float8 multiplies (compute capability 8.0) decodes the
  // weights for W8A8 too.
  gpu::DeviceCaps ampere = h200_opencl_caps("fp16");
  ampere.ptx_mma_e4m3 = false;
  EXPECT_EQ(plan_qmatmul(300, 512, 256, true, true, ampere).shaders,
            (Shaders{"quantize_rows_e4m3_f16", "matmul_coopmat_e4m3"}));
  // fp32 sessions on the same device: no tensor cores.
  EXPECT_EQ(plan_qmatmul(300, 512, 256, true, true, h200_opencl_caps("fp32")).shaders,
            (Shaders{"quantize_rows_e4m3", "matmul"}));
}

// W8A8 on float8 tensor cores (DeviceCaps::ptx_mma_e4m3): activations and
// weights both as codes, k-contiguous and padded to the tile (rows to 128,
// columns to 64, K to 64), multiplied by matmul_e4m3_mma with the bias, GELU and residual
// in its epilogue.
TEST(QMatMulPlan, Fp8TensorCoresMultiplyCodesByCodes) {
  const Planned q = plan_qmatmul(4680, 1536, 8960, true, true, h200_opencl_caps("fp16"), "gelu", true);
  ASSERT_EQ(q.shaders, (Shaders{"quantize_rows_e4m3_codes", "transpose_e4m3", "matmul_e4m3_mma"}));
  EXPECT_EQ(q.program.scratch_bytes, (std::vector<size_t>{4736u * 1536u, 4680u * 4u, 8960u * 1536u}));
  const gpu::Dispatch& quant = q.program.dispatches[0];
  EXPECT_EQ(quant.push, (std::vector<uint32_t>{4680, 1536, 4736, 1536 / 4}));
  const gpu::Dispatch& tr = q.program.dispatches[1];
  EXPECT_EQ(tr.spec, (std::vector<uint32_t>{1}));  // N % 4 == 0: words
  EXPECT_EQ(tr.groups[0], 1536u / 64);
  EXPECT_EQ(tr.groups[1], 8960u / 64);
  EXPECT_FALSE(tr.once);  // W is a graph input in this plan, not a constant
  {
    // A constant W (a quantised model's weights): transposed at the first run only.
    GraphBuilder b(18);
    AttributeMap at;
    at.set("act_quant", Attribute(std::string("per_token_e4m3")));
    b.output(b.op("QMatMul",
                  {b.input("a", {300, 512}), b.constant("w", Tensor(DType::F8E4M3, {512, 256})),
                   b.constant("s", Tensor(DType::F32, {256}))},
                  at, "vdrt"));
    std::unique_ptr<Graph> g = b.take();
    const gpu::Program w =
        gpu::plan("test", *g->nodes().front(), 18,
                  {{DType::F32, {300, 512}}, {DType::F8E4M3, {512, 256}}, {DType::F32, {256}}},
                  {{DType::F32, {300, 256}}}, {nullptr, nullptr, nullptr}, h200_opencl_caps("fp16"));
    ASSERT_EQ(w.dispatches.size(), 3u);
    EXPECT_EQ(w.dispatches[1].shader, "transpose_e4m3");
    EXPECT_TRUE(w.dispatches[1].once);
    EXPECT_FALSE(w.dispatches[0].once);
    EXPECT_FALSE(w.dispatches[2].once);
  }
  const gpu::Dispatch& g = q.program.dispatches[2];
  EXPECT_EQ(g.variant, "128x64x64/64x32");
  // NT, tile, bias, GELU (1), residual, promoted sums.
  EXPECT_EQ(g.spec, (std::vector<uint32_t>{128, 128, 64, 64, 64, 32, 1, 1, 1, 1}));
  EXPECT_EQ(g.push, (std::vector<uint32_t>{4680, 8960, 1536, 1536 / 16}));
  EXPECT_EQ(g.groups[0], 140u);
  EXPECT_EQ(g.groups[1], 37u);
  // Ragged shapes pad: K 100 -> 128, N 30 -> 64 (byte loads), M 5 -> 128.
  const Planned r = plan_qmatmul(5, 100, 30, false, true, h200_opencl_caps("fp16"));
  ASSERT_EQ(r.shaders, (Shaders{"quantize_rows_e4m3_codes", "transpose_e4m3", "matmul_e4m3_mma"}));
  EXPECT_EQ(r.program.scratch_bytes, (std::vector<size_t>{128u * 128u, 5u * 4u, 64u * 128u}));
  EXPECT_EQ(r.program.dispatches[1].spec, (std::vector<uint32_t>{0}));
  EXPECT_EQ(r.program.dispatches[1].groups[0], 2u);
  EXPECT_EQ(r.program.dispatches[1].groups[1], 1u);
}

}  // namespace
}  // namespace vdrt::test
#endif
