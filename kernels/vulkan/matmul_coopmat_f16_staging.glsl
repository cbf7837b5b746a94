// matmul_coopmat_f16's interface (specialization constants, bindings, push
// constants) and its operand staging: K steps of A16 / B16 from global
// memory into registers (load_step) and from there into a shared buffer
// (store_step). Shared with bench/shaders/gemm_ceiling.comp, whose probes
// time this staging apart from the multiply-adds.
layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint NT = 256;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint WM = 64;
layout(constant_id = 5) const uint WN = 32;
layout(constant_id = 6) const bool A_T = false;   // A16 is [Kp][Mp]
layout(constant_id = 7) const bool B_T = false;   // B16 is [Np][Kp]
layout(constant_id = 8) const bool HAS_C = false;
layout(constant_id = 9) const bool DIRECT = false;  // fragments straight from global memory (no shared staging)
layout(constant_id = 10) const uint ACT = 0;         // epilogue_act after C: 0 none, 1 gelu, 2 gelu (tanh)
layout(constant_id = 11) const bool HAS_R = false;   // add R (a residual laid out as y) last
layout(constant_id = 12) const uint NBUF = 2;        // shared buffers: 2, or 1 (two barriers a step, room for bigger tiles)

layout(std430, binding = 0) readonly buffer A { uvec4 a[]; };
layout(std430, binding = 1) readonly buffer B { uvec4 b[]; };
layout(std430, binding = 2) readonly buffer C { float c[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, binding = 4) readonly buffer R { float r[]; };
layout(push_constant) uniform P {
  uint M, N, Kp;    // valid output rows / columns, padded K
  uint lda, ldb;    // uvec4 per row of A16 / B16
  uint scm, scn;
  float alpha, beta;
} p;

const uint FM = WM / 16, FN = WN / 16;
// Shared tiles in uvec4 (8 halves). A: BM rows of BK (or BK rows of BM with A_T).
const uint A_ROWS = A_T ? BK : BM, A_COLS = (A_T ? BM : BK) / 8, ASTR = A_COLS + 1;
const uint B_ROWS = B_T ? BN : BK, B_COLS = (B_T ? BK : BN) / 8, BSTR = B_COLS + 1;
const uint ABUF = A_ROWS * ASTR, BBUF = B_ROWS * BSTR;
const uint LA = A_ROWS * A_COLS / NT, LB = B_ROWS * B_COLS / NT;   // uvec4 per invocation per step
shared uvec4 As[NBUF * ABUF];
shared uvec4 Bs[NBUF * BBUF];

uvec4 ra[LA], rb[LB];
uint m0, n0;

void load_step(uint k0) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint e = tid + r * NT, row = e / A_COLS, col = e - row * A_COLS;
    ra[r] = A_T ? a[(k0 + row) * p.lda + m0 / 8 + col] : a[(m0 + row) * p.lda + k0 / 8 + col];
  }
  [[unroll]] for (uint r = 0; r < LB; ++r) {
    uint e = tid + r * NT, row = e / B_COLS, col = e - row * B_COLS;
    rb[r] = B_T ? b[(n0 + row) * p.ldb + k0 / 8 + col] : b[(k0 + row) * p.ldb + n0 / 8 + col];
  }
}

void store_step(uint buf) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint r = 0; r < LA; ++r) {
    uint e = tid + r * NT, row = e / A_COLS, col = e - row * A_COLS;
    As[buf * ABUF + row * ASTR + col] = ra[r];
  }
  [[unroll]] for (uint r = 0; r < LB; ++r) {
    uint e = tid + r * NT, row = e / B_COLS, col = e - row * B_COLS;
    Bs[buf * BBUF + row * BSTR + col] = rb[r];
  }
}
