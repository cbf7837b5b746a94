#version 450
// Row kernels over contiguous rows of n floats: LayerNorm, RMSNorm,
// GroupNorm/InstanceNorm (a group block is a row), Softmax, LogSoftmax and
// ReduceSum/Mean/Max/Min over the innermost run. Statistics are fp32 and
// two-pass (mean, then centered squares; max, then exp sums).
//
// Two layouts, chosen by a specialization constant:
//   SUBGROUP_ROWS: each subgroup owns a row (short rows); no barriers.
//   otherwise:     the whole work group owns a row (long rows); subgroup
//                  reductions, then one partial per subgroup through shared memory.
// Each invocation keeps its first K units (vec4 when V4, else one float) in
// registers; any further units (a row longer than planned, a subgroup smaller
// than planned) are re-read from memory, so the result never depends on the
// device's real subgroup size.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;  // 0 LN, 1 RMS, 2 Softmax, 3 LogSoftmax, 4 Sum, 5 Mean, 6 Max, 7 Min
layout(constant_id = 2) const bool V4 = false;
layout(constant_id = 3) const uint K = 1;  // cached units per invocation (<= MAXK)
layout(constant_id = 4) const bool SUBGROUP_ROWS = false;
layout(constant_id = 5) const uint RPG = 1;  // rows per work group in SUBGROUP_ROWS mode
const uint MAXK = 8;

