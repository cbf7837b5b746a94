#version 450
// PBSA's saliency on the device (kernels/sparse_kv_device.h), after
// sparse_flash's MASS sweep in the cache-filling pass: the mass each block
// of a lane received, summed over the lane's query heads, frames and query
// blocks in the CPU kernel's task order, into lane_mass[lane, block] for
// the owner to read back (a few KB per layer and chunk). One invocation per
// (lane, table entry). The OpenCL twin is kernels/opencl/sparse_mass_reduce.cl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer IX { uint ix[]; };
layout(std430, binding = 1) readonly buffer Sel { uint sel[]; };     // sparse_select's
layout(std430, binding = 2) readonly buffer MS { float mass[]; };    // [query groups, stride]
layout(std430, binding = 3) writeonly buffer LM { float lane_mass[]; };  // [lanes, cap]
#define SPARSE_INDEX
#include "sparse_common.glsl"
layout(push_constant) uniform Pc {
  SparseGeom g;
  uint lanes, cap_max;  // entries per lane this dispatch covers (>= the index's cap)
  uint Hq, Hkv, F, group, nsub;  // nsub: work groups per query block (sparse_flash's)
} p;

void main() {
  const uint idx = flat_group() * 256 + gl_LocalInvocationID.x;
  const uint cap = ix[IX_CAP];
  if (idx >= p.lanes * p.cap_max || ix[IX_ACCUMULATE] == 0) return;
  const uint lane = idx / p.cap_max, i = idx - lane * p.cap_max;
  if (i >= cap) return;
  const uint stride = ix[IX_STRIDE];
  const uint b = lane / p.Hkv, hk = lane - b * p.Hkv;
  float total = 0.0;
  if (i < ix_blocks(lane))
    for (uint h = hk * p.group; h < (hk + 1) * p.group; ++h)
      for (uint ft = 0; ft < p.F * p.g.tiles; ++ft) {
        const uint qb = (b * p.Hq + h) * p.F * p.g.tiles + ft;
        const uint ob = qb * (2 * stride + 2), count = sel[ob];
        if (count == 0) continue;
        uint lo = 0, hi = count - 1;  // the block's place in the selection, if selected
        while (lo < hi) {
          const uint mid = (lo + hi) / 2;
          if (sel[ob + 1 + mid] < i) lo = mid + 1;
          else hi = mid;
        }
        if (sel[ob + 1 + lo] != i) continue;
        float m = 0.0;
        // Only the block's first groups hold rows (a block of 20 rows of a
        // layout with 80-row blocks: one of two); the others ran no sweep,
        // so their entries of mass hold whatever the buffer held before.
        const uint groups = (sparse_rows(p.g, ft % p.g.tiles) + 63) / 64;
        for (uint s = 0; s < groups; ++s) m += mass[(qb * p.nsub + s) * stride + lo];
        total += m;
      }
  lane_mass[lane * cap + i] = total;
}
