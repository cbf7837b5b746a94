// reduce_rows.comp in OpenCL C 1.2 (same plan, same parameters, same fp32
// two-pass statistics). OpenCL 1.2 has no portable sub-groups, so the
// invocations that own a row (a planned "subgroup" of SPEC0 / SPEC5 lanes
// in SUBGROUP_ROWS mode, else the whole work group) combine their partials
// by a tree in local memory: every work item reaches every barrier, so lanes
// of a segment whose row is past the end still take part, reading nothing.
// The planned width need not be a power of two (norms.cpp rounds to
// subgroup multiples), hence the tree's `lane + s < n` guard.

#define LOCAL SPEC0
#define OP SPEC1     // 0 LN, 1 RMS, 2 Softmax, 3 LogSoftmax, 4 Sum, 5 Mean, 6 Max, 7 Min
#define V4 SPEC2
#define K SPEC3      // cached units per work item
#define SUBGROUP_ROWS SPEC4
#define RPG SPEC5    // rows per work group in SUBGROUP_ROWS mode
#if SUBGROUP_ROWS
#define LANES (LOCAL / RPG)
#else
#define LANES LOCAL
#endif

struct reduce_rows_params {
  uint rows;
  uint n;
  uint sdiv;
  uint smod;
  uint bdiv;
  uint bmod;
  float eps;
  uint has_bias;
};

#define NEG_INF as_float(0xff800000u)
#define POS_INF as_float(0x7f800000u)

inline float nmax(float a, float b) { return (b > a || isnan(b)) ? b : a; }
inline float nmin(float a, float b) { return (b < a || isnan(b)) ? b : a; }

#if V4
typedef float4 unit_t;
inline float hsum(float4 v) { return (v.x + v.y) + (v.z + v.w); }
inline float hmax(float4 v) { return nmax(nmax(v.x, v.y), nmax(v.z, v.w)); }
inline float hmin(float4 v) { return nmin(nmin(v.x, v.y), nmin(v.z, v.w)); }
#define LD(base, u) vload4((base) / 4 + (u), x)
#define ST(base, u, v) vstore4((v), (base) / 4 + (u), y)
#define W 4u
#else
typedef float unit_t;
#define hsum(v) (v)
#define hmax(v) (v)
#define hmin(v) (v)
#define LD(base, u) x[(base) + (u)]
#define ST(base, u, v) (y[(base) + (u)] = (v))
#define W 1u
#endif

// Scale/bias element(s) for flat element index e: q[(e / d) % m].
inline unit_t param(global const float* q, uint e, uint d, uint m) {
#if V4
  if (d % 4 == 0) return (float4)(q[(e / d) % m]);
  if (d == 1 && m % 4 == 0) return vload4((e % m) / 4, q);
  return (float4)(q[(e / d) % m], q[((e + 1) / d) % m], q[((e + 2) / d) % m], q[((e + 3) / d) % m]);
#else
  return q[(e / d) % m];
#endif
}

// Combines v over the LANES work items of segment `seg` (the row's owners).
// Every work item of the group calls it in uniform control flow.
#define ROW_REDUCE(NAME, COMBINE)                                         \
  inline float NAME(float v, local float* red, uint seg, uint lane) {    \
    local float* r = red + seg * LANES;                                  \
    barrier(CLK_LOCAL_MEM_FENCE);                                        \
    r[lane] = v;                                                         \
    barrier(CLK_LOCAL_MEM_FENCE);                                        \
    uint h = 1;                                                          \
    while (h < LANES) h <<= 1;                                           \
    for (uint s = h >> 1; s > 0; s >>= 1) {                              \
      if (lane < s && lane + s < LANES) r[lane] = COMBINE(r[lane], r[lane + s]); \
      barrier(CLK_LOCAL_MEM_FENCE);                                      \
    }                                                                    \
    return r[0];                                                         \
  }
#define ADD(a, b) ((a) + (b))
ROW_REDUCE(row_sum, ADD)
ROW_REDUCE(row_max, nmax)
ROW_REDUCE(row_min, nmin)

