// The tile loop of flash attention on tensor cores (GL_NV_cooperative_matrix,
// 16x16x16 f16 x f16 -> f32), shared by flash_attention_coopmat.comp (key
// rows contiguous in an f16 scratch) and sparse_flash_coopmat.comp (key rows
// found through the selected blocks' table). It is the shader's main():
//
// A work group of NT invocations (NT / 32 subgroups) handles 16 NT / 32 query
// rows of one (batch, head); subgroup s owns rows 16 s .. 16 s + 15 and keeps
// its Q strip (16 x D f16) in registers as D/16 A fragments and its output
// strip (16 x D f32) as D/16 coopmat accumulators. Per tile of BK keys:
//   1. the K and V tiles (f16) are copied 16 bytes at a time into shared
//      memory through registers, loaded from global memory one tile ahead
//      (PREFETCH), or (GLOBAL_KV bits, contiguous keys only) their fragments
//      are loaded straight from the f16 buffers;
//   2. S = Q K^T (16 x BK) by coopmat, stored f32 to the subgroup's shared
//      region;
//   3. online softmax in fp32 (log2 domain), two lanes per row: the running
//      max is only raised (and the accumulators rescaled through shared
//      memory) when a row's max grows by more than 2^8, so P = exp2(s - m)
//      stays <= 256 (exact in the end: l uses the same m);
//   4. O += P V by coopmat into the accumulators.
//
// The including shader defines HEAD_DIM (64 or 128) and the options below,
// declares its buffers (o[], float: the output; q16, k16, v16 where the
// options read them) and push constants, includes this file, then defines
// the hooks it declares:
//   bool begin_group()             per work group (every invocation): sets
//                                  nkeys, scale_log2 and its own state;
//                                  false: the group has nothing to do
//   uvec4 key8(uint k0, uint j, uint c), value8(...)
//                                  halves 8c .. 8c + 7 of key / value row j
//                                  of the tile at k0 (zeros past nkeys)
//   uint out_row(uint r)           index in o[] of output row r of the
//                                  group, ~0u: no such query row
// Options:
//   FA_KV_CONTIGUOUS   key row k0 + j is row kv_row0 + k0 + j of the f16
//                      buffers k16 / v16 (padded to whole tiles), which
//                      GLOBAL_KV may read fragments from;
//   FA_KEY_TABLE       key rows are prepared per tile by
//                      void key_rows(uint k0) (every invocation calls it;
//                      tile k0's rows kept in buffer (k0 / BK) % 3, written
//                      two tiles ahead, after the barrier that ends a
//                      tile's staging, so the search's global loads overlap
//                      the other subgroups' multiplies instead of holding
//                      up a barrier), with float key_bias(uint k0, uint j),
//                      log2 units added to the key's score; GLOBAL_KV 0;
//   FA_Q_SHARED        query rows come from uvec4 q8(uint r, uint c) (halves
//                      8c .. 8c + 7 of row r, zeros where there is none),
//                      staged in shared memory; otherwise q_row0 is the
//                      group's first row in the padded f16 scratch q16;
//   FA_KEY_MASS        (with FA_KEY_TABLE) after the loop, when
//                      bool mass_sweep() says so (and sets mass_from), a
//                      second sweep over keys mass_from .. nkeys - 1 gives
//                      void key_mass(uint k0, uint j, float mass) (by
//                      invocation j < BK) each key's softmax probability
//                      summed over the group's query rows, then calls
//                      void mass_tile(uint k0) (every invocation, after a
//                      barrier) and finally void mass_done().
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_shader_subgroup_vote : require

layout(local_size_x_id = 1) in;
layout(constant_id = 0) const uint BK = 64;        // keys per tile: 32 or 64
layout(constant_id = 1) const uint NT = 128;       // invocations: 32 per 16 query rows
layout(constant_id = 2) const uint GLOBAL_KV = 0;  // bit 0: K, bit 1: V fragments straight from global memory
layout(constant_id = 3) const uint PREFETCH = 1;   // 1: the next tile's global loads overlap this tile's math

