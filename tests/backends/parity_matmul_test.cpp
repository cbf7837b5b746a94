// MatMul and Gemm on every GPU backend against the CPU: odd shapes, batch
// broadcasting, 1-D operands, the Linear-layer weight case, Gemm transposes
// and C broadcasts. The fp16 cases run the cooperative-matrix shader where
// the device has it (fp32 elsewhere, e.g. lavapipe).
#include "backends/parity.h"

namespace vdrt::test {
namespace {

ParityCase matmul(const std::string& name, std::vector<Dim> da, std::vector<Dim> db, double tol = 1e-5) {
  return {name, [da, db](GraphBuilder& b) { b.output(b.op("MatMul", {b.input("a", da), b.input("b", db)})); }, tol};
}

// B as a constant weight [K, N] (the Linear layer).
ParityCase weight(const std::string& name, std::vector<Dim> da, std::vector<int64_t> dw, double tol = 1e-5) {
  return {name, [da, dw](GraphBuilder& b) { b.output(b.op("MatMul", {b.input("a", da), b.random(dw, 3)})); }, tol};
}

// Gemm with A [M, K] (or [K, M] with transA), B [K, N] (or [N, K]), optional C of dims dc.
ParityCase gemm(const std::string& name, int64_t M, int64_t K, int64_t N, bool ta, bool tb, float alpha, float beta,
                std::vector<Dim> dc, bool c_given = true, double tol = 1e-5) {
  return {name, [=](GraphBuilder& b) {
            Value* a = b.input("a", ta ? std::vector<Dim>{K, M} : std::vector<Dim>{M, K});
            Value* w = b.input("b", tb ? std::vector<Dim>{N, K} : std::vector<Dim>{K, N});
            std::vector<Value*> ins{a, w};
            if (c_given) ins.push_back(b.input("c", dc));
            b.output(b.op("Gemm", ins,
                          attrs({{"transA", Attribute(int64_t(ta))}, {"transB", Attribute(int64_t(tb))},
                                 {"alpha", Attribute(alpha)}, {"beta", Attribute(beta)}})));
          }, tol};
}

ParityCase fp16(ParityCase c) {
  c.name += "Fp16";
  c.tolerance = 2e-2;
  c.options.precision = "fp16";
  return c;
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    v.push_back(matmul("Odd", {33, 45}, {45, 70}));
    v.push_back(matmul("K1", {17, 1}, {1, 29}));
    v.push_back(matmul("Square64", {64, 64}, {64, 64}));
    v.push_back(matmul("Batched3D", {3, 19, 40}, {3, 40, 23}));
    v.push_back(matmul("Batched4DBroadcast", {2, 1, 9, 31}, {3, 31, 14}));
    v.push_back(matmul("BatchedLhs2D", {9, 31}, {2, 3, 31, 14}));
    v.push_back(matmul("VecMat", {45}, {45, 70}));
    v.push_back(matmul("MatVec", {33, 45}, {45}));
    v.push_back(matmul("VecVec", {45}, {45}));
    v.push_back(matmul("VecBatched", {31}, {4, 31, 9}));
    v.push_back(matmul("BatchedVec", {4, 7, 31}, {31}));
    v.push_back(matmul("BatchedRhsOne", {2, 5, 31}, {1, 31, 14}));
    v.push_back(weight("Weight", {2, 77, 96}, {96, 130}));
    v.push_back(weight("WeightRank4", {2, 3, 40, 64}, {64, 33}));
    // Big enough for the 128 x 128 tiles; 1e-4 relative to the largest output.
    v.push_back(matmul("Big", {257, 512}, {512, 384}, 1e-4));
    v.push_back(gemm("GemmPlain", 33, 45, 70, false, false, 1.0f, 1.0f, {}, false));
    v.push_back(gemm("GemmTransBBiasRow", 37, 50, 66, false, true, 1.0f, 1.0f, {66}));
    v.push_back(gemm("GemmTransABiasScalar", 29, 41, 53, true, false, 1.0f, 1.0f, {}));
    v.push_back(gemm("GemmBothTransFullC", 29, 41, 53, true, true, 0.5f, 2.0f, {29, 53}));
    v.push_back(gemm("GemmAlphaBetaColumn", 40, 17, 35, false, false, 1.5f, -0.75f, {40, 1}));
    v.push_back(gemm("GemmBetaZero", 40, 17, 35, false, true, 2.0f, 0.0f, {40, 35}));
    v.push_back(gemm("GemmBigTransB", 300, 200, 260, false, true, 1.0f, 1.0f, {260}, true, 1e-4));
    // fp16: the cooperative-matrix shader where the device has one.
    v.push_back(fp16(matmul("Odd", {33, 45}, {45, 70})));
    v.push_back(fp16(matmul("K1", {17, 1}, {1, 29})));
    v.push_back(fp16(matmul("Batched4DBroadcast", {2, 1, 9, 31}, {3, 31, 14})));
    v.push_back(fp16(matmul("MatVec", {33, 45}, {45})));
    v.push_back(fp16(weight("Weight", {2, 77, 96}, {96, 130})));
    v.push_back(fp16(matmul("Big", {257, 512}, {512, 384})));
    v.push_back(fp16(matmul("Batched300", {2, 300, 200}, {2, 200, 260})));
    v.push_back(fp16(gemm("GemmTransBBiasRow", 37, 50, 66, false, true, 1.0f, 1.0f, {66})));
    v.push_back(fp16(gemm("GemmBothTransFullC", 129, 70, 140, true, true, 0.5f, 2.0f, {129, 140})));
    v.push_back(fp16(gemm("GemmAlphaBetaColumn", 140, 33, 131, false, false, 1.5f, -0.75f, {140, 1})));
    // Big enough for the 128 x 256 tiles of the f16 path (N >= 1024), odd edges.
    v.push_back(fp16(weight("WeightWide", {300, 136}, {136, 1030})));
    v.push_back(fp16(gemm("GemmWideTransB", 130, 72, 1100, false, true, 1.0f, 0.0f, {}, false)));
    v.push_back(fp16(gemm("GemmWideTransABias", 140, 48, 1030, true, false, 0.5f, 1.0f, {1030})));
    return v;
  }();
  return c;
}

}  // namespace

VDRT_PARITY_SUITE(MatMulParity, cases);

}  // namespace vdrt::test
