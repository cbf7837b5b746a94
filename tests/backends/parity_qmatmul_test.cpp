// vdrt.QMatMul (float8 e4m3 weights with per-channel scales, optional
// per-token e4m3 activations) on every GPU backend against the CPU kernel:
// the codes are decoded in the GEMM's tile loads, so odd shapes, both tile
// sizes, subnormal codes and the saturating code 448 all go through them.
// On a device with cooperative matrices (the H200) the W8A8 cases and every
// fp16 case run matmul_coopmat_e4m3 instead (kernels/gpu/matmul.cpp,
// qmatmul_uses_coopmat): N % 16 == 0 takes its 16-byte weight loads, other N
// its byte loads; K tails and M, N edges are in both. Elsewhere (lavapipe)
// the fp16 cases run the fp32 kernel. A folded GELU and residual
// (attribute activation, input 4) run in either kernel's epilogue.
#include <algorithm>
#include <cmath>
#include <random>

#include "backends/parity.h"
#include "graph/dtype.h"

namespace vdrt::test {
namespace {

// e4m3 codes of N(0, 1)-like weights, with every exponent present, the
// subnormals of both signs and +-448 (0x7e, 0xfe); no NaN codes (the pass
// never writes them).
Tensor codes(int64_t K, int64_t N, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 60.0f);
  Tensor t(DType::F8E4M3, {K, N});
  auto* p = static_cast<uint8_t*>(t.raw());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = float_to_f8e4m3(nd(rng), true);
  const uint8_t special[] = {0x01, 0x81, 0x07, 0x87, 0x7e, 0xfe, 0x00, 0x80};
  for (size_t i = 0; i < sizeof special && static_cast<int64_t>(i) < t.numel(); ++i) p[i * 7 % t.numel()] = special[i];
  return t;
}

Tensor scales(int64_t N, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(1e-3f, 2e-2f);
  Tensor t(DType::F32, {N});
  for (int64_t i = 0; i < N; ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Row r of A scaled by 2^(r % 9 - 4): rows whose per-token scales differ
// by up to 256x, so a scale applied to the wrong row shows.
Value* spread_rows(GraphBuilder& b, Value* a, int64_t M) {
  Tensor f(DType::F32, {M, 1});
  for (int64_t r = 0; r < M; ++r) f.data<float>()[r] = std::ldexp(1.0f, int(r % 9) - 4);
  return b.op("Mul", {a, b.constant("row_factors", f)});
}

ParityCase qmatmul(const std::string& name, std::vector<Dim> da, int64_t K, int64_t N, bool bias, bool act_quant,
                   double tol = 1e-5, bool spread = false, const char* activation = "none", bool residual = false) {
  return {name, [=](GraphBuilder& b) {
            Value* a = b.input("a", da);
            if (spread) a = spread_rows(b, a, da.size() == 2 ? da[0].value() : 1);
            std::vector<Value*> ins{a, b.constant("w", codes(K, N, 5)), b.constant("scale", scales(N, 6))};
            if (bias || residual) ins.push_back(bias ? b.random({N}, 7) : nullptr);
            if (residual) {
              std::vector<Dim> dr = da;
              dr.back() = N;
              ins.push_back(b.input("residual", dr));
            }
            AttributeMap at;
            if (std::string(activation) != "none") at.set("activation", Attribute(std::string(activation)));
            if (act_quant) at.set("act_quant", Attribute(std::string("per_token_e4m3")));
            b.output(b.op("QMatMul", ins, at, "vdrt"));
          }, tol};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    v.push_back(qmatmul("Odd", {33, 45}, 45, 70, false, false));
    v.push_back(qmatmul("BatchedBias", {2, 37, 96}, 96, 130, true, false));
    v.push_back(qmatmul("BigTileBias", {300, 256}, 256, 260, true, false, 1e-4));
    v.push_back(qmatmul("Vector", {45}, 45, 19, true, false));
    v.push_back(qmatmul("EmptyKIsTheBias", {3, 0}, 0, 5, true, false));  // rows from the output
    // Activations snapped to e4m3 per row: the GPU's division may round
    // differently from the CPU's in the last bit, which can move one
    // activation by one e4m3 step, so the tolerance is looser.
    v.push_back(qmatmul("ActQuantBias", {2, 40, 72}, 72, 50, true, true, 2e-3));
    v.push_back(qmatmul("ActQuantLongRows", {5, 1000}, 1000, 33, false, true, 2e-3));
    // Wan-like N (a multiple of 16): whole tiles, and a last tile half past N
    // with a K tail.
    v.push_back(qmatmul("Aligned", {2, 150, 256}, 256, 384, true, false, 1e-4));
    v.push_back(qmatmul("AlignedKTail", {70, 200}, 200, 272, false, false, 1e-4));
    v.push_back(qmatmul("ActQuantAligned", {300, 512}, 512, 256, true, true, 2e-3));
    // The tiny Wan's layer shapes (48 tokens or 8 text tokens, dim 64), rows
    // of very different magnitudes.
    v.push_back(qmatmul("ActQuantRowSpread", {48, 64}, 64, 64, true, true, 2e-3, true));
    v.push_back(qmatmul("ActQuantFewRows", {8, 64}, 64, 128, true, true, 2e-3, true));
    v.push_back(qmatmul("RowSpread", {48, 128}, 128, 64, true, false, 1e-4, true));
    // Folded epilogues (fuse-gemm-epilogue): GELU after the bias, then the
    // residual; vector and scalar output paths (N % 4), no bias with a residual.
    v.push_back(qmatmul("GeluTanh", {2, 70, 96}, 96, 256, true, true, 2e-3, false, "gelu_tanh"));
    v.push_back(qmatmul("GeluResidual", {150, 64}, 64, 130, true, false, 1e-4, false, "gelu", true));
    v.push_back(qmatmul("ResidualNoBias", {2, 37, 96}, 96, 272, false, true, 2e-3, false, "none", true));
    // fp16 precision: on cooperative matrices the activations are rounded
    // to f16 (relative error <= 2^-11 each; the decoded weights are exact),
    // so an output moves by about 2^-11 * ||a * w|| / sqrt(3), random signs
    // (< 3e-4 of the largest output here); 2e-3 bounds it with margin and
    // covers W8A8's one-step snap differences.
    add_fp16_twins(v, 2e-3);
    return v;
  }();
  return c;
}

}  // namespace

VDRT_PARITY_SUITE(QMatMulParity, cases);

}  // namespace vdrt::test
