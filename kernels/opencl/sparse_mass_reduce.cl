// The OpenCL C port of kernels/vulkan/sparse_mass_reduce.comp (read that
// file): the mass each block of a lane received in the cache-filling pass,
// summed in the CPU kernel's task order, for the device cache's owner.

#include "sparse_common.cl"

struct sparse_mass_reduce_params {
  struct sparse_geom g;
  uint lanes, cap_max;  // entries per lane this dispatch covers (>= the index's cap)
  uint Hq, Hkv, F, group, nsub;  // nsub: work groups per query block (sparse_flash's)
};

kernel __attribute__((reqd_work_group_size(256, 1, 1))) void sparse_mass_reduce(
    BUF(const uint, ix), BUF(const uint, sel), BUF(const float, mass), BUF(float, lane_mass),
    constant const struct sparse_mass_reduce_params* p) {
  AT(const uint, ix);
  AT(const uint, sel);
  AT(const float, mass);
  AT(float, lane_mass);
  const uint idx = flat_group() * 256 + get_local_id(0);
  const uint cap = ix[IX_CAP];
  if (idx >= p->lanes * p->cap_max || ix[IX_ACCUMULATE] == 0) return;
  const uint lane = idx / p->cap_max, i = idx - lane * p->cap_max;
  if (i >= cap) return;
  const uint stride = ix[IX_STRIDE];
  const uint b = lane / p->Hkv, hk = lane - b * p->Hkv;
  float total = 0.0f;
  if (i < ix_blocks(ix, lane))
    for (uint h = hk * p->group; h < (hk + 1) * p->group; ++h)
      for (uint ft = 0; ft < p->F * p->g.tiles; ++ft) {
        const uint qb = (b * p->Hq + h) * p->F * p->g.tiles + ft;
        const uint ob = qb * (2 * stride + 2), count = sel[ob];
        if (count == 0) continue;
        uint lo = 0, hi = count - 1;  // the block's place in the selection, if selected
        while (lo < hi) {
          const uint mid = (lo + hi) / 2;
          if (sel[ob + 1 + mid] < i) lo = mid + 1;
          else hi = mid;
        }
        if (sel[ob + 1 + lo] != i) continue;
        float m = 0.0f;
        // Only the block's first groups hold rows (a block of 20 rows of a
        // layout with 80-row blocks: one of two); the others ran no sweep,
        // so their entries of mass hold whatever the buffer held before.
        const uint groups = (sparse_rows(&p->g, ft % p->g.tiles) + 63) / 64;
        for (uint s = 0; s < groups; ++s) m += mass[(qb * p->nsub + s) * stride + lo];
        total += m;
      }
  lane_mass[lane * cap + i] = total;
}