layout(std430, binding = 0) readonly buffer X1 { float x1[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer S1 { float s1[]; };
layout(std430, binding = 1) readonly buffer S4 { vec4 s4[]; };
layout(std430, binding = 2) readonly buffer B1 { float b1[]; };
layout(std430, binding = 2) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 3) writeonly buffer Y1 { float y1[]; };
layout(std430, binding = 3) writeonly buffer Y4 { vec4 y4[]; };

// Scale/bias element for flat element index e: p[(e / div) % mod].
layout(push_constant) uniform P {
  uint rows;
  uint n;
  uint sdiv;
  uint smod;
  uint bdiv;
  uint bmod;
  float eps;
  uint has_bias;
} p;

shared float red[256];

uint tid, stride;

#define NEG_INF uintBitsToFloat(0xff800000u)
#define POS_INF uintBitsToFloat(0x7f800000u)

bool is_max_op() { return OP == 2 || OP == 3 || OP == 6; }

float nmax(float a, float b) { return (b > a || isnan(b)) ? b : a; }
float nmin(float a, float b) { return (b < a || isnan(b)) ? b : a; }

float hsum(vec4 v) { return V4 ? (v.x + v.y) + (v.z + v.w) : v.x; }
float hmax(vec4 v) { return V4 ? nmax(nmax(v.x, v.y), nmax(v.z, v.w)) : v.x; }
float hmin(vec4 v) { return V4 ? nmin(nmin(v.x, v.y), nmin(v.z, v.w)) : v.x; }

vec4 ld(uint base, uint u) { return V4 ? x4[base / 4 + u] : vec4(x1[base + u], 0.0, 0.0, 0.0); }
void st(uint base, uint u, vec4 v) {
  if (V4) y4[base / 4 + u] = v;
  else y1[base + u] = v.x;
}

vec4 scale4(uint e) {
  uint d = p.sdiv, m = p.smod;
  if (!V4) return vec4(s1[(e / d) % m]);
  if (d % 4 == 0) return vec4(s1[(e / d) % m]);
  if (d == 1 && m % 4 == 0) return s4[(e % m) / 4];
  return vec4(s1[(e / d) % m], s1[((e + 1) / d) % m], s1[((e + 2) / d) % m], s1[((e + 3) / d) % m]);
}
vec4 bias4(uint e) {
  uint d = p.bdiv, m = p.bmod;
  if (!V4) return vec4(b1[(e / d) % m]);
  if (d % 4 == 0) return vec4(b1[(e / d) % m]);
  if (d == 1 && m % 4 == 0) return b4[(e % m) / 4];
  return vec4(b1[(e / d) % m], b1[((e + 1) / d) % m], b1[((e + 2) / d) % m], b1[((e + 3) / d) % m]);
}

// Reductions across the invocations that own a row. In work-group mode every
// invocation calls them in uniform control flow.
float row_sum(float v) {
  v = subgroupAdd(v);
  if (SUBGROUP_ROWS || gl_NumSubgroups == 1) return v;
  barrier();
  if (subgroupElect()) red[gl_SubgroupID] = v;
  barrier();
  float s = 0.0;
  for (uint i = 0; i < gl_NumSubgroups; ++i) s += red[i];
  return s;
}
float row_max(float v) {
  v = subgroupMax(v);
  if (SUBGROUP_ROWS || gl_NumSubgroups == 1) return v;
  barrier();
  if (subgroupElect()) red[gl_SubgroupID] = v;
  barrier();
  float s = NEG_INF;
  for (uint i = 0; i < gl_NumSubgroups; ++i) s = nmax(s, red[i]);
  return s;
}
float row_min(float v) {
  v = subgroupMin(v);
  if (SUBGROUP_ROWS || gl_NumSubgroups == 1) return v;
  barrier();
  if (subgroupElect()) red[gl_SubgroupID] = v;
  barrier();
  float s = POS_INF;
  for (uint i = 0; i < gl_NumSubgroups; ++i) s = nmin(s, red[i]);
  return s;
}

// Runs STMT with `u` (unit index) and `v` (its value) over the units this
// invocation owns: cached ones first, then any left over from memory.
#define FOR_EACH_UNIT(STMT)                                              \
  [[unroll]] for (uint k = 0; k < MAXK; ++k) {                           \
    if (k < K) {                                                         \
      uint u = tid + k * stride;                                         \
      if (u < nu) {                                                      \
        vec4 v = c[k];                                                   \
        STMT;                                                            \
      }                                                                  \
    }                                                                    \
  }                                                                      \
  for (uint u = tid + K * stride; u < nu; u += stride) {                 \
    vec4 v = ld(base, u);                                                \
    STMT;                                                                \
  }

void process(uint row) {
  const uint n = p.n;
  const uint nu = V4 ? n / 4 : n;
  const uint base = row * n;
  const uint w = V4 ? 4 : 1;
  vec4 c[MAXK];
  [[unroll]] for (uint k = 0; k < MAXK; ++k) {
    if (k < K) {
      uint u = tid + k * stride;
      c[k] = u < nu ? ld(base, u) : vec4(0.0);
    }
  }

  if (OP >= 4) {  // reductions: one value per row
    float a = OP == 6 ? NEG_INF : (OP == 7 ? POS_INF : 0.0);
    if (OP == 6) {
      FOR_EACH_UNIT((a = nmax(a, hmax(v))))
      a = row_max(a);
    } else if (OP == 7) {
      FOR_EACH_UNIT((a = nmin(a, hmin(v))))
      a = row_min(a);
    } else {
      FOR_EACH_UNIT((a += hsum(v)))
      a = row_sum(a);
      if (OP == 5) a /= float(n);
    }
    bool first = SUBGROUP_ROWS ? subgroupElect() : tid == 0;
    if (first) y1[row] = a;
    return;
  }

  if (OP == 2 || OP == 3) {  // softmax family
    float m = NEG_INF;
    FOR_EACH_UNIT((m = nmax(m, hmax(v))))
    m = row_max(m);
    float s = 0.0;
    FOR_EACH_UNIT((s += hsum(exp(v - m))))
    s = row_sum(s);
    if (OP == 2) {
      float r = 1.0 / s;
      FOR_EACH_UNIT((st(base, u, exp(v - m) * r)))
    } else {
      float ls = log(s);
      FOR_EACH_UNIT((st(base, u, (v - m) - ls)))
    }
    return;
  }

  // LayerNorm / RMSNorm / group norms.
  float mean = 0.0;
  float sq = 0.0;
  if (OP == 0) {
    float s = 0.0;
    FOR_EACH_UNIT((s += hsum(v)))
    mean = row_sum(s) / float(max(n, 1u));
    FOR_EACH_UNIT((sq += hsum((v - mean) * (v - mean))))
  } else {
    FOR_EACH_UNIT((sq += hsum(v * v)))
  }
  float var = row_sum(sq) / float(max(n, 1u));
  float inv = 1.0 / sqrt(var + p.eps);
  if (p.has_bias != 0) {
    FOR_EACH_UNIT((st(base, u, (v - mean) * inv * scale4(base + u * w) + bias4(base + u * w))))
  } else {
    FOR_EACH_UNIT((st(base, u, (v - mean) * inv * scale4(base + u * w))))
  }
}

void main() {
  if (SUBGROUP_ROWS) {
    tid = gl_SubgroupInvocationID;
    stride = gl_SubgroupSize;
    uint g0 = flat_group() * RPG;
    uint g1 = min(g0 + RPG, p.rows);
    for (uint r = g0 + gl_SubgroupID; r < g1; r += gl_NumSubgroups) process(r);
  } else {
    tid = gl_LocalInvocationID.x;
    stride = gl_WorkGroupSize.x;
    uint r = flat_group();
    if (r < p.rows) process(r);
  }
}