const uint D = HEAD_DIM;
const uint D8 = D / 8;            // uvec4 (8 halves) per row
const uint NSG = NT / 32;
const uint BQ = 16 * NSG;
const uint NDB = D / 16;            // 16-wide blocks of the head dim
const uint KST8 = D8 + 1;           // uvec4 row stride of the K/V tiles (skewed by 8 halves)
const uint SST = BK + 4;            // f32 row stride of a score strip
const uint PST = BK + 8;            // f16 row stride of P
const uint SREG = 16 * SST;         // one subgroup's score region (>= 256 floats)
const float TH = 8.0;               // lazy rescale threshold (log2 units)

const uint KG = GLOBAL_KV & 1, VG = (GLOBAL_KV >> 1) & 1;
const uint VROW = BK * (1 - KG);    // first V tile row in KVs
const uint PER = BK * D8 / NT;      // uvec4s per invocation per staged tile
#ifdef FA_Q_SHARED
// The query rows are staged in the K/V tile area before the first tile.
const uint KV_ROWS = BK * (2 - KG - VG) > BQ ? BK * (2 - KG - VG) : BQ;
#else
const uint KV_ROWS = BK * (2 - KG - VG);
#endif
shared uvec4 KVs[KV_ROWS * KST8 + 1];  // K tile rows (unless KG), then V tile rows (unless VG)
shared float Ss[NSG * SREG];
shared float16_t Ps[BQ * PST];

uvec4 kr[PER], vr[PER];  // staged K / V tile, this invocation's share

uint nkeys;        // keys of the group's query rows
float scale_log2;  // score scale, log2 units
bool begin_group();
uvec4 key8(uint k0, uint j, uint c);
uvec4 value8(uint k0, uint j, uint c);
uint out_row(uint r);
#ifdef FA_KV_CONTIGUOUS
uint kv_row0;
#endif
#ifdef FA_KEY_TABLE
void key_rows(uint k0);
float key_bias(uint k0, uint j);
#endif
#ifdef FA_Q_SHARED
uvec4 q8(uint r, uint c);
#else
uint q_row0;
#endif
#ifdef FA_KEY_MASS
uint mass_from;
bool mass_sweep();
void key_mass(uint k0, uint j, float mass);
void mass_tile(uint k0);
void mass_done();
#endif

// Global loads of the tile at k0.
void fetch(uint k0) {
  const uint tid = gl_LocalInvocationID.x;
  [[unroll]] for (uint i = 0; i < PER; ++i) {
    const uint e = tid + i * NT, j = e / D8, c = e - j * D8;
    if (KG == 0) kr[i] = key8(k0, j, c);
    if (VG == 0) vr[i] = value8(k0, j, c);
  }
}