// Runs STMT with `u` (unit index) and `v` (its value) over the units this
// work item owns: cached ones first, then any left over from memory.
#define FOR_EACH_UNIT(STMT)                                  \
  for (uint k = 0; k < K; ++k) {                             \
    uint u = lane + k * LANES;                               \
    if (u < nu) {                                            \
      unit_t v = c[k];                                       \
      STMT;                                                  \
    }                                                        \
  }                                                          \
  for (uint u = lane + K * LANES; u < nu; u += LANES) {      \
    unit_t v = LD(base, u);                                  \
    STMT;                                                    \
  }

// One row per segment; `valid` false for a segment past the last row, which
// then owns no units but still joins the reductions.
inline void process(uint row, bool valid, uint seg, uint lane, global float* x, global const float* s,
                    global const float* b, global float* y, constant const struct reduce_rows_params* p,
                    local float* red) {
  const uint n = p->n;
  const uint nu = valid ? (V4 ? n / 4 : n) : 0u;
  const uint base = valid ? row * n : 0u;
  unit_t c[K];
  for (uint k = 0; k < K; ++k) {
    uint u = lane + k * LANES;
    c[k] = u < nu ? LD(base, u) : (unit_t)(0.0f);
  }

#if OP >= 4  // reductions: one value per row
#if OP == 6
  float a = NEG_INF;
  FOR_EACH_UNIT((a = nmax(a, hmax(v))))
  a = row_max(a, red, seg, lane);
#elif OP == 7
  float a = POS_INF;
  FOR_EACH_UNIT((a = nmin(a, hmin(v))))
  a = row_min(a, red, seg, lane);
#else
  float a = 0.0f;
  FOR_EACH_UNIT((a += hsum(v)))
  a = row_sum(a, red, seg, lane);
#if OP == 5
  a /= (float)n;
#endif
#endif
  if (valid && lane == 0) y[row] = a;

#elif OP == 2 || OP == 3  // softmax family
  float m = NEG_INF;
  FOR_EACH_UNIT((m = nmax(m, hmax(v))))
  m = row_max(m, red, seg, lane);
  float sum = 0.0f;
  FOR_EACH_UNIT((sum += hsum(exp(v - m))))
  sum = row_sum(sum, red, seg, lane);
#if OP == 2
  float r = 1.0f / sum;
  FOR_EACH_UNIT((ST(base, u, exp(v - m) * r)))
#else
  float ls = log(sum);
  FOR_EACH_UNIT((ST(base, u, (v - m) - ls)))
#endif

#else  // LayerNorm / RMSNorm / group norms
  float mean = 0.0f;
  float sq = 0.0f;
#if OP == 0
  float t = 0.0f;
  FOR_EACH_UNIT((t += hsum(v)))
  mean = row_sum(t, red, seg, lane) / (float)max(n, 1u);
  FOR_EACH_UNIT((sq += hsum((v - mean) * (v - mean))))
#else
  FOR_EACH_UNIT((sq += hsum(v * v)))
#endif
  float var = row_sum(sq, red, seg, lane) / (float)max(n, 1u);
  float inv = 1.0f / sqrt(var + p->eps);
  const uint sd = p->sdiv, sm = p->smod, bd = p->bdiv, bm = p->bmod;
  if (p->has_bias != 0) {
    FOR_EACH_UNIT((ST(base, u, (v - mean) * inv * param(s, base + u * W, sd, sm) + param(b, base + u * W, bd, bm))))
  } else {
    FOR_EACH_UNIT((ST(base, u, (v - mean) * inv * param(s, base + u * W, sd, sm))))
  }
#endif
}

kernel __attribute__((reqd_work_group_size(LOCAL, 1, 1))) void reduce_rows(
    BUF(float, x), BUF(float, s), BUF(float, b), BUF(float, y), constant const struct reduce_rows_params* p) {
  AT(float, x);
  AT(float, s);
  AT(float, b);
  AT(float, y);
  local float red[LOCAL];
  const uint tid = (uint)get_local_id(0);
#if SUBGROUP_ROWS
  const uint seg = tid / LANES, lane = tid % LANES;
  const uint row = flat_group() * RPG + seg;
  process(row, row < p->rows, seg, lane, x, s, b, y, p, red);
#else
  const uint row = flat_group();
  if (row < p->rows) process(row, true, 0, tid, x, s, b, y, p, red);  // uniform across the group
#endif
}
