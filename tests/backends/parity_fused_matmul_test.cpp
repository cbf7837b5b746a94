// vdrt.FusedMatMul (act(X W + bias) + residual, one output) on every GPU
// backend against the CPU kernel: each epilogue alone and together, GELU's
// erf and tanh forms, X with leading dims folded into the GEMM's rows, and
// odd M, N, K, so that every output sits in a partial tile somewhere. The
// fp16 cases run the cooperative-matrix GEMM where the device has it (the
// H200): there 16 x 16 blocks wholly inside the output take the epilogue in
// registers (the bias loaded as a fragment with row stride 0) and edge
// blocks through shared memory, so "Wan" (N a multiple of 16, M not one of
// 128) has both. Elsewhere (lavapipe, PoCL) they run the fp32 kernel.

#include "backends/parity.h"

namespace vdrt::test {
namespace {

ParityCase fused(const std::string& name, std::vector<Dim> dx, int64_t K, int64_t N, bool bias, const char* act,
                 bool residual, double tol = 1e-5) {
  return {name, [=](GraphBuilder& b) {
            std::vector<Value*> ins{b.input("x", dx), b.random({K, N}, 3)};
            if (bias || residual) ins.push_back(bias ? b.random({N}, 4) : nullptr);
            if (residual) {
              std::vector<Dim> dr = dx;
              dr.back() = N;
              ins.push_back(b.input("residual", dr));
            }
            AttributeMap at;
            if (std::string(act) != "none") at.set("activation", Attribute(std::string(act)));
            b.output(b.op("FusedMatMul", ins, at, "vdrt"));
          }, tol};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    v.push_back(fused("Bias", {33, 45}, 45, 70, true, "none", false));
    v.push_back(fused("BiasGelu", {2, 37, 96}, 96, 130, true, "gelu", false));
    v.push_back(fused("BiasGeluTanh", {41, 64}, 64, 90, true, "gelu_tanh", false));
    v.push_back(fused("Residual", {3, 11, 40}, 40, 52, false, "none", true));
    v.push_back(fused("GeluNoBias", {19, 31}, 31, 17, false, "gelu", false));
    v.push_back(fused("BiasGeluResidual", {2, 45, 72}, 72, 100, true, "gelu", true));
    v.push_back(fused("BiasResidualVector", {45}, 45, 19, true, "none", true));
    // Big enough for the 128 x 128 tiles; Wan-like N (multiples of 16) with
    // M past a tile edge: full blocks and edge blocks in one product.
    v.push_back(fused("BigBiasGelu", {257, 512}, 512, 384, true, "gelu", false, 1e-4));
    v.push_back(fused("WanBiasResidual", {2, 150, 256}, 256, 384, true, "none", true, 1e-4));
    v.push_back(fused("WanBiasGeluTanh", {300, 128}, 128, 272, true, "gelu_tanh", false, 1e-4));
    // fp16: operands rounded to f16 on cooperative matrices (fp32
    // accumulation), as MatMul's fp16 cases.
    add_fp16_twins(v, 2e-2);
    return v;
  }();
  return c;
}

}  // namespace

VDRT_PARITY_SUITE(FusedMatMulParity, cases);

}  // namespace vdrt::test