void main() {
  if (!begin_group()) return;
  const uint tid = gl_LocalInvocationID.x;
  const uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;

  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> qa[NDB];
#ifdef FA_Q_SHARED
  barrier();  // begin_group's shared state written
  for (uint e = tid; e < BQ * D8; e += NT) {
    const uint r = e / D8, c = e - r * D8;
    KVs[r * KST8 + c] = q8(r, c);
  }
  barrier();
  [[unroll]] for (uint db = 0; db < NDB; ++db) coopMatLoadNV(qa[db], KVs, (sg * 16) * KST8 + db * 2, KST8, false);
  barrier();  // the query rows are in registers: the tile area is free
#else
  const uint qrow0 = q_row0 + sg * 16;  // scratch rows are padded: always in range
  [[unroll]] for (uint db = 0; db < NDB; ++db) coopMatLoadNV(qa[db], q16, qrow0 * D8 + db * 2, D8, false);
#endif

  fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> oc[NDB];
  [[unroll]] for (uint db = 0; db < NDB; ++db) oc[db] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

  const uint row = lane >> 1, half_ = lane & 1;  // this lane's row in the strip, and column parity
  const uint sreg = sg * SREG;
  const float NEG = -1.0 / 0.0;
  float m = NEG, l = 0.0;

#ifdef FA_KEY_TABLE
  key_rows(0);
  if (BK < nkeys) key_rows(BK);
  barrier();
#endif
  if (PREFETCH != 0 && (KG == 0 || VG == 0)) fetch(0);
  for (uint k0 = 0; k0 < nkeys; k0 += BK) {
    if (KG == 0 || VG == 0) {
      if (PREFETCH == 0) fetch(k0);
      barrier();  // previous tile consumed (and the next tile's key rows visible)
      [[unroll]] for (uint i = 0; i < PER; ++i) {
        const uint e = tid + i * NT, j = e / D8, c = e - j * D8;
        if (KG == 0) KVs[j * KST8 + c] = kr[i];
        if (VG == 0) KVs[(VROW + j) * KST8 + c] = vr[i];
      }
      barrier();
      if (PREFETCH != 0 && k0 + BK < nkeys) fetch(k0 + BK);
#ifdef FA_KEY_TABLE
      // The rows of the tile after next, into the buffer of the previous
      // tile (whose scores and loads all ended before the first barrier).
      if (k0 + 2 * BK < nkeys) key_rows(k0 + 2 * BK);
#endif
    }

    // S strip = Q K^T: one accumulator per 16 keys, the head dim outermost,
    // so consecutive multiply-adds are independent (a chain over the head dim
    // would leave each waiting on the previous one's latency).
    {
      fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s[BK / 16];
      [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) s[jb] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
      [[unroll]] for (uint db = 0; db < NDB; ++db) {
        [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) {
          fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> kt;
#ifdef FA_KV_CONTIGUOUS
          if (KG == 0)
            coopMatLoadNV(kt, KVs, (jb * 16) * KST8 + db * 2, KST8, true);  // (d, key) = Ks[key][d]
          else
            coopMatLoadNV(kt, k16, (kv_row0 + k0 + jb * 16) * D8 + db * 2, D8, true);
#else
          coopMatLoadNV(kt, KVs, (jb * 16) * KST8 + db * 2, KST8, true);
#endif
          s[jb] = coopMatMulAddNV(qa[db], kt, s[jb]);
        }
      }
      [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) coopMatStoreNV(s[jb], Ss, sreg + jb * 16, SST, false);
    }
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // Online softmax of this lane's half row (log2 domain).
    float sv[BK / 2];
    float mt = m;
    [[unroll]] for (uint i = 0; i < BK / 2; ++i) {
      const uint j = half_ + 2 * i;
#ifdef FA_KEY_TABLE
      sv[i] = k0 + j < nkeys ? Ss[sreg + row * SST + j] * scale_log2 + key_bias(k0, j) : NEG;
#else
      sv[i] = k0 + j < nkeys ? Ss[sreg + row * SST + j] * scale_log2 : NEG;
#endif
      mt = max(mt, sv[i]);
    }
    mt = max(mt, subgroupShuffleXor(mt, 1));
    const bool fresh = m == NEG;  // no keys seen yet: the row's accumulators are zero
    const bool raise = !fresh && mt > m + TH;
    if (fresh) m = mt;
    if (subgroupAny(raise)) {
      const float alpha = raise ? exp2(m - mt) : 1.0;
      if (raise) m = mt;
      l *= alpha;
      [[unroll]] for (uint db = 0; db < NDB; ++db) {
        coopMatStoreNV(oc[db], Ss, sreg, 16, false);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        [[unroll]] for (uint c = 0; c < 8; ++c) Ss[sreg + row * 16 + half_ * 8 + c] *= alpha;
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        coopMatLoadNV(oc[db], Ss, sreg, 16, false);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
      }
    }
    float ls = 0.0;
    [[unroll]] for (uint i = 0; i < BK / 2; ++i) {
      float16_t pj = float16_t(exp2(sv[i] - m));
      Ps[(sg * 16 + row) * PST + half_ + 2 * i] = pj;
      ls += float(pj);
    }
    ls += subgroupShuffleXor(ls, 1);
    l += ls;
    subgroupMemoryBarrierShared();
    subgroupBarrier();

    // O += P V.
    fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> pa[BK / 16];
    [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) coopMatLoadNV(pa[jb], Ps, (sg * 16) * PST + jb * 16, PST, false);
    [[unroll]] for (uint db = 0; db < NDB; ++db) {
      [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) {
        fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> vb_;
#ifdef FA_KV_CONTIGUOUS
        if (VG == 0)
          coopMatLoadNV(vb_, KVs, (VROW + jb * 16) * KST8 + db * 2, KST8, false);
        else
          coopMatLoadNV(vb_, v16, (kv_row0 + k0 + jb * 16) * D8 + db * 2, D8, false);
#else
        coopMatLoadNV(vb_, KVs, (VROW + jb * 16) * KST8 + db * 2, KST8, false);
#endif
        oc[db] = coopMatMulAddNV(pa[jb], vb_, oc[db]);
      }
    }
  }

  const uint r = sg * 16 + row;  // this lane's query row in the group
  const float inv = l > 0.0 ? 1.0 / l : 0.0;

#ifdef FA_KEY_MASS
  if (mass_sweep()) {
    // Each key's final probability exp2(s - m) / l (m need not be the row
    // maximum: l was summed with the same m), summed over the group's rows.
    const bool real = out_row(r) != ~0u;
    for (uint k0 = mass_from; k0 < nkeys; k0 += BK) {
      barrier();  // the previous tile's rows, keys and masses consumed
      key_rows(k0);
      barrier();
      [[unroll]] for (uint i = 0; i < PER; ++i) {
        const uint e = tid + i * NT, j = e / D8, c = e - j * D8;
        KVs[j * KST8 + c] = key8(k0, j, c);
      }
      barrier();
      {
        fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> s[BK / 16];
        [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) s[jb] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);
        [[unroll]] for (uint db = 0; db < NDB; ++db) {
          [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) {
            fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> kt;
            coopMatLoadNV(kt, KVs, (jb * 16) * KST8 + db * 2, KST8, true);
            s[jb] = coopMatMulAddNV(qa[db], kt, s[jb]);
          }
        }
        [[unroll]] for (uint jb = 0; jb < BK / 16; ++jb) coopMatStoreNV(s[jb], Ss, sreg + jb * 16, SST, false);
      }
      subgroupMemoryBarrierShared();
      subgroupBarrier();
      [[unroll]] for (uint i = 0; i < BK / 2; ++i) {
        const uint j = half_ + 2 * i, at = sreg + row * SST + j;
        Ss[at] = real && k0 + j < nkeys ? exp2(Ss[at] * scale_log2 + key_bias(k0, j) - m) * inv : 0.0;
      }
      barrier();
      if (tid < BK) {
        float cm = 0.0;
        for (uint s2 = 0; s2 < NSG; ++s2)
          [[unroll]] for (uint u = 0; u < 16; ++u) cm += Ss[s2 * SREG + u * SST + tid];
        key_mass(k0, tid, cm);
      }
      barrier();
      mass_tile(k0);
    }
    mass_done();
  }
#endif

  // O / l, through the subgroup's shared region one 16 x 16 block at a time.
  const uint obase = out_row(r);
  [[unroll]] for (uint db = 0; db < NDB; ++db) {
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    coopMatStoreNV(oc[db], Ss, sreg, 16, false);
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    if (obase != ~0u)
      [[unroll]] for (uint c = 0; c < 8; ++c) o[obase + db * 16 + half_ * 8 + c] = Ss[sreg + row * 16 + half_ * 8 + c] * inv;
  }
}
